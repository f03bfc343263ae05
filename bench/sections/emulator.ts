/**
 * Emulator CreateTask throughput: gRPC (the official client) and REST (plain HTTP/JSON on keep-alive connections),
 * each in memory and with `--data-dir` (every acknowledged CreateTask committed to SQLite first, group commit). The
 * emulator runs as users run it, the CLI in its own process; the clients run in worker threads of this one
 * (bench/lib/create-task-load.ts: one client thread saturated before the emulator did). Both share the machine's
 * 2 cores, so the figures are the pair's, not the emulator's alone; the emulator's CPU per call is reported too.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { restCreator, startLoad } from '../lib/create-task-load';
import { currentLoad } from '../lib/machine';
import type { BenchContext } from '../lib/context';

export interface CreateTaskRow {
  readonly transport: 'grpc' | 'rest';
  readonly durable: boolean;
  readonly tasks: number;
  readonly concurrency: number;
  /** Worker threads the calls came from (concurrency / clientThreads in flight each). */
  readonly clientThreads?: number;
  readonly seconds: number;
  readonly perSecond: number;
  /** CPU time of the emulator process per CreateTask, µs (Linux /proc). */
  readonly emulatorCpuMicros?: number;
  /** Transactions the data dir committed (group commits), when durable. */
  readonly commits?: number;
}

export interface EmulatorResult {
  readonly measuredAt: string;
  readonly rows: CreateTaskRow[];
  readonly load: readonly [number, number];
}

/** Client threads: the machine's 2 cores. */
const CLIENT_THREADS = 2;

export async function emulatorBench(ctx: BenchContext): Promise<EmulatorResult> {
  const load0 = currentLoad();
  const tasks = ctx.quick ? 5000 : 20_000;
  const rows: CreateTaskRow[] = [];
  for (const transport of ['grpc', 'rest'] as const)
    for (const durable of [false, true]) {
      const dataDir = durable ? mkdtempSync(join(ctx.tmp, 'emulator-data-')) : undefined;
      const row = await createTaskRow(ctx, transport, tasks, 200, dataDir);
      ctx.log(
        `emulator: CreateTask over ${transport}${durable ? ' with --data-dir' : ' in memory'}: ${Math.round(row.perSecond)}/s (${row.tasks} in ${row.seconds.toFixed(2)} s, emulator CPU ${row.emulatorCpuMicros ?? '?'} µs per call)`,
      );
      rows.push(row);
    }
  return { measuredAt: new Date().toISOString(), rows, load: [load0, currentLoad()] };
}

interface Child {
  readonly process: ChildProcessWithoutNullStreams;
  readonly grpcPort: number;
  readonly restPort: number;
}

async function startChild(ctx: BenchContext, dataDir: string | undefined): Promise<Child> {
  const args = ['--import', 'tsx', 'bin/emulator.ts', '--port', '0', '--no-dispatch', '--log-level', 'error'];
  if (dataDir) args.push('--data-dir', dataDir);
  const child = spawn(process.execPath, args, { cwd: ctx.root });
  let out = '';
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const g = /CLOUD_TASKS_EMULATOR_HOST=127\.0\.0\.1:(\d+)/.exec(out);
      const r = /CLOUD_TASKS_EMULATOR_REST_URL=http:\/\/127\.0\.0\.1:(\d+)\//.exec(out);
      if (g && r) resolve({ process: child, grpcPort: Number(g[1]), restPort: Number(r[1]) });
    });
    child.on('exit', (code) => reject(new Error(`the emulator exited (${code}) before listening:\n${out}`)));
  });
}

/** utime + stime of a process in ms, from /proc (Linux); undefined elsewhere. */
function cpuMs(pid: number): number | undefined {
  const file = `/proc/${pid}/stat`;
  if (!existsSync(file)) return undefined;
  const fields = readFileSync(file, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // clock ticks, USER_HZ = 100 on Linux
}

async function createTaskRow(
  ctx: BenchContext,
  transport: 'grpc' | 'rest',
  tasks: number,
  concurrency: number,
  dataDir: string | undefined,
): Promise<CreateTaskRow> {
  const child = await startChild(ctx, dataDir);
  try {
    const admin = restCreator(child.restPort);
    await admin.createQueue();
    await admin.close();
    const load = await startLoad(CLIENT_THREADS, tasks, {
      transport,
      grpcPort: child.grpcPort,
      restPort: child.restPort,
      concurrency: Math.ceil(concurrency / CLIENT_THREADS),
    });
    const cpu0 = cpuMs(child.process.pid!);
    const started = performance.now();
    await load.go();
    const seconds = (performance.now() - started) / 1000;
    const cpu1 = cpuMs(child.process.pid!);
    await load.close();
    return {
      transport,
      durable: dataDir !== undefined,
      tasks,
      concurrency,
      clientThreads: CLIENT_THREADS,
      seconds,
      perSecond: tasks / seconds,
      ...(cpu0 !== undefined && cpu1 !== undefined
        ? { emulatorCpuMicros: Math.round(((cpu1 - cpu0) * 1000) / tasks) }
        : {}),
    };
  } finally {
    const exited = new Promise((resolve) => child.process.once('exit', resolve));
    child.process.kill('SIGTERM');
    await exited;
  }
}
