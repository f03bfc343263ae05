/**
 * What the dashboard remembers about tasks: the emulator forgets a task once it succeeds, but a run page needs its
 * whole story. `TaskActivity` listens to the emulator's state events (created, removed) and the dispatcher's events
 * (every attempt and its outcome) and keeps, per task, its phase and its attempts; per queue, counts by phase and the
 * recent dispatch rate; per run, its tasks. Every listener does O(1) work, so it keeps up with the dispatcher.
 *
 * It also collects what changed (queues, runs) and hands it to `onChange` listeners at most every `flushMs`, which is
 * what the server-sent events carry: one message per interval however many dispatches happened.
 */
import type { Clock } from '../../emulator/clock';
import type { Dispatcher } from '../../emulator/dispatch/dispatcher';
import type { DispatchEvent } from '../../emulator/dispatch/events';
import type { EmulatorEvent, Task } from '../../emulator/model';
import type { EmulatorState } from '../../emulator/state';
import type { AttemptView, ChangeEvent, PhaseCounts, TaskPhase } from './api-types';

export const TASK_PHASES: readonly TaskPhase[] = ['pending', 'running', 'retrying', 'succeeded', 'failed', 'deleted'];

export interface AttemptRecord {
  readonly attempt: number;
  readonly dispatchedAtMs: number;
  endedAtMs?: number;
  outcome: AttemptView['outcome'];
  status?: number;
  latencyMs?: number;
  reason?: string;
  nextAttemptAtMs?: number;
  readonly viaRunTask?: boolean;
}

export interface TaskRecord {
  readonly name: string;
  readonly queue: string;
  readonly taskId: string;
  readonly createdAtMs: number;
  /** The pipeline step of its queue, if any. */
  readonly step?: string;
  /** The run it belongs to (see `runOf`), for tasks of pipeline queues. */
  readonly runId?: string;
  phase: TaskPhase;
  readonly attempts: AttemptRecord[];
  endedAtMs?: number;
  /** DeleteTask, PurgeQueue. */
  removedBy?: string;
  /** The last task object the emulator reported (its body, headers, counts), kept after it left the queue. */
  last: Task;
}

export interface TaskActivityOptions {
  readonly state: EmulatorState;
  /** Attempts and their outcomes come from it; without one (no dispatching) only created/removed are seen. */
  readonly dispatcher?: Dispatcher;
  /** The step of a queue (full name); undefined: not a pipeline queue. @default - none */
  readonly stepOf?: (queue: string) => string | undefined;
  /** The run a task of a pipeline queue belongs to. @default - none */
  readonly runOf?: (task: Task) => string | undefined;
  /** Finished tasks remembered (the oldest are forgotten first); live tasks are always kept. @default 50_000 */
  readonly maxFinishedTasks?: number;
  /** Change notifications are sent at most this often. @default 250 */
  readonly flushMs?: number;
  /** @default - the state's clock */
  readonly clock?: Clock;
}

/** Run ids one change message lists at most; past that it says `allRuns`. */
export const MAX_CHANGED_RUNS = 200;

/** Seconds of dispatches the rate is averaged over. */
export const RATE_WINDOW_SECONDS = 10;

const zeroCounts = (): Record<TaskPhase, number> => ({
  pending: 0,
  running: 0,
  retrying: 0,
  succeeded: 0,
  failed: 0,
  deleted: 0,
});

interface QueueActivity {
  readonly counts: Record<TaskPhase, number>;
  /** Live tasks in the queue. */
  live: number;
  /** Dispatches per whole second (ring of RATE_WINDOW_SECONDS + 1 slots). */
  readonly rateSeconds: number[];
  readonly rateCounts: number[];
}

export type ChangeListener = (change: ChangeEvent) => void;

export class TaskActivity {
  private readonly tasks = new Map<string, TaskRecord>();
  /** Finished tasks in the order they finished (names), for forgetting the oldest. */
  private readonly finished = new Set<string>();
  private readonly runs = new Map<string, Set<string>>();
  private readonly queues = new Map<string, QueueActivity>();
  private readonly listeners = new Set<ChangeListener>();
  private readonly dirtyQueues = new Set<string>();
  private readonly dirtyRuns = new Set<string>();
  private pipelineDirty = false;
  private cancelFlush: (() => void) | undefined;
  private readonly unsubscribe: Array<() => void> = [];
  private readonly clock: Clock;
  private readonly maxFinished: number;
  private readonly flushMs: number;

  constructor(private readonly o: TaskActivityOptions) {
    this.clock = o.clock ?? o.state.clock;
    this.maxFinished = o.maxFinishedTasks ?? 50_000;
    this.flushMs = o.flushMs ?? 250;
    // Tasks already there (an emulator restored from --data-dir, or started before the dashboard).
    for (const queue of o.state.queues()) for (const task of o.state.tasksOf(queue.name)) this.created(task);
    this.unsubscribe.push(o.state.onEvent((e) => this.onStateEvent(e)));
    if (o.dispatcher) this.unsubscribe.push(o.dispatcher.onDispatchEvent((e, task) => this.onDispatchEvent(e, task)));
  }

  /** Stops listening and sends nothing more. */
  close(): void {
    for (const u of this.unsubscribe.splice(0)) u();
    this.cancelFlush?.();
    this.cancelFlush = undefined;
    this.listeners.clear();
  }

  /** Calls `listener` with what changed, at most every flushMs. Returns the unsubscribe function. */
  onChange(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  task(name: string): TaskRecord | undefined {
    return this.tasks.get(name);
  }

  /** The run's tasks, in creation order. */
  tasksOfRun(runId: string): TaskRecord[] {
    return [...(this.runs.get(runId) ?? [])].map((n) => this.tasks.get(n)!).filter((t) => t !== undefined);
  }

  /** Every run id seen, in the order its first task was created. */
  runIds(): string[] {
    return [...this.runs.keys()];
  }

  /** Counts by phase of a queue's tasks over the remembered history. */
  countsOf(queue: string): PhaseCounts {
    return { ...(this.queues.get(queue)?.counts ?? zeroCounts()) };
  }

  /** Tasks in the queue now (what ListTasks would page through). */
  depthOf(queue: string): number {
    return this.queues.get(queue)?.live ?? 0;
  }

  /** Dispatches per second over the last RATE_WINDOW_SECONDS. */
  dispatchRateOf(queue: string): number {
    const q = this.queues.get(queue);
    if (!q) return 0;
    const nowSec = Math.floor(this.clock.now() / 1000);
    let n = 0;
    for (let i = 0; i < q.rateSeconds.length; i++) {
      const age = nowSec - q.rateSeconds[i];
      // The current (partial) second and the RATE_WINDOW_SECONDS - 1 before it.
      if (age >= 0 && age < RATE_WINDOW_SECONDS) n += q.rateCounts[i];
    }
    return Math.round((n / RATE_WINDOW_SECONDS) * 100) / 100;
  }

  /** Marks the pipeline as changed (a run started from the page) so the next flush says so. */
  touchRun(runId: string): void {
    if (this.listeners.size === 0) return;
    this.dirtyRuns.add(runId);
    this.pipelineDirty = true;
    this.scheduleFlush();
  }

  // ------------------------------------------------------------------ events

  private onStateEvent(e: EmulatorEvent): void {
    switch (e.type) {
      case 'task-created':
        this.created(e.task);
        return;
      case 'task-removed': {
        const r = this.tasks.get(e.task.name);
        if (!r) return;
        r.last = e.task;
        this.queueOf(r.queue).live--;
        if (e.reason === 'deleted' || e.reason === 'purged') {
          r.removedBy = e.reason === 'purged' ? 'PurgeQueue' : 'DeleteTask';
          this.finish(r, 'deleted');
        } else if (r.phase !== 'succeeded' && r.phase !== 'failed')
          // Without a dispatcher (or a listener attached late) the removal is all there is to go by.
          this.finish(r, e.reason === 'succeeded' ? 'succeeded' : 'failed');
        this.changed(r);
        return;
      }
      case 'task-run':
      case 'task-dispatched':
      case 'task-response':
      case 'task-rescheduled': {
        const r = this.tasks.get(e.task.name);
        if (r) r.last = e.task;
        return;
      }
      case 'queue-created':
      case 'queue-updated':
      case 'queue-paused':
      case 'queue-resumed':
      case 'queue-purged':
      case 'queue-deleted':
        this.queueOf(e.queue.name);
        if (this.listeners.size === 0) return;
        this.dirtyQueues.add(e.queue.name);
        this.pipelineDirty = true;
        this.scheduleFlush();
        return;
      default:
        return;
    }
  }

  private onDispatchEvent(e: DispatchEvent, task: Task): void {
    const r = this.tasks.get(task.name);
    if (!r) return;
    r.last = task;
    const at = Date.parse(e.ts);
    switch (e.event) {
      case 'dispatched': {
        r.attempts.push({
          attempt: e.attempt ?? task.dispatchCount,
          dispatchedAtMs: at,
          outcome: 'in-flight',
          ...(e.reason === 'RunTask' ? { viaRunTask: true } : {}),
        });
        this.setPhase(r, 'running');
        this.countDispatch(r.queue, at);
        break;
      }
      case 'succeeded':
      case 'failed': {
        const a = this.attemptFor(r, e.attempt);
        if (a) {
          a.outcome = e.event;
          a.endedAtMs = at;
          if (e.status !== undefined) a.status = e.status;
          if (e.latencyMs !== undefined) a.latencyMs = e.latencyMs;
          if (e.reason) a.reason = e.reason;
        }
        if (e.event === 'succeeded') this.finish(r, 'succeeded');
        else if (r.attempts.every((x) => x.outcome !== 'in-flight')) this.setPhase(r, 'retrying');
        break;
      }
      case 'retry-scheduled': {
        const a = this.attemptFor(r, e.attempt);
        if (a && e.nextAttemptAt) a.nextAttemptAtMs = Date.parse(e.nextAttemptAt);
        break;
      }
      case 'gave-up': {
        const a = this.attemptFor(r, e.attempt);
        if (a && e.reason && !a.reason) a.reason = e.reason;
        this.finish(r, 'failed');
        break;
      }
      default:
        return;
    }
    this.changed(r);
  }

  // ------------------------------------------------------------------ bookkeeping

  private created(task: Task): void {
    if (this.tasks.has(task.name)) return;
    const step = this.o.stepOf?.(task.queueName);
    const runId = step !== undefined ? this.o.runOf?.(task) : undefined;
    const r: TaskRecord = {
      name: task.name,
      queue: task.queueName,
      taskId: task.taskId,
      createdAtMs: this.clock.now(),
      ...(step !== undefined ? { step } : {}),
      ...(runId !== undefined ? { runId } : {}),
      phase: task.dispatchCount > task.responseCount ? 'running' : task.dispatchCount > 0 ? 'retrying' : 'pending',
      attempts: [],
      last: task,
    };
    this.tasks.set(task.name, r);
    const q = this.queueOf(task.queueName);
    q.live++;
    q.counts[r.phase]++;
    if (runId !== undefined) {
      let set = this.runs.get(runId);
      if (!set) this.runs.set(runId, (set = new Set()));
      set.add(task.name);
    }
    this.changed(r);
  }

  private attemptFor(r: TaskRecord, attempt: number | undefined): AttemptRecord | undefined {
    for (let i = r.attempts.length - 1; i >= 0; i--)
      if (attempt === undefined || r.attempts[i].attempt === attempt) return r.attempts[i];
    return undefined;
  }

  private setPhase(r: TaskRecord, phase: TaskPhase): void {
    if (r.phase === phase) return;
    const counts = this.queueOf(r.queue).counts;
    counts[r.phase]--;
    counts[phase]++;
    r.phase = phase;
  }

  private finish(r: TaskRecord, phase: Extract<TaskPhase, 'succeeded' | 'failed' | 'deleted'>): void {
    this.setPhase(r, phase);
    r.endedAtMs ??= this.clock.now();
    if (this.finished.has(r.name)) return;
    this.finished.add(r.name);
    while (this.finished.size > this.maxFinished) {
      const oldest = this.finished.values().next().value as string;
      this.finished.delete(oldest);
      const gone = this.tasks.get(oldest);
      this.tasks.delete(oldest);
      if (gone?.runId !== undefined) {
        const set = this.runs.get(gone.runId);
        set?.delete(oldest);
        if (set?.size === 0) this.runs.delete(gone.runId);
      }
    }
  }

  private countDispatch(queue: string, atMs: number): void {
    const q = this.queueOf(queue);
    const sec = Math.floor(atMs / 1000);
    const slot = sec % q.rateSeconds.length;
    if (q.rateSeconds[slot] !== sec) {
      q.rateSeconds[slot] = sec;
      q.rateCounts[slot] = 0;
    }
    q.rateCounts[slot]++;
  }

  private queueOf(name: string): QueueActivity {
    let q = this.queues.get(name);
    if (!q)
      this.queues.set(
        name,
        (q = {
          counts: zeroCounts(),
          live: 0,
          rateSeconds: new Array<number>(RATE_WINDOW_SECONDS + 1).fill(-1),
          rateCounts: new Array<number>(RATE_WINDOW_SECONDS + 1).fill(0),
        }),
      );
    return q;
  }

  private changed(r: TaskRecord): void {
    // Nobody listens: nothing to collect (a page that connects later fetches what it shows).
    if (this.listeners.size === 0) return;
    this.dirtyQueues.add(r.queue);
    if (r.runId !== undefined) this.dirtyRuns.add(r.runId);
    if (r.step !== undefined) this.pipelineDirty = true;
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.cancelFlush || this.listeners.size === 0) return;
    this.cancelFlush = this.clock.setTimer(() => {
      this.cancelFlush = undefined;
      this.flush();
    }, this.flushMs);
  }

  private flush(): void {
    const allRuns = this.dirtyRuns.size > MAX_CHANGED_RUNS;
    const change: ChangeEvent = {
      queues: [...this.dirtyQueues],
      runs: allRuns ? [] : [...this.dirtyRuns],
      allRuns,
      pipeline: this.pipelineDirty,
    };
    this.dirtyQueues.clear();
    this.dirtyRuns.clear();
    this.pipelineDirty = false;
    if (change.queues.length === 0 && change.runs.length === 0 && !change.pipeline) return;
    for (const listener of this.listeners) {
      try {
        listener(change);
      } catch {
        // A broken listener (a closed connection) must not stop the others.
      }
    }
  }
}

/** Counts by phase of some tasks. */
export function countPhases(tasks: Iterable<{ readonly phase: TaskPhase }>): PhaseCounts {
  const c = zeroCounts();
  for (const t of tasks) c[t.phase]++;
  return c;
}

/** The API view of an attempt. */
export function attemptView(a: AttemptRecord): AttemptView {
  const iso = (ms: number) => new Date(ms).toISOString();
  return {
    attempt: a.attempt,
    dispatchedAt: iso(a.dispatchedAtMs),
    ...(a.endedAtMs !== undefined ? { endedAt: iso(a.endedAtMs) } : {}),
    outcome: a.outcome,
    ...(a.status !== undefined ? { status: a.status } : {}),
    ...(a.latencyMs !== undefined ? { latencyMs: Math.round(a.latencyMs * 10) / 10 } : {}),
    ...(a.reason ? { reason: a.reason } : {}),
    ...(a.nextAttemptAtMs !== undefined ? { nextAttemptAt: iso(a.nextAttemptAtMs) } : {}),
    ...(a.viaRunTask ? { viaRunTask: true } : {}),
  };
}
