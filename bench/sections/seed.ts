/**
 * Seeding throughput into the local emulator for 1,000 / 5,000 / 20,000 tasks, each followed by an idempotent re-run
 * of the same manifest (every task already present), process start included (bench/lib/seed.ts).
 */
import { currentLoad } from '../lib/machine';
import { SeedHarness, benchManifest } from '../lib/seed';
import { median } from '../lib/stats';
import type { BenchContext } from '../lib/context';

export interface SeedRow {
  readonly tasks: number;
  /** `fresh`: every task is created; `rerun`: the same manifest again, every task already present. */
  readonly kind: 'fresh' | 'rerun';
  readonly seconds: number[];
  readonly tasksPerSecond: number[];
  /** From the seeder's summary line, last run. */
  readonly created: number;
  readonly alreadyPresent: number;
}

export interface SeedResult {
  readonly measuredAt: string;
  readonly command: string;
  readonly queues: number;
  readonly rows: SeedRow[];
  readonly load: readonly [number, number];
}

export const SEED_SIZES = [1000, 5000, 20000];
const QUEUES = 3;

export async function seedBench(ctx: BenchContext): Promise<SeedResult> {
  const load0 = currentLoad();
  const sizes = ctx.quick ? SEED_SIZES.slice(0, 2) : SEED_SIZES;
  const rounds = ctx.quick ? 1 : 3;
  const harness = await SeedHarness.start();
  const rows: SeedRow[] = [];
  try {
    for (const tasks of sizes) {
      const fresh = { seconds: [] as number[], rates: [] as number[], created: 0, present: 0 };
      const rerun = { seconds: [] as number[], rates: [] as number[], created: 0, present: 0 };
      for (let round = 1; round <= rounds; round++) {
        const manifest = benchManifest(`n${tasks}-r${round}`, tasks, QUEUES);
        for (const [kind, acc] of [
          ['fresh', fresh],
          ['rerun', rerun],
        ] as const) {
          const r = await harness.run(manifest);
          acc.seconds.push(r.seconds);
          acc.rates.push(r.tasksPerSecond);
          acc.created = r.created;
          acc.present = r.alreadyPresent;
          ctx.log(
            `seed: ${tasks} tasks ${kind} round ${round}/${rounds}: ${r.seconds.toFixed(2)} s, ${Math.round(r.tasksPerSecond)} tasks/s`,
          );
          if (kind === 'fresh' && r.created !== tasks)
            throw new Error(`the first run of ${tasks} tasks created ${r.created}, expected all`);
          if (kind === 'rerun' && r.alreadyPresent !== tasks)
            throw new Error(`the re-run of ${tasks} tasks found ${r.alreadyPresent} already present, expected all`);
        }
      }
      rows.push({
        tasks,
        kind: 'fresh',
        seconds: fresh.seconds,
        tasksPerSecond: fresh.rates,
        created: fresh.created,
        alreadyPresent: fresh.present,
      });
      rows.push({
        tasks,
        kind: 'rerun',
        seconds: rerun.seconds,
        tasksPerSecond: rerun.rates,
        created: rerun.created,
        alreadyPresent: rerun.present,
      });
      ctx.log(
        `seed: ${tasks} tasks median ${Math.round(median(fresh.rates))} tasks/s fresh, ${Math.round(median(rerun.rates))} re-run`,
      );
    }
  } finally {
    await harness.close();
  }
  return {
    measuredAt: new Date().toISOString(),
    command: 'node <bundled seeder.cjs> <manifest.json> with CLOUD_TASKS_EMULATOR_HOST (bench/lib/seed.ts)',
    queues: QUEUES,
    rows,
    load: [load0, currentLoad()],
  };
}
