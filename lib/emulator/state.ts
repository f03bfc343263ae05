/**
 * The emulator's store: queues, their tasks, and the names Cloud Tasks keeps reserved after a task or queue is gone.
 *
 * Every method is synchronous, so each gRPC call is atomic on Node's single thread. Per-call work is O(1) for the hot
 * path (CreateTask: a few Map lookups and an append) and O(page) for listing. Every rule comes from
 * lib/core/rules/cloud-tasks.ts; this file decides only which gRPC status a broken rule becomes.
 */
import { randomBytes } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import {
  LIMITS,
  SERVICE_DEFAULTS,
  apiHeaderProblems,
  apiUrlProblems,
  bodyMethodProblems,
  dispatchDeadlineProblems,
  httpRequestSizeBytes,
  rateLimitProblems,
  retryConfigProblems,
  samplingRatioProblems,
  scheduleTimeProblems,
  taskSizeProblems,
  HTTP_METHODS,
} from '../core/rules/cloud-tasks';
import { systemClock, type Clock } from './clock';
import type { Problem } from '../core/problem';
import { EmulatorError, alreadyExists, failedPrecondition, invalidArgument, notFound, throwProblems } from './errors';
import type {
  Attempt,
  EmulatorEvent,
  EmulatorEventListener,
  Queue,
  QueueHttpTarget,
  QueueInput,
  QueueRetryConfig,
  Task,
  TaskHttpRequest,
  TaskInput,
  TaskRemovalReason,
} from './model';
import {
  ANY,
  parseLocationName,
  parseLocationPattern,
  parseQueueName,
  parseTaskName,
  type LocationName,
} from './names';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export interface EmulatorStateOptions {
  /** @default systemClock */
  readonly clock?: Clock;
  /** Generates ids for unnamed tasks. @default random 64-bit decimal ids, like the service's */
  readonly generateTaskId?: () => string;
}

export interface ListQueuesOptions {
  /** 0 = the maximum (9,800). */
  readonly pageSize?: number;
  readonly pageToken?: string;
  /** `state: PAUSED`, `state = RUNNING`, `state != PAUSED`; empty = all. */
  readonly filter?: string;
}

export interface ListTasksOptions {
  /** 0 = the maximum (1,000). */
  readonly pageSize?: number;
  readonly pageToken?: string;
}

/** The service's message for a missing queue (recorded from the real API), plus the name asked for. */
const QUEUE_NOT_FOUND =
  'Queue does not exist. If you just created the queue, wait at least a minute for the queue to initialize.';

/** API field names where rules.ts uses seconds-suffixed names. */
const RETRY_FIELD_NAMES = {
  minBackoffSeconds: 'minBackoff',
  maxBackoffSeconds: 'maxBackoff',
  maxRetryDurationSeconds: 'maxRetryDuration',
} as const;

/**
 * max_burst_size is output only and the service does not document its formula ("Cloud Tasks will pick the value of
 * max_burst_size based on the value of max_dispatches_per_second"). Heuristic: a fifth of a second's worth of
 * dispatches, at least 10, at most LIMITS.maxBurstSize. It gives the 100 that the service reports for a default
 * 500/s queue; values for other rates are a guess (docs/decisions/emulator.md).
 */
export function maxBurstSizeFor(maxDispatchesPerSecond: number): number {
  return Math.min(LIMITS.maxBurstSize, Math.max(10, Math.ceil(maxDispatchesPerSecond / 5)));
}

/** A queue's tasks: by name for O(1) lookup, and in creation order for stable paging. */
class TaskIndex {
  private readonly byName = new Map<string, Mutable<Task>>();
  /** Ascending seq. Removed tasks stay until compaction; a task is live iff byName maps its name to it. */
  private order: Mutable<Task>[] = [];
  private dead = 0;

  get size(): number {
    return this.byName.size;
  }

  get(name: string): Mutable<Task> | undefined {
    return this.byName.get(name);
  }

  add(task: Mutable<Task>): void {
    this.byName.set(task.name, task);
    this.order.push(task);
  }

  delete(name: string): Mutable<Task> | undefined {
    const task = this.byName.get(name);
    if (!task) return undefined;
    this.byName.delete(name);
    this.dead++;
    // Amortized O(1): compact only when most of the array is dead.
    if (this.dead > 1024 && this.dead * 2 > this.order.length) {
      this.order = this.order.filter((t) => this.byName.get(t.name) === t);
      this.dead = 0;
    }
    return task;
  }

  /** Live tasks in creation order (a Map iterates in insertion order, and a re-used name is a new insertion). */
  values(): IterableIterator<Mutable<Task>> {
    return this.byName.values();
  }

  /** Up to `limit` live tasks with seq > afterSeq, and whether more follow. O(log n + page). */
  page(afterSeq: number, limit: number): { tasks: Mutable<Task>[]; more: boolean } {
    let lo = 0;
    let hi = this.order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.order[mid].seq <= afterSeq) lo = mid + 1;
      else hi = mid;
    }
    const tasks: Mutable<Task>[] = [];
    for (let i = lo; i < this.order.length; i++) {
      const t = this.order[i];
      if (this.byName.get(t.name) !== t) continue;
      if (tasks.length === limit) return { tasks, more: true };
      tasks.push(t);
    }
    return { tasks, more: false };
  }

  clear(): Mutable<Task>[] {
    const live = [...this.byName.values()];
    this.byName.clear();
    this.order = [];
    this.dead = 0;
    return live;
  }
}

interface QueueEntry {
  queue: Queue;
  readonly tasks: TaskIndex;
}

/** A name and when it becomes free again. Insertion order is expiry order (constant window, monotonic clock). */
type Reservations = Map<string, number>;

/** JSON form of the whole state, for --data-dir. */
export interface StateSnapshot {
  readonly format: 'cloud-tasks-emulator/v1';
  readonly savedAtMs: number;
  readonly nextSeq: number;
  readonly queues: ReadonlyArray<{ readonly queue: Queue; readonly tasks: ReadonlyArray<SerializedTask> }>;
  /** [task name, ms when the name is free again] */
  readonly taskNameReservations: ReadonlyArray<readonly [string, number]>;
  /** [queue name, ms when the name is free again] */
  readonly queueNameReservations: ReadonlyArray<readonly [string, number]>;
}

type SerializedTask = Omit<Task, 'httpRequest'> & {
  readonly httpRequest: Omit<TaskHttpRequest, 'body'> & { readonly body: string };
};

export class EmulatorState {
  readonly clock: Clock;
  private readonly queuesByName = new Map<string, QueueEntry>();
  private readonly queuesByLocation = new Map<string, Set<string>>();
  private readonly taskNameReservations: Reservations = new Map();
  private readonly queueNameReservations: Reservations = new Map();
  private readonly listeners = new Set<EmulatorEventListener>();
  private readonly generateTaskId: () => string;
  private nextSeq = 1;
  /** Serialized tasks for snapshotJson; an entry is dropped whenever its task changes. */
  private readonly serializedTasks = new WeakMap<Task, string>();

  constructor(options: EmulatorStateOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.generateTaskId = options.generateTaskId ?? randomNumericId;
  }

  /** Subscribes to every change (see EmulatorEvent). Returns the unsubscribe function. */
  onEvent(listener: EmulatorEventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // ---------------------------------------------------------------- queues

  createQueue(parent: string, input: QueueInput): Queue {
    const location = parseLocationName(parent, 'parent');
    if (!input.name) throw invalidArgument(`queue.name is required, formatted "${location.name}/queues/<QUEUE_ID>"`);
    const qn = parseQueueName(input.name, 'queue.name');
    if (qn.name !== location.name)
      throw invalidArgument(
        `queue.name = "${input.name}" is not in parent "${parent}"; the queue must be created in its own location`,
      );
    if (this.queuesByName.has(qn.queueName)) throw alreadyExists(`Queue already exists: ${qn.queueName}`);
    this.refuseReservedQueueName(qn.queueName);
    this.refuseQueueQuota(location.name);
    const queue = this.resolveQueue(undefined, qn.queueName, location.name, qn.queueId, input, undefined);
    this.insertQueue(queue);
    this.emit({ type: 'queue-created', queue });
    return queue;
  }

  getQueue(name: string): Queue {
    return this.entry(name, 'name').queue;
  }

  listQueues(parent: string, options: ListQueuesOptions = {}): { queues: Queue[]; nextPageToken: string } {
    const location = parseLocationPattern(parent, 'parent');
    const pageSize = resolvePageSize(options.pageSize, LIMITS.maxListQueuesPageSize);
    const filter = (options.filter ?? '').trim();
    const matches = parseQueueFilter(filter);
    const token = decodePageToken(options.pageToken, 'queues');
    if (token && (token.filter !== filter || token.scope !== location.name))
      throw invalidArgument('page_token was issued for a different parent or filter; keep both unchanged while paging');
    const after = token?.after as string | undefined;
    // Queues come in lexicographical order (cloudtasks.proto ListQueues); at most 1,000 per location, so sorting is cheap.
    const names = this.queueNamesIn(location).sort();
    const queues: Queue[] = [];
    let more = false;
    for (const name of names) {
      if (after !== undefined && name <= after) continue;
      const queue = this.queuesByName.get(name)!.queue;
      if (!matches(queue)) continue;
      if (queues.length === pageSize) {
        more = true;
        break;
      }
      queues.push(queue);
    }
    const last = queues[queues.length - 1];
    return {
      queues,
      nextPageToken:
        more && last ? encodePageToken({ kind: 'queues', scope: location.name, filter, after: last.name }) : '',
    };
  }

  /**
   * UpdateQueue: updates the fields in `updateMask` (all fields when it is empty), or creates the queue when it does
   * not exist (cloudtasks.proto). Output-only fields (state, purge_time, max_burst_size) are ignored.
   */
  updateQueue(input: QueueInput, updateMask: readonly string[] = []): Queue {
    if (!input.name)
      throw invalidArgument(
        'queue.name is required, formatted "projects/<PROJECT_ID>/locations/<LOCATION_ID>/queues/<QUEUE_ID>"',
      );
    const qn = parseQueueName(input.name, 'queue.name');
    const mask = normalizeMask(updateMask);
    const existing = this.queuesByName.get(qn.queueName);
    if (!existing) {
      this.refuseReservedQueueName(qn.queueName);
      this.refuseQueueQuota(qn.name);
      const queue = this.resolveQueue(undefined, qn.queueName, qn.name, qn.queueId, input, mask);
      this.insertQueue(queue);
      this.emit({ type: 'queue-created', queue });
      return queue;
    }
    const queue = this.resolveQueue(existing.queue, qn.queueName, qn.name, qn.queueId, input, mask);
    existing.queue = queue;
    this.emit({ type: 'queue-updated', queue });
    return queue;
  }

  /** Deletes the queue and its tasks; the name stays reserved for 7 days (cloudtasks.proto DeleteQueue). */
  deleteQueue(name: string): void {
    const entry = this.entry(name, 'name');
    entry.tasks.clear();
    this.queuesByName.delete(entry.queue.name);
    this.queuesByLocation.get(entry.queue.location)?.delete(entry.queue.name);
    this.reserve(this.queueNameReservations, entry.queue.name, LIMITS.deletedQueueNameReuseSeconds);
    this.emit({ type: 'queue-deleted', queue: entry.queue });
  }

  pauseQueue(name: string): Queue {
    const entry = this.entry(name, 'name');
    entry.queue = { ...entry.queue, state: 'PAUSED' };
    this.emit({ type: 'queue-paused', queue: entry.queue });
    return entry.queue;
  }

  resumeQueue(name: string): Queue {
    const entry = this.entry(name, 'name');
    entry.queue = { ...entry.queue, state: 'RUNNING' };
    this.emit({ type: 'queue-resumed', queue: entry.queue });
    return entry.queue;
  }

  /**
   * Deletes every task in the queue and sets purge_time. The service takes up to a minute and may still dispatch some
   * tasks; the emulator purges at once. Purged task names stay reserved like deleted ones.
   */
  purgeQueue(name: string): Queue {
    const entry = this.entry(name, 'name');
    const now = this.clock.now();
    const purged = entry.tasks.clear();
    entry.queue = { ...entry.queue, purgeTimeMs: now };
    for (const task of purged) {
      this.reserve(this.taskNameReservations, task.name, LIMITS.taskNameDedupWindowSeconds);
      this.emit({ type: 'task-removed', task, reason: 'purged' });
    }
    this.emit({ type: 'queue-purged', queue: entry.queue });
    return entry.queue;
  }

  /**
   * Emulator extension: attaches (or with `undefined` removes) a queue-level HTTP target, which the v2 gRPC Queue
   * cannot carry. The dispatcher applies it to the queue's tasks.
   */
  setQueueHttpTarget(name: string, httpTarget: QueueHttpTarget | undefined): Queue {
    const entry = this.entry(name, 'name');
    if (httpTarget?.httpMethod && !HTTP_METHODS.includes(httpTarget.httpMethod))
      throw invalidArgument(
        `httpTarget.httpMethod = "${httpTarget.httpMethod}": use one of ${HTTP_METHODS.join(', ')}`,
      );
    const { httpTarget: _old, ...rest } = entry.queue;
    entry.queue = httpTarget ? { ...rest, httpTarget } : rest;
    this.emit({ type: 'queue-updated', queue: entry.queue });
    return entry.queue;
  }

  /** All queues, in no particular order. */
  queues(): Queue[] {
    return [...this.queuesByName.values()].map((e) => e.queue);
  }

  /** Queue names in a location, or in every matching location for `projects/-/locations/-` (parseLocationPattern). */
  private queueNamesIn(location: LocationName): string[] {
    if (location.project !== ANY && location.location !== ANY)
      return [...(this.queuesByLocation.get(location.name) ?? [])];
    const names: string[] = [];
    for (const entry of this.queuesByName.values()) {
      const q = entry.queue;
      const [, project, , loc] = q.location.split('/');
      if (
        (location.project === ANY || location.project === project) &&
        (location.location === ANY || location.location === loc)
      )
        names.push(q.name);
    }
    return names;
  }

  // ---------------------------------------------------------------- tasks

  createTask(parent: string, input: TaskInput): Task {
    // Hot path: an existing queue's name is already valid, so only a miss pays for parsing (and a precise error).
    const entry = this.queuesByName.get(parent) ?? this.entry(parent, 'parent');
    const queueName = entry.queue.name;

    let name: string;
    let taskId: string;
    if (input.name) {
      const prefix = `${queueName}/tasks/`;
      const id = input.name.startsWith(prefix) ? input.name.slice(prefix.length) : undefined;
      if (id !== undefined && LIMITS.taskIdPattern.test(id)) taskId = id;
      else {
        const tn = parseTaskName(input.name, 'task.name');
        throw invalidArgument(
          `task.name = "${input.name}": the queue name from request ('${parent}') must be the same as the queue name in the named task ('${tn.queueName}')`,
        );
      }
      name = input.name;
    } else {
      do {
        taskId = this.generateTaskId();
        name = `${queueName}/tasks/${taskId}`;
      } while (entry.tasks.get(name) || this.isReserved(this.taskNameReservations, name));
    }

    const now = this.clock.now();
    const httpRequest = resolveHttpRequest(input);
    const scheduleTimeMs =
      input.scheduleTimeMs === undefined || input.scheduleTimeMs < now ? now : input.scheduleTimeMs;
    throwProblems(['task'], scheduleTimeProblems(new Date(scheduleTimeMs), new Date(now), ['scheduleTime']));
    const dispatchDeadlineSeconds = input.dispatchDeadlineSeconds ?? SERVICE_DEFAULTS.dispatchDeadlineSeconds;
    throwProblems(['task'], dispatchDeadlineProblems(dispatchDeadlineSeconds, ['dispatchDeadline']));

    // Dedup last, after validation: a malformed retry of a named task reports its real problem.
    if (entry.tasks.get(name)) throw alreadyExists(`Requested entity already exists: task ${name} is in the queue`);
    const freeAt = this.reservedUntil(this.taskNameReservations, name);
    if (freeAt !== undefined)
      throw alreadyExists(
        `Requested entity already exists: task name ${name} was used by a task that was deleted or ran recently; ` +
          `Cloud Tasks keeps a task name reserved for about ${LIMITS.taskNameDedupWindowSeconds / 3600} hour (free again at ${new Date(freeAt).toISOString()})`,
      );

    const task: Mutable<Task> = {
      name,
      queueName,
      taskId,
      seq: this.nextSeq++,
      httpRequest,
      scheduleTimeMs,
      createTimeMs: Math.floor(now / 1000) * 1000,
      dispatchDeadlineSeconds,
      dispatchCount: 0,
      responseCount: 0,
    };
    entry.tasks.add(task);
    this.emit({ type: 'task-created', task });
    return task;
  }

  getTask(name: string): Task {
    return this.taskEntry(name).task;
  }

  listTasks(parent: string, options: ListTasksOptions = {}): { tasks: Task[]; nextPageToken: string } {
    const entry = this.entry(parent, 'parent');
    const pageSize = resolvePageSize(options.pageSize, LIMITS.maxListTasksPageSize);
    const token = decodePageToken(options.pageToken, 'tasks');
    if (token && token.scope !== entry.queue.name)
      throw invalidArgument('page_token was issued for a different queue; keep parent unchanged while paging');
    const { tasks, more } = entry.tasks.page((token?.after as number | undefined) ?? 0, pageSize);
    const last = tasks[tasks.length - 1];
    return {
      tasks,
      nextPageToken:
        more && last ? encodePageToken({ kind: 'tasks', scope: entry.queue.name, filter: '', after: last.seq }) : '',
    };
  }

  /** Live tasks of a queue in creation order (for the dispatcher and tests). */
  tasksOf(queueName: string): Task[] {
    return [...this.entry(queueName, 'queueName').tasks.values()];
  }

  /** Deletes a scheduled or dispatched task; its name stays reserved (cloudtasks.proto CreateTaskRequest). */
  deleteTask(name: string): void {
    this.removeTask(name, 'deleted');
  }

  /**
   * RunTask: records a dispatch now, whatever the queue's state and rate limits, and emits `task-run` for the
   * dispatcher to send it. Returns the task "after the task is dispatched but before the task is received by its
   * target" (cloudtasks.proto). With no dispatcher attached the attempt stays without a response.
   */
  runTask(name: string): Task {
    const task = this.recordDispatchOf(this.taskEntry(name).task);
    this.emit({ type: 'task-run', task });
    return task;
  }

  // ------------------------------------------------ dispatcher hooks (the next issue's HTTP dispatcher uses these)

  /** Records that an attempt was dispatched now: dispatch_count + 1, first/last attempt. Emits `task-dispatched`. */
  recordDispatch(name: string): Task {
    const task = this.recordDispatchOf(this.taskEntry(name).task);
    this.emit({ type: 'task-dispatched', task });
    return task;
  }

  /**
   * Records the response to the last attempt: response_count + 1 (when the worker answered), last_attempt's
   * response_time and response_status. Emits `task-response`. `responded` is false for a timeout or a connection
   * error, which task.proto does not count as a response.
   */
  recordResponse(name: string, responseStatus: { code: number; message: string }, responded = true): Task {
    const task = this.taskEntry(name).task;
    const now = this.clock.now();
    this.serializedTasks.delete(task);
    if (responded) task.responseCount++;
    task.lastAttempt = { ...task.lastAttempt, responseTimeMs: now, responseStatus };
    this.emit({ type: 'task-response', task });
    return task;
  }

  /** Moves a task's schedule_time (a retry, or RunTask's reset). Emits `task-rescheduled`. */
  rescheduleTask(name: string, scheduleTimeMs: number): Task {
    const task = this.taskEntry(name).task;
    this.serializedTasks.delete(task);
    task.scheduleTimeMs = scheduleTimeMs;
    this.emit({ type: 'task-rescheduled', task });
    return task;
  }

  /** Removes a task that succeeded or ran out of retries; its name stays reserved. */
  completeTask(name: string, reason: Extract<TaskRemovalReason, 'succeeded' | 'failed-permanently'>): void {
    this.removeTask(name, reason);
  }

  // ---------------------------------------------------------------- persistence

  /** The whole state as plain data (see snapshotJson for the fast path persistence uses). */
  snapshot(): StateSnapshot {
    return JSON.parse(this.snapshotJson()) as StateSnapshot;
  }

  /** The snapshot as JSON text. */
  snapshotJson(): string {
    return this.snapshotParts().join('');
  }

  /**
   * The snapshot as JSON fragments whose concatenation is the document, taken consistently at one instant. Each task's
   * JSON is cached until the task changes, so this costs a pointer copy per task plus the serialization of tasks
   * created or changed since the last snapshot; the writer then streams the parts to disk without blocking calls.
   */
  snapshotParts(): string[] {
    const now = this.clock.now();
    const live = (m: Reservations) => JSON.stringify([...m].filter(([, until]) => until > now));
    const parts: string[] = [
      `{"format":"cloud-tasks-emulator/v1","savedAtMs":${now},"nextSeq":${this.nextSeq},"queues":[`,
    ];
    let firstQueue = true;
    for (const e of this.queuesByName.values()) {
      parts.push(`${firstQueue ? '' : ','}{"queue":${JSON.stringify(e.queue)},"tasks":[`);
      firstQueue = false;
      let firstTask = true;
      for (const t of e.tasks.values()) {
        parts.push(firstTask ? this.taskJson(t) : `,${this.taskJson(t)}`);
        firstTask = false;
      }
      parts.push(']}');
    }
    parts.push(
      `],"taskNameReservations":${live(this.taskNameReservations)},"queueNameReservations":${live(this.queueNameReservations)}}`,
    );
    return parts;
  }

  /** Loads a snapshot into an empty state. Emits no events (nothing changed from the snapshot's point of view). */
  restore(snapshot: StateSnapshot): void {
    if (snapshot.format !== 'cloud-tasks-emulator/v1')
      throw new Error(`unknown snapshot format ${JSON.stringify(snapshot.format)}; expected "cloud-tasks-emulator/v1"`);
    if (this.queuesByName.size > 0) throw new Error('restore() needs an empty state');
    for (const { queue, tasks } of snapshot.queues) {
      this.insertQueue(queue);
      const entry = this.queuesByName.get(queue.name)!;
      for (const t of [...tasks].sort((a, b) => a.seq - b.seq))
        entry.tasks.add({ ...t, httpRequest: { ...t.httpRequest, body: Buffer.from(t.httpRequest.body, 'base64') } });
    }
    for (const [name, until] of [...snapshot.taskNameReservations].sort((a, b) => a[1] - b[1]))
      this.taskNameReservations.set(name, until);
    for (const [name, until] of [...snapshot.queueNameReservations].sort((a, b) => a[1] - b[1]))
      this.queueNameReservations.set(name, until);
    this.nextSeq = Math.max(this.nextSeq, snapshot.nextSeq);
  }

  // ---------------------------------------------------------------- internals

  private taskJson(task: Task): string {
    let json = this.serializedTasks.get(task);
    if (json === undefined) {
      const serialized: SerializedTask = {
        ...task,
        httpRequest: { ...task.httpRequest, body: task.httpRequest.body.toString('base64') },
      };
      json = JSON.stringify(serialized);
      this.serializedTasks.set(task, json);
    }
    return json;
  }

  private emit(event: EmulatorEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        // A listener's bug must not fail the API call that already changed the state.
        console.error(`cloud-tasks emulator: an event listener failed on ${event.type}:`, err);
      }
    }
  }

  private entry(name: string, field: string): QueueEntry {
    const qn = parseQueueName(name, field);
    const entry = this.queuesByName.get(qn.queueName);
    if (!entry) throw notFound(`${QUEUE_NOT_FOUND} (${field} = "${name}")`);
    return entry;
  }

  private taskEntry(name: string): { entry: QueueEntry; task: Mutable<Task> } {
    const tn = parseTaskName(name, 'name');
    const entry = this.queuesByName.get(tn.queueName);
    const task = entry?.tasks.get(tn.taskName);
    if (entry && task) return { entry, task };
    if (this.isReserved(this.taskNameReservations, tn.taskName))
      throw notFound(
        `The task no longer exists, though a task with this name existed recently. The task either successfully completed or was deleted. (name = "${name}")`,
      );
    if (!entry) throw notFound(`${QUEUE_NOT_FOUND} (name = "${name}")`);
    throw notFound(`Requested entity was not found: task ${name}`);
  }

  private removeTask(name: string, reason: TaskRemovalReason): void {
    const { entry, task } = this.taskEntry(name);
    entry.tasks.delete(task.name);
    this.reserve(this.taskNameReservations, task.name, LIMITS.taskNameDedupWindowSeconds);
    this.emit({ type: 'task-removed', task, reason });
  }

  private recordDispatchOf(task: Mutable<Task>): Mutable<Task> {
    const now = this.clock.now();
    const attempt: Attempt = { scheduleTimeMs: task.scheduleTimeMs, dispatchTimeMs: now };
    this.serializedTasks.delete(task);
    task.dispatchCount++;
    // task.proto: for first_attempt "Only dispatch_time will be set".
    if (!task.firstAttempt) task.firstAttempt = { dispatchTimeMs: now };
    task.lastAttempt = attempt;
    return task;
  }

  private insertQueue(queue: Queue): void {
    this.queuesByName.set(queue.name, { queue, tasks: new TaskIndex() });
    let names = this.queuesByLocation.get(queue.location);
    if (!names) this.queuesByLocation.set(queue.location, (names = new Set()));
    names.add(queue.name);
  }

  private refuseReservedQueueName(queueName: string): void {
    const freeAt = this.reservedUntil(this.queueNameReservations, queueName);
    if (freeAt === undefined) return;
    // FAILED_PRECONDITION and this wording are what the real API returns (recorded against Cloud Tasks; see
    // docs/decisions/emulator.md).
    throw failedPrecondition(
      `The queue cannot be created because a queue with this name existed too recently: ${queueName} was deleted, and Cloud Tasks ` +
        `keeps a deleted queue's name for ${LIMITS.deletedQueueNameReuseSeconds / 86400} days (free again at ${new Date(freeAt).toISOString()}); choose another queue id`,
    );
  }

  private refuseQueueQuota(location: string): void {
    const count = this.queuesByLocation.get(location)?.size ?? 0;
    if (count >= LIMITS.queuesPerRegion)
      throw new EmulatorError(
        status.RESOURCE_EXHAUSTED,
        `${location} already has ${count} queues; the Cloud Tasks quota is ${LIMITS.queuesPerRegion} queues per project per region`,
      );
  }

  /** Builds a queue from the request, the current queue (for UpdateQueue) and the service defaults, and validates it. */
  private resolveQueue(
    current: Queue | undefined,
    name: string,
    location: string,
    queueId: string,
    input: QueueInput,
    mask: ReadonlySet<string> | undefined,
  ): Queue {
    // No mask (CreateQueue) or an empty one (UpdateQueue "all fields"): every field comes from the request.
    const takes = (path: string): boolean => {
      if (!mask || mask.size === 0) return true;
      if (mask.has(path)) return true;
      const dot = path.indexOf('.');
      return dot > 0 && mask.has(path.slice(0, dot));
    };
    const pick = <T>(path: string, requested: T | undefined, existing: T | undefined, fallback: T): T =>
      takes(path) ? (requested ?? fallback) : (existing ?? fallback);

    const rl = input.rateLimits ?? {};
    const rateInput = {
      maxDispatchesPerSecond: pick(
        'rate_limits.max_dispatches_per_second',
        rl.maxDispatchesPerSecond,
        current?.rateLimits.maxDispatchesPerSecond,
        SERVICE_DEFAULTS.maxDispatchesPerSecond,
      ),
      maxConcurrentDispatches: pick(
        'rate_limits.max_concurrent_dispatches',
        rl.maxConcurrentDispatches,
        current?.rateLimits.maxConcurrentDispatches,
        SERVICE_DEFAULTS.maxConcurrentDispatches,
      ),
    };
    throwProblems(['queue', 'rateLimits'], rateLimitProblems(rateInput));

    const rc = input.retryConfig ?? {};
    const cur = current?.retryConfig;
    const retryConfig: QueueRetryConfig = {
      maxAttempts: pick('retry_config.max_attempts', rc.maxAttempts, cur?.maxAttempts, SERVICE_DEFAULTS.maxAttempts),
      minBackoffSeconds: pick(
        'retry_config.min_backoff',
        rc.minBackoffSeconds,
        cur?.minBackoffSeconds,
        SERVICE_DEFAULTS.minBackoffSeconds,
      ),
      maxBackoffSeconds: pick(
        'retry_config.max_backoff',
        rc.maxBackoffSeconds,
        cur?.maxBackoffSeconds,
        SERVICE_DEFAULTS.maxBackoffSeconds,
      ),
      maxDoublings: pick(
        'retry_config.max_doublings',
        rc.maxDoublings,
        cur?.maxDoublings,
        SERVICE_DEFAULTS.maxDoublings,
      ),
      maxRetryDurationSeconds: pick(
        'retry_config.max_retry_duration',
        rc.maxRetryDurationSeconds,
        cur?.maxRetryDurationSeconds,
        SERVICE_DEFAULTS.maxRetryDurationSeconds,
      ),
    };
    throwProblems(['queue', 'retryConfig'], retryConfigProblems(retryConfig), RETRY_FIELD_NAMES);

    let logging = current?.stackdriverLoggingConfig;
    if (takes('stackdriver_logging_config.sampling_ratio')) {
      const ratio = input.stackdriverLoggingConfig ? (input.stackdriverLoggingConfig.samplingRatio ?? 0) : undefined;
      if (ratio !== undefined)
        throwProblems(['queue', 'stackdriverLoggingConfig'], samplingRatioProblems(ratio, ['samplingRatio']));
      logging = ratio === undefined ? undefined : { samplingRatio: ratio };
    }
    const routing = takes('app_engine_routing_override')
      ? input.appEngineRoutingOverride
      : current?.appEngineRoutingOverride;

    return {
      name,
      location,
      queueId,
      rateLimits: { ...rateInput, maxBurstSize: maxBurstSizeFor(rateInput.maxDispatchesPerSecond) },
      retryConfig,
      state: current?.state ?? 'RUNNING',
      ...(current?.purgeTimeMs !== undefined ? { purgeTimeMs: current.purgeTimeMs } : {}),
      ...(logging ? { stackdriverLoggingConfig: logging } : {}),
      ...(routing ? { appEngineRoutingOverride: routing } : {}),
      ...(current?.httpTarget ? { httpTarget: current.httpTarget } : {}),
      createTimeMs: current?.createTimeMs ?? this.clock.now(),
    };
  }

  private reserve(reservations: Reservations, name: string, seconds: number): void {
    const now = this.clock.now();
    // Drop a few expired entries from the front on each insert: amortized O(1), no sweeper timer.
    let dropped = 0;
    for (const [key, until] of reservations) {
      if (until > now || dropped >= 8) break;
      reservations.delete(key);
      dropped++;
    }
    reservations.delete(name); // re-insert at the back so insertion order stays expiry order
    reservations.set(name, now + seconds * 1000);
  }

  private reservedUntil(reservations: Reservations, name: string): number | undefined {
    const until = reservations.get(name);
    if (until === undefined) return undefined;
    if (until > this.clock.now()) return until;
    reservations.delete(name);
    return undefined;
  }

  private isReserved(reservations: Reservations, name: string): boolean {
    return this.reservedUntil(reservations, name) !== undefined;
  }
}

// ---------------------------------------------------------------- helpers

function resolveHttpRequest(input: TaskInput): TaskHttpRequest {
  if (input.appEngineHttpRequest !== undefined)
    throw new EmulatorError(
      status.UNIMPLEMENTED,
      'task.appEngineHttpRequest: App Engine tasks are not emulated; use task.httpRequest',
    );
  const req = input.httpRequest;
  if (!req) throw invalidArgument('task.httpRequest is required: the emulator runs HTTP tasks (set httpRequest.url)');
  const url = req.url ?? '';
  const httpMethod = req.httpMethod ?? 'POST';
  if (!HTTP_METHODS.includes(httpMethod))
    throw invalidArgument(`task.httpRequest.httpMethod = "${httpMethod}": use one of ${HTTP_METHODS.join(', ')}`);
  const headers = req.headers ?? {};
  const body = req.body ? Buffer.from(req.body.buffer, req.body.byteOffset, req.body.byteLength) : Buffer.alloc(0);
  const problems: Problem[] = [
    ...apiUrlProblems(url, ['url']),
    ...apiHeaderProblems(headers, ['headers']),
    ...bodyMethodProblems(httpMethod, body.byteLength, ['body']),
  ];
  throwProblems(['task', 'httpRequest'], problems);
  throwProblems([], taskSizeProblems(httpRequestSizeBytes(url, headers, body), ['task']));
  if (req.oidcToken && req.oauthToken) throw invalidArgument('task.httpRequest: set oidcToken or oauthToken, not both');
  const token = req.oidcToken ?? req.oauthToken;
  if (token && !token.serviceAccountEmail)
    throw invalidArgument(
      `task.httpRequest.${req.oidcToken ? 'oidcToken' : 'oauthToken'}.serviceAccountEmail is required: the service account the token is issued for`,
    );
  return {
    url,
    httpMethod,
    headers: { ...headers },
    body,
    ...(req.oidcToken
      ? {
          oidcToken: {
            serviceAccountEmail: req.oidcToken.serviceAccountEmail!,
            ...(req.oidcToken.audience ? { audience: req.oidcToken.audience } : {}),
          },
        }
      : {}),
    ...(req.oauthToken
      ? {
          oauthToken: {
            serviceAccountEmail: req.oauthToken.serviceAccountEmail!,
            ...(req.oauthToken.scope ? { scope: req.oauthToken.scope } : {}),
          },
        }
      : {}),
  };
}

const QUEUE_MASK_PATHS = new Set([
  'name',
  'state',
  'purge_time',
  'app_engine_routing_override',
  'rate_limits',
  'rate_limits.max_dispatches_per_second',
  'rate_limits.max_burst_size',
  'rate_limits.max_concurrent_dispatches',
  'retry_config',
  'retry_config.max_attempts',
  'retry_config.max_retry_duration',
  'retry_config.min_backoff',
  'retry_config.max_backoff',
  'retry_config.max_doublings',
  'stackdriver_logging_config',
  'stackdriver_logging_config.sampling_ratio',
]);

/** Accepts snake_case (proto) and camelCase (REST/JSON) paths. */
function normalizeMask(paths: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const raw of paths) {
    const path = raw
      .split('.')
      .map((seg) => seg.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`))
      .join('.');
    if (!QUEUE_MASK_PATHS.has(path))
      throw invalidArgument(
        `update_mask path "${raw}" is not a Queue field; use e.g. rate_limits.max_dispatches_per_second or retry_config`,
      );
    out.add(path);
  }
  return out;
}

function resolvePageSize(pageSize: number | undefined, max: number): number {
  if (pageSize === undefined || pageSize === 0) return max;
  if (!Number.isInteger(pageSize) || pageSize < 0)
    throw invalidArgument(`page_size = ${pageSize}: must be a positive whole number (0 = the maximum, ${max})`);
  return Math.min(pageSize, max);
}

interface PageToken {
  readonly kind: 'queues' | 'tasks';
  readonly scope: string;
  readonly filter: string;
  readonly after: string | number;
}

function encodePageToken(token: PageToken): string {
  return Buffer.from(JSON.stringify(token)).toString('base64url');
}

function decodePageToken(raw: string | undefined, kind: PageToken['kind']): PageToken | undefined {
  if (!raw) return undefined;
  let token: PageToken | undefined;
  try {
    token = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as PageToken;
  } catch {
    token = undefined;
  }
  if (!token || token.kind !== kind || typeof token.scope !== 'string')
    throw invalidArgument(
      `page_token = "${raw.slice(0, 40)}" is not a token this emulator issued for List${kind === 'queues' ? 'Queues' : 'Tasks'}; pass next_page_token unchanged`,
    );
  return token;
}

/** The subset of the ListQueues filter language the emulator understands: the queue state. */
function parseQueueFilter(filter: string): (queue: Queue) => boolean {
  if (filter === '') return () => true;
  const m = /^state\s*(:|=|!=)\s*(RUNNING|PAUSED|DISABLED|STATE_UNSPECIFIED)$/.exec(filter);
  if (!m)
    throw invalidArgument(
      `filter = "${filter}": the emulator supports only "state: PAUSED", "state = RUNNING" and "state != PAUSED"`,
    );
  const [, op, value] = m;
  return op === '!=' ? (q) => q.state !== value : (q) => q.state === value;
}

/** The service's generated task ids are long decimal numbers; uniformly random ones also spread like hashed ids. */
let idPool = Buffer.alloc(0);
let idOffset = 0;
function randomNumericId(): string {
  if (idOffset + 8 > idPool.length) {
    idPool = randomBytes(8 * 4096);
    idOffset = 0;
  }
  const id = idPool.readBigUInt64BE(idOffset);
  idOffset += 8;
  return id.toString();
}
