/**
 * Emulator dispatch: the rate a worker observes against the configured max_dispatches_per_second, on one queue at
 * 50, 200 and 500/s, across queues (4 x 200/s), and at scale: 10 queues x 500/s (the aggregate ceiling, issue 13:
 * at least 4,500 dispatches/s, every queue within 5 % over the steady part).
 *
 * The emulator (with dispatch, lib/emulator/server.ts) runs in this process; the worker is a loopback HTTP sink in its
 * own process (bench/lib/http-sink.cjs), as a real worker would be. Each task carries an OIDC token, as our stacks'
 * tasks do, so token minting is in the path. Queues are filled while paused, then resumed together; the steady rate
 * is counted over a window that starts 1 s after the first arrival (leaving out the initial burst).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { useServerHeap } from '../../lib/apps/emulator/cli';
import { startEmulator } from '../../lib/emulator/server';
import { windowRate, worstDeviation } from '../lib/dispatch';
import { currentLoad } from '../lib/machine';
import type { BenchContext } from '../lib/context';

export interface DispatchRow {
  readonly queues: number;
  readonly configuredPerQueue: number;
  /** Observed steady rate of each queue. */
  readonly observedPerQueue: number[];
  readonly worstDeviation: number;
  readonly maxBurstSize: number;
  /** CPU time of the emulator's process (this one) per second of the window, ms/s. */
  readonly emulatorCpuMsPerSecond: number;
  /** Whether the row counts toward the budget (per-queue rates up to 500/s) or is a stress row. */
  readonly budgeted: boolean;
  /** The 10 x 500/s row: its aggregate is the emulator's dispatch ceiling. */
  readonly scale?: boolean;
  /** Sum of observedPerQueue. */
  readonly aggregatePerSecond?: number;
}

export interface DispatchResult {
  readonly measuredAt: string;
  readonly windowSeconds: number;
  readonly rows: DispatchRow[];
  /**
   * Calibration: requests/s a bare keep-alive HTTP client in this process gets from the same sink (256 connections,
   * the dispatcher's pool size), measured right before the 10 x 500/s row: the machine's ceiling at that moment.
   */
  readonly rawHttpPerSecond?: number;
  readonly load: readonly [number, number];
}

const SKIP_MS = 1000;
const PARENT = 'projects/bench/locations/us-central1';

export async function dispatchBench(ctx: BenchContext): Promise<DispatchResult> {
  // The emulator runs in this process here: give it the heap the CLI gives itself (lib/apps/emulator/cli.ts).
  useServerHeap();
  const load0 = currentLoad();
  const windowSeconds = ctx.quick ? 2 : 5;
  const plan: { queues: number; rate: number; budgeted: boolean; scale?: boolean }[] = [
    { queues: 1, rate: 50, budgeted: true },
    { queues: 1, rate: 200, budgeted: true },
    { queues: 1, rate: 500, budgeted: true },
    { queues: 4, rate: 200, budgeted: true },
    { queues: 10, rate: 500, budgeted: true, scale: true },
  ];
  const sink = await startSink();
  const rows: DispatchRow[] = [];
  let rawHttpPerSecond: number | undefined;
  try {
    for (const p of plan) {
      if (p.scale) {
        rawHttpPerSecond = await rawHttpCeiling(sink, 3000);
        ctx.log(
          `dispatch: calibration: a bare HTTP client gets ${Math.round(rawHttpPerSecond)} requests/s from the sink`,
        );
      }
      const row = await dispatchRow(ctx, sink, p.queues, p.rate, windowSeconds, p.budgeted);
      rows.push(
        p.scale ? { ...row, scale: true, aggregatePerSecond: row.observedPerQueue.reduce((a, b) => a + b, 0) } : row,
      );
    }
  } finally {
    sink.process.disconnect();
  }
  return {
    measuredAt: new Date().toISOString(),
    windowSeconds,
    rows,
    ...(rawHttpPerSecond !== undefined ? { rawHttpPerSecond } : {}),
    load: [load0, currentLoad()],
  };
}

interface Sink {
  readonly process: ChildProcess;
  readonly port: number;
  arrivals(): Promise<Record<string, number[]>>;
}

async function startSink(): Promise<Sink> {
  const child = fork(join(__dirname, '..', 'lib', 'http-sink.cjs'), [], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv: [],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m: { port: number }) => resolve(m.port));
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the HTTP sink exited (${code}) before listening`)));
  });
  return {
    process: child,
    port,
    arrivals: () =>
      new Promise((resolve) => {
        child.once('message', (m: { arrivals: Record<string, number[]> }) => resolve(m.arrivals));
        child.send({ type: 'arrivals' });
      }),
  };
}

async function dispatchRow(
  ctx: BenchContext,
  sink: Sink,
  queues: number,
  rate: number,
  windowSeconds: number,
  budgeted: boolean,
): Promise<DispatchRow> {
  const emulator = await startEmulator({ port: 0, dispatch: true });
  try {
    const names: string[] = [];
    for (let q = 0; q < queues; q++) {
      const queue = emulator.state.createQueue(PARENT, {
        name: `${PARENT}/queues/r${rate}-q${q}`,
        rateLimits: { maxDispatchesPerSecond: rate, maxConcurrentDispatches: 1000 },
      });
      emulator.state.pauseQueue(queue.name);
      names.push(queue.name);
    }
    const maxBurstSize = emulator.state.getQueue(names[0]).rateLimits.maxBurstSize;
    // Enough that no queue runs dry before the window ends, with a second to spare.
    const perQueue = maxBurstSize + Math.ceil(rate * (SKIP_MS / 1000 + windowSeconds + 1));
    const body = Buffer.from(JSON.stringify({ runId: 'bench', payload: 'x'.repeat(200) }));
    for (const [q, name] of names.entries()) {
      const url = `http://127.0.0.1:${sink.port}/q${q}/tasks`;
      for (let i = 0; i < perQueue; i++)
        emulator.state.createTask(name, {
          httpRequest: {
            url,
            httpMethod: 'POST',
            body,
            headers: { 'Content-Type': 'application/json' },
            oidcToken: { serviceAccountEmail: 'invoker@bench.iam.gserviceaccount.com', audience: url },
          },
        });
    }
    await sink.arrivals(); // forget anything left from the previous row

    for (const name of names) emulator.state.resumeQueue(name);
    const started = performance.now();
    // CPU over the window only: from the end of the skipped start to the end of the window.
    await sleep(SKIP_MS);
    const cpu0 = process.cpuUsage();
    await sleep(windowSeconds * 1000);
    const cpu = process.cpuUsage(cpu0);
    // Arrivals in flight at the end of the window land within milliseconds; wait a little before collecting.
    await sleep(Math.max(0, SKIP_MS + windowSeconds * 1000 + 300 - (performance.now() - started)));
    for (const name of names) emulator.state.pauseQueue(name);
    const arrivals = await sink.arrivals();
    const observedPerQueue = names.map((_, q) => windowRate(arrivals[`q${q}`] ?? [], SKIP_MS, windowSeconds * 1000));
    const row: DispatchRow = {
      queues,
      configuredPerQueue: rate,
      observedPerQueue,
      worstDeviation: worstDeviation(observedPerQueue, rate),
      maxBurstSize,
      emulatorCpuMsPerSecond: (cpu.user + cpu.system) / 1000 / windowSeconds,
      budgeted,
    };
    ctx.log(
      `dispatch: ${queues} x ${rate}/s -> ${observedPerQueue.map((r) => r.toFixed(1)).join(', ')}/s (worst ${(row.worstDeviation * 100).toFixed(2)} %), emulator CPU ${row.emulatorCpuMsPerSecond.toFixed(0)} ms/s`,
    );
    return row;
  } finally {
    await emulator.stop();
  }
}

/** Requests/s of a bare keep-alive client (256 connections, 512 in flight) against the sink for `ms`. */
async function rawHttpCeiling(sink: Sink, ms: number): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const body = Buffer.alloc(250, 'x');
  const until = performance.now() + ms;
  let done = 0;
  const one = () =>
    new Promise<void>((resolve) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: sink.port,
          path: '/calibration/tasks',
          method: 'POST',
          agent,
          headers: { 'content-length': body.length },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve());
        },
      );
      req.on('error', () => resolve());
      req.end(body);
    });
  await Promise.all(
    Array.from({ length: 512 }, async () => {
      while (performance.now() < until) {
        await one();
        done++;
      }
    }),
  );
  agent.destroy();
  await sink.arrivals(); // forget the calibration requests
  return done / (ms / 1000);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
