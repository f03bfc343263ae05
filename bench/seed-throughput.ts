/**
 * Seeder throughput into the local emulator: `npx tsx bench/seed-throughput.ts [--tasks 5000] [--runs 3]
 * [--concurrency 64] [--channels N] [--queues 3] [--source bundle|repo]`.
 *
 * The emulator runs in this process; the seeder runs as its own process, exactly as Terraform runs it
 * (`node seeder.cjs <manifest>`, or `tsx bin/seed.ts` with --source repo), so process start, manifest validation and
 * client set-up are all in the time. Each run gets fresh queues; afterwards the tasks are counted with ListTasks.
 * A measurement, not a test: numbers depend on the machine.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudTasksClient } from '@google-cloud/tasks';
import * as grpc from '@grpc/grpc-js';
import { Command } from 'commander';
import { startEmulator } from '../lib/emulator/server';
import { seederBundle } from '../lib/seeding/bundle';
import { MANIFEST_VERSION, queueNameFor, taskIdFor, type ManifestTask, type SeedManifest } from '../lib/seeding/manifest';

const PROJECT = 'bench-project';
const LOCATION = 'us-central1';

const opts = new Command()
  .option('--tasks <n>', 'tasks in the manifest', Number, 5000)
  .option('--runs <n>', 'runs (fresh queues each)', Number, 3)
  .option('--queues <n>', 'queues the tasks are spread over', Number, 3)
  .option('--concurrency <n>', 'seeder --concurrency', String)
  .option('--channels <n>', 'seeder --channels', String)
  .option('--source <kind>', 'bundle (node seeder.cjs) or repo (tsx bin/seed.ts)', 'bundle')
  .option('--cpu-prof <dir>', 'write a V8 CPU profile of each seeder process into <dir> (node --cpu-prof)')
  .parse()
  .opts<{ tasks: number; runs: number; queues: number; concurrency?: string; channels?: string; source: string; cpuProf?: string }>();

function manifest(run: number): SeedManifest {
  const queues = Array.from({ length: opts.queues }, (_, q) => queueNameFor(PROJECT, LOCATION, `bench-r${run}-q${q}`));
  const tasks: ManifestTask[] = Array.from({ length: opts.tasks }, (_, i) => {
    const queue = queues[i % queues.length];
    const seedId = `item-${i}`;
    return {
      step: 'ingest',
      seedId,
      queue,
      taskId: taskIdFor(queue, seedId),
      dispatchDeadlineSeconds: 600,
      httpRequest: {
        url: 'https://worker.example.com/ingest',
        httpMethod: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ seedId, shard: i % 16, text: 'x'.repeat(200) }),
        oidcToken: { serviceAccountEmail: `invoker@${PROJECT}.iam.gserviceaccount.com`, audience: 'https://worker.example.com/ingest' },
      },
    };
  });
  return { version: MANIFEST_VERSION, stack: 'bench', project: PROJECT, location: LOCATION, tasks };
}

async function countTasks(client: CloudTasksClient, queue: string): Promise<number> {
  let n = 0;
  for await (const _ of client.listTasksAsync({ parent: queue, pageSize: 1000 }, { autoPaginate: false })) n++;
  return n;
}

async function main(): Promise<void> {
  const emulator = await startEmulator({ port: 0 });
  const client = new CloudTasksClient({ servicePath: emulator.host, port: emulator.port, sslCreds: grpc.credentials.createInsecure(), universeDomain: 'googleapis.com' });
  const dir = mkdtempSync(join(tmpdir(), 'seed-bench-'));
  const seeder = opts.source === 'repo' ? undefined : seederBundle().path;
  const rates: number[] = [];
  try {
    for (let run = 1; run <= opts.runs; run++) {
      const m = manifest(run);
      const queues = [...new Set(m.tasks.map((t) => t.queue))];
      for (const name of queues) {
        await client.createQueue({ parent: `projects/${PROJECT}/locations/${LOCATION}`, queue: { name } });
        await client.pauseQueue({ name }); // keep the tasks: nothing is dispatched while we count
      }
      const file = join(dir, `manifest-${run}.json`);
      writeFileSync(file, JSON.stringify(m));
      const flags = [...(opts.concurrency ? ['--concurrency', opts.concurrency] : []), ...(opts.channels ? ['--channels', opts.channels] : [])];
      const nodeFlags = opts.cpuProf ? ['--cpu-prof', '--cpu-prof-dir', opts.cpuProf] : [];
      const [cmd, args] = seeder
        ? [process.execPath, [...nodeFlags, seeder, file, ...flags]]
        : [process.execPath, [...nodeFlags, require.resolve('tsx/cli'), 'bin/seed.ts', file, ...flags]];
      const started = process.hrtime.bigint();
      const out = await new Promise<string>((resolve, reject) =>
        execFile(cmd, args, { env: { PATH: '/usr/bin:/bin', CLOUD_TASKS_EMULATOR_HOST: emulator.address } }, (err, stdout) => (err ? reject(err) : resolve(stdout))),
      );
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      let counted = 0;
      for (const q of queues) counted += await countTasks(client, q);
      const rate = opts.tasks / seconds;
      rates.push(rate);
      process.stdout.write(
        `run ${run}: ${opts.tasks} tasks in ${seconds.toFixed(2)} s wall (process start included) = ${Math.round(rate)} tasks/s; listed ${counted}; seeder said: ${out.trim()}\n`,
      );
      if (counted !== opts.tasks) throw new Error(`expected ${opts.tasks} tasks in the emulator, listed ${counted}`);
    }
    rates.sort((a, b) => a - b);
    process.stdout.write(`median ${Math.round(rates[Math.floor(rates.length / 2)])} tasks/s over ${rates.length} run(s) (${opts.source})\n`);
  } finally {
    await client.close();
    await emulator.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exitCode = 1;
});
