/**
 * CreateTask throughput into the emulator, measured the way the seeder meets it: the emulator in its own process
 * (the CLI), the official client in this one.
 *
 *   npx tsx bench/emulator-create-task.ts [--tasks 20000] [--concurrency 200] [--clients 4]
 *
 * Prints tasks/s and, on Linux, the emulator process's CPU time per CreateTask (its share of the cost).
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { CloudTasksClient } from '@google-cloud/tasks';
import { Command } from 'commander';

process.env.METADATA_SERVER_DETECTION ??= 'none';

const ROOT = path.resolve(__dirname, '..');

/** utime + stime of a process in ms, from /proc (Linux); undefined elsewhere. */
function cpuMs(pid: number): number | undefined {
  const file = `/proc/${pid}/stat`;
  if (!existsSync(file)) return undefined;
  const fields = readFileSync(file, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // clock ticks, USER_HZ = 100 on Linux
}

async function main(): Promise<void> {
  const opts = new Command()
    .option('--tasks <n>', 'tasks to create', Number, 20_000)
    .option('--concurrency <n>', 'calls in flight', Number, 200)
    .option('--clients <n>', 'CloudTasksClient instances (gRPC channels)', Number, 4)
    .parse()
    .opts<{ tasks: number; concurrency: number; clients: number }>();

  const child = spawn(
    process.execPath,
    [
      ...(process.env.BENCH_EMULATOR_NODE_ARGS ?? '').split(' ').filter(Boolean),
      '--import',
      'tsx',
      'bin/emulator.ts',
      '--port',
      '0',
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /CLOUD_TASKS_EMULATOR_HOST=[^\n]*:(\d+)\n/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', (code) => reject(new Error(`the emulator exited with ${code} before listening`)));
  });

  const clients = Array.from(
    { length: opts.clients },
    () => new CloudTasksClient({ servicePath: '127.0.0.1', port, sslCreds: grpc.credentials.createInsecure() }),
  );
  const parent = 'projects/bench-project/locations/us-central1';
  const queue = `${parent}/queues/bench`;
  await clients[0].createQueue({ parent, queue: { name: queue } });
  // Warm every channel before timing.
  await Promise.all(clients.map((c) => c.getQueue({ name: queue })));

  const cpuBefore = cpuMs(child.pid!);
  const started = process.hrtime.bigint();
  let next = 0;
  await Promise.all(
    Array.from({ length: opts.concurrency }, async (_, worker) => {
      const client = clients[worker % clients.length];
      for (let i = next++; i < opts.tasks; i = next++) {
        await client.createTask({
          parent: queue,
          // Hashed-looking ids, as the seeder's taskIdFor makes them.
          task: {
            name: `${queue}/tasks/${((i * 2654435761) >>> 0).toString(16)}-item-${i}`,
            httpRequest: { url: 'http://127.0.0.1:8080/work', body: Buffer.from(`{"item":${i}}`) },
          },
        });
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpuAfter = cpuMs(child.pid!);

  console.log(
    `${opts.tasks} CreateTask calls, concurrency ${opts.concurrency}, ${opts.clients} clients: ${(opts.tasks / seconds).toFixed(0)} tasks/s (${seconds.toFixed(2)} s)`,
  );
  if (cpuBefore !== undefined && cpuAfter !== undefined)
    console.log(`emulator CPU: ${(((cpuAfter - cpuBefore) * 1000) / opts.tasks).toFixed(0)} µs per CreateTask`);

  await Promise.all(clients.map((c) => c.close()));
  child.kill('SIGTERM');
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
