/**
 * Runs a command as a child process and measures it: wall time (this process's clock, so process start is
 * included), CPU time and peak memory (maximum resident set size).
 *
 * CPU and memory come from GNU time (`/usr/bin/time -v`, the kernel's rusage of the child and the descendants it
 * waited for) when it is installed. Without it, a node command is run with a preload (rss-reporter.cjs) that writes
 * `process.resourceUsage()` of that node process at exit: the same numbers for a single-process command, and only
 * the first process's for one that starts others.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const GNU_TIME = '/usr/bin/time';

export interface Measured {
  readonly wallMs: number;
  /** User + system CPU time; NaN when it could not be measured. */
  readonly cpuMs: number;
  /** Peak resident set size in bytes; NaN when it could not be measured. */
  readonly maxRssBytes: number;
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** How CPU and memory were measured. */
  readonly via: 'gnu-time' | 'resource-usage' | 'none';
}

export interface MeasureOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Kill the child after this long. @default 600000 */
  readonly timeoutMs?: number;
  /** Force the fallback (tests). @default - GNU time when installed */
  readonly useGnuTime?: boolean;
}

/** Parses the report of `/usr/bin/time -v` (one "Label: value" per line). */
export function parseGnuTimeReport(text: string): {
  userS: number;
  systemS: number;
  maxRssKiB: number;
  exitStatus?: number;
} {
  const field = (label: string): number => {
    const m = text.match(new RegExp(`^\\s*${label.replace(/[()]/g, '\\$&')}:\\s*([0-9.]+)\\s*$`, 'm'));
    return m ? Number(m[1]) : Number.NaN;
  };
  const exit = field('Exit status');
  return {
    userS: field('User time (seconds)'),
    systemS: field('System time (seconds)'),
    maxRssKiB: field('Maximum resident set size (kbytes)'),
    ...(Number.isNaN(exit) ? {} : { exitStatus: exit }),
  };
}

/** Runs `command args` and measures it. Never throws for a failing command: check `exitCode`. */
export async function measure(command: string, args: readonly string[], opts: MeasureOptions = {}): Promise<Measured> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-measure-'));
  const report = join(dir, 'report.txt');
  const gnu = opts.useGnuTime ?? existsSync(GNU_TIME);
  const isNode = command === process.execPath || command === 'node';
  let cmd = command;
  let argv = [...args];
  let env = { ...(opts.env ?? process.env) };
  let via: Measured['via'] = 'none';
  if (gnu) {
    cmd = GNU_TIME;
    argv = ['-v', '-o', report, command, ...args];
    via = 'gnu-time';
  } else if (isNode) {
    argv = ['--require', join(__dirname, 'rss-reporter.cjs'), ...args];
    env = { ...env, BENCH_RESOURCE_USAGE_FILE: report };
    via = 'resource-usage';
  }
  try {
    const started = process.hrtime.bigint();
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>(
      (resolve, reject) => {
        const child = spawn(cmd, argv, { cwd: opts.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
        child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
        const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 600_000);
        child.on('error', reject);
        child.on('close', (c) => {
          clearTimeout(timer);
          resolve({ code: c, stdout: out, stderr: err });
        });
      },
    );
    const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
    let cpuMs = Number.NaN;
    let maxRssBytes = Number.NaN;
    if (via !== 'none' && existsSync(report)) {
      const text = readFileSync(report, 'utf8');
      if (via === 'gnu-time') {
        const r = parseGnuTimeReport(text);
        cpuMs = (r.userS + r.systemS) * 1000;
        maxRssBytes = r.maxRssKiB * 1024;
      } else {
        const r = JSON.parse(text) as { userCPUTime: number; systemCPUTime: number; maxRSS: number };
        cpuMs = (r.userCPUTime + r.systemCPUTime) / 1000;
        maxRssBytes = r.maxRSS * 1024;
      }
    }
    return { wallMs, cpuMs, maxRssBytes, exitCode: code, stdout, stderr, via };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
