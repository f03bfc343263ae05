/**
 * Synth of the example pipelines: `npm run synth` against the cdktf-init-style baseline (bench/init-style/) that
 * builds the same dev stack, run alternately in one session so both see the same machine load.
 */
import { cpSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { readSynthesizedStack } from '../../lib/core/synthesized-stack';
import { terraformDifferences } from '../lib/equivalence';
import { currentLoad } from '../lib/machine';
import { type Measured, measure } from '../lib/measure';
import { median } from '../lib/stats';
import { type BenchContext, childEnv } from '../lib/context';

export interface SynthRow {
  readonly id: 'ours-dev' | 'init-dev' | 'ours-all' | 'ours-cli' | 'init-cli';
  readonly label: string;
  readonly command: string;
  readonly wallMs: number[];
  readonly cpuMs: number[];
  readonly maxRssBytes: number[];
}

export interface SynthResult {
  readonly measuredAt: string;
  readonly rounds: number;
  readonly rows: SynthRow[];
  /** median(init-style app) / median(npm run synth), both for the dev example. */
  readonly ratio: number;
  /** The same ratio for the `cdktf synth` CLI rows (full runs only). */
  readonly cliRatio?: number;
  /** The two dev stacks are the same Terraform JSON (apart from `//` metadata). */
  readonly equivalent: boolean;
  readonly load: readonly [number, number];
}

const DEV_SPEC = 'pipelines/recsys-dev.yaml';
const STACK = 'recsys-dev';

export async function synthBench(ctx: BenchContext): Promise<SynthResult> {
  const load0 = currentLoad();
  const rounds = ctx.quick ? 1 : 5;
  const cliRounds = ctx.quick ? 0 : 3;
  const work = join(ctx.tmp, 'synth');
  mkdirSync(work, { recursive: true });
  const initDir = join(ctx.root, 'bench', 'init-style');

  // Both write below `work/<row>/`, so the relative local-state path is the same text in both stacks.
  const stateFile = join(ctx.root, `terraform.${STACK}.tfstate`);
  const statePath = (outdir: string) => relative(join(outdir, 'stacks', STACK), stateFile);
  let seederBundle = '';

  const rows: Record<SynthRow['id'], { label: string; command: string; run: (out: string) => Promise<Measured> }> = {
    'ours-dev': {
      label: '`npm run synth`, dev example',
      command: `PIPELINE_SPEC=${DEV_SPEC} npm run synth`,
      run: (out) =>
        measure('/usr/bin/npm', ['run', '--silent', 'synth'], {
          cwd: ctx.root,
          env: childEnv({ PIPELINE_SPEC: DEV_SPEC, CDKTF_OUTDIR: out }),
        }),
    },
    'init-dev': {
      label: 'cdktf-init-style app, dev example',
      command: '(cd bench/init-style && npx ts-node main.ts)',
      run: (out) =>
        measure('/usr/bin/npx', ['ts-node', 'main.ts'], {
          cwd: initDir,
          env: childEnv({ CDKTF_OUTDIR: out, SEEDER_BUNDLE: seederBundle, STATE_PATH: statePath(out) }),
        }),
    },
    'ours-all': {
      label: '`npm run synth`, both examples',
      command: 'npm run synth',
      run: (out) =>
        measure('/usr/bin/npm', ['run', '--silent', 'synth'], { cwd: ctx.root, env: childEnv({ CDKTF_OUTDIR: out }) }),
    },
    'ours-cli': {
      label: '`npx cdktf synth` (CLI), our app, both examples',
      command: 'npx cdktf synth',
      run: (out) => measure('/usr/bin/npx', ['cdktf', 'synth', '--output', out], { cwd: ctx.root, env: childEnv() }),
    },
    'init-cli': {
      label: '`npx cdktf synth` (CLI), cdktf-init-style app, dev example',
      command: '(cd bench/init-style && npx cdktf synth)',
      run: (out) =>
        measure('/usr/bin/npx', ['cdktf', 'synth', '--output', out], {
          cwd: initDir,
          env: childEnv({ SEEDER_BUNDLE: seederBundle }),
        }),
    },
  };

  const runChecked = async (id: SynthRow['id'], out: string): Promise<Measured> => {
    rmSync(out, { recursive: true, force: true });
    const m = await rows[id].run(out);
    if (m.exitCode !== 0) throw new Error(`${rows[id].command} exited ${m.exitCode}:\n${m.stderr.slice(-2000)}`);
    return m;
  };

  // Warm-up, not timed: bundles the seeder if its sources changed and fills tsx's transform cache. ts-node keeps no
  // cache between runs, so the init-style app needs none.
  ctx.log('synth: warm-up');
  const warm = join(work, 'warm-up');
  await runChecked('ours-dev', warm);
  seederBundle = join(work, 'seeder.cjs');
  cpSync(findFile(join(warm, 'stacks', STACK, 'assets'), 'seeder.cjs'), seederBundle);

  const samples = new Map<SynthRow['id'], Measured[]>();
  const order: SynthRow['id'][] = ['ours-dev', 'init-dev', 'ours-all'];
  for (let round = 1; round <= rounds; round++) {
    for (const id of order) {
      const m = await runChecked(id, join(work, id));
      samples.set(id, [...(samples.get(id) ?? []), m]);
      ctx.log(`synth: round ${round}/${rounds} ${id} ${(m.wallMs / 1000).toFixed(2)} s`);
    }
    if (round === 1) {
      const differences = terraformDifferences(readStack(join(work, 'ours-dev')), readStack(join(work, 'init-dev')));
      if (differences.length)
        throw new Error(
          `the init-style baseline no longer builds the dev example's stack; fix bench/init-style/main.ts:\n  ${differences.join('\n  ')}`,
        );
    }
  }
  for (let round = 1; round <= cliRounds; round++) {
    for (const id of ['ours-cli', 'init-cli'] as const) {
      const m = await runChecked(id, join(work, id));
      samples.set(id, [...(samples.get(id) ?? []), m]);
      ctx.log(`synth: CLI round ${round}/${cliRounds} ${id} ${(m.wallMs / 1000).toFixed(2)} s`);
    }
  }

  const result: SynthRow[] = [...samples.entries()].map(([id, ms]) => ({
    id,
    label: rows[id].label,
    command: rows[id].command,
    wallMs: ms.map((m) => m.wallMs),
    cpuMs: ms.map((m) => m.cpuMs),
    maxRssBytes: ms.map((m) => m.maxRssBytes),
  }));
  const med = (id: SynthRow['id']) => median(result.find((r) => r.id === id)?.wallMs ?? []);
  return {
    measuredAt: new Date().toISOString(),
    rounds,
    rows: result,
    ratio: med('init-dev') / med('ours-dev'),
    ...(cliRounds ? { cliRatio: med('init-cli') / med('ours-cli') } : {}),
    equivalent: true,
    load: [load0, currentLoad()],
  };
}

function readStack(outdir: string): unknown {
  return readSynthesizedStack(join(outdir, 'stacks', STACK)).config;
}

/** The first file named `name` below `dir` (depth-first). */
export function findFile(dir: string, name: string): string {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isFile() && e.name === name) return p;
    if (e.isDirectory()) {
      try {
        return findFile(p, name);
      } catch {
        // not in this branch
      }
    }
  }
  throw new Error(`no ${name} below ${dir}`);
}
