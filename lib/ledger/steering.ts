/**
 * Steering runs from outside a worker (phase 2 puts `npm run runs -- start|cancel|retry` on top of these):
 *
 * - startRun: the run document, then its first task (named: starting twice creates one run and one task);
 * - cancelRun: running -> cancelled, then the run's waiting tasks deleted; a worker that still gets one skips it;
 * - retryRun (re-drive, "clear" in Airflow): failed -> running; failed and lost shards re-enqueued with their
 *   messages under a new generation's task names; shards whose parents finished while the run was failed get their
 *   tasks; every step that can complete now does. Done shards are never run again.
 */
import { randomBytes } from 'node:crypto';
import { START_SHARD, ledgerTaskIdFor, runIdProblem, type RunSource, type RunStatus } from '../core/ledger-layout';
import { rootSteps, runSteps } from '../core/routes';
import { jobShardId } from '../core/job-route';
import type { RunEngine } from './engine';
import { createStepTask, deleteTaskIfPresent, ledgerTaskName, mapLimit } from './tasks';
import type { RunRecord, ShardRecord } from './store';

/** A steering call that cannot be done as asked; the message says why and what would work. */
export class RunSteeringError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RunSteeringError';
  }
}

export interface StartRunOptions {
  /** The step the run starts at. @default - the pipeline's only step without parents */
  readonly step?: string;
  /** Any JSON value: the first task's payload. @default null */
  readonly payload?: unknown;
  /**
   * The run id. Starting a run id that exists starts nothing (the seeder relies on it).
   * @default - `<yyyymmdd>-<hhmmss>-<6 hex>` from the clock
   */
  readonly runId?: string;
  /** @default { kind: 'manual' } */
  readonly source?: RunSource;
  /** When the first attempt is due (at most 30 days ahead, as Cloud Tasks allows). @default - now */
  readonly scheduleTime?: Date;
}

export interface StartRunResult {
  readonly runId: string;
  /** false: the run existed (nothing new was started unless its first task had not been created). */
  readonly created: boolean;
  readonly status: RunStatus;
  /** The first task's full name. */
  readonly task: string;
}

export async function startRun(engine: RunEngine, o: StartRunOptions = {}): Promise<StartRunResult> {
  const routes = engine.routes;
  const roots = rootSteps(routes);
  const step = o.step ?? (roots.length === 1 ? roots[0] : undefined);
  if (step === undefined)
    throw new RunSteeringError(
      `name the step to start at: this pipeline has ${roots.length} steps without parents (${roots.join(', ')})`,
    );
  if (!routes.steps[step])
    throw new RunSteeringError(
      `"${step}" is not a step of pipeline ${routes.pipeline} (steps: ${Object.keys(routes.steps).join(', ')})`,
    );
  const runId = o.runId ?? generateRunId(engine.clock.now());
  const bad = runIdProblem(runId);
  if (bad) throw new RunSteeringError(bad);
  const payloadJson = JSON.stringify(o.payload ?? null);
  engine.checkMessage(step, payloadJson, 'the payload');
  const startTaskId = ledgerTaskIdFor(runId, step, START_SHARD, 0);
  const { run, created } = await engine.ensureRun({
    runId,
    startStep: step,
    source: o.source ?? { kind: 'manual' },
    inputJson: payloadJson,
    startTaskId,
    ...(o.scheduleTime ? { notBeforeMs: o.scheduleTime.getTime() } : {}),
  });
  const task = ledgerTaskName(routes, runId, step, START_SHARD, 0);
  if (!created && run.startStep !== step)
    throw new RunSteeringError(
      `run ${runId} exists already and started at ${run.startStep}, not ${step}; pick another run id`,
    );
  if (!created && run.status !== 'running') return { runId, created, status: run.status, task };
  // A start interrupted between the run document and its task is completed here (the task name is the same).
  // A job step's first shard is its execution's task 0.
  const firstShard = routes.steps[step].job ? jobShardId(START_SHARD, 0) : START_SHARD;
  if (created || !(await engine.store.getShard(runId, step, firstShard))) {
    await createStepTask(engine.tasks, routes, {
      runId,
      step,
      shard: START_SHARD,
      generation: 0,
      payloadJson: run.input ?? payloadJson,
      ...(o.scheduleTime ? { scheduleTimeMs: o.scheduleTime.getTime() } : {}),
    });
  }
  return { runId, created, status: run.status, task };
}

/** `20300101-120000-a1b2c3`: sortable by start time, unique enough for runs started by hand. */
export function generateRunId(nowMs: number): string {
  const t = new Date(nowMs).toISOString();
  return `${t.slice(0, 10).replace(/-/g, '')}-${t.slice(11, 19).replace(/:/g, '')}-${randomBytes(3).toString('hex')}`;
}

export interface CancelRunResult {
  readonly runId: string;
  /** Tasks deleted from their queues. */
  readonly deleted: number;
  /** Task names tried (the run's tasks that had not finished). */
  readonly tasks: readonly string[];
}

/** Cancels a running run: marks it cancelled, then deletes its tasks that are still waiting. */
export async function cancelRun(engine: RunEngine, runId: string): Promise<CancelRunResult> {
  const now = new Date(engine.clock.now());
  const { result: before } = await engine.store.compareAndSet<RunRecord, RunRecord | undefined>(
    engine.store.runRef(runId),
    (run) =>
      run?.status === 'running'
        ? { write: { status: 'cancelled', finishedAt: now, updatedAt: now }, result: run }
        : { result: run },
  );
  if (!before) throw new RunSteeringError(`run ${runId} does not exist in stack ${engine.routes.stack}`);
  if (before.status !== 'running')
    throw new RunSteeringError(`run ${runId} is ${before.status}; only a running run can be cancelled`);
  const names = await unfinishedTaskNames(engine, before);
  const deleted = (await mapLimit(names, 16, (n) => deleteTaskIfPresent(engine.tasks, n))).filter(Boolean).length;
  engine.emit({
    type: 'run-cancelled',
    severity: 'WARNING',
    message: `run ${runId} cancelled; ${deleted} waiting task${deleted === 1 ? '' : 's'} deleted`,
    runId,
    fields: { deleted, tried: names.length },
  });
  return { runId, deleted, tasks: names };
}

/** Names of the run's tasks whose shards are not done or failed: every generation that may exist. */
async function unfinishedTaskNames(engine: RunEngine, run: RunRecord): Promise<string[]> {
  const names = new Set<string>();
  for (const step of runSteps(engine.routes, run.startStep)) {
    const shards = new Map((await engine.store.listShards(run.runId, step)).map((s) => [s.shard, s]));
    for (const e of await engine.expectedShards(run, step)) {
      const s = shards.get(e.shard);
      if (s && (s.state === 'done' || s.state === 'failed')) continue;
      const generations = s ? [s.generation] : [...new Set([0, run.redrives ?? 0])];
      for (const g of generations) names.add(ledgerTaskName(engine.routes, run.runId, step, e.shard, g));
      if (step === run.startStep && run.startTaskId)
        names.add(`${engine.routes.steps[step].queue}/tasks/${run.startTaskId}`);
    }
  }
  return [...names];
}

export interface RetryRunOptions {
  /** Only re-enqueue this step's failed shards. @default - every failed step */
  readonly step?: string;
}

export interface RetryRunResult {
  readonly runId: string;
  /** The re-drive number: the generation of the tasks it created. */
  readonly generation: number;
  /** Shards re-enqueued (failed, lost, or never started because the run had failed). */
  readonly requeued: ReadonlyArray<{ readonly step: string; readonly shard: string }>;
}

/** Re-drives a failed run (see the file comment). */
export async function retryRun(engine: RunEngine, runId: string, o: RetryRunOptions = {}): Promise<RetryRunResult> {
  const store = engine.store;
  const current = await store.getRun(runId);
  if (!current) throw new RunSteeringError(`run ${runId} does not exist in stack ${engine.routes.stack}`);
  if (current.status !== 'failed')
    throw new RunSteeringError(`run ${runId} is ${current.status}; only a failed run can be re-driven`);
  const inRun = runSteps(engine.routes, current.startStep);
  if (o.step !== undefined && !inRun.includes(o.step))
    throw new RunSteeringError(`"${o.step}" is not a step of run ${runId} (its steps: ${inRun.join(', ')})`);
  const now = new Date(engine.clock.now());
  const { result: run } = await store.compareAndSet<RunRecord, RunRecord | undefined>(store.runRef(runId), (r) =>
    r?.status === 'failed'
      ? {
          write: {
            status: 'running',
            failure: store.deleteField(),
            finishedAt: store.deleteField(),
            previousFailures: [...(r.previousFailures ?? []), ...(r.failure ? [r.failure] : [])],
            redrives: (r.redrives ?? 0) + 1,
            updatedAt: now,
          },
          result: { ...r, status: 'running' as const, redrives: (r.redrives ?? 0) + 1 },
        }
      : { result: undefined },
  );
  if (!run) throw new RunSteeringError(`run ${runId} changed while it was being re-driven; look at it again`);
  const generation = run.redrives;
  engine.emit({
    type: 'run-redriven',
    severity: 'WARNING',
    message: `run ${runId} re-driven (generation ${generation})${o.step ? ` at ${o.step}` : ''}`,
    runId,
    fields: { generation, step: o.step },
  });

  const requeued: Array<{ step: string; shard: string }> = [];
  const nowMs = now.getTime();
  for (const step of inRun) {
    const doc = (await store.getSteps(runId, [step]))[0];
    if (doc?.state === 'failed')
      await store.set(store.stepRef(runId, step), { state: 'open', failure: store.deleteField() });
    if (o.step !== undefined && o.step !== step) continue;
    const shards = new Map((await store.listShards(runId, step)).map((s) => [s.shard, s]));
    const expected = new Map((await engine.expectedShards(run, step)).map((e) => [e.shard, e]));
    for (const shard of new Set([...shards.keys(), ...expected.keys()])) {
      const s = shards.get(shard);
      const lost = s?.state === 'running' && (s.leaseUntil ?? 0) <= nowMs;
      if (s && s.state !== 'failed' && s.state !== 'pending' && !lost) continue;
      const payloadJson = s?.message ?? expected.get(shard)?.payloadJson;
      if (payloadJson === undefined) continue; // the message is nowhere (too large to keep): nothing to re-send
      if (s) await resetShard(engine, runId, step, s, generation);
      await createStepTask(engine.tasks, engine.routes, {
        runId,
        step,
        shard,
        generation,
        payloadJson,
        ...(expected.get(shard)?.from ? { from: expected.get(shard)!.from } : {}),
      });
      requeued.push({ step, shard });
    }
  }
  // Steps whose shards all finished while the run was failed complete now; the re-drive owns what it takes over.
  const actor = { owner: `redrive-${generation}`, takeOver: true };
  for (const step of inRun) await engine.tryCompleteStep(run, step, actor);
  await engine.tryFinishRun(runId);
  return { runId, generation, requeued };
}

async function resetShard(
  engine: RunEngine,
  runId: string,
  step: string,
  s: ShardRecord,
  generation: number,
): Promise<void> {
  const now = new Date(engine.clock.now());
  await engine.store.compareAndSet<ShardRecord, void>(engine.store.shardRef(runId, step, s.shard), (cur) =>
    cur && cur.state !== 'done'
      ? {
          write: { state: 'pending', generation, leaseUntil: engine.store.deleteField(), updatedAt: now },
          result: undefined,
        }
      : { result: undefined },
  );
}
