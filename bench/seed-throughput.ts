/**
 * Seeder throughput into the local emulator: `npx tsx bench/seed-throughput.ts [--tasks 5000] [--runs 3]
 * [--concurrency 64] [--channels N] [--queues 3] [--source bundle|repo] [--cpu-prof <dir>] [--fail-rate 0.6] [--rerun]`.
 *
 * The emulator runs in this process; the seeder runs as its own process, exactly as Terraform runs it
 * (`node seeder.cjs <manifest>`, or `tsx bin/seed.ts` with --source repo), so process start, manifest validation and
 * client set-up are all in the time. Each run gets fresh queues; afterwards the tasks are counted with ListTasks.
 * A measurement, not a test: numbers depend on the machine. `npm run bench -- --only seed` runs the standard sizes
 * (1,000 / 5,000 / 20,000 and an idempotent re-run) and writes them to docs/BENCHMARKS.md.
 */
import { Command } from 'commander';
import { median } from './lib/stats';
import { SeedHarness, benchManifest } from './lib/seed';

const opts = new Command()
  .option('--tasks <n>', 'tasks in the manifest', Number, 5000)
  .option('--runs <n>', 'runs (fresh queues each)', Number, 3)
  .option('--queues <n>', 'queues the tasks are spread over', Number, 3)
  .option('--concurrency <n>', 'seeder --concurrency', String)
  .option('--channels <n>', 'seeder --channels', String)
  .option('--source <kind>', 'bundle (node seeder.cjs) or repo (tsx bin/seed.ts)', 'bundle')
  .option('--cpu-prof <dir>', 'write a V8 CPU profile of each seeder process into <dir> (node --cpu-prof)')
  .option('--fail-rate <fraction>', 'fraction of CreateTask calls the emulator fails with UNAVAILABLE', Number, 0)
  .option('--rerun', 'seed each manifest a second time (the idempotent re-run: every task already present)')
  .parse()
  .opts<{
    tasks: number;
    runs: number;
    queues: number;
    concurrency?: string;
    channels?: string;
    source: string;
    cpuProf?: string;
    failRate: number;
    rerun?: boolean;
  }>();

async function main(): Promise<void> {
  const harness = await SeedHarness.start({
    source: opts.source === 'repo' ? 'repo' : 'bundle',
    seederFlags: [
      ...(opts.concurrency ? ['--concurrency', opts.concurrency] : []),
      ...(opts.channels ? ['--channels', opts.channels] : []),
    ],
    cpuProfDir: opts.cpuProf,
    failRate: opts.failRate,
  });
  const rates: number[] = [];
  try {
    for (let run = 1; run <= opts.runs; run++) {
      const manifest = benchManifest(`r${run}`, opts.tasks, opts.queues);
      for (const label of opts.rerun ? ['', ' re-run'] : ['']) {
        const r = await harness.run(manifest);
        rates.push(r.tasksPerSecond);
        process.stdout.write(
          `run ${run}${label}: ${r.tasks} tasks in ${r.seconds.toFixed(2)} s wall (process start included) = ${Math.round(r.tasksPerSecond)} tasks/s; listed ${r.listed}; seeder said: ${r.stdout}\n`,
        );
      }
    }
    process.stdout.write(`median ${Math.round(median(rates))} tasks/s over ${rates.length} run(s) (${opts.source})\n`);
  } finally {
    await harness.close();
  }
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exitCode = 1;
});
