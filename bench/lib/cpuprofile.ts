/**
 * Summaries of V8 CPU profiles (`node --cpu-prof`, the `.cpuprofile` JSON that Chrome DevTools opens): where the
 * self time goes, by function and by module, so BENCHMARKS.md can state findings from a profile instead of guesses.
 *
 * Self time of a node = the time deltas of the samples that landed in it (`samples[i]` took `timeDeltas[i]` us).
 */

/** The parts of the `.cpuprofile` format used here (Chrome DevTools protocol Profiler.Profile). */
export interface CpuProfile {
  readonly nodes: readonly {
    readonly id: number;
    readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
    readonly children?: readonly number[];
  }[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface SelfTime {
  /** `function (module:line)` or a module name. */
  readonly name: string;
  readonly ms: number;
  /** Share of the profile's total sampled time, 0..1. */
  readonly share: number;
}

export interface ProfileSummary {
  /** Sampled time, ms. */
  readonly totalMs: number;
  readonly byFunction: readonly SelfTime[];
  readonly byModule: readonly SelfTime[];
}

/**
 * The module a script URL belongs to: the npm package (`cdktf`, `@cdktf/provider-google`), `project:<path>` for our
 * own files, `node:<builtin>` for Node's internals, or the V8 pseudo-frames `(garbage collector)`, `(program)`,
 * `(idle)`.
 */
export function moduleOf(url: string, functionName = ''): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`;
  const file = fileOf(url);
  const nm = file.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const parts = file.slice(nm + '/node_modules/'.length).split('/');
    return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
  }
  const project = projectPath(file);
  return project ? `project:${project.split('/').slice(0, 2).join('/')}` : file;
}

/**
 * Where a function lives, short: `cdktf/lib/tokens/resolve.js`, `node:internal/source_map/source_map_cache`,
 * `lib/constructs/task-queue.ts`.
 */
export function locationOf(url: string): string {
  if (url.startsWith('node:')) return url;
  const file = fileOf(url);
  const nm = file.lastIndexOf('/node_modules/');
  if (nm >= 0) return file.slice(nm + '/node_modules/'.length);
  return projectPath(file) ?? file;
}

function fileOf(url: string): string {
  return url.replace(/^file:\/\//, '').replace(/\?.*$/, '');
}

/** The path inside the repository for our own files (lib/, bench/, bin/, main.ts, ...), else undefined. */
function projectPath(file: string): string | undefined {
  const m = file.match(/\/((?:lib|bench|bin|scripts|__tests__)\/.*|main\.ts)$/);
  return m?.[1];
}

/** Self time by function and by module, largest first, the top `limit` of each. */
export function summarizeProfile(profile: CpuProfile, limit = 15): ProfileSummary {
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const byFunction = new Map<string, number>();
  const byModule = new Map<string, number>();
  for (const node of profile.nodes) {
    const us = selfUs.get(node.id);
    if (!us) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const mod = moduleOf(url, functionName);
    const fn = url
      ? `${functionName || '(anonymous)'} (${locationOf(url)}:${lineNumber + 1})`
      : functionName || '(anonymous)';
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
    byModule.set(mod, (byModule.get(mod) ?? 0) + us);
  }
  const top = (m: Map<string, number>): SelfTime[] =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, limit)
      .map(([name, us]) => ({ name, ms: us / 1000, share: total ? us / total : 0 }));
  return { totalMs: total / 1000, byFunction: top(byFunction), byModule: top(byModule) };
}
