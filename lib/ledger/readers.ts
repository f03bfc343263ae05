/**
 * The ledger's readers: a stack's runs (`listRuns`) and one run's story (`getRun`): per step, what it expects, what
 * succeeded or failed, attempts, outputs, durations, and every shard. Both apply stall detection (stall.ts) to runs
 * that say `running`, and record a stalled run as failed (once: a compare-and-set from `running`), so a dead run is
 * never listed as running.
 */
import {
  FINAL_RUN_STATUSES,
  type RunFailure,
  type RunSource,
  type RunStatus,
  type ShardState,
} from '../core/ledger-layout';
import { runParents, runSteps, type JoinMode } from '../core/routes';
import { compareShardIds, type RunEngine } from './engine';
import { detectStall } from './stall';
import type { RunRecord, ShardRecord, StepRecord } from './store';

export interface RunSummary {
  readonly runId: string;
  readonly pipeline: string;
  readonly stack: string;
  readonly status: RunStatus;
  readonly source: RunSource;
  readonly startStep: string;
  /** ISO 8601. */
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly finishedAt?: string;
  /** From creation to the end (or to now while running). */
  readonly durationSeconds: number;
  readonly failure?: RunFailure;
  readonly redrives: number;
}

export interface ShardView {
  readonly shard: string;
  readonly state: ShardState;
  readonly attempts: number;
  readonly generation: number;
  readonly startedAt: string;
  readonly finishedAt?: string;
  /** Of the latest attempt, when it ended. */
  readonly durationSeconds?: number;
  readonly outputs: Readonly<Record<string, string>>;
  /** Messages emitted per next step. */
  readonly emitted: Readonly<Record<string, number>>;
  readonly error?: { readonly message: string; readonly final: boolean; readonly attempt: number };
  readonly leaseUntil?: string;
}

export type StepProgressState = 'pending' | 'open' | 'complete' | 'skipped' | 'failed';

export interface StepView {
  readonly step: string;
  readonly join: JoinMode;
  /** pending: its parents have not all completed yet. */
  readonly state: StepProgressState;
  /** Tasks the step must complete, once known. */
  readonly expected?: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly running: number;
  /** Attempts over all its shards. */
  readonly attempts: number;
  /** Every output its shards reported, in shard order. */
  readonly outputs: ReadonlyArray<{ readonly shard: string; readonly name: string; readonly uri: string }>;
  readonly openedAt?: string;
  readonly completedAt?: string;
  /** First claim to completion. */
  readonly durationSeconds?: number;
  readonly shards: readonly ShardView[];
}

export interface RunView extends RunSummary {
  /** The input payload (parsed), when the ledger could keep it. */
  readonly input?: unknown;
  readonly inputNote?: string;
  /** The run's steps, parents first. */
  readonly steps: readonly StepView[];
  /** ISO 8601: the latest progress the ledger recorded. */
  readonly lastProgressAt: string;
}

export interface ListRunsOptions {
  readonly status?: RunStatus;
  /** @default 50 */
  readonly limit?: number;
}

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
const SUMMARY_FIELDS = [
  'runId',
  'pipeline',
  'stack',
  'status',
  'source',
  'startStep',
  'createdAt',
  'updatedAt',
  'finishedAt',
  'notBefore',
  'failure',
  'redrives',
] as const;

function summary(run: RunRecord, now: number): RunSummary {
  const end = run.finishedAt ?? now;
  return {
    runId: run.runId,
    pipeline: run.pipeline,
    stack: run.stack,
    status: run.status,
    source: run.source,
    startStep: run.startStep,
    createdAt: iso(run.createdAt)!,
    updatedAt: iso(run.updatedAt)!,
    ...(run.finishedAt !== undefined ? { finishedAt: iso(run.finishedAt) } : {}),
    durationSeconds: Math.max(0, (end - run.createdAt) / 1000),
    ...(run.failure ? { failure: run.failure } : {}),
    redrives: run.redrives ?? 0,
  };
}

/** A stack's runs, newest first. Running runs are checked for a stall (and recorded failed when stalled). */
export async function listRuns(engine: RunEngine, options: ListRunsOptions = {}): Promise<RunSummary[]> {
  const limit = options.limit ?? 50;
  let query = engine.store
    .runs()
    .select(...SUMMARY_FIELDS)
    .orderBy('createdAt', 'desc')
    .limit(limit);
  if (options.status) query = query.where('status', '==', options.status);
  const snap = await query.get();
  const runs = snap.docs.map((d) => {
    const data = d.data();
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(data)) out[k] = typeof v?.toMillis === 'function' ? v.toMillis() : v;
    return out as unknown as RunRecord;
  });
  const now = engine.clock.now();
  const checked = await Promise.all(
    runs.map(async (run) => (run.status === 'running' ? ((await checkStall(engine, run)) ?? run) : run)),
  );
  return checked.filter((r) => !options.status || r.status === options.status).map((r) => summary(r, now));
}

/** One run with per-step progress; undefined when the stack has no such run. */
export async function getRun(engine: RunEngine, runId: string): Promise<RunView | undefined> {
  let run = await engine.store.getRun(runId);
  if (!run) return undefined;
  const steps = runSteps(engine.routes, run.startStep);
  const [docs, shardLists] = await Promise.all([
    engine.store.getSteps(runId, steps),
    Promise.all(steps.map((s) => engine.store.listShards(runId, s))),
  ]);
  const shardsByStep = new Map(
    steps.map((s, i) => [s, shardLists[i].sort((a, b) => compareShardIds(a.shard, b.shard))]),
  );
  let docByStep = new Map(steps.map((s, i) => [s, docs[i]]));
  const lastProgressAt = lastProgress(run, docs, shardLists.flat());
  if (run.status === 'running') {
    const open = openSteps(engine, run, docByStep);
    const verdict = detectStall({ now: engine.clock.now(), lastProgressAt, openSteps: open });
    if (verdict) {
      run = (await recordStall(engine, run, verdict.steps[0], verdict.reason)) ?? run;
      const after = await engine.store.getSteps(runId, steps);
      docByStep = new Map(steps.map((s, i) => [s, after[i]]));
    }
  }
  const now = engine.clock.now();
  const stepViews = steps.map((s) => stepView(engine, run!, s, docByStep, shardsByStep.get(s) ?? [], now));
  let input: unknown;
  if (run.input !== undefined) {
    try {
      input = JSON.parse(run.input);
    } catch {
      input = run.input;
    }
  }
  return {
    ...summary(run, now),
    ...(run.input !== undefined ? { input } : {}),
    ...(run.inputNote ? { inputNote: run.inputNote } : {}),
    steps: stepViews,
    lastProgressAt: iso(lastProgressAt)!,
  };
}

function stepView(
  engine: RunEngine,
  run: RunRecord,
  step: string,
  docs: ReadonlyMap<string, StepRecord | undefined>,
  shards: readonly ShardRecord[],
  now: number,
): StepView {
  const doc = docs.get(step);
  const count = (state: ShardState) => shards.filter((s) => s.state === state).length;
  const firstStart = shards.length ? Math.min(...shards.map((s) => s.firstAttemptAt ?? s.startedAt)) : undefined;
  const finishes = shards.map((s) => s.finishedAt ?? 0);
  const end = doc?.completedAt ?? (doc?.state === 'failed' && shards.length ? Math.max(...finishes) : undefined);
  let state: StepProgressState = doc?.state ?? 'pending';
  if (!doc && (shards.length > 0 || step === run.startStep)) state = 'open';
  return {
    step,
    join: engine.routes.steps[step].join,
    state,
    ...(doc?.expected !== undefined ? { expected: doc.expected } : {}),
    succeeded: count('done'),
    failed: count('failed'),
    running: count('running') + count('pending'),
    attempts: shards.reduce((n, s) => n + (s.attempts ?? 0), 0),
    outputs: shards.flatMap((s) =>
      Object.entries(s.outputs ?? {}).map(([name, uri]) => ({ shard: s.shard, name, uri })),
    ),
    ...(doc?.openedAt !== undefined ? { openedAt: iso(doc.openedAt) } : {}),
    ...(doc?.completedAt !== undefined ? { completedAt: iso(doc.completedAt) } : {}),
    ...(firstStart !== undefined && (end !== undefined || state === 'open')
      ? { durationSeconds: Math.max(0, ((end ?? now) - firstStart) / 1000) }
      : {}),
    shards: shards.map((s) => ({
      shard: s.shard,
      state: s.state,
      attempts: s.attempts,
      generation: s.generation ?? 0,
      startedAt: iso(s.startedAt)!,
      ...(s.finishedAt !== undefined
        ? { finishedAt: iso(s.finishedAt), durationSeconds: (s.finishedAt - s.startedAt) / 1000 }
        : {}),
      outputs: s.outputs ?? {},
      emitted: s.emitCounts ?? {},
      ...(s.error ? { error: s.error } : {}),
      ...(s.state === 'running' && s.leaseUntil !== undefined ? { leaseUntil: iso(s.leaseUntil) } : {}),
    })),
  };
}

function lastProgress(
  run: RunRecord,
  docs: ReadonlyArray<StepRecord | undefined>,
  shards: readonly ShardRecord[],
): number {
  const times = [run.createdAt, run.updatedAt, run.notBefore ?? 0];
  for (const d of docs) if (d) times.push(d.openedAt ?? 0, d.completedAt ?? 0);
  for (const s of shards) times.push(s.updatedAt ?? 0);
  return Math.max(...times);
}

/** Steps of the run that are not complete but could be working: open, or every parent complete. */
function openSteps(engine: RunEngine, run: RunRecord, docs: ReadonlyMap<string, StepRecord | undefined>) {
  const inRun = runSteps(engine.routes, run.startStep);
  const done = (s: string) => ['complete', 'skipped'].includes(docs.get(s)?.state ?? '');
  return inRun
    .filter((s) => !done(s) && docs.get(s)?.state !== 'failed')
    .filter((s) => s === run.startStep || docs.get(s) !== undefined || runParents(engine.routes, inRun, s).every(done))
    .map((step) => ({ step, route: engine.routes.steps[step] }));
}

/**
 * The stall check of one running run, with as few reads as listing needs: its step documents and, per open step,
 * the latest shard update. Returns the run as recorded afterwards when it was stalled.
 */
async function checkStall(engine: RunEngine, run: RunRecord): Promise<RunRecord | undefined> {
  const steps = runSteps(engine.routes, run.startStep);
  const docs = await engine.store.getSteps(run.runId, steps);
  const docByStep = new Map(steps.map((s, i) => [s, docs[i]]));
  const open = openSteps(engine, run, docByStep);
  const updates = await Promise.all(open.map((o) => engine.store.lastShardUpdate(run.runId, o.step)));
  const times = [run.createdAt, run.updatedAt, run.notBefore ?? 0, ...updates.map((u) => u ?? 0)];
  for (const d of docs) if (d) times.push(d.openedAt ?? 0, d.completedAt ?? 0);
  const verdict = detectStall({ now: engine.clock.now(), lastProgressAt: Math.max(...times), openSteps: open });
  return verdict ? recordStall(engine, run, verdict.steps[0], verdict.reason) : undefined;
}

async function recordStall(
  engine: RunEngine,
  run: RunRecord,
  step: string,
  reason: string,
): Promise<RunRecord | undefined> {
  await engine.failRun(run.runId, { step, kind: 'stalled', reason });
  const after = await engine.store.getRun(run.runId);
  return after && FINAL_RUN_STATUSES.includes(after.status) ? after : undefined;
}
