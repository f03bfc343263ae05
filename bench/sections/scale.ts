/**
 * Synth at scale: generated specs with 1 .. 1,000 queues (the per-region quota) and as many seed tasks, each run as
 * `npm run synth` runs it (`node --require tsx/cjs main.ts`, PIPELINE_SPEC = the generated spec) minus npm's own
 * start-up. Wall time and peak memory per size, then one CPU profile of the largest size.
 */
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSynthesizedStack } from '../../lib/core/synthesized-stack';
import { type ProfileSummary, type CpuProfile, summarizeProfile } from '../lib/cpuprofile';
import { resourceCounts } from '../lib/equivalence';
import { currentLoad } from '../lib/machine';
import { measure } from '../lib/measure';
import { generateSpecYaml } from '../lib/specgen';
import { type BenchContext, childEnv } from '../lib/context';

export interface ScalePoint {
  readonly queues: number;
  readonly seedTasks: number;
  readonly wallMs: number[];
  readonly cpuMs: number[];
  readonly maxRssBytes: number[];
  /** Terraform resources in the stack. */
  readonly resources: number;
  /** Size of cdk.tf.json plus the seed manifest. */
  readonly outputBytes: number;
}

export interface ScaleResult {
  readonly measuredAt: string;
  readonly command: string;
  readonly points: ScalePoint[];
  /** Self-time profile of one synth of the largest size (node --cpu-prof). */
  readonly profile?: ProfileSummary & { readonly queues: number; readonly wallMs: number };
  readonly load: readonly [number, number];
}

export const SCALE_SIZES = [1, 10, 100, 1000];
/** Extra sizes of a full run, so the chart shows the shape between 100 and 1,000. */
export const SCALE_SIZES_FULL = [1, 10, 100, 250, 500, 750, 1000];

export async function scaleBench(ctx: BenchContext, options: { profile: boolean }): Promise<ScaleResult> {
  const load0 = currentLoad();
  const sizes = ctx.quick ? SCALE_SIZES : SCALE_SIZES_FULL;
  const rounds = ctx.quick ? 1 : 5;
  const work = join(ctx.tmp, 'scale');
  mkdirSync(work, { recursive: true });
  const node = process.execPath;
  const args = ['--require', 'tsx/cjs', 'main.ts'];

  const points: ScalePoint[] = [];
  for (const n of sizes) {
    const spec = join(work, `scale-${n}.yaml`);
    writeFileSync(spec, generateSpecYaml({ queues: n, seedTasks: n }));
    const wallMs: number[] = [];
    const cpuMs: number[] = [];
    const maxRssBytes: number[] = [];
    let resources = 0;
    let outputBytes = 0;
    for (let round = 1; round <= rounds; round++) {
      const out = join(work, `out-${n}`);
      rmSync(out, { recursive: true, force: true });
      const m = await measure(node, args, { cwd: ctx.root, env: childEnv({ PIPELINE_SPEC: spec, CDKTF_OUTDIR: out }) });
      if (m.exitCode !== 0) throw new Error(`synth of ${n} queues exited ${m.exitCode}:\n${m.stderr.slice(-2000)}`);
      wallMs.push(m.wallMs);
      cpuMs.push(m.cpuMs);
      maxRssBytes.push(m.maxRssBytes);
      const stackDir = join(out, 'stacks', 'scale-bench');
      const stack = readSynthesizedStack(stackDir);
      const tf = stack.config as { resource?: Record<string, Record<string, unknown>> };
      resources = Object.values(resourceCounts(tf)).reduce((a, b) => a + b, 0);
      outputBytes = statSync(stack.file).size + manifestBytes(join(stackDir, 'assets'));
      ctx.log(
        `scale: ${n} queues round ${round}/${rounds} ${(m.wallMs / 1000).toFixed(2)} s, ${(m.maxRssBytes / 2 ** 20).toFixed(0)} MiB`,
      );
    }
    points.push({ queues: n, seedTasks: n, wallMs, cpuMs, maxRssBytes, resources, outputBytes });
  }

  let profile: ScaleResult['profile'];
  if (options.profile) {
    const n = sizes[sizes.length - 1];
    const dir = join(work, 'cpuprofile');
    rmSync(dir, { recursive: true, force: true });
    const out = join(work, 'out-profile');
    const m = await measure(node, ['--cpu-prof', '--cpu-prof-dir', dir, ...args], {
      cwd: ctx.root,
      env: childEnv({ PIPELINE_SPEC: join(work, `scale-${n}.yaml`), CDKTF_OUTDIR: out }),
    });
    if (m.exitCode !== 0) throw new Error(`profiled synth exited ${m.exitCode}:\n${m.stderr.slice(-2000)}`);
    // One profile per thread; the main thread's is the one with the most samples.
    const profiles = readdirSync(dir).map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as CpuProfile);
    const main = profiles.sort((a, b) => b.samples.length - a.samples.length)[0];
    profile = { queues: n, wallMs: m.wallMs, ...summarizeProfile(main, 12) };
    ctx.log(`scale: profiled ${n} queues (${(m.wallMs / 1000).toFixed(2)} s with the profiler on)`);
  }

  return {
    measuredAt: new Date().toISOString(),
    command: 'PIPELINE_SPEC=<generated spec> node --require tsx/cjs main.ts',
    points,
    ...(profile ? { profile } : {}),
    load: [load0, currentLoad()],
  };
}

function manifestBytes(assets: string): number {
  let total = 0;
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name === 'seed-manifest.json') total += statSync(p).size;
    }
  };
  try {
    walk(assets);
  } catch {
    return 0;
  }
  return total;
}
