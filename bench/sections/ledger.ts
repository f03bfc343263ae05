/**
 * The run ledger, locally: what orchestration costs per hand-off, and a 1,000-shard fan-in.
 *
 * The Cloud Tasks emulator dispatches from this process; the worker (bench/lib/ledger-worker.ts, the worker SDK's
 * step handler) runs in its own process; the ledger is Google's Firestore emulator (started here unless
 * FIRESTORE_EMULATOR_HOST names one). Queues are routed to the worker as a stack's http_target would route them,
 * with OIDC tokens the worker verifies.
 *
 * - Hand-off: a 5-step chain (a -> b -> c -> d -> e), runs 5 at a time. For each hand-off from step i to step i+1 of a
 *   run: (1) from step i's 2xx (the emulator got the answer) to step i+1's dispatch, the figure the issue names (it
 *   can be negative: the next task is created, and may be dispatched, before the answer is sent); (2) from step i's
 *   function returning to step i+1's function starting: everything the SDK adds (recording the shard, creating the
 *   task, the dispatch, the next claim).
 * - Fan-in: split -> work (1,000 shards, join each) -> merge (join all). Time from the last work shard's function
 *   returning to merge's dispatch, the run's wall time, how many merge tasks were created (exactly one), and the
 *   ledger's writes per document.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { EMULATOR_HOST_ENV, EMULATOR_ISSUER_ENV, FIRESTORE_EMULATOR_HOST_ENV } from '../../lib/core/env';
import { ENVELOPE_FORMAT } from '../../lib/core/ledger-layout';
import { ROUTES_ENV, buildRoutes, type PipelineRoutes, type RoutesStepInput } from '../../lib/core/routes';
import { startEmulator, type RunningEmulator } from '../../lib/emulator/server';
import type { Task } from '../../lib/emulator/model';
import { createLedger, type Ledger } from '../../lib/ledger/index';
import { ensureFirestoreEmulator } from '../../lib/ledger/firestore-emulator';
import type { WorkerReport } from '../lib/ledger-worker';
import { currentLoad } from '../lib/machine';
import { quantile } from '../lib/stats';
import type { BenchContext } from '../lib/context';

export interface LatencySummary {
  readonly samples: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly maxMs: number;
}

export interface LedgerResult {
  readonly measuredAt: string;
  /** One row per concurrency: runs one at a time (the protocol's own cost), then several at once. */
  readonly handoff: ReadonlyArray<{
    readonly steps: number;
    readonly runs: number;
    readonly concurrentRuns: number;
    /** Step i's 2xx -> step i+1 dispatched. */
    readonly answerToDispatch: LatencySummary;
    /** Step i's function returned -> step i+1's function started. */
    readonly workToWork: LatencySummary;
    /** Run created -> run succeeded (ledger timestamps). */
    readonly runMs: LatencySummary;
  }>;
  readonly fanIn: {
    readonly shards: number;
    /** The work queue's max_concurrent_dispatches. */
    readonly concurrency: number;
    readonly status: string;
    /** The last work shard's function returned -> merge's task dispatched. */
    readonly lastShardToJoinMs: number;
    /** split dispatched -> merge dispatched. */
    readonly runToJoinMs: number;
    readonly joinTasks: number;
    /** Committed ledger writes per second over the run (split dispatched -> merge dispatched). */
    readonly writesPerSecond: number;
    readonly writes: {
      readonly total: number;
      readonly documents: number;
      readonly maxPerDocument: number;
      readonly byKind: Record<string, { documents: number; maxPerDocument: number }>;
    };
  };
  readonly load: readonly [number, number];
}

const PROJECT = 'bench-ledger';
/** The fan-in's work queue: tasks in flight at most (queue max_concurrent_dispatches). */
const WORK_CONCURRENCY = 100;
const REGION = 'us-central1';

export async function ledgerBench(ctx: BenchContext): Promise<LedgerResult> {
  const load0 = currentLoad();
  const firestore = await ensureFirestoreEmulator();
  ctx.log(`ledger: Firestore emulator at ${firestore.host}${firestore.started ? ' (started for the bench)' : ''}`);
  try {
    await firestore.ready;
    const handoff = [
      await handoffBench(ctx, firestore.host, ctx.quick ? 5 : 10, 1),
      await handoffBench(ctx, firestore.host, ctx.quick ? 10 : 30, 5),
    ];
    const fanIn = await fanInBench(ctx, firestore.host, ctx.quick ? 200 : 1000);
    return { measuredAt: new Date().toISOString(), handoff, fanIn, load: [load0, currentLoad()] };
  } finally {
    await firestore.stop();
  }
}

function summary(values: readonly number[]): LatencySummary {
  return {
    samples: values.length,
    p50Ms: quantile(values, 0.5),
    p95Ms: quantile(values, 0.95),
    maxMs: Math.max(...values),
  };
}

interface Setup {
  readonly emulator: RunningEmulator;
  readonly worker: ChildProcess;
  readonly routes: PipelineRoutes;
  readonly ledger: Ledger;
  /** Dispatch timeline: queue step, run id, shard, event, Date.now(). */
  readonly events: Array<{ step: string; runId: string; shard: string; event: string; at: number }>;
  report(): Promise<WorkerReport>;
  close(): Promise<void>;
}

/** The emulators, the worker process and the routed queues for one pipeline. */
async function setUp(
  firestoreHost: string,
  pipeline: string,
  steps: RoutesStepInput[],
  /** Per-step queue limits, e.g. how many tasks a step's service takes at once. */
  rateLimits: Record<string, { maxConcurrentDispatches: number }> = {},
): Promise<Setup> {
  const ledgerProject = `${pipeline}-${Date.now().toString(36)}`;
  const routes = buildRoutes({
    project: PROJECT,
    region: REGION,
    environment: 'bench',
    pipeline: { name: pipeline, steps },
    ledger: { project: ledgerProject, database: '(default)' },
  });
  const stepOfQueue = new Map(Object.entries(routes.steps).map(([name, r]) => [r.queue, name]));
  const events: Setup['events'] = [];
  const runOf = (task: Task): { runId: string; shard: string } => {
    try {
      const body = JSON.parse(task.httpRequest.body.toString()) as {
        envelope?: string;
        runId?: string;
        shard?: string;
      };
      if (body.envelope === ENVELOPE_FORMAT) return { runId: body.runId ?? '', shard: body.shard ?? '' };
    } catch {
      // not JSON: not one of ours
    }
    return { runId: '', shard: '' };
  };
  const emulator = await startEmulator({
    dispatch: true,
    dispatchListeners: [
      (e, task) => {
        if (e.event !== 'dispatched' && e.event !== 'succeeded' && e.event !== 'created') return;
        events.push({ step: stepOfQueue.get(e.queue) ?? '', ...runOf(task), event: e.event, at: Date.now() });
      },
    ],
  });
  const worker = fork(join(__dirname, '..', 'lib', 'ledger-worker.ts'), [], {
    execArgv: ['--require', 'tsx/cjs'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: {
      ...process.env,
      [ROUTES_ENV]: JSON.stringify(routes),
      [FIRESTORE_EMULATOR_HOST_ENV]: firestoreHost,
      [EMULATOR_HOST_ENV]: emulator.address,
      [EMULATOR_ISSUER_ENV]: emulator.tokens!.issuer,
      METADATA_SERVER_DETECTION: 'none',
    },
  });
  const port = await new Promise<number>((resolve, reject) => {
    worker.once('message', (m: { port: number }) => resolve(m.port));
    worker.once('exit', (code) => reject(new Error(`the ledger worker exited (${code}) before listening`)));
  });
  for (const [name, r] of Object.entries(routes.steps)) {
    emulator.state.createQueue(r.queue.slice(0, r.queue.indexOf('/queues/')), {
      name: r.queue,
      retryConfig: r.retry,
      ...(rateLimits[name] ? { rateLimits: rateLimits[name] } : {}),
    });
    emulator.state.setQueueHttpTarget(r.queue, {
      uriOverride: { scheme: 'HTTP', host: '127.0.0.1', port, uriOverrideEnforceMode: 'ALWAYS' },
      // The token the stack configures: the audience the routes say the worker accepts (for a *.run.app target the
      // service URL, not the task URL: docs/spec.md, "The default audience").
      oidcToken: {
        serviceAccountEmail: (r.auth as { serviceAccountEmail: string }).serviceAccountEmail,
        audience: (r.auth as { audience: string }).audience,
      },
    });
  }
  // The bench's own ledger starts the runs: its writes count too.
  const ownWrites: Record<string, number> = {};
  const ledger = createLedger({
    routes,
    env: { [FIRESTORE_EMULATOR_HOST_ENV]: firestoreHost, [EMULATOR_HOST_ENV]: emulator.address },
    onWrite: (path) => (ownWrites[path] = (ownWrites[path] ?? 0) + 1),
  });
  return {
    emulator,
    worker,
    routes,
    ledger,
    events,
    report: () =>
      new Promise((resolve) => {
        worker.once('message', (m: WorkerReport) => {
          const writes = { ...m.writes };
          for (const [p, n] of Object.entries(ownWrites)) writes[p] = (writes[p] ?? 0) + n;
          resolve({ ...m, writes });
        });
        worker.send({ type: 'report' });
      }),
    async close() {
      const exited = new Promise((r) => worker.once('exit', r));
      worker.disconnect();
      await exited;
      await ledger.close();
      await emulator.stop();
    },
  };
}

const stepInput = (name: string, next: string[], extra: Partial<RoutesStepInput> = {}): RoutesStepInput => ({
  name,
  next,
  dispatchDeadlineSeconds: 120,
  retry: { maxAttempts: 10, minBackoffSeconds: 0.1, maxBackoffSeconds: 1 },
  target: { url: `https://${name}-bench-uc.a.run.app/tasks`, auth: 'oidc' },
  ...extra,
});

/** Polls the run document alone (one read, every 200 ms), so waiting adds next to no load to the emulator. */
async function waitFor(ledger: Ledger, runId: string, timeoutMs: number): Promise<string> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const run = await ledger.engine.store.getRun(runId);
    if (run && run.status !== 'running') return run.status;
    if (Date.now() > until)
      throw new Error(`run ${runId} still ${run?.status ?? 'absent'} after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function handoffBench(
  ctx: BenchContext,
  firestoreHost: string,
  runs: number,
  concurrency: number,
): Promise<LedgerResult['handoff'][number]> {
  const names = ['a', 'b', 'c', 'd', 'e'];
  const s = await setUp(
    firestoreHost,
    `handoff${concurrency}`,
    names.map((n, i) => stepInput(n, i + 1 < names.length ? [names[i + 1]] : [])),
  );
  try {
    // One run first, not measured: the worker's first requests load the client libraries and warm the JIT.
    await s.ledger.startRun({ runId: 'warm-up', payload: {} });
    await waitFor(s.ledger, 'warm-up', 120_000);
    const ids = Array.from({ length: runs }, (_, i) => `h-${i}`);
    const runMs: number[] = [];
    for (let i = 0; i < ids.length; i += concurrency) {
      const batch = ids.slice(i, i + concurrency);
      await Promise.all(batch.map((runId) => s.ledger.startRun({ runId, payload: { runId } })));
      for (const runId of batch) {
        const status = await waitFor(s.ledger, runId, 120_000);
        if (status !== 'succeeded') throw new Error(`hand-off run ${runId} ended ${status}`);
        const view = (await s.ledger.getRun(runId))!;
        runMs.push(view.durationSeconds * 1000);
      }
    }
    const { timings } = await s.report();
    const answerToDispatch: number[] = [];
    const workToWork: number[] = [];
    const at = (step: string, runId: string, event: string) =>
      s.events.find((e) => e.step === step && e.runId === runId && e.event === event)?.at;
    for (const runId of ids)
      for (let i = 0; i + 1 < names.length; i++) {
        const answered = at(names[i], runId, 'succeeded');
        const dispatched = at(names[i + 1], runId, 'dispatched');
        if (answered !== undefined && dispatched !== undefined) answerToDispatch.push(dispatched - answered);
        const ended = timings.find((t) => t.runId === runId && t.step === names[i])?.endedAt;
        const started = timings.find((t) => t.runId === runId && t.step === names[i + 1])?.startedAt;
        if (ended !== undefined && started !== undefined) workToWork.push(started - ended);
      }
    ctx.log(
      `ledger: ${runs} runs of a ${names.length}-step chain, ${concurrency} at a time: hand-off p50 ${Math.round(quantile(workToWork, 0.5))} ms`,
    );
    return {
      steps: names.length,
      runs,
      concurrentRuns: concurrency,
      answerToDispatch: summary(answerToDispatch),
      workToWork: summary(workToWork),
      runMs: summary(runMs),
    };
  } finally {
    await s.close();
  }
}

async function fanInBench(ctx: BenchContext, firestoreHost: string, shards: number): Promise<LedgerResult['fanIn']> {
  const s = await setUp(
    firestoreHost,
    'fanin',
    [stepInput('split', ['work']), stepInput('work', ['merge']), stepInput('merge', [], { join: 'all' })],
    // A service takes so many tasks at once (10 instances x 10 requests); 1,000 at once only measures how Google's
    // emulator, a thread per request, copes with 1,000 concurrent calls on 2 cores (load average 70, seen here).
    { work: { maxConcurrentDispatches: WORK_CONCURRENCY } },
  );
  try {
    const runId = `fan-in-${shards}`;
    await s.ledger.startRun({ runId, payload: { shards } });
    const status = await waitFor(s.ledger, runId, 600_000);
    const { timings, writes } = await s.report();
    const splitAt = s.events.find((e) => e.step === 'split' && e.event === 'dispatched')!.at;
    const joinAt = s.events.find((e) => e.step === 'merge' && e.event === 'dispatched')?.at ?? Number.NaN;
    const lastShard = Math.max(...timings.filter((t) => t.step === 'work').map((t) => t.endedAt));
    const kinds = {
      run: /\/runs\/[^/]+$/,
      step: /\/steps\/[^/]+$/,
      shard: /\/shards\/[^/]+$/,
      claim: /\/claims\/[^/]+$/,
    };
    const byKind: Record<string, { documents: number; maxPerDocument: number }> = {};
    for (const [kind, re] of Object.entries(kinds)) {
      const counts = Object.entries(writes)
        .filter(([p]) => re.test(p))
        .map(([, n]) => n);
      byKind[kind] = { documents: counts.length, maxPerDocument: Math.max(0, ...counts) };
    }
    const all = Object.values(writes);
    ctx.log(
      `ledger: ${shards}-shard fan-in ${status}, join ${((joinAt - lastShard) / 1000).toFixed(2)} s after the last shard`,
    );
    return {
      shards,
      concurrency: WORK_CONCURRENCY,
      status,
      lastShardToJoinMs: joinAt - lastShard,
      runToJoinMs: joinAt - splitAt,
      joinTasks: s.events.filter((e) => e.step === 'merge' && e.event === 'created').length,
      writesPerSecond: all.reduce((a, b) => a + b, 0) / ((joinAt - splitAt) / 1000),
      writes: {
        total: all.reduce((a, b) => a + b, 0),
        documents: all.length,
        maxPerDocument: Math.max(0, ...all),
        byKind,
      },
    };
  } finally {
    await s.close();
  }
}
