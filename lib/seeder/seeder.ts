/**
 * Creates a validated manifest's tasks: bounded concurrency, our own retries with jittered exponential backoff until
 * the run's deadline, and ALREADY_EXISTS counted as done. Task names are deterministic, so every call is idempotent:
 * retrying patiently converges on a flaky service, and a re-run after a partial failure creates only what is missing.
 */
import { status } from '@grpc/grpc-js';
import type { ManifestTask } from '../core/manifest';
import { createTaskRequest, type CreateTaskRequest } from './requests';

/** What the seeder needs from a Cloud Tasks client (CloudTasksClient satisfies it). */
export interface TaskCreator {
  createTask(request: CreateTaskRequest, options: { retry: null; timeout: number }): Promise<unknown>;
}

export interface SeedOptions {
  /**
   * Calls in flight at once, over all clients.
   * @default 64
   */
  readonly concurrency?: number;
  /**
   * Attempts per task, the first included. Each failure with a retryable status waits and tries again.
   * @default Infinity - retried until the deadline: a named CreateTask is idempotent, so patience is safe
   */
  readonly maxAttempts?: number;
  /**
   * Time budget for the whole run: no retry and no new task starts after it (calls in flight finish); tasks not
   * started by then are reported as not attempted.
   * @default 600_000 (10 minutes)
   */
  readonly deadlineMs?: number;
  /**
   * Client-side timeout of one CreateTask call; expiry is DEADLINE_EXCEEDED, which is retried.
   * @default 30_000
   */
  readonly callTimeoutMs?: number;
  /**
   * First backoff; attempt n waits a random time in [0, min(maxBackoffMs, initialBackoffMs * 2^(n-1))] ("full jitter").
   * @default 100
   */
  readonly initialBackoffMs?: number;
  /** @default 5_000 */
  readonly maxBackoffMs?: number;
  /**
   * PERMISSION_DENIED and NOT_FOUND are retried (every maxBackoffMs or so, not counted in maxAttempts) until this
   * long after the start of the run: see PROPAGATION_CODES. 0 makes them fail at once.
   * @default 120_000 (2 minutes)
   */
  readonly propagationWaitMs?: number;
  /** Called once, the first time a call is retried while waiting for propagation (to tell the user why it waits). */
  readonly onPropagationWait?: (status: string, message: string) => void;
  /** Called after each task settles (progress reporting). */
  readonly onSettled?: (counts: SeedCounts) => void;
  /**
   * Called before each task's CreateTask, inside its retries (a thrown error is classified like CreateTask's):
   * `run-exists` leaves the task out (counted in `runsExisting`). The run ledger's writer (run-ledger.ts).
   * @default - every task is created
   */
  readonly beforeCreate?: (task: ManifestTask) => Promise<'create-task' | 'run-exists'>;
  /** @default Math.random */
  readonly random?: () => number;
  /** The clock, in milliseconds (tests inject a virtual one). @default Date.now */
  readonly now?: () => number;
  /** Waits `ms` between attempts (tests advance a virtual clock). @default a setTimeout promise */
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface SeedCounts {
  readonly total: number;
  readonly created: number;
  readonly alreadyPresent: number;
  readonly failed: number;
  /** Seeds whose run was already in the run ledger: not started again, no task created. */
  readonly runsExisting: number;
  /** Attempts beyond the first, over all tasks. */
  readonly retries: number;
}

export interface FailedTask {
  readonly task: ManifestTask;
  /** gRPC status code (google.rpc.Code), or undefined for an error that carried none. */
  readonly code: number | undefined;
  readonly message: string;
  readonly attempts: number;
}

export interface SeedResult extends SeedCounts {
  readonly failures: readonly FailedTask[];
  readonly elapsedMs: number;
}

/**
 * Statuses worth another attempt. UNAVAILABLE, DEADLINE_EXCEEDED and RESOURCE_EXHAUSTED are the transient ones in
 * Google's retry guidance (AIP-194); ABORTED and INTERNAL are added because a named CreateTask is idempotent: if an
 * earlier attempt did create the task, the retry answers ALREADY_EXISTS, which counts as done.
 */
export const RETRYABLE_CODES: ReadonlySet<number> = new Set([
  status.UNAVAILABLE,
  status.DEADLINE_EXCEEDED,
  status.RESOURCE_EXHAUSTED,
  status.ABORTED,
  status.INTERNAL,
]);

/**
 * Statuses that can be a deploy-time race rather than a mistake: IAM bindings made in the same `terraform apply`
 * (enqueuer, actAs on the invoker) "typically take effect within 2 minutes, in some cases 7 minutes or more" (IAM
 * docs, access change propagation), and a queue created moments earlier may not be visible to every frontend yet.
 * They are retried only within `propagationWaitMs` of the start of the run.
 */
export const PROPAGATION_CODES: ReadonlySet<number> = new Set([status.PERMISSION_DENIED, status.NOT_FOUND]);

export const SEED_DEFAULTS = {
  concurrency: 64,
  maxAttempts: Number.POSITIVE_INFINITY,
  propagationWaitMs: 120_000,
  deadlineMs: 600_000,
  callTimeoutMs: 30_000,
  initialBackoffMs: 100,
  maxBackoffMs: 5_000,
} as const;

/** Full-jitter exponential backoff before attempt `attempt + 1` (attempt counts from 1). */
export function backoffMs(attempt: number, initialMs: number, maxMs: number, random: () => number): number {
  return Math.floor(random() * Math.min(maxMs, initialMs * 2 ** (attempt - 1)));
}

/**
 * Creates every task, spreading calls round-robin over `clients` (several gRPC channels beat one on a busy
 * connection). Never throws for a task's failure: failures are in the result.
 */
export async function seedTasks(
  tasks: readonly ManifestTask[],
  clients: readonly TaskCreator[],
  options: SeedOptions = {},
): Promise<SeedResult> {
  if (clients.length === 0) throw new Error('seedTasks needs at least one client');
  // `??` per field, not a spread: an option passed as undefined (an unset CLI flag) keeps its default.
  const o = Object.fromEntries(
    Object.entries(SEED_DEFAULTS).map(([k, v]) => [k, (options as Record<string, unknown>)[k] ?? v]),
  ) as { -readonly [K in keyof typeof SEED_DEFAULTS]: number };
  const random = options.random ?? Math.random;
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const started = now();
  const deadline = started + o.deadlineMs;
  const callOptions = { retry: null, timeout: o.callTimeoutMs } as const;
  const counts = { total: tasks.length, created: 0, alreadyPresent: 0, failed: 0, runsExisting: 0, retries: 0 };
  const failures: FailedTask[] = [];

  // `concurrency` bounds the CALLS in flight; a task waiting out its backoff gives its slot to another task, so a
  // flaky service (60% failures) still sees `concurrency` calls at once instead of `concurrency` sleeping tasks.
  const slots = semaphore(o.concurrency);
  let nextClient = 0;
  let announcedPropagation = false;
  const createOne = async (task: ManifestTask): Promise<void> => {
    const request = createTaskRequest(task);
    // `transient` counts failures with a retryable status (capped by maxAttempts); propagation waits do not count.
    let transient = 0;
    for (let attempt = 1; ; attempt++) {
      await slots.acquire();
      if (attempt === 1 && now() >= deadline) {
        slots.release();
        counts.failed++;
        failures.push({ task, code: undefined, message: NOT_ATTEMPTED, attempts: 0 });
        return;
      }
      const client = clients[nextClient++ % clients.length];
      let err: unknown;
      try {
        if (options.beforeCreate && (await options.beforeCreate(task)) === 'run-exists') {
          counts.runsExisting++;
          return;
        }
        await client.createTask(request, callOptions);
        counts.created++;
        return;
      } catch (e) {
        err = e;
      } finally {
        slots.release();
      }
      const code = grpcCode(err);
      if (code === status.ALREADY_EXISTS) {
        counts.alreadyPresent++;
        return;
      }
      const propagating = code !== undefined && PROPAGATION_CODES.has(code) && now() - started < o.propagationWaitMs;
      const retryable = code !== undefined && RETRYABLE_CODES.has(code);
      if (retryable) transient++;
      const wait = propagating
        ? Math.floor(random() * o.maxBackoffMs)
        : backoffMs(transient, o.initialBackoffMs, o.maxBackoffMs, random);
      if (!(propagating || (retryable && transient < o.maxAttempts)) || now() + wait >= deadline) {
        counts.failed++;
        failures.push({ task, code, message: errorMessage(err), attempts: attempt });
        return;
      }
      if (propagating && !announcedPropagation) {
        announcedPropagation = true;
        options.onPropagationWait?.(statusName(code), errorMessage(err));
      }
      counts.retries++;
      await sleep(wait);
    }
  };

  // Tasks are taken in manifest order by a pool of TASK_WINDOW_PER_SLOT tasks per call slot: enough for the slots to
  // stay busy while most tasks back off, without holding a promise for every task of a large manifest.
  let next = 0;
  const runner = async (): Promise<void> => {
    while (next < tasks.length) {
      await createOne(tasks[next++]);
      options.onSettled?.({ ...counts });
    }
  };
  const runners = Math.max(1, Math.min(o.concurrency * TASK_WINDOW_PER_SLOT, tasks.length));
  await Promise.all(Array.from({ length: runners }, runner));
  return { ...counts, failures, elapsedMs: now() - started };
}

/** The failure message of a task that the run's deadline left unstarted. */
export const NOT_ATTEMPTED = 'not attempted: the run reached its deadline before this task was started';

/** Tasks in progress per call slot (`concurrency`): a task backs off about 15 times as long as a call takes. */
const TASK_WINDOW_PER_SLOT = 16;

/** A counting semaphore; waiters are served in arrival order. */
function semaphore(size: number): { acquire(): Promise<void>; release(): void } {
  let free = size;
  const waiting: Array<() => void> = [];
  return {
    acquire: () => {
      if (free > 0) {
        free--;
        return Promise.resolve();
      }
      return new Promise<void>((resolve) => waiting.push(resolve));
    },
    release: () => {
      const wake = waiting.shift();
      if (wake) wake();
      else free++;
    },
  };
}

function grpcCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** gax prefixes messages with `<code> <NAME>: `; keep the server's text only, the code is reported separately. */
function errorMessage(err: unknown): string {
  const details = (err as { details?: unknown } | null)?.details;
  const text =
    typeof details === 'string' && details.trim() !== '' ? details : err instanceof Error ? err.message : String(err);
  // grpc-js ends connection errors with an empty "Resolution note:"; drop it.
  return text.replace(/\s*Resolution note:\s*$/, '').trim();
}

/** `UNAVAILABLE (14)` for a gRPC status code. */
export function statusName(code: number | undefined): string {
  if (code === undefined) return 'no gRPC status';
  const name = (status as unknown as Record<number, string>)[code];
  return name ? `${name} (${code})` : `status ${code}`;
}
