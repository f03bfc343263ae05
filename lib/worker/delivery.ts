/**
 * One delivery of a step's task, independent of how it arrived: the HTTP step handler (step-handler.ts) builds a
 * `Delivery` from a Cloud Tasks request; a job entry point (issue 12: `runJobStep`, a Cloud Run job task claiming
 * its shard from CLOUD_RUN_TASK_INDEX) builds one from its environment and calls the same `runDelivery`.
 *
 *   load or create the run -> claim the shard -> call the step function -> record done (outputs, emits) ->
 *   create the next tasks and complete the step   (docs/worker.md, "Protocol")
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { isPermanentError, PermanentError, type Ledger, type ShardRecord } from '../ledger/index';
import type { RunSource } from '../core/ledger-layout';
import { shouldRetry } from '../core/rules/cloud-tasks';
import type { JobTaskIdentity } from '../core/job-env';
import type { LedgerEventListener } from '../ledger/events';
import type { PipelineRoutes } from '../core/routes';
import { createStepLogger, logLine, type LogSink, type StepLogger, type TraceContext } from './log';

/** What a step function gets besides its payload. */
export interface StepContext {
  readonly runId: string;
  readonly pipeline: string;
  readonly step: string;
  /** `0` for a run's first task, `<parent shard>.<n>` for the n-th message a parent emitted, `all` for a join. */
  readonly shard: string;
  /** 1-based: how many times the ledger has seen this shard claimed (over re-drives too). */
  readonly attempt: number;
  /** The queue's retry count of this task (X-CloudTasks-TaskRetryCount; 0 on the first attempt). */
  readonly retryCount: number;
  /** When this attempt's lease ends (the step's dispatch deadline): Cloud Tasks stops waiting then. */
  readonly deadline: Date;
  /**
   * Sends a message to a next step (fan-out: a join:each step gets one task per message). Any emit (or skipNext)
   * replaces the default, which sends the return value (or the input payload, when it returns undefined) to every
   * next step once.
   */
  emit(step: string, payload: unknown): void;
  /**
   * Fan-out: one message per item to a next step. Counts as an explicit emit even for an empty list, so a fan-out
   * over nothing sends nothing (and a step no message reaches is skipped) instead of the default message.
   */
  fanOut(step: string, payloads: readonly unknown[]): void;
  /** Records an output of this shard (an artifact URI), shown by `runs show`. */
  output(name: string, uri: string): void;
  /** Sends nothing to any next step (a join:all step that then receives no message is skipped). */
  skipNext(): void;
  /** Structured logs with this delivery's run, step, shard and attempt as labels. */
  readonly log: StepLogger;
  /**
   * In a job step (runJobStep): which task of which execution this is. Split the work by `index` of `count` (the
   * shard's part of the data), as Cloud Run's CLOUD_RUN_TASK_INDEX / CLOUD_RUN_TASK_COUNT say.
   * @default - absent for a service step
   */
  readonly job?: JobTaskIdentity;
}

/** A step's work. Throw PermanentError for failures retrying cannot fix; any other error is retried by the queue. */
export type StepFunction = (payload: any, ctx: StepContext) => unknown; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface Delivery {
  readonly runId: string;
  readonly step: string;
  readonly shard: string;
  readonly generation: number;
  readonly payload: unknown;
  /** The payload as JSON text (what the ledger stores). */
  readonly payloadJson: string;
  readonly from?: { readonly step: string; readonly shard: string; readonly index: number };
  /** Set when this delivery may create its run (a run's first task): who started it and by which task. */
  readonly startsRun?: { readonly source: RunSource; readonly startTaskId?: string };
  /** The Cloud Tasks task id (or the job's execution and task index). */
  readonly taskName: string;
  /** 0 on the first attempt. */
  readonly retryCount: number;
  readonly trace?: TraceContext;
  /**
   * Set by a job entry point (job-step.ts): the platform, not the queue, retries this attempt. `lastAttempt` says
   * whether a failure is final (Cloud Run: the job's maxRetries spent; Vertex: always), `describe` names the
   * execution and task for the failure reason; a retry of the same task takes over its own lease.
   */
  readonly job?: { readonly lastAttempt: boolean; readonly describe: string; readonly task: JobTaskIdentity };
}

export type DeliveryOutcome =
  | { readonly kind: 'done'; readonly attempt: number; readonly emitted: Readonly<Record<string, number>> }
  | { readonly kind: 'duplicate' }
  | { readonly kind: 'skipped'; readonly reason: string }
  | { readonly kind: 'busy'; readonly retryAfterSeconds: number; readonly reason: string }
  /** The work failed; `final`: recorded as the shard's and run's failure (permanent, or the last attempt). */
  | { readonly kind: 'failed'; readonly final: boolean; readonly permanent: boolean; readonly reason: string };

/** The delivery whose ledger events are being logged (so the engine's lines carry its trace). */
export const currentDelivery = new AsyncLocalStorage<{ readonly trace?: TraceContext; readonly attempt?: number }>();

const MAX_ERROR_CHARS = 2000;

/** The ledger's decisions as log lines, labelled with the delivery in progress (its trace and attempt). */
export function ledgerEventLogger(sink: LogSink, routes: PipelineRoutes, now: () => number): LedgerEventListener {
  return (e) => {
    const delivery = currentDelivery.getStore();
    sink(
      logLine(
        e.severity,
        e.message,
        { pipeline: routes.pipeline, runId: e.runId, step: e.step, shard: e.shard, attempt: delivery?.attempt },
        delivery?.trace,
        { event: e.type, ...e.fields },
        new Date(now()),
      ),
    );
  };
}

export async function runDelivery(
  ledger: Ledger,
  d: Delivery,
  fn: StepFunction,
  sink: LogSink,
): Promise<DeliveryOutcome> {
  return currentDelivery.run({ trace: d.trace }, () => deliver(ledger, d, fn, sink));
}

async function deliver(ledger: Ledger, d: Delivery, fn: StepFunction, sink: LogSink): Promise<DeliveryOutcome> {
  const { engine, routes } = ledger;
  const route = routes.steps[d.step];
  const labels = { pipeline: routes.pipeline, runId: d.runId, step: d.step, shard: d.shard };
  let log = createStepLogger(sink, labels, d.trace, () => new Date(engine.clock.now()));

  if (d.startsRun) {
    await engine.ensureRun({
      runId: d.runId,
      startStep: d.step,
      source: d.startsRun.source,
      inputJson: d.payloadJson,
      ...(d.startsRun.startTaskId ? { startTaskId: d.startsRun.startTaskId } : {}),
    });
  }
  const key = { runId: d.runId, step: d.step, shard: d.shard };
  const claim = await engine.claimShard({
    ...key,
    generation: d.generation,
    messageJson: d.payloadJson,
    ...(d.from ? { from: d.from } : {}),
    leaseOwner: `${d.taskName}/${d.retryCount}`,
    ...(d.job ? { leaseHolder: d.taskName } : {}),
  });
  if (claim.kind === 'skipped') {
    log.info(`skipped: ${claim.reason}; no work done`, { event: 'delivery-skipped' });
    return { kind: 'skipped', reason: claim.reason };
  }
  if (claim.kind === 'busy') {
    const retryAfterSeconds = Math.max(1, Math.ceil((claim.leaseUntil - engine.clock.now()) / 1000));
    const reason = `another delivery (${claim.leaseOwner ?? 'unknown'}) holds this shard until ${new Date(claim.leaseUntil).toISOString()}`;
    log.info(`busy: ${reason}; Cloud Tasks retries in ${retryAfterSeconds} s`, { event: 'delivery-busy' });
    return { kind: 'busy', retryAfterSeconds, reason };
  }
  if (claim.kind === 'duplicate') {
    log.info('duplicate delivery: the shard is done; its hand-off is checked again, the work is not redone', {
      event: 'delivery-duplicate',
    });
    await engine.advanceAfterShard(key, claim.shard);
    return { kind: 'duplicate' };
  }

  const attempt = claim.attempt;
  log = createStepLogger(sink, { ...labels, attempt }, d.trace, () => new Date(engine.clock.now()));
  const emits: Record<string, string[]> = {};
  const outputs: Record<string, string> = {};
  let explicit = false;
  const messagesTo = (step: string, call: string): string[] => {
    if (!route.next.includes(step))
      throw new PermanentError(
        `ctx.${call}("${step}"): "${step}" is not a next step of ${d.step} (its next steps: ${route.next.join(', ') || 'none'})`,
      );
    explicit = true;
    return (emits[step] ??= []);
  };
  const toMessage = (step: string, payload: unknown): string => {
    const json = toJson(payload, `the message emitted to ${step}`);
    engine.checkMessage(step, json, `the message emitted to ${step}`);
    return json;
  };
  const ctx: StepContext = {
    runId: d.runId,
    pipeline: routes.pipeline,
    step: d.step,
    shard: d.shard,
    attempt,
    retryCount: d.retryCount,
    deadline: new Date(claim.leaseUntil),
    log,
    ...(d.job ? { job: d.job.task } : {}),
    emit(step, payload) {
      messagesTo(step, 'emit').push(toMessage(step, payload));
    },
    fanOut(step, payloads) {
      if (!Array.isArray(payloads))
        throw new PermanentError(`ctx.fanOut("${step}", payloads): payloads must be an array (one message per item)`);
      const list = messagesTo(step, 'fanOut');
      for (const p of payloads) list.push(toMessage(step, p));
    },
    output(name, uri) {
      if (typeof name !== 'string' || name === '' || typeof uri !== 'string')
        throw new PermanentError(
          `ctx.output(name, uri) takes two strings, e.g. ctx.output("model", "gs://bucket/model/")`,
        );
      outputs[name] = uri;
    },
    skipNext() {
      explicit = true;
    },
  };

  const started = engine.clock.now();
  log.info(`started (attempt ${attempt})`, { event: 'work-started', generation: d.generation });
  let result: unknown;
  try {
    result = await fn(d.payload, ctx);
    if (!explicit && route.next.length > 0) {
      const json = result === undefined ? d.payloadJson : toJson(result, `the return value of ${d.step}`);
      for (const next of route.next) {
        engine.checkMessage(next, json, `the return value of ${d.step}`);
        emits[next] = [json];
      }
    }
  } catch (err) {
    return failed(ledger, d, key, claim, err, log);
  }

  let shard: ShardRecord;
  // Read while the done write is under way: it only decides whether to start what follows (advanceAfterShard).
  const runRead = engine.store.getRun(d.runId);
  runRead.catch(() => undefined);
  try {
    shard = await engine.completeShard(key, claim.token, { emits, outputs }, d.payloadJson);
  } catch (err) {
    if (isPermanentError(err)) return failed(ledger, d, key, claim, err, log);
    throw err;
  }
  const seconds = (engine.clock.now() - started) / 1000;
  const emitted = Object.fromEntries(Object.entries(shard.emits ?? {}).map(([n, m]) => [n, m.length]));
  log.info(`done in ${seconds.toFixed(3)} s`, {
    event: 'work-done',
    durationSeconds: seconds,
    emitted,
    outputs: shard.outputs ?? {},
  });
  await engine.advanceAfterShard(key, shard, runRead);
  return { kind: 'done', attempt, emitted };
}

async function failed(
  ledger: Ledger,
  d: Delivery,
  key: { runId: string; step: string; shard: string },
  claim: { attempt: number; firstAttemptAt: number; token: import('@google-cloud/firestore').Timestamp },
  err: unknown,
  log: StepLogger,
): Promise<DeliveryOutcome> {
  const { engine, routes } = ledger;
  const message = (err instanceof Error ? err.message : String(err)).slice(0, MAX_ERROR_CHARS);
  const permanent = isPermanentError(err);
  const attemptsMade = d.retryCount + 1;
  const sinceFirst = (engine.clock.now() - claim.firstAttemptAt) / 1000;
  const final =
    permanent || (d.job ? d.job.lastAttempt : !shouldRetry(routes.steps[d.step].retry, attemptsMade, sinceFirst));
  const stack = err instanceof Error ? err.stack : undefined;
  if (final) {
    const reason = d.job
      ? `${message} (${d.job.describe})`
      : permanent
        ? message
        : `${message} (attempt ${attemptsMade}: the queue's retry budget is spent)`;
    await engine.failShard(key, claim.token, reason, claim.attempt, permanent ? 'permanent' : 'attempts-exhausted');
    log.error(`failed${permanent ? ' permanently' : ' on its last attempt'}: ${message}`, {
      event: 'work-failed',
      final: true,
      ...(stack ? { stack } : {}),
    });
    return { kind: 'failed', final: true, permanent, reason };
  }
  await engine.releaseShard(key, claim.token, message, claim.attempt);
  log.warn(`failed: ${message}; ${d.job ? 'Cloud Run retries the task' : 'Cloud Tasks retries it'}`, {
    event: 'work-failed',
    final: false,
    ...(stack ? { stack } : {}),
  });
  return { kind: 'failed', final: false, permanent: false, reason: message };
}

function toJson(value: unknown, what: string): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(value === undefined ? null : value);
  } catch (err) {
    throw new PermanentError(`${what} is not JSON: ${(err as Error).message}`);
  }
  return json ?? 'null';
}
