/**
 * `npx tsx bench/compare-synth.ts <other checkout> [--rounds 7] [--queues 1000]`: this checkout's synth against
 * another's (a `git worktree` or `git archive` of the base revision, with its node_modules), run ALTERNATELY so both
 * see the same machine load: `npm run synth` of the dev example and of both examples, and `node --require tsx/cjs
 * main.ts` of a generated spec with --queues queues and as many seed tasks (what the scale section runs). Prints the
 * median wall and CPU time of each.
 *
 * For "no regression" checks on a shared machine, where two `npm run bench` runs minutes apart can differ by more
 * than the change being measured. Not part of `npm run bench`.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { ROOT, childEnv } from './lib/context';
import { currentLoad } from './lib/machine';
import { type Measured, measure } from './lib/measure';
import { generateSpecYaml } from './lib/specgen';
import { median } from './lib/stats';

interface Case {
  readonly name: string;
  readonly run: (checkout: string, out: string) => Promise<Measured>;
}

async function main(): Promise<void> {
  const program = new Command()
    .name('npx tsx bench/compare-synth.ts')
    .argument('<other>', 'the other checkout (e.g. the base revision), with node_modules installed')
    .option('--rounds <n>', 'alternating rounds per case', (v) => Number(v), 7)
    .option('--queues <n>', 'queues (and seed tasks) of the generated spec', (v) => Number(v), 1000)
    .parse();
  const other = resolve(program.args[0]);
  const { rounds, queues } = program.opts<{ rounds: number; queues: number }>();
  const work = mkdtempSync(join(tmpdir(), 'compare-synth-'));
  const spec = join(work, `scale-${queues}.yaml`);
  writeFileSync(spec, generateSpecYaml({ queues, seedTasks: queues }));

  const cases: Case[] = [
    {
      name: '`npm run synth`, dev example',
      run: (checkout, out) =>
        measure('/usr/bin/npm', ['run', '--silent', 'synth'], {
          cwd: checkout,
          env: childEnv({ PIPELINE_SPEC: 'pipelines/recsys-dev.yaml', CDKTF_OUTDIR: out }),
        }),
    },
    {
      name: '`npm run synth`, both examples',
      run: (checkout, out) =>
        measure('/usr/bin/npm', ['run', '--silent', 'synth'], { cwd: checkout, env: childEnv({ CDKTF_OUTDIR: out }) }),
    },
    {
      name: `\`node --require tsx/cjs main.ts\`, ${queues} queues + ${queues} seed tasks`,
      run: (checkout, out) =>
        measure(process.execPath, ['--require', 'tsx/cjs', 'main.ts'], {
          cwd: checkout,
          env: childEnv({ PIPELINE_SPEC: spec, CDKTF_OUTDIR: out }),
        }),
    },
  ];
  const sides = [
    { label: 'other', dir: other },
    { label: 'this', dir: ROOT },
  ];
  const load0 = currentLoad();
  const samples = new Map<string, Measured[]>();
  try {
    for (const c of cases) {
      // One untimed run each: warms tsx's cache and builds the seeder bundle where needed.
      for (const side of sides) await checked(c, side.dir, join(work, 'warm'));
      for (let round = 1; round <= rounds; round++)
        for (const side of round % 2 ? sides : [...sides].reverse()) {
          const m = await checked(c, side.dir, join(work, `out-${side.label}`));
          const key = `${c.name}\0${side.label}`;
          samples.set(key, [...(samples.get(key) ?? []), m]);
          process.stderr.write(`${c.name} ${side.label} round ${round}: ${(m.wallMs / 1000).toFixed(2)} s\n`);
        }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const load1 = currentLoad();
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  process.stdout.write(
    `${rounds} alternating rounds, load average ${load0.toFixed(1)} -> ${load1.toFixed(1)}; other = ${other}\n\n` +
      '| what | other: wall | this: wall | change | other: CPU | this: CPU | change |\n|---|---|---|---|---|---|---|\n',
  );
  for (const c of cases) {
    const [a, b] = ['other', 'this'].map((side) => samples.get(`${c.name}\0${side}`) ?? []);
    const wa = median(a.map((m) => m.wallMs));
    const wb = median(b.map((m) => m.wallMs));
    const ca = median(a.map((m) => m.cpuMs));
    const cb = median(b.map((m) => m.cpuMs));
    const pct = (x: number, y: number) => `${y >= x ? '+' : ''}${(((y - x) / x) * 100).toFixed(1)} %`;
    process.stdout.write(
      `| ${c.name} | ${s(wa)} | ${s(wb)} | ${pct(wa, wb)} | ${s(ca)} | ${s(cb)} | ${pct(ca, cb)} |\n`,
    );
  }
}

async function checked(c: Case, checkout: string, out: string): Promise<Measured> {
  rmSync(out, { recursive: true, force: true });
  const m = await c.run(checkout, out);
  if (m.exitCode !== 0) throw new Error(`${c.name} in ${checkout} exited ${m.exitCode}:\n${m.stderr.slice(-2000)}`);
  return m;
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
