/**
 * Runs, from one of two sources (docs/dashboard.md, "Runs"):
 * - the run ledger (lib/ledger, the worker SDK's Firestore documents): status, source, per-step progress, shards,
 *   failures and outputs exactly as `npm run runs -- show` tells them; starting a run is the ledger's startRun;
 * - the tasks (a pipeline whose workers keep no ledger, e.g. the example workers): a run is the set of tasks that
 *   carry its run id (a seed's id, or the run id in the message a worker enqueued), its status follows from theirs;
 *   starting a run is a CreateTask into the step's queue, named like a seed so its workers read the run id.
 * Either way the timeline (every attempt of every task, with outcomes and backoff gaps) comes from the dispatcher's
 * events (activity.ts), and every call that changes something goes through the Cloud Tasks API.
 */
import { isTaskEnvelope } from '../../core/ledger-layout';
import { seedIdFromTaskId, taskIdFor } from '../../core/naming';
import { runSteps, type PipelineRoutes } from '../../core/routes';
import type { Task } from '../../emulator/model';
import type { Ledger, RunSummary, RunView } from '../../ledger/index';
import { generateRunId } from '../../ledger/steering';
import { readPipelineMessage } from '../../worker/index';
import { attemptView, countPhases, type TaskActivity, type TaskRecord } from './activity';
import type {
  PhaseCounts,
  RunDetail,
  RunListItem,
  RunSourceView,
  RunStatus,
  RunStepView,
  RunsSourceKind,
  StartRunRequest,
  StartRunResponse,
  TimelineTask,
} from './api-types';
import type { DashboardPipeline, DashboardStep } from './pipeline';
import { previewJson } from './redact';

/** What starting a run without a ledger needs of a Cloud Tasks client (CloudTasksClient satisfies it). */
export interface TaskCreator {
  createTask(request: { parent: string; task: Record<string, unknown> }): Promise<unknown>;
}

export interface RunsSource {
  readonly kind: RunsSourceKind;
  /** Newest first, at most `limit`. */
  list(limit: number): Promise<RunListItem[]>;
  get(runId: string): Promise<RunDetail | undefined>;
  start(request: StartRunRequest): Promise<StartRunResponse>;
}

/** A request that cannot be done as asked (an unknown step); the message says why. */
export class RunRequestError extends Error {
  constructor(
    message: string,
    readonly status: 400 | 404 = 400,
  ) {
    super(message);
    this.name = 'RunRequestError';
  }
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * The run a task belongs to, read as the worker SDK reads it: the envelope's run id, else (a plain payload that
 * starts a run, or an older worker's message) what readPipelineMessage says: the run id in the message, the seed id
 * in the task id, or the task id.
 */
export function runOfTask(task: Pick<Task, 'taskId' | 'httpRequest'>): string {
  const text = task.httpRequest.body.toString();
  let value: unknown;
  try {
    value = text === '' ? null : JSON.parse(text);
  } catch {
    return readPipelineMessage('', { taskName: task.taskId }).runId;
  }
  if (isTaskEnvelope(value)) {
    const runId = (value as { runId?: unknown }).runId;
    return typeof runId === 'string' ? runId : readPipelineMessage('null', { taskName: task.taskId }).runId;
  }
  return readPipelineMessage(text, { taskName: task.taskId }).runId;
}

/** The steps of a run that starts at `startStep`, parents first (core/routes.ts runSteps over the pipeline). */
function stepsOfRun(pipeline: DashboardPipeline, startStep: string): string[] {
  const graph = { steps: Object.fromEntries(pipeline.steps.map((s) => [s.name, s])) } as unknown as PipelineRoutes;
  return runSteps(graph, startStep);
}

interface RunFacts {
  readonly tasks: TaskRecord[];
  readonly createdAtMs: number;
  readonly startStep: string;
  readonly currentSteps: string[];
}

function factsOf(pipeline: DashboardPipeline, tasks: TaskRecord[]): RunFacts {
  const first = tasks.reduce((a, b) => (b.createdAtMs < a.createdAtMs ? b : a));
  const order = new Map(pipeline.steps.map((s, i) => [s.name, i]));
  const byOrder = (a: string, b: string) => (order.get(a) ?? 0) - (order.get(b) ?? 0);
  const live = new Set(
    tasks.filter((t) => ['pending', 'running', 'retrying'].includes(t.phase)).map((t) => t.step ?? ''),
  );
  let currentSteps = [...live].filter((s) => s !== '').sort(byOrder);
  if (currentSteps.length === 0) {
    // Finished: where it failed, else the last step (in pipeline order) it reached. Not the last task to end: a
    // child can finish before its parent's response is recorded.
    const failed = [...new Set(tasks.filter((t) => t.phase === 'failed').map((t) => t.step ?? ''))];
    const reached = [...new Set(tasks.map((t) => t.step ?? ''))].filter((s) => s !== '').sort(byOrder);
    currentSteps = failed.length > 0 ? failed.sort(byOrder) : reached.slice(-1);
  }
  return { tasks, createdAtMs: first.createdAtMs, startStep: first.step ?? '', currentSteps };
}

function timelineOf(tasks: readonly TaskRecord[]): TimelineTask[] {
  return [...tasks]
    .sort((a, b) => a.createdAtMs - b.createdAtMs)
    .map((t) => ({
      task: t.name,
      taskId: t.taskId,
      step: t.step ?? '',
      phase: t.phase,
      createdAt: iso(t.createdAtMs),
      attempts: t.attempts.map(attemptView),
    }));
}

function stepOf(pipeline: DashboardPipeline, name: string): DashboardStep {
  const step = pipeline.steps.find((s) => s.name === name);
  if (!step)
    throw new RunRequestError(
      `"${name}" is not a step of pipeline ${pipeline.pipeline} (steps: ${pipeline.steps.map((s) => s.name).join(', ')})`,
    );
  return step;
}

// ------------------------------------------------------------------ runs from the tasks

export interface TaskRunsOptions {
  readonly pipeline: DashboardPipeline;
  readonly activity: TaskActivity;
  readonly tasks: TaskCreator;
  /** @default Date.now */
  readonly now?: () => number;
}

export function taskRuns(o: TaskRunsOptions): RunsSource {
  const now = o.now ?? Date.now;
  /** Runs started from the dashboard (their source is `manual`, not the seed their task name looks like). */
  const started = new Set<string>();

  const summary = (runId: string, tasks: TaskRecord[]): RunListItem => {
    const f = factsOf(o.pipeline, tasks);
    const phases = new Set(tasks.map((t) => t.phase));
    const live = phases.has('pending') || phases.has('running') || phases.has('retrying');
    const failedTask = tasks.find((t) => t.phase === 'failed');
    const status: RunStatus = failedTask
      ? 'failed'
      : live
        ? 'running'
        : phases.has('deleted')
          ? 'cancelled'
          : 'succeeded';
    const finishedAtMs =
      status === 'running' || (live && status === 'failed')
        ? undefined
        : Math.max(...tasks.map((t) => t.endedAtMs ?? 0));
    const first = tasks.find((t) => t.createdAtMs === f.createdAtMs)!;
    const source: RunSourceView = started.has(runId)
      ? { kind: 'manual', name: 'dashboard' }
      : seedIdFromTaskId(first.taskId) === runId
        ? { kind: 'seed', name: runId }
        : { kind: 'manual' };
    return {
      runId,
      status,
      source,
      startStep: f.startStep,
      createdAt: iso(f.createdAtMs),
      ...(finishedAtMs !== undefined ? { finishedAt: iso(finishedAtMs) } : {}),
      durationSeconds: Math.max(0, ((finishedAtMs ?? now()) - f.createdAtMs) / 1000),
      currentSteps: f.currentSteps,
      ...(failedTask ? { failure: failureOf(failedTask) } : {}),
    };
  };

  return {
    kind: 'tasks',
    list: async (limit) =>
      o.activity
        .runIds()
        .map((id) => summary(id, o.activity.tasksOfRun(id)))
        .sort((a, b) => b.createdAt.localeCompare(a.createdAt) || a.runId.localeCompare(b.runId))
        .slice(0, limit),
    get: async (runId) => {
      const tasks = o.activity.tasksOfRun(runId);
      if (tasks.length === 0) return undefined;
      const s = summary(runId, tasks);
      const first = tasks.find((t) => t.createdAtMs === Date.parse(s.createdAt)) ?? tasks[0];
      const input = firstPayload(first);
      const steps = stepsOfRun(o.pipeline, s.startStep).map((step) =>
        taskStepView(
          step,
          tasks.filter((t) => t.step === step),
        ),
      );
      return {
        ...s,
        runsSource: 'tasks',
        ...(input !== undefined ? { input: previewJson(input) } : {}),
        steps,
        timeline: timelineOf(tasks),
      };
    },
    start: async (request) => {
      const step = stepOf(o.pipeline, request.step);
      const runId = generateRunId(now());
      // Named like a seed task (<hash>-<run id>): the workers read the run id from the task name, as for seeds.
      const taskName = `${step.queue}/tasks/${taskIdFor(step.queue, runId)}`;
      started.add(runId);
      await o.tasks.createTask({
        parent: step.queue,
        task: {
          name: taskName,
          httpRequest: {
            url: step.url ?? `https://${step.queueId}.invalid/`,
            httpMethod: 'POST',
            headers: { 'Content-Type': 'application/json' },
            body: Buffer.from(JSON.stringify(request.payload ?? null)),
          },
          ...(step.dispatchDeadlineSeconds !== undefined
            ? { dispatchDeadline: { seconds: step.dispatchDeadlineSeconds } }
            : {}),
        },
      });
      o.activity.touchRun(runId);
      return { runId, task: taskName };
    },
  };
}

function firstPayload(task: TaskRecord): unknown {
  try {
    const text = task.last.httpRequest.body.toString();
    const value = text === '' ? null : (JSON.parse(text) as unknown);
    if (isTaskEnvelope(value)) return (value as { payload?: unknown }).payload;
    return readPipelineMessage(text, { taskName: task.taskId }).payload;
  } catch {
    return undefined;
  }
}

function failureOf(t: TaskRecord): { step: string; kind: string; reason: string } {
  const last = t.attempts.at(-1);
  const response = last?.status !== undefined ? `HTTP ${last.status}` : (last?.reason ?? 'no response');
  return {
    step: t.step ?? '',
    kind: 'attempts-exhausted',
    reason: `task ${t.taskId} was given up after ${t.attempts.length} attempt(s); the last one: ${response}`,
  };
}

function taskStepView(step: string, tasks: readonly TaskRecord[]): RunStepView {
  const counts = countPhases(tasks);
  const live = counts.pending + counts.running + counts.retrying;
  const state =
    tasks.length === 0
      ? 'pending'
      : counts.failed > 0
        ? 'failed'
        : live > 0
          ? 'open'
          : counts.succeeded > 0
            ? 'complete'
            : 'deleted';
  const starts = tasks.flatMap((t) => t.attempts.map((a) => a.dispatchedAtMs));
  const ends = tasks.map((t) => t.endedAtMs ?? Number.NaN);
  return {
    step,
    state,
    counts,
    attempts: tasks.reduce((n, t) => n + t.attempts.length, 0),
    ...(starts.length > 0 && live === 0 && ends.every(Number.isFinite)
      ? { durationSeconds: (Math.max(...ends) - Math.min(...starts)) / 1000 }
      : {}),
    outputs: [],
    shards: tasks.map((t) => {
      const first = t.attempts[0];
      const failedAttempt = [...t.attempts].reverse().find((a) => a.outcome === 'failed');
      return {
        shard: t.taskId,
        state: t.phase,
        attempts: t.attempts.length,
        ...(first ? { startedAt: iso(first.dispatchedAtMs) } : {}),
        ...(t.endedAtMs !== undefined ? { finishedAt: iso(t.endedAtMs) } : {}),
        ...(first && t.endedAtMs !== undefined ? { durationSeconds: (t.endedAtMs - first.dispatchedAtMs) / 1000 } : {}),
        outputs: {},
        ...(failedAttempt
          ? {
              error: {
                message:
                  failedAttempt.status !== undefined
                    ? `HTTP ${failedAttempt.status}`
                    : (failedAttempt.reason ?? 'no response'),
                final: t.phase === 'failed',
                attempt: failedAttempt.attempt,
              },
            }
          : {}),
      };
    }),
  };
}

// ------------------------------------------------------------------ runs from the ledger

export interface LedgerRunsOptions {
  readonly ledger: Ledger;
  readonly pipeline: DashboardPipeline;
  readonly activity: TaskActivity;
}

export function ledgerRuns(o: LedgerRunsOptions): RunsSource {
  const current = (runId: string, fallback: readonly string[]): string[] => {
    const tasks = o.activity.tasksOfRun(runId);
    return tasks.length > 0 ? factsOf(o.pipeline, tasks).currentSteps : [...fallback];
  };
  const item = (r: RunSummary): RunListItem => ({
    runId: r.runId,
    status: r.status,
    source: r.source,
    startStep: r.startStep,
    createdAt: r.createdAt,
    ...(r.finishedAt ? { finishedAt: r.finishedAt } : {}),
    durationSeconds: r.durationSeconds,
    currentSteps: current(r.runId, r.failure ? [r.failure.step] : [r.startStep]),
    ...(r.failure ? { failure: r.failure } : {}),
  });
  return {
    kind: 'ledger',
    list: async (limit) => (await o.ledger.listRuns({ limit })).map(item),
    get: async (runId) => {
      const view = await o.ledger.getRun(runId);
      if (!view) return undefined;
      const tasks = o.activity.tasksOfRun(runId);
      return {
        ...item(view),
        runsSource: 'ledger',
        ...(view.input !== undefined ? { input: previewJson(view.input) } : {}),
        steps: view.steps.map((s) => ledgerStepView(s, tasks)),
        timeline: timelineOf(tasks),
      };
    },
    start: async (request) => {
      stepOf(o.pipeline, request.step);
      const r = await o.ledger.startRun({
        step: request.step,
        payload: request.payload ?? null,
        source: { kind: 'manual', name: 'dashboard' },
      });
      o.activity.touchRun(r.runId);
      return { runId: r.runId, task: r.task };
    },
  };
}

function ledgerStepView(s: RunView['steps'][number], tasks: readonly TaskRecord[]): RunStepView {
  // Progress from the ledger; what is waiting in Cloud Tasks (pending, retrying) from the tasks.
  const queued = countPhases(tasks.filter((t) => t.step === s.step));
  const counts: PhaseCounts = {
    pending: queued.pending,
    running: s.running,
    retrying: queued.retrying,
    succeeded: s.succeeded,
    failed: s.failed,
    deleted: queued.deleted,
  };
  return {
    step: s.step,
    state: s.state,
    ...(s.expected !== undefined ? { expected: s.expected } : {}),
    counts,
    attempts: s.attempts,
    ...(s.durationSeconds !== undefined ? { durationSeconds: s.durationSeconds } : {}),
    outputs: s.outputs,
    shards: s.shards.map((sh) => ({
      shard: sh.shard,
      state: sh.state,
      attempts: sh.attempts,
      startedAt: sh.startedAt,
      ...(sh.finishedAt ? { finishedAt: sh.finishedAt } : {}),
      ...(sh.durationSeconds !== undefined ? { durationSeconds: sh.durationSeconds } : {}),
      outputs: sh.outputs,
      ...(sh.error ? { error: sh.error } : {}),
    })),
  };
}
