/**
 * The emulator's store: queues, their tasks and IAM policies, and the names Cloud Tasks keeps reserved after a task
 * or queue is gone. One instance serves both transports (gRPC and REST), the dispatcher and persistence.
 *
 * Every method is synchronous, so each API call is atomic on Node's single thread. Per-call work is O(1) for the hot
 * path (CreateTask: a few Map lookups and an append) and O(page) for listing. The concerns live beside this file:
 * task-index.ts (lookup and paging order), reservations.ts (dedup and tombstone windows), paging.ts (page tokens,
 * filters), queue-config.ts (update masks, defaults, queue validation), task-request.ts (CreateTask validation),
 * iam.ts (policies). Every rule comes from lib/core/rules/cloud-tasks.ts.
 */
import { randomBytes } from 'node:crypto';
import { LIMITS, taskIdProblems, type HttpMethod } from '../../core/rules/cloud-tasks';
import { systemClock, type Clock } from '../clock';
import {
  Code,
  EmulatorError,
  HELP,
  SERVICE_TEXT,
  alreadyExists,
  failedPrecondition,
  invalidArgument,
  notFound,
  throwProblems,
} from '../errors';
import type {
  Attempt,
  EmulatorEvent,
  EmulatorEventListener,
  Queue,
  QueueHttpTarget,
  QueueInput,
  Task,
  TaskInput,
  TaskRemovalReason,
} from '../model';
import {
  ANY,
  parseLocationName,
  parseLocationPattern,
  parseQueueName,
  parseTaskName,
  type LocationName,
} from '../names';
import { emptyPolicy, nextPolicy, testedPermissions, type IamPolicy } from './iam';
import { decodePageToken, encodePageToken, parseQueueFilter, resolvePageSize } from './paging';
import { normalizeQueueMask, resolveQueue, validateHttpTarget } from './queue-config';
import { NameReservations } from './reservations';
import { TaskIndex, type Mutable } from './task-index';
import { resolveTaskRequest } from './task-request';

export { maxBurstSizeFor } from './queue-config';
export type { IamPolicy, IamBinding } from './iam';

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

/** BufferTask's request body (google.api.HttpBody): the raw HTTP request the task is made of. */
export interface BufferedRequest {
  /** The HTTP method of the BufferTask request; it becomes the task's method. @default 'POST' */
  readonly httpMethod?: HttpMethod;
  readonly contentType?: string;
  readonly data?: Uint8Array;
}

/** Everything persistence stores, as plain rows (lib/emulator/persistence). */
export interface StateRows {
  readonly queues: readonly Queue[];
  /** In creation order (ascending seq). */
  readonly tasks: readonly Task[];
  readonly taskNameReservations: ReadonlyArray<readonly [string, number]>;
  readonly queueNameReservations: ReadonlyArray<readonly [string, number]>;
  readonly iamPolicies: ReadonlyArray<readonly [string, IamPolicy]>;
  readonly nextSeq: number;
}

interface QueueEntry {
  queue: Queue;
  readonly tasks: TaskIndex;
  iam?: IamPolicy;
}

export class EmulatorState {
  readonly clock: Clock;
  private readonly queuesByName = new Map<string, QueueEntry>();
  private readonly queuesByLocation = new Map<string, Set<string>>();
  private readonly taskNames: NameReservations;
  private readonly queueNames: NameReservations;
  private readonly listeners = new Set<EmulatorEventListener>();
  private readonly generateTaskId: () => string;
  private nextSeq = 1;

  constructor(options: EmulatorStateOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.generateTaskId = options.generateTaskId ?? randomNumericId;
    this.taskNames = new NameReservations(this.clock, LIMITS.taskNameDedupWindowSeconds);
    this.queueNames = new NameReservations(this.clock, LIMITS.deletedQueueNameReuseSeconds);
  }

  /** Subscribes to every change (see EmulatorEvent). Returns the unsubscribe function. */
  onEvent(listener: EmulatorEventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // ---------------------------------------------------------------- queues

  createQueue(parent: string, input: QueueInput): Queue {
    const location = parseLocationName(parent, 'parent');
    if (!input.name)
      throw invalidArgument(`queue.name is required, formatted "${location.name}/queues/<QUEUE_ID>"`, [
        { field: 'queue.name', description: 'is required' },
      ]);
    const qn = parseQueueName(input.name, 'queue.name');
    if (qn.name !== location.name)
      throw invalidArgument(
        `queue.name = "${input.name}" is not in parent "${parent}"; the queue must be created in its own location`,
        [{ field: 'queue.name', description: `must be in parent ${parent}` }],
      );
    if (this.queuesByName.has(qn.queueName))
      throw alreadyExists(`${SERVICE_TEXT.alreadyExists}: queue ${qn.queueName}`);
    this.refuseReservedQueueName(qn.queueName);
    this.refuseQueueQuota(location.name);
    const queue = resolveQueue(
      undefined,
      { name: qn.queueName, location: location.name, queueId: qn.queueId },
      input,
      undefined,
      this.clock.now(),
    );
    this.insertQueue(queue);
    this.emit({ type: 'queue-created', queue });
    return queue;
  }

  getQueue(name: string): Queue {
    return this.entry(name, 'name').queue;
  }

  /** The queue, or undefined (no error): for persistence and the dispatcher. */
  findQueue(name: string): Queue | undefined {
    return this.queuesByName.get(name)?.queue;
  }

  listQueues(parent: string, options: ListQueuesOptions = {}): { queues: Queue[]; nextPageToken: string } {
    const location = parseLocationPattern(parent, 'parent');
    const pageSize = resolvePageSize(options.pageSize, LIMITS.maxListQueuesPageSize);
    const filter = (options.filter ?? '').trim();
    const matches = parseQueueFilter(filter);
    const token = decodePageToken(options.pageToken, 'queues');
    if (token && (token.filter !== filter || token.scope !== location.name))
      throw invalidArgument(
        'page_token was issued for a different parent or filter; keep both unchanged while paging',
        [{ field: 'page_token', description: 'issued for a different parent or filter' }],
      );
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
        [{ field: 'queue.name', description: 'is required' }],
      );
    const qn = parseQueueName(input.name, 'queue.name');
    const mask = normalizeQueueMask(updateMask);
    const existing = this.queuesByName.get(qn.queueName);
    const id = { name: qn.queueName, location: qn.name, queueId: qn.queueId };
    if (!existing) {
      this.refuseReservedQueueName(qn.queueName);
      this.refuseQueueQuota(qn.name);
      const queue = resolveQueue(undefined, id, input, mask, this.clock.now());
      this.insertQueue(queue);
      this.emit({ type: 'queue-created', queue });
      return queue;
    }
    const queue = resolveQueue(existing.queue, id, input, mask, this.clock.now());
    existing.queue = queue;
    this.emit({ type: 'queue-updated', queue });
    return queue;
  }

  /** Deletes the queue, its tasks and its IAM policy; the name stays reserved (LIMITS.deletedQueueNameReuseSeconds). */
  deleteQueue(name: string): void {
    const entry = this.entry(name, 'name');
    entry.tasks.clear();
    this.queuesByName.delete(entry.queue.name);
    this.queuesByLocation.get(entry.queue.location)?.delete(entry.queue.name);
    this.queueNames.reserve(entry.queue.name);
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
      this.taskNames.reserve(task.name);
      this.emit({ type: 'task-removed', task, reason: 'purged' });
    }
    this.emit({ type: 'queue-purged', queue: entry.queue });
    return entry.queue;
  }

  /** Attaches (or with `undefined` removes) a queue-level HTTP target in process (the local runner, `--route`). */
  setQueueHttpTarget(name: string, httpTarget: QueueHttpTarget | undefined): Queue {
    const entry = this.entry(name, 'name');
    if (httpTarget) validateHttpTarget(httpTarget);
    const { httpTarget: _old, ...rest } = entry.queue;
    entry.queue = httpTarget ? { ...rest, httpTarget } : rest;
    this.emit({ type: 'queue-updated', queue: entry.queue });
    return entry.queue;
  }

  /** All queues, in no particular order. */
  queues(): Queue[] {
    return [...this.queuesByName.values()].map((e) => e.queue);
  }

  // ---------------------------------------------------------------- IAM

  /** GetIamPolicy: the stored policy, or an empty one with the etag a first SetIamPolicy may send. */
  getIamPolicy(resource: string): IamPolicy {
    return this.entry(resource, 'resource').iam ?? emptyPolicy();
  }

  /** SetIamPolicy: replaces the policy; an etag that is not the current one fails with ABORTED. */
  setIamPolicy(resource: string, policy: Partial<IamPolicy>): IamPolicy {
    const entry = this.entry(resource, 'resource');
    entry.iam = nextPolicy(entry.iam ?? emptyPolicy(), policy, this.nextSeq++);
    this.emit({ type: 'queue-iam-set', queue: entry.queue });
    return entry.iam;
  }

  /** TestIamPermissions: every Cloud Tasks queue permission asked for (the emulator enforces none). */
  testIamPermissions(resource: string, permissions: readonly string[]): string[] {
    this.entry(resource, 'resource');
    return testedPermissions(permissions);
  }

  /** The stored policy (no default), for persistence. */
  findIamPolicy(queueName: string): IamPolicy | undefined {
    return this.queuesByName.get(queueName)?.iam;
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
          [{ field: 'task.name', description: 'must be in the queue named by parent' }],
        );
      }
      name = input.name;
    } else {
      ({ name, taskId } = this.newTaskName(entry));
    }
    return this.insertTask(entry, name, taskId, input);
  }

  /**
   * BufferTask (REST v2 `tasks:buffer`, `tasks/{id}:buffer`): a task made of a raw HTTP request, sent to the queue's
   * http_target (required: "The queue must have HTTP target"). The body and its Content-Type become the task's; the
   * request's method becomes the task's method (a GET to the buffer URL makes a GET task). Returns the task.
   */
  bufferTask(queue: string, taskId: string | undefined, request: BufferedRequest): Task {
    const entry = this.entry(queue, 'queue');
    const target = entry.queue.httpTarget?.uriOverride;
    if (!target?.host)
      throw failedPrecondition(
        `BufferTask needs a queue with an HTTP target: ${entry.queue.name} has no http_target.uri_override with a host; set one with gcloud tasks queues update --http-uri-override=host:<host> or UpdateQueue (httpTarget)`,
        [HELP.createQueue],
      );
    let name: string;
    let id: string;
    if (taskId) {
      throwProblems([], taskIdProblems(taskId, ['task_id']));
      id = taskId;
      name = `${entry.queue.name}/tasks/${taskId}`;
    } else ({ name, taskId: id } = this.newTaskName(entry));
    const scheme = target.scheme === 'HTTP' ? 'http' : 'https';
    const host = target.host.includes(':') && !target.host.startsWith('[') ? `[${target.host}]` : target.host;
    const port = target.port ? `:${target.port}` : '';
    const path = target.pathOverride?.path || '/';
    const query = target.queryOverride?.queryParams ? `?${target.queryOverride.queryParams}` : '';
    const method = request.httpMethod ?? 'POST';
    const body = request.data && request.data.byteLength > 0 ? request.data : undefined;
    return this.insertTask(entry, name, id, {
      httpRequest: {
        url: `${scheme}://${host}${port}${path.startsWith('/') ? path : `/${path}`}${query}`,
        httpMethod: method,
        headers: request.contentType ? { 'Content-Type': request.contentType } : {},
        ...(body && ['POST', 'PUT', 'PATCH'].includes(method) ? { body } : {}),
      },
    });
  }

  getTask(name: string): Task {
    return this.taskEntry(name).task;
  }

  /** The task, or undefined (no error): for persistence and the dispatcher. */
  findTask(name: string): Task | undefined {
    const slash = name.lastIndexOf('/tasks/');
    return slash > 0 ? this.queuesByName.get(name.slice(0, slash))?.tasks.get(name) : undefined;
  }

  listTasks(parent: string, options: ListTasksOptions = {}): { tasks: Task[]; nextPageToken: string } {
    const entry = this.entry(parent, 'parent');
    const pageSize = resolvePageSize(options.pageSize, LIMITS.maxListTasksPageSize);
    const token = decodePageToken(options.pageToken, 'tasks');
    if (token && token.scope !== entry.queue.name)
      throw invalidArgument('page_token was issued for a different queue; keep parent unchanged while paging', [
        { field: 'page_token', description: 'issued for a different queue' },
      ]);
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

  // ------------------------------------------------ dispatcher hooks

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
    if (responded) task.responseCount++;
    task.lastAttempt = { ...task.lastAttempt, responseTimeMs: now, responseStatus };
    this.emit({ type: 'task-response', task });
    return task;
  }

  /** Moves a task's schedule_time (a retry, or RunTask's reset). Emits `task-rescheduled`. */
  rescheduleTask(name: string, scheduleTimeMs: number): Task {
    const task = this.taskEntry(name).task;
    task.scheduleTimeMs = scheduleTimeMs;
    this.emit({ type: 'task-rescheduled', task });
    return task;
  }

  /** Removes a task that succeeded or ran out of retries; its name stays reserved. */
  completeTask(name: string, reason: Extract<TaskRemovalReason, 'succeeded' | 'failed-permanently'>): void {
    this.removeTask(name, reason);
  }

  // ---------------------------------------------------------------- persistence

  /** When a task name is free again (ms), or undefined: for persistence. */
  taskNameReservedUntil(name: string): number | undefined {
    return this.taskNames.reservedUntil(name);
  }

  /** When a deleted queue's name is free again (ms), or undefined: for persistence. */
  queueNameReservedUntil(name: string): number | undefined {
    return this.queueNames.reservedUntil(name);
  }

  get nextTaskSeq(): number {
    return this.nextSeq;
  }

  /** Everything, as rows (a consistent instant: the call is synchronous). */
  rows(): StateRows {
    const tasks: Task[] = [];
    for (const e of this.queuesByName.values()) tasks.push(...e.tasks.values());
    tasks.sort((a, b) => a.seq - b.seq);
    return {
      queues: this.queues(),
      tasks,
      taskNameReservations: this.taskNames.entries(),
      queueNameReservations: this.queueNames.entries(),
      iamPolicies: [...this.queuesByName.values()].filter((e) => e.iam).map((e) => [e.queue.name, e.iam!] as const),
      nextSeq: this.nextSeq,
    };
  }

  /** Loads persisted rows into an empty state. Emits no events (nothing changed from the rows' point of view). */
  load(rows: StateRows): void {
    if (this.queuesByName.size > 0) throw new Error('load() needs an empty state');
    for (const queue of rows.queues) this.insertQueue(queue);
    for (const t of [...rows.tasks].sort((a, b) => a.seq - b.seq)) {
      const entry = this.queuesByName.get(t.queueName);
      if (entry) entry.tasks.add({ ...t });
    }
    for (const [name, until] of rows.taskNameReservations) this.taskNames.restore(name, until);
    for (const [name, until] of rows.queueNameReservations) this.queueNames.restore(name, until);
    for (const [name, policy] of rows.iamPolicies) {
      const entry = this.queuesByName.get(name);
      if (entry) entry.iam = policy;
    }
    this.nextSeq = Math.max(this.nextSeq, rows.nextSeq);
  }

  // ---------------------------------------------------------------- internals

  private newTaskName(entry: QueueEntry): { name: string; taskId: string } {
    for (;;) {
      const taskId = this.generateTaskId();
      const name = `${entry.queue.name}/tasks/${taskId}`;
      if (!entry.tasks.get(name) && !this.taskNames.has(name)) return { name, taskId };
    }
  }

  private insertTask(entry: QueueEntry, name: string, taskId: string, input: TaskInput): Task {
    const now = this.clock.now();
    const { httpRequest, scheduleTimeMs, dispatchDeadlineSeconds } = resolveTaskRequest(input, name, now);
    // Dedup last, after validation: a malformed retry of a named task reports its real problem. The two refusals carry
    // no status details, as the service's plain ALREADY_EXISTS does: an idempotent re-run gets thousands of them, and
    // google-gax builds a protobuf decoder for every error that has details (about 15 ms each: a re-seed of 5,000
    // existing tasks took 70 s instead of 2.5 s; docs/BENCHMARKS.md, "Seeding").
    if (entry.tasks.get(name)) throw alreadyExists(`${SERVICE_TEXT.alreadyExists}: task ${name} is in the queue`);
    const freeAt = this.taskNames.reservedUntil(name);
    if (freeAt !== undefined)
      throw alreadyExists(
        `${SERVICE_TEXT.alreadyExists}: task name ${name} was used by a task that was deleted or ran recently; ` +
          `Cloud Tasks keeps a task name reserved for about ${LIMITS.taskNameDedupWindowSeconds / 3600} hour (free again at ${new Date(freeAt).toISOString()})`,
      );
    const task: Mutable<Task> = {
      name,
      queueName: entry.queue.name,
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
    if (!entry) throw notFound(`${SERVICE_TEXT.queueNotFound} (${field} = "${name}")`, [HELP.createQueue]);
    return entry;
  }

  private taskEntry(name: string): { entry: QueueEntry; task: Mutable<Task> } {
    // Hot path (every dispatch records three changes): a live task's name is valid, so only a miss is parsed.
    const slash = name.lastIndexOf('/tasks/');
    const live = slash > 0 ? this.queuesByName.get(name.slice(0, slash)) : undefined;
    const found = live?.tasks.get(name);
    if (live && found) return { entry: live, task: found };
    const tn = parseTaskName(name, 'name');
    const entry = this.queuesByName.get(tn.queueName);
    const task = entry?.tasks.get(tn.taskName);
    if (entry && task) return { entry, task };
    if (this.taskNames.has(tn.taskName)) throw notFound(`${SERVICE_TEXT.taskExistedRecently} (name = "${name}")`);
    if (!entry) throw notFound(`${SERVICE_TEXT.queueNotFound} (name = "${name}")`, [HELP.createQueue]);
    throw notFound(`${SERVICE_TEXT.notFound} (task ${name})`);
  }

  private removeTask(name: string, reason: TaskRemovalReason): void {
    const { entry, task } = this.taskEntry(name);
    entry.tasks.delete(task.name);
    this.taskNames.reserve(task.name);
    this.emit({ type: 'task-removed', task, reason });
  }

  private recordDispatchOf(task: Mutable<Task>): Mutable<Task> {
    const now = this.clock.now();
    const attempt: Attempt = { scheduleTimeMs: task.scheduleTimeMs, dispatchTimeMs: now };
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
    const freeAt = this.queueNames.reservedUntil(queueName);
    if (freeAt === undefined) return;
    // FAILED_PRECONDITION and this wording are what the real API returns (recorded against Cloud Tasks; see
    // docs/decisions/emulator.md).
    throw failedPrecondition(
      `${SERVICE_TEXT.queueTombstone} ${queueName} was deleted, and Cloud Tasks holds a deleted queue's name for up to ` +
        `${LIMITS.deletedQueueNameReuseSeconds / 86400} days (free again at ${new Date(freeAt).toISOString()}); choose another queue id`,
      [HELP.deleteQueue],
    );
  }

  private refuseQueueQuota(location: string): void {
    const count = this.queuesByLocation.get(location)?.size ?? 0;
    if (count >= LIMITS.queuesPerRegion)
      throw new EmulatorError(
        Code.RESOURCE_EXHAUSTED,
        `${location} already has ${count} queues; the Cloud Tasks quota is ${LIMITS.queuesPerRegion} queues per project per region`,
        { links: [HELP.quotas] },
      );
  }
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
