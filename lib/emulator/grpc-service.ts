/**
 * The gRPC face of the emulator: decodes v2 requests into the state's inputs, calls the state, and encodes the result
 * as v2 messages. Field semantics of proto3 live here: a scalar left at 0 is "unset" (so the service default
 * applies), a message field that is present is set even when it is zero.
 */
import {
  status,
  type ServerUnaryCall,
  type sendUnaryData,
  type ServiceError,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import type { HttpMethod } from '../core/rules/cloud-tasks';
import { EmulatorError } from './errors';
import type { Attempt, Queue, QueueInput, Task, TaskInput } from './model';
import type { EmulatorState } from './state';

// ------------------------------------------------------------------ wire shapes (keepCase, enums as names)

interface Duration {
  seconds?: number;
  nanos?: number;
}
type Timestamp = Duration;

interface QueueMessage {
  name?: string;
  app_engine_routing_override?: Record<string, string>;
  rate_limits?: { max_dispatches_per_second?: number; max_burst_size?: number; max_concurrent_dispatches?: number };
  retry_config?: {
    max_attempts?: number;
    max_retry_duration?: Duration;
    min_backoff?: Duration;
    max_backoff?: Duration;
    max_doublings?: number;
  };
  state?: string;
  purge_time?: Timestamp;
  stackdriver_logging_config?: { sampling_ratio?: number };
}

interface TokenMessage {
  service_account_email?: string;
  audience?: string;
  scope?: string;
}

interface TaskMessage {
  name?: string;
  app_engine_http_request?: unknown;
  http_request?: {
    url?: string;
    http_method?: string;
    headers?: Record<string, string>;
    body?: Buffer;
    oauth_token?: TokenMessage;
    oidc_token?: TokenMessage;
  };
  schedule_time?: Timestamp;
  create_time?: Timestamp;
  dispatch_deadline?: Duration;
  dispatch_count?: number;
  response_count?: number;
  first_attempt?: AttemptMessage;
  last_attempt?: AttemptMessage;
  view?: string;
}

interface AttemptMessage {
  schedule_time?: Timestamp;
  dispatch_time?: Timestamp;
  response_time?: Timestamp;
  response_status?: { code: number; message: string };
}

type View = 'BASIC' | 'FULL';

// ------------------------------------------------------------------ conversions

const seconds = (d: Duration | undefined): number | undefined =>
  d ? (d.seconds ?? 0) + (d.nanos ?? 0) / 1e9 : undefined;
const millis = (t: Timestamp | undefined): number | undefined =>
  t ? (t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6) : undefined;
/** proto3 scalars: 0 and unset are the same on the wire, and both mean "use the default". */
const nonZero = (n: number | undefined): number | undefined => (n === undefined || n === 0 ? undefined : n);

function toDuration(s: number): Duration {
  const whole = Math.floor(s);
  return { seconds: whole, nanos: Math.round((s - whole) * 1e9) };
}

function toTimestamp(ms: number): Timestamp {
  const whole = Math.floor(ms / 1000);
  return { seconds: whole, nanos: (ms - whole * 1000) * 1e6 };
}

export function queueInputFromMessage(q: QueueMessage | undefined): QueueInput {
  if (!q) return {};
  const rl = q.rate_limits;
  const rc = q.retry_config;
  return {
    name: q.name,
    rateLimits: rl && {
      maxDispatchesPerSecond: nonZero(rl.max_dispatches_per_second),
      maxConcurrentDispatches: nonZero(rl.max_concurrent_dispatches),
    },
    retryConfig: rc && {
      maxAttempts: nonZero(rc.max_attempts),
      maxRetryDurationSeconds: seconds(rc.max_retry_duration),
      minBackoffSeconds: seconds(rc.min_backoff),
      maxBackoffSeconds: seconds(rc.max_backoff),
      maxDoublings: nonZero(rc.max_doublings),
    },
    stackdriverLoggingConfig: q.stackdriver_logging_config && {
      samplingRatio: q.stackdriver_logging_config.sampling_ratio ?? 0,
    },
    appEngineRoutingOverride: q.app_engine_routing_override,
  };
}

export function queueToMessage(q: Queue): QueueMessage {
  return {
    name: q.name,
    ...(q.appEngineRoutingOverride ? { app_engine_routing_override: q.appEngineRoutingOverride } : {}),
    rate_limits: {
      max_dispatches_per_second: q.rateLimits.maxDispatchesPerSecond,
      max_burst_size: q.rateLimits.maxBurstSize,
      max_concurrent_dispatches: q.rateLimits.maxConcurrentDispatches,
    },
    retry_config: {
      max_attempts: q.retryConfig.maxAttempts,
      max_retry_duration: toDuration(q.retryConfig.maxRetryDurationSeconds),
      min_backoff: toDuration(q.retryConfig.minBackoffSeconds),
      max_backoff: toDuration(q.retryConfig.maxBackoffSeconds),
      max_doublings: q.retryConfig.maxDoublings,
    },
    state: q.state,
    ...(q.purgeTimeMs !== undefined ? { purge_time: toTimestamp(q.purgeTimeMs) } : {}),
    ...(q.stackdriverLoggingConfig
      ? { stackdriver_logging_config: { sampling_ratio: q.stackdriverLoggingConfig.samplingRatio } }
      : {}),
  };
}

export function taskInputFromMessage(t: TaskMessage | undefined): TaskInput {
  if (!t) return {};
  const req = t.http_request;
  const deadline = seconds(t.dispatch_deadline);
  return {
    name: t.name || undefined,
    appEngineHttpRequest: t.app_engine_http_request,
    httpRequest: req && {
      url: req.url,
      httpMethod:
        req.http_method === undefined || req.http_method === 'HTTP_METHOD_UNSPECIFIED'
          ? undefined
          : (req.http_method as HttpMethod),
      headers: req.headers,
      body: req.body,
      oidcToken: req.oidc_token && {
        serviceAccountEmail: req.oidc_token.service_account_email,
        audience: req.oidc_token.audience,
      },
      oauthToken: req.oauth_token && {
        serviceAccountEmail: req.oauth_token.service_account_email,
        scope: req.oauth_token.scope,
      },
    },
    scheduleTimeMs: millis(t.schedule_time),
    // A zero deadline is "unset" (task.proto: for App Engine 0 means the default); anything else is validated.
    dispatchDeadlineSeconds: deadline === 0 ? undefined : deadline,
  };
}

function attemptToMessage(a: Attempt): AttemptMessage {
  return {
    ...(a.scheduleTimeMs !== undefined ? { schedule_time: toTimestamp(a.scheduleTimeMs) } : {}),
    ...(a.dispatchTimeMs !== undefined ? { dispatch_time: toTimestamp(a.dispatchTimeMs) } : {}),
    ...(a.responseTimeMs !== undefined ? { response_time: toTimestamp(a.responseTimeMs) } : {}),
    ...(a.responseStatus ? { response_status: a.responseStatus } : {}),
  };
}

/**
 * task.proto View: BASIC "omits fields which can be large or can contain sensitive data", naming the body; the
 * service returns HTTP tasks without their body in BASIC too (googleapis/nodejs-tasks#525). Headers are kept.
 */
export function taskToMessage(t: Task, view: View): TaskMessage {
  const r = t.httpRequest;
  return {
    name: t.name,
    http_request: {
      url: r.url,
      http_method: r.httpMethod,
      headers: { ...r.headers },
      ...(view === 'FULL' && r.body.byteLength > 0 ? { body: r.body } : {}),
      ...(r.oidcToken
        ? {
            oidc_token: {
              service_account_email: r.oidcToken.serviceAccountEmail,
              ...(r.oidcToken.audience ? { audience: r.oidcToken.audience } : {}),
            },
          }
        : {}),
      ...(r.oauthToken
        ? {
            oauth_token: {
              service_account_email: r.oauthToken.serviceAccountEmail,
              ...(r.oauthToken.scope ? { scope: r.oauthToken.scope } : {}),
            },
          }
        : {}),
    },
    schedule_time: toTimestamp(t.scheduleTimeMs),
    create_time: toTimestamp(t.createTimeMs),
    dispatch_deadline: toDuration(t.dispatchDeadlineSeconds),
    dispatch_count: t.dispatchCount,
    response_count: t.responseCount,
    ...(t.firstAttempt ? { first_attempt: attemptToMessage(t.firstAttempt) } : {}),
    ...(t.lastAttempt ? { last_attempt: attemptToMessage(t.lastAttempt) } : {}),
    view,
  };
}

const viewOf = (v: string | undefined): View => (v === 'FULL' ? 'FULL' : 'BASIC');

// ------------------------------------------------------------------ handlers

export interface ServiceOptions {
  /** Fraction (0..1) of CreateTask calls refused with UNAVAILABLE before any state change. @default 0 */
  readonly failRate?: number;
  /** Source of randomness for failRate. @default Math.random */
  readonly random?: () => number;
}

type Req = Record<string, unknown>;

/** Wraps a synchronous handler: its result is the response, an EmulatorError its status. */
function unary(fn: (req: Req) => unknown) {
  return (call: ServerUnaryCall<Req, unknown>, callback: sendUnaryData<unknown>): void => {
    let result: unknown;
    try {
      result = fn(call.request);
    } catch (err) {
      callback(toServiceError(err));
      return;
    }
    callback(null, result);
  };
}

function toServiceError(err: unknown): Partial<ServiceError> {
  if (err instanceof EmulatorError) return { code: err.code, details: err.message, message: err.message };
  // A bug in the emulator, not the caller's request: say so, and keep the stack on the emulator's stderr.
  console.error('cloud-tasks emulator: internal error', err);
  const message = `internal emulator error: ${err instanceof Error ? err.message : String(err)}`;
  return { code: status.INTERNAL, details: message, message };
}

const iamUnimplemented = unary(() => {
  throw new EmulatorError(
    status.UNIMPLEMENTED,
    'IAM policies are not emulated: the emulator does not check permissions',
  );
});

export function cloudTasksHandlers(state: EmulatorState, options: ServiceOptions = {}): UntypedServiceImplementation {
  const failRate = options.failRate ?? 0;
  const random = options.random ?? Math.random;
  const str = (v: unknown): string => (typeof v === 'string' ? v : '');
  const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);

  return {
    ListQueues: unary((req) => {
      const { queues, nextPageToken } = state.listQueues(str(req.parent), {
        pageSize: num(req.page_size),
        pageToken: str(req.page_token),
        filter: str(req.filter),
      });
      return { queues: queues.map(queueToMessage), next_page_token: nextPageToken };
    }),
    GetQueue: unary((req) => queueToMessage(state.getQueue(str(req.name)))),
    CreateQueue: unary((req) =>
      queueToMessage(state.createQueue(str(req.parent), queueInputFromMessage(req.queue as QueueMessage | undefined))),
    ),
    UpdateQueue: unary((req) => {
      const mask = (req.update_mask as { paths?: string[] } | undefined)?.paths ?? [];
      return queueToMessage(state.updateQueue(queueInputFromMessage(req.queue as QueueMessage | undefined), mask));
    }),
    DeleteQueue: unary((req) => {
      state.deleteQueue(str(req.name));
      return {};
    }),
    PurgeQueue: unary((req) => queueToMessage(state.purgeQueue(str(req.name)))),
    PauseQueue: unary((req) => queueToMessage(state.pauseQueue(str(req.name)))),
    ResumeQueue: unary((req) => queueToMessage(state.resumeQueue(str(req.name)))),
    GetIamPolicy: iamUnimplemented,
    SetIamPolicy: iamUnimplemented,
    TestIamPermissions: iamUnimplemented,
    ListTasks: unary((req) => {
      const view = viewOf(str(req.response_view));
      const { tasks, nextPageToken } = state.listTasks(str(req.parent), {
        pageSize: num(req.page_size),
        pageToken: str(req.page_token),
      });
      return { tasks: tasks.map((t) => taskToMessage(t, view)), next_page_token: nextPageToken };
    }),
    GetTask: unary((req) => taskToMessage(state.getTask(str(req.name)), viewOf(str(req.response_view)))),
    CreateTask: unary((req) => {
      // Injected failures come before any state change, so the caller's retry is always safe.
      if (failRate > 0 && random() < failRate)
        throw new EmulatorError(
          status.UNAVAILABLE,
          `injected failure (fail rate ${failRate}): nothing was stored, retry the call`,
        );
      const task = state.createTask(str(req.parent), taskInputFromMessage(req.task as TaskMessage | undefined));
      return taskToMessage(task, viewOf(str(req.response_view)));
    }),
    DeleteTask: unary((req) => {
      state.deleteTask(str(req.name));
      return {};
    }),
    RunTask: unary((req) => taskToMessage(state.runTask(str(req.name)), viewOf(str(req.response_view)))),
  };
}
