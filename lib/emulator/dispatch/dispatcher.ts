/**
 * HTTP dispatch, as Cloud Tasks does it (../../../shared/docs/cloud-tasks-facts.md "Dispatch semantics"):
 *
 * - Each queue has a token bucket (max_burst_size tokens, refilled at max_dispatches_per_second) and a cap of
 *   max_concurrent_dispatches attempts in flight. A task is sent when it is due (schedule_time), a token is free and
 *   the cap allows; a PAUSED queue sends nothing. RunTask sends at once, ignoring pause and both limits.
 * - 2xx deletes the task (its name stays reserved). Any other status, or no response within the dispatch deadline,
 *   is a failure: the task is retried after backoffSeconds() of the queue's RetryConfig, or, once shouldRetry()
 *   says both max_attempts and max_retry_duration are spent, deleted. Both rules come from lib/core/rules/cloud-tasks.ts.
 *   On 429 and 503 a Retry-After header lengthens the wait: max(backoff, Retry-After).
 *
 * Scheduling uses no polling: per queue, one timer at most, armed for the earlier of the next due task and the next
 * token, and only while there is something to send. Due tasks sit in a per-queue min-heap. So an idle queue costs
 * nothing, and many queues cost one timer each.
 *
 * The dispatcher changes the state only through its hooks (recordDispatch, recordResponse, rescheduleTask,
 * completeTask), and learns about tasks only from the state's events, so API calls and dispatches see one state.
 */
import { LIMITS, backoffSeconds, shouldRetry } from '../../core/rules/cloud-tasks';
import { micros } from '../api/convert';
import { Code } from '../errors';
import type { EmulatorEvent, Queue, Task } from '../model';
import type { EmulatorState } from '../state';
import type { DispatchEvent, DispatchEventListener, DispatchEventType } from './events';
import { HttpSender, type SendRequest, type SendResult } from './http-sender';
import type { TokenIssuer } from './oidc';
import { parseRetryAfter, rpcStatusForHttp } from './status';
import { MinHeap, type HeapEntry } from './task-heap';
import { TokenBucket } from './token-bucket';
import { resolveRequest } from './target';

/** What sends an attempt: HttpSender, or a fake in tests. */
export interface AttemptSender {
  send(request: SendRequest): Promise<SendResult>;
  close(): void;
}

export interface DispatcherOptions {
  /** Mints the OIDC / OAuth tokens of dispatches. Tasks that carry a token cannot be sent without it. */
  readonly tokens?: TokenIssuer;
  /**
   * Fraction (0..1) of successful attempts delivered once more, unchanged (Cloud Tasks delivers at least once, and
   * "very rarely" twice). The duplicate changes nothing in the state. @default 0
   */
  readonly duplicateRate?: number;
  /** Randomness for duplicateRate. @default Math.random */
  readonly random?: () => number;
  /** @default an HttpSender on the state's clock */
  readonly sender?: AttemptSender;
}

/**
 * Shortest wait between two wake-ups of a queue while it waits for tokens. At 500/s a token comes every 2 ms; waking
 * every 4 ms and sending the tokens that accrued keeps the rate exact (tokens accrue continuously) with half the
 * timers.
 */
const MIN_TOKEN_WAIT_MS = 4;
/** setTimeout's longest delay (2^31 - 1 ms, ~24.8 days); a task 30 days ahead is woken for twice. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** How long stop() lets attempts in flight finish before it cuts their connections (they are then retried later). */
const STOP_GRACE_MS = 2000;
/** Headers Cloud Tasks sets on every dispatch (target.proto; Cloud Tasks "Create HTTP target tasks" docs). */
export const USER_AGENT = LIMITS.taskUserAgent;

interface TaskRecord {
  task: Task;
  readonly scheduler: QueueScheduler;
  /** Bumped on every (re)schedule; a heap entry with an older version is stale. */
  version: number;
  /** Attempts sent and not answered yet (RunTask can add one to a task already in flight). */
  inFlight: number;
  /** Responses other than 5xx: X-CloudTasks-TaskExecutionCount. */
  executionCount: number;
  previousResponse?: number;
  retryReason?: string;
  removed: boolean;
}

interface Entry extends HeapEntry {
  readonly record: TaskRecord;
  readonly version: number;
}

class QueueScheduler {
  readonly heap = new MinHeap<Entry>();
  readonly records = new Map<string, TaskRecord>();
  readonly bucket: TokenBucket;
  inFlight = 0;
  timerAt = Number.POSITIVE_INFINITY;
  cancelTimer: (() => void) | undefined;
  pumpQueued = false;
  deleted = false;

  constructor(
    public queue: Queue,
    nowMs: number,
  ) {
    this.bucket = new TokenBucket(queue.rateLimits.maxDispatchesPerSecond, queue.rateLimits.maxBurstSize, nowMs);
  }
}

export class Dispatcher {
  private readonly schedulers = new Map<string, QueueScheduler>();
  private readonly listeners = new Set<DispatchEventListener>();
  private readonly sender: AttemptSender;
  private readonly unsubscribe: () => void;
  private seq = 0;
  private liveTasks = 0;
  private inFlightTotal = 0;
  private stopped = false;
  /** Attempts (and duplicate deliveries) whose outcome is not recorded yet; stop() waits for them. */
  private running = 0;
  private resolveDrained: (() => void) | undefined;

  constructor(
    private readonly state: EmulatorState,
    private readonly options: DispatcherOptions = {},
  ) {
    this.sender = options.sender ?? new HttpSender(state.clock);
    // Tasks already in the state (restored from --data-dir) are scheduled like new ones.
    for (const queue of state.queues()) {
      const s = this.schedulerFor(queue);
      for (const task of state.tasksOf(queue.name)) this.track(s, task);
      this.queuePump(s);
    }
    this.unsubscribe = state.onEvent((e) => this.onStateEvent(e));
  }

  /** Subscribes to the dispatch timeline. Returns the unsubscribe function. */
  onDispatchEvent(listener: DispatchEventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Tasks in the dispatcher's queues that are not finished (waiting, scheduled for a retry, or in flight). */
  get pendingTasks(): number {
    return this.liveTasks;
  }

  /** Attempts sent and not answered yet, over all queues. */
  get inFlight(): number {
    return this.inFlightTotal;
  }

  /** Attempts in flight in one queue (tests check the concurrency cap with it). */
  inFlightOf(queueName: string): number {
    return this.schedulers.get(queueName)?.inFlight ?? 0;
  }

  /**
   * Stops sending: no new attempt starts. Attempts in flight get `graceMs` to finish; then their connections are
   * cut, which records them as failed attempts (the task stays, and a restarted emulator with --data-dir sends it
   * again). A hung worker cannot hold a shutdown for its whole dispatch deadline.
   */
  async stop(graceMs = STOP_GRACE_MS): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.unsubscribe();
    for (const s of this.schedulers.values()) this.cancelTimer(s);
    const all =
      this.running === 0 ? Promise.resolve() : new Promise<void>((resolve) => (this.resolveDrained = resolve));
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), graceMs);
    });
    if ((await Promise.race([all, graceOver])) === 'timeout') this.sender.close();
    clearTimeout(timer);
    await all;
    this.sender.close();
  }

  // ------------------------------------------------------------------ state events

  private onStateEvent(e: EmulatorEvent): void {
    switch (e.type) {
      case 'queue-created':
        this.queuePump(this.schedulerFor(e.queue));
        return;
      case 'queue-updated': {
        const s = this.schedulerFor(e.queue);
        s.queue = e.queue;
        s.bucket.reconfigure(
          e.queue.rateLimits.maxDispatchesPerSecond,
          e.queue.rateLimits.maxBurstSize,
          this.state.clock.now(),
        );
        this.queuePump(s);
        return;
      }
      case 'queue-paused':
      case 'queue-resumed': {
        const s = this.schedulerFor(e.queue);
        s.queue = e.queue;
        if (e.type === 'queue-paused') this.cancelTimer(s);
        else this.queuePump(s);
        return;
      }
      case 'queue-purged': {
        // Every task went with a task-removed event; the heap holds only stale entries now.
        const s = this.schedulerFor(e.queue);
        s.queue = e.queue;
        s.heap.clear();
        return;
      }
      case 'queue-deleted': {
        const s = this.schedulers.get(e.queue.name);
        if (!s) return;
        s.deleted = true;
        this.cancelTimer(s);
        for (const r of s.records.values()) r.removed = true;
        this.liveTasks -= s.records.size;
        s.records.clear();
        this.schedulers.delete(e.queue.name);
        return;
      }
      case 'task-created': {
        const s = this.schedulers.get(e.task.queueName);
        if (!s) return;
        this.track(s, e.task);
        this.emit('created', e.task, {});
        this.queuePump(s);
        return;
      }
      case 'task-rescheduled': {
        const r = this.schedulers.get(e.task.queueName)?.records.get(e.task.name);
        if (!r) return;
        r.task = e.task;
        this.push(r);
        this.queuePump(r.scheduler);
        return;
      }
      case 'task-run': {
        const r = this.schedulers.get(e.task.queueName)?.records.get(e.task.name);
        // cloudtasks.proto RunTask: dispatched now "even if the task is already running, the queue has reached its
        // RateLimits or is PAUSED". The state has recorded the attempt; send it after the RunTask call returns.
        if (r && !this.stopped) queueMicrotask(() => this.attempt(r, true));
        return;
      }
      case 'task-removed': {
        const s = this.schedulers.get(e.task.queueName);
        const r = s?.records.get(e.task.name);
        if (!s || !r) return;
        r.removed = true;
        s.records.delete(e.task.name);
        this.liveTasks--;
        if (e.reason === 'deleted' || e.reason === 'purged')
          this.emit('deleted', e.task, { reason: e.reason === 'purged' ? 'PurgeQueue' : 'DeleteTask' });
        return;
      }
      default:
        return;
    }
  }

  private schedulerFor(queue: Queue): QueueScheduler {
    let s = this.schedulers.get(queue.name);
    if (!s) {
      s = new QueueScheduler(queue, this.state.clock.now());
      this.schedulers.set(queue.name, s);
    }
    return s;
  }

  private track(s: QueueScheduler, task: Task): void {
    const r: TaskRecord = {
      task,
      scheduler: s,
      version: 0,
      inFlight: 0,
      executionCount: task.responseCount,
      removed: false,
    };
    s.records.set(task.name, r);
    this.liveTasks++;
    this.push(r);
  }

  private push(r: TaskRecord): void {
    r.version++;
    r.scheduler.heap.push({ at: r.task.scheduleTimeMs, seq: this.seq++, record: r, version: r.version });
  }

  // ------------------------------------------------------------------ scheduling

  /**
   * Pumps after the current call stack: a state event arrives inside an API call (or inside another listener), and
   * dispatching there would interleave our events with the ones still being delivered for that change.
   */
  private queuePump(s: QueueScheduler): void {
    if (s.pumpQueued || this.stopped) return;
    s.pumpQueued = true;
    queueMicrotask(() => {
      s.pumpQueued = false;
      this.pump(s);
    });
  }

  /** Sends every task that is due, within the tokens and the concurrency cap; then arms the one timer needed. */
  private pump(s: QueueScheduler): void {
    if (this.stopped || s.deleted || s.queue.state !== 'RUNNING') return;
    const now = this.state.clock.now();
    while (s.inFlight < s.queue.rateLimits.maxConcurrentDispatches) {
      const top = s.heap.peek();
      if (!top) {
        s.bucket.markIdle(now);
        return;
      }
      const r = top.record;
      if (r.removed || top.version !== r.version || r.inFlight > 0) {
        // Stale: the task is gone, was rescheduled (a newer entry exists), or is in flight (its outcome reschedules it).
        s.heap.pop();
        continue;
      }
      if (top.at > now) {
        s.bucket.markIdle(now);
        this.armTimer(s, top.at);
        return;
      }
      const wait = s.bucket.msUntilToken(now);
      if (wait > 0) {
        this.armTimer(s, now + Math.max(MIN_TOKEN_WAIT_MS, Math.ceil(wait)));
        return;
      }
      s.bucket.tryTake(now);
      s.heap.pop();
      this.attempt(r, false);
    }
    // At the concurrency cap: the next response pumps again.
  }

  private armTimer(s: QueueScheduler, at: number): void {
    if (s.cancelTimer && s.timerAt <= at) return;
    this.cancelTimer(s);
    s.timerAt = at;
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, at - this.state.clock.now()));
    s.cancelTimer = this.state.clock.setTimer(() => {
      s.cancelTimer = undefined;
      s.timerAt = Number.POSITIVE_INFINITY;
      this.pump(s);
    }, delay);
  }

  private cancelTimer(s: QueueScheduler): void {
    s.cancelTimer?.();
    s.cancelTimer = undefined;
    s.timerAt = Number.POSITIVE_INFINITY;
  }

  // ------------------------------------------------------------------ attempts

  private attempt(r: TaskRecord, viaRunTask: boolean): void {
    this.running++;
    this.runAttempt(r, viaRunTask).then(this.attemptDone, (err: unknown) => {
      // A bug here must not stop the other queues; the task stays and is retried after its backoff.
      process.stderr.write(
        `cloud-tasks emulator: dispatch of ${r.task.name} failed internally: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
      this.attemptDone();
    });
  }

  // A bound field, not a method: every attempt's fulfilment handler is this one function, not a closure per attempt.
  private readonly attemptDone = (): void => {
    if (--this.running === 0 && this.resolveDrained) {
      this.resolveDrained();
      this.resolveDrained = undefined;
    }
  };

  private async runAttempt(r: TaskRecord, viaRunTask: boolean): Promise<void> {
    const s = r.scheduler;
    // RunTask already recorded its attempt; a regular dispatch records it now.
    const task = viaRunTask ? r.task : this.state.recordDispatch(r.task.name);
    r.task = task;
    const attempt = task.dispatchCount;
    r.inFlight++;
    s.inFlight++;
    this.inFlightTotal++;
    const dispatchedAt = this.state.clock.now();
    if (this.listeners.size > 0)
      this.emit('dispatched', task, { attempt, ...(viaRunTask ? { reason: 'RunTask' } : {}) });

    let result: SendResult;
    try {
      const req = resolveRequest(task, s.queue);
      const headers: Record<string, string> = {
        ...req.headers,
        'User-Agent': USER_AGENT,
        'X-CloudTasks-QueueName': s.queue.queueId,
        'X-CloudTasks-TaskName': task.taskId,
        'X-CloudTasks-TaskRetryCount': String(attempt - 1),
        'X-CloudTasks-TaskExecutionCount': String(r.executionCount),
        'X-CloudTasks-TaskETA': etaHeader(task.scheduleTimeMs),
      };
      if (r.previousResponse !== undefined) headers['X-CloudTasks-TaskPreviousResponse'] = String(r.previousResponse);
      if (r.retryReason !== undefined) headers['X-CloudTasks-TaskRetryReason'] = r.retryReason;
      if (req.token) {
        const tokens = this.options.tokens;
        if (!tokens) throw new Error('this task carries an OIDC/OAuth token but the dispatcher has no token issuer');
        headers.Authorization = tokens.readyAuthorization(req.token) ?? (await tokens.authorization(req.token));
      }
      const request = {
        url: req.url,
        method: req.method,
        headers,
        body: req.body,
        deadlineMs: task.dispatchDeadlineSeconds * 1000,
      };
      result = await this.sender.send(request);
      if (result.status !== undefined && result.status >= 200 && result.status < 300)
        this.maybeDuplicate(task, request);
    } catch (err) {
      result = { error: `not sent: ${(err as Error).message}`, timedOut: false };
    } finally {
      r.inFlight--;
      s.inFlight--;
      this.inFlightTotal--;
    }
    const now = this.state.clock.now();
    const latencyMs = now - dispatchedAt;
    this.settle(r, result, attempt, latencyMs, now);
    this.queuePump(s);
  }

  private settle(r: TaskRecord, result: SendResult, attempt: number, latencyMs: number, now: number): void {
    const name = r.task.name;
    if (r.removed) return; // deleted, purged or its queue deleted while in flight: nothing left to record
    const ok = result.status !== undefined && result.status >= 200 && result.status < 300;
    const rpc =
      result.status !== undefined
        ? rpcStatusForHttp(result.status)
        : {
            code: result.timedOut ? Code.DEADLINE_EXCEEDED : Code.UNAVAILABLE,
            message: result.error ?? 'no response',
          };
    const task = this.state.recordResponse(name, rpc, result.status !== undefined);
    r.task = task;
    const outcome = { attempt, latencyMs, ...(result.status !== undefined ? { status: result.status } : {}) };
    if (ok) {
      this.emit('succeeded', task, outcome, now);
      this.state.completeTask(name, 'succeeded');
      return;
    }

    // X-CloudTasks-TaskExecutionCount counts responses, 5xx excluded.
    if (result.status !== undefined && result.status < 500) r.executionCount++;
    // What the service sends on the next attempt: the previous status (504 after a dispatch deadline), and an empty
    // X-CloudTasks-TaskRetryReason (recorded against the service, issue 13).
    r.previousResponse = result.status ?? (result.timedOut ? 504 : undefined);
    r.retryReason = '';
    this.emit('failed', task, { ...outcome, ...(result.error ? { reason: result.error } : {}) }, now);

    const rc = r.scheduler.queue.retryConfig;
    const firstMs = task.firstAttempt?.dispatchTimeMs ?? now;
    if (!shouldRetry(rc, task.dispatchCount, (now - firstMs) / 1000)) {
      // queue.proto RetryConfig: "no further attempts will be made and the task will be deleted".
      this.emit(
        'gave-up',
        task,
        {
          ...outcome,
          reason: `no attempts left (${task.dispatchCount} made; maxAttempts ${rc.maxAttempts}, maxRetryDuration ${rc.maxRetryDurationSeconds}s)`,
        },
        now,
      );
      this.state.completeTask(name, 'failed-permanently');
      return;
    }
    let delaySeconds = backoffSeconds(rc, task.dispatchCount - 1);
    if (result.status === 429 || result.status === 503) {
      const retryAfter = parseRetryAfter(result.retryAfter, now);
      if (retryAfter !== undefined) delaySeconds = Math.max(delaySeconds, retryAfter);
    }
    const next = now + Math.round(delaySeconds * 1000);
    // rescheduleTask emits task-rescheduled, which puts the task back in the heap (onStateEvent).
    const rescheduled = this.state.rescheduleTask(name, next);
    this.emit('retry-scheduled', rescheduled, { attempt, nextAttemptAt: new Date(next).toISOString() }, now);
  }

  /** --duplicate-rate: the same request once more, after the first delivery; its outcome changes nothing. */
  private maybeDuplicate(task: Task, request: SendRequest): void {
    const rate = this.options.duplicateRate ?? 0;
    if (rate <= 0 || (this.options.random ?? Math.random)() >= rate || this.stopped) return;
    this.running++;
    this.sender.send(request).then((result) => {
      this.emit('duplicated', task, {
        attempt: task.dispatchCount,
        ...(result.status !== undefined ? { status: result.status } : {}),
        ...(result.error ? { reason: result.error } : {}),
      });
      this.attemptDone();
    }, this.attemptDone);
  }

  private emit(
    type: DispatchEventType,
    task: Task,
    fields: Partial<Omit<DispatchEvent, 'ts' | 'queue' | 'task' | 'event'>>,
    // The events of one settlement share the time its response was recorded: a retry's nextAttemptAt is then exactly
    // its backoff after the failure's ts, whatever the clock did in between.
    at: number = this.state.clock.now(),
  ): void {
    if (this.listeners.size === 0) return;
    const event: DispatchEvent = {
      ts: new Date(at).toISOString(),
      queue: task.queueName,
      task: task.taskId,
      event: type,
      ...fields,
    };
    for (const listener of this.listeners) {
      try {
        listener(event, task);
      } catch (err) {
        process.stderr.write(
          `cloud-tasks emulator: a dispatch event listener failed on ${type}: ${(err as Error).message}\n`,
        );
      }
    }
  }
}

/** X-CloudTasks-TaskETA: seconds since the epoch with the schedule time's microseconds (as the service sends it). */
export function etaHeader(scheduleTimeMs: number): string {
  const us = micros(scheduleTimeMs);
  const seconds = Math.floor(us / 1e6);
  return `${seconds}.${String(us - seconds * 1e6).padStart(6, '0')}`;
}
