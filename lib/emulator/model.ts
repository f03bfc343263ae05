/**
 * The emulator's data model: what a queue and a task are once they are in the emulator, independent of gRPC.
 * Times are milliseconds since the epoch (from the emulator's Clock; a schedule time a client gives keeps its
 * microseconds as a fraction), durations are seconds. Field names follow the
 * Cloud Tasks v2 API (camelCase, as the Node client writes them).
 */
import type { HttpMethod, RetryConfig } from '../core/rules/cloud-tasks';

export type QueueState = 'RUNNING' | 'PAUSED';

/** queue.proto RateLimits, with every field resolved (service defaults applied). */
export interface QueueRateLimits {
  /** > 0, at most 500. @default 500 (SERVICE_DEFAULTS) */
  readonly maxDispatchesPerSecond: number;
  /** Output only: token-bucket size, derived from maxDispatchesPerSecond (see maxBurstSizeFor). */
  readonly maxBurstSize: number;
  /** 1 .. 5,000. @default 1000 (SERVICE_DEFAULTS) */
  readonly maxConcurrentDispatches: number;
}

/** queue.proto RetryConfig, with every field resolved (service defaults applied). */
export interface QueueRetryConfig {
  /** -1 = unlimited. @default 100 */
  readonly maxAttempts: number;
  /** @default 0.1 */
  readonly minBackoffSeconds: number;
  /** @default 3600 */
  readonly maxBackoffSeconds: number;
  /** @default 16 */
  readonly maxDoublings: number;
  /** 0 = no limit. @default 0 */
  readonly maxRetryDurationSeconds: number;
}

/**
 * A queue-level HTTP target, the REST v2 `Queue.httpTarget` (and Terraform's `http_target` block). It arrives over
 * REST (gcloud's `--http-uri-override` family), over gRPC as field 13 of Queue (the v2beta3 number: the v2 protos
 * that @google-cloud/tasks 6.3.0 ships lack the field, lib/emulator/protos.ts adds it), or in process with
 * `state.setQueueHttpTarget`. The dispatcher applies it to every HTTP task of the queue.
 */
export interface QueueHttpTarget {
  /** Overrides the task's method. */
  readonly httpMethod?: HttpMethod;
  readonly uriOverride?: {
    readonly scheme?: 'HTTP' | 'HTTPS';
    readonly host?: string;
    readonly port?: number;
    readonly pathOverride?: { readonly path?: string };
    readonly queryOverride?: { readonly queryParams?: string };
    /** ALWAYS (default) or IF_NOT_EXISTS. */
    readonly uriOverrideEnforceMode?: 'ALWAYS' | 'IF_NOT_EXISTS';
  };
  readonly headerOverrides?: ReadonlyArray<{ readonly header: { readonly key: string; readonly value: string } }>;
  readonly oauthToken?: { readonly serviceAccountEmail: string; readonly scope?: string };
  readonly oidcToken?: { readonly serviceAccountEmail: string; readonly audience?: string };
}

export interface Queue {
  /** `projects/P/locations/L/queues/Q` */
  readonly name: string;
  /** `projects/P/locations/L` */
  readonly location: string;
  readonly queueId: string;
  readonly rateLimits: QueueRateLimits;
  readonly retryConfig: QueueRetryConfig;
  readonly state: QueueState;
  /** Set by PurgeQueue; tasks created before it were deleted. */
  readonly purgeTimeMs?: number;
  /** Unset = no logs (queue.proto). */
  readonly stackdriverLoggingConfig?: { readonly samplingRatio: number };
  /** Stored and returned as given; App Engine tasks are not emulated. */
  readonly appEngineRoutingOverride?: Readonly<Record<string, string>>;
  /** See QueueHttpTarget. */
  readonly httpTarget?: QueueHttpTarget;
  readonly createTimeMs: number;
}

export interface TaskHttpRequest {
  readonly url: string;
  /** @default 'POST' */
  readonly httpMethod: HttpMethod;
  readonly headers: Readonly<Record<string, string>>;
  /** Empty when the task has no body. */
  readonly body: Buffer;
  readonly oidcToken?: { readonly serviceAccountEmail: string; readonly audience?: string };
  readonly oauthToken?: { readonly serviceAccountEmail: string; readonly scope?: string };
}

/** task.proto Attempt. first_attempt keeps only dispatchTimeMs (task.proto). */
export interface Attempt {
  readonly scheduleTimeMs?: number;
  readonly dispatchTimeMs?: number;
  readonly responseTimeMs?: number;
  /** google.rpc.Status of the response: code 0 for a 2xx, otherwise the gRPC code an HTTP status maps to. */
  readonly responseStatus?: { readonly code: number; readonly message: string };
}

export interface Task {
  /** `projects/P/locations/L/queues/Q/tasks/T` */
  readonly name: string;
  readonly queueName: string;
  readonly taskId: string;
  /** Creation order within the emulator; ListTasks pages by it, so paging is stable while tasks are added. */
  readonly seq: number;
  readonly httpRequest: TaskHttpRequest;
  /** When the task is due (first attempt) or next retried. */
  readonly scheduleTimeMs: number;
  /** Truncated to the second (task.proto). */
  readonly createTimeMs: number;
  readonly dispatchDeadlineSeconds: number;
  /** Attempts dispatched, including ones still waiting for a response. */
  readonly dispatchCount: number;
  /** Attempts that received a response. */
  readonly responseCount: number;
  readonly firstAttempt?: Attempt;
  readonly lastAttempt?: Attempt;
}

/** What CreateQueue / UpdateQueue take. Unset fields get the service defaults. */
export interface QueueInput {
  readonly name?: string;
  readonly rateLimits?: { readonly maxDispatchesPerSecond?: number; readonly maxConcurrentDispatches?: number };
  readonly retryConfig?: RetryConfig;
  readonly stackdriverLoggingConfig?: { readonly samplingRatio?: number };
  readonly appEngineRoutingOverride?: Readonly<Record<string, string>>;
  readonly httpTarget?: QueueHttpTarget;
}

/** What CreateTask takes. */
export interface TaskInput {
  /** Full task name; unset = the emulator picks a numeric id, as the service does. */
  readonly name?: string;
  readonly httpRequest?: {
    readonly url?: string;
    /** @default 'POST' */
    readonly httpMethod?: HttpMethod;
    readonly headers?: Readonly<Record<string, string>>;
    readonly body?: Uint8Array;
    readonly oidcToken?: { readonly serviceAccountEmail?: string; readonly audience?: string };
    readonly oauthToken?: { readonly serviceAccountEmail?: string; readonly scope?: string };
  };
  /** Set when the request carries an App Engine task, which the emulator refuses (UNIMPLEMENTED). */
  readonly appEngineHttpRequest?: unknown;
  /** Unset or in the past = now. May carry microseconds as a fraction. */
  readonly scheduleTimeMs?: number;
  /** @default 600 */
  readonly dispatchDeadlineSeconds?: number;
}

/** Why a task left its queue. */
export type TaskRemovalReason = 'deleted' | 'purged' | 'succeeded' | 'failed-permanently';

/**
 * Everything that changes the state emits one event, after the change. The dispatcher listens for `task-created`,
 * `task-rescheduled` and `queue-resumed` (to schedule attempts) and for `task-run` (RunTask: the attempt is already
 * recorded, send it now, ignoring pause and rate limits); persistence listens to all of them. DeleteQueue emits only
 * `queue-deleted`: the queue's tasks and its IAM policy go with it. SetIamPolicy emits `queue-iam-set`.
 */
export type EmulatorEvent =
  | {
      readonly type:
        | 'queue-created'
        | 'queue-updated'
        | 'queue-paused'
        | 'queue-resumed'
        | 'queue-purged'
        | 'queue-deleted'
        | 'queue-iam-set';
      readonly queue: Queue;
    }
  | {
      readonly type: 'task-created' | 'task-run' | 'task-dispatched' | 'task-response' | 'task-rescheduled';
      readonly task: Task;
    }
  | { readonly type: 'task-removed'; readonly task: Task; readonly reason: TaskRemovalReason };

export type EmulatorEventListener = (event: EmulatorEvent) => void;
