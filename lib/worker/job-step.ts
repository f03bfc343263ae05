/**
 * The worker SDK's job entry point: the container of a `cloudRunJob` or `vertexAI` step runs one step function per
 * task (or replica), and this does the run protocol around it.
 *
 *   // train.ts, the job's container command
 *   import { runJobStep } from 'cloud-tasks-pipelines/worker';
 *   runJobStep(async (payload, ctx) => {
 *     const part = await trainShard(payload.dataset, ctx.job!.index, ctx.job!.count);   // this task's part
 *     ctx.output('model', part.uri);
 *     return { model: part.uri };
 *   });
 *
 * Per task: the message (PIPELINE_MESSAGE, the task envelope the step's API request carried), the task's place
 * (CLOUD_RUN_TASK_INDEX / COUNT / ATTEMPT and CLOUD_RUN_EXECUTION, or Vertex's CLUSTER_SPEC and CLOUD_ML_JOB_ID), the
 * routes (CLOUD_TASKS_PIPELINE_ROUTES, set by the request too when they fit), then runDelivery (delivery.ts) on the
 * shard `<message shard>#<task index>`: claimed per run, step and index, so a duplicated or retried `:run` /
 * `customJobs.create` does the work once; the last shard completes the step and starts what follows.
 *
 * Exit codes (Cloud Run retries a task that exits non-zero, up to the job's maxRetries): 0 done, a duplicate of done
 * work, another execution working on the same shard, or a run no longer running; 1 the work failed (a retry, or the
 * last attempt: then the shard, step and run are failed with the execution's name), or the task cannot run here.
 */
import type { Firestore } from '@google-cloud/firestore';
import { isTaskEnvelope, envelopeProblems, START_SHARD, type TaskEnvelope } from '../core/ledger-layout';
import { jobShardId, shardsPerMessage, STEP_KIND_LABELS } from '../core/job-route';
import { PIPELINE_MESSAGE_ENV, readJobTaskEnv, type JobTaskIdentity } from '../core/job-env';
import { readRoutesFromEnv, type PipelineRoutes } from '../core/routes';
import { createLedger, type Ledger, type LedgerClock, type LedgerTasksClient } from '../ledger/index';
import { ledgerEventLogger, runDelivery, type Delivery, type DeliveryOutcome, type StepFunction } from './delivery';
import { logLine, stdoutSink, type LogSink } from './log';

export interface JobStepOptions {
  /** Where the task's variables, the routes and the emulator hosts are read. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  /** @default - read from CLOUD_TASKS_PIPELINE_ROUTES or CLOUD_TASKS_PIPELINE_ROUTES_FILE in `env` */
  readonly routes?: PipelineRoutes;
  /** A ledger made elsewhere (tests). @default - one for the routes' database */
  readonly ledger?: Ledger;
  /** @default - a client for the routes' ledger database (the emulator when FIRESTORE_EMULATOR_HOST is set) */
  readonly firestore?: Firestore;
  /** @default - a CloudTasksClient (ADC, or the emulator when CLOUD_TASKS_EMULATOR_HOST is set) */
  readonly tasks?: LedgerTasksClient;
  /** @default the system clock */
  readonly clock?: LedgerClock;
  /** Where the JSON log lines go. @default - stdout */
  readonly log?: LogSink;
  /** Set `process.exitCode` to the result's exit code. @default true */
  readonly setExitCode?: boolean;
}

export interface JobStepResult {
  /** 0: nothing for the platform to retry; 1: the task failed (Cloud Run retries it while maxRetries allow). */
  readonly exitCode: 0 | 1;
  readonly outcome?: DeliveryOutcome;
  readonly runId?: string;
  readonly step?: string;
  readonly shard?: string;
  /** Why the task could not run (exit code 1 without an outcome). */
  readonly error?: string;
}

/** Runs `fn` for this job task (see the file comment); resolves when the task is done and its clients are closed. */
export async function runJobStep(fn: StepFunction, options: JobStepOptions = {}): Promise<JobStepResult> {
  const env = options.env ?? process.env;
  const sink = options.log ?? stdoutSink;
  let ledger: Ledger | undefined;
  let result: JobStepResult;
  try {
    const task = readJobTaskEnv(env);
    const routes = options.ledger?.routes ?? options.routes ?? readRoutesFromEnv(env);
    const envelope = readEnvelope(env, routes);
    const route = routes.steps[envelope.step];
    if (!route.job || route.job.kind !== task.platform)
      throw new JobSetupError(
        `step ${envelope.step} is a ${STEP_KIND_LABELS[route.kind]} in the routes, but this process is a ${STEP_KIND_LABELS[task.platform]} task: deploy the stack and the job from the same spec`,
      );
    ledger =
      options.ledger ??
      createLedger({
        routes,
        env,
        ...(options.firestore ? { firestore: options.firestore } : {}),
        ...(options.tasks ? { tasks: options.tasks } : {}),
        ...(options.clock ? { clock: options.clock } : {}),
        onEvent: ledgerEventLogger(sink, routes, () => ledger!.engine.clock.now()),
      });
    const delivery = toDelivery(routes, envelope, task);
    const expected = shardsPerMessage(route);
    if (task.count !== expected) {
      // An execution started with another task count (by hand, or a job changed under the stack) can never
      // complete the step as the ledger counts it: fail the run now, with what to fix, rather than let it stall.
      const reason = `the execution ${task.execution} runs ${task.count} tasks but step ${envelope.step} expects ${expected} (its ${route.job.kind === 'cloudRunJob' ? 'taskCount' : 'replicaCount'} in the spec): start runs through the step's queue (seed tasks, \`runs start\`), which sets the count`;
      if (delivery.startsRun)
        await ledger.engine.ensureRun({
          runId: delivery.runId,
          startStep: delivery.step,
          source: delivery.startsRun.source,
          inputJson: delivery.payloadJson,
        });
      await ledger.engine.failShard(delivery, undefined, reason, 1, 'permanent');
      throw new JobSetupError(reason, delivery);
    }
    const outcome = await runDelivery(ledger, delivery, fn, sink);
    result = {
      exitCode: await exitCodeOf(ledger, delivery, outcome),
      outcome,
      runId: delivery.runId,
      step: delivery.step,
      shard: delivery.shard,
    };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const at = err instanceof JobSetupError ? err.at : undefined;
    sink(
      logLine(
        'ERROR',
        `job task cannot run: ${message}`,
        { pipeline: options.routes?.pipeline, runId: at?.runId, step: at?.step, shard: at?.shard },
        undefined,
        { event: 'job-task-refused', ...(err instanceof JobSetupError ? {} : { stack: (err as Error).stack }) },
      ),
    );
    result = { exitCode: 1, error: message, ...(at ? { runId: at.runId, step: at.step, shard: at.shard } : {}) };
  } finally {
    if (ledger && !options.ledger) await ledger.close().catch(() => undefined);
  }
  if (options.setExitCode ?? true) process.exitCode = result.exitCode;
  return result;
}

/** A task that cannot run as configured: logged without a stack, exit code 1. */
class JobSetupError extends Error {
  constructor(
    message: string,
    readonly at?: { readonly runId: string; readonly step: string; readonly shard: string },
  ) {
    super(message);
    this.name = 'JobSetupError';
  }
}

function readEnvelope(env: NodeJS.ProcessEnv, routes: PipelineRoutes): TaskEnvelope {
  const text = env[PIPELINE_MESSAGE_ENV];
  const start =
    "start runs through the step's queue (seed tasks, `npm run runs -- start --step <step>`): its API request sets it";
  if (text === undefined || text === '') throw new JobSetupError(`${PIPELINE_MESSAGE_ENV} is not set: ${start}`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new JobSetupError(`${PIPELINE_MESSAGE_ENV} is not JSON (${(err as Error).message}): ${start}`);
  }
  if (!isTaskEnvelope(value)) throw new JobSetupError(`${PIPELINE_MESSAGE_ENV} is not a task envelope: ${start}`);
  const problems = envelopeProblems(value as Record<string, unknown>);
  if (problems.length)
    throw new JobSetupError(`${PIPELINE_MESSAGE_ENV} is a malformed task envelope: ${problems.join('; ')}`);
  const e = value as TaskEnvelope;
  if (!routes.steps[e.step])
    throw new JobSetupError(
      `${PIPELINE_MESSAGE_ENV} is for step "${e.step}", which pipeline ${routes.pipeline} does not have (steps: ${Object.keys(routes.steps).join(', ')})`,
    );
  return e;
}

function toDelivery(routes: PipelineRoutes, e: TaskEnvelope, task: JobTaskIdentity): Delivery {
  const job = routes.steps[e.step].job!;
  const lastAttempt = job.kind === 'vertexAI' || task.attempt >= job.maxRetries;
  const where = `${task.platform === 'cloudRunJob' ? 'execution' : 'custom job'} ${task.execution}, task ${task.index} of ${task.count}, attempt ${task.attempt + 1}`;
  const spent =
    job.kind === 'cloudRunJob'
      ? lastAttempt
        ? `: the job's maxRetries (${job.maxRetries}) is spent`
        : ''
      : ': Vertex AI does not retry a replica';
  // A run started without a run id (a task made by hand or by a scheduler) is named after its execution.
  const runId = e.runId ?? task.execution;
  return {
    runId,
    step: e.step,
    shard: jobShardId(e.shard, task.index),
    generation: e.generation,
    payload: e.payload,
    payloadJson: JSON.stringify(e.payload === undefined ? null : e.payload),
    ...(e.from ? { from: e.from } : {}),
    ...(e.shard === START_SHARD && e.generation === 0 ? { startsRun: { source: e.source ?? { kind: 'manual' } } } : {}),
    taskName: `${task.execution}/tasks/${task.index}`,
    retryCount: task.attempt,
    job: { lastAttempt, describe: `${where}${spent}`, task },
  };
}

/** 0 when there is nothing to retry; 1 when the task failed or found its shard failed (so the execution fails too). */
async function exitCodeOf(ledger: Ledger, d: Delivery, outcome: DeliveryOutcome): Promise<0 | 1> {
  switch (outcome.kind) {
    case 'done':
    case 'duplicate':
    case 'busy': // another execution (a duplicated :run) holds the shard: it does the work
      return 0;
    case 'failed':
      return 1;
    case 'skipped': {
      // A run that is over (failed elsewhere, cancelled) is nothing this task did; a failed shard or a run that is
      // not in this ledger is, and the execution should say so.
      const [run, shard] = await Promise.all([
        ledger.engine.store.getRun(d.runId),
        ledger.shardState(d.runId, d.step, d.shard),
      ]);
      return !run || shard === 'failed' ? 1 : 0;
    }
  }
}
