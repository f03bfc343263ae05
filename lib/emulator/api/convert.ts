/**
 * The API's messages (plain objects of the v2 types, camelCase, as both transports decode them: lib/emulator/protos.ts
 * OBJECT_OPTIONS) to and from the emulator's model. proto3 semantics live here: a scalar left at 0 is "unset" (the
 * service default applies), a message field that is present is set even when it is zero. Durations and Timestamps
 * are checked against their proto ranges (rules.ts) before they become numbers; schedule times keep microseconds.
 */
import { durationProblems, timestampProblems, type HttpMethod } from '../../core/rules/cloud-tasks';
import { throwProblems } from '../errors';
import type { Attempt, Queue, QueueHttpTarget, QueueInput, Task, TaskInput } from '../model';

export interface Duration {
  seconds?: number;
  nanos?: number;
}
export type Timestamp = Duration;

export interface QueueMessage {
  name?: string;
  appEngineRoutingOverride?: Record<string, string>;
  rateLimits?: { maxDispatchesPerSecond?: number; maxBurstSize?: number; maxConcurrentDispatches?: number };
  retryConfig?: {
    maxAttempts?: number;
    maxRetryDuration?: Duration;
    minBackoff?: Duration;
    maxBackoff?: Duration;
    maxDoublings?: number;
  };
  state?: string;
  purgeTime?: Timestamp;
  stackdriverLoggingConfig?: { samplingRatio?: number };
  httpTarget?: HttpTargetMessage;
}

interface TokenMessage {
  serviceAccountEmail?: string;
  audience?: string;
  scope?: string;
}

export interface HttpTargetMessage {
  uriOverride?: {
    scheme?: string;
    host?: string;
    port?: number;
    pathOverride?: { path?: string };
    queryOverride?: { queryParams?: string };
    uriOverrideEnforceMode?: string;
  };
  httpMethod?: string;
  headerOverrides?: Array<{ header?: { key?: string; value?: string } }>;
  oauthToken?: TokenMessage;
  oidcToken?: TokenMessage;
}

export interface TaskMessage {
  name?: string;
  appEngineHttpRequest?: unknown;
  httpRequest?: {
    url?: string;
    httpMethod?: string;
    headers?: Record<string, string>;
    body?: Uint8Array;
    oauthToken?: TokenMessage;
    oidcToken?: TokenMessage;
  };
  scheduleTime?: Timestamp;
  createTime?: Timestamp;
  dispatchDeadline?: Duration;
  dispatchCount?: number;
  responseCount?: number;
  firstAttempt?: AttemptMessage;
  lastAttempt?: AttemptMessage;
  view?: string;
}

interface AttemptMessage {
  scheduleTime?: Timestamp;
  dispatchTime?: Timestamp;
  responseTime?: Timestamp;
  responseStatus?: { code: number; message: string };
}

export type View = 'BASIC' | 'FULL';
export const viewOf = (v: unknown): View => (v === 'FULL' || v === 2 ? 'FULL' : 'BASIC');

/** A Duration in seconds, or undefined when absent; INVALID_ARGUMENT naming `field` when out of range. */
export function durationSeconds(d: Duration | undefined, field: string): number | undefined {
  if (!d) return undefined;
  const seconds = d.seconds ?? 0;
  const nanos = d.nanos ?? 0;
  throwProblems([], durationProblems(seconds, nanos, field.split('.')));
  return seconds + nanos / 1e9;
}

/** A Timestamp in ms since the epoch with microsecond precision (a fraction), or undefined when absent. */
export function timestampMs(t: Timestamp | undefined, field: string): number | undefined {
  if (!t) return undefined;
  const seconds = t.seconds ?? 0;
  const nanos = t.nanos ?? 0;
  throwProblems([], timestampProblems(seconds, nanos, field.split('.')));
  return seconds * 1000 + Math.floor(nanos / 1000) / 1000;
}

/** Whole microseconds of a model time (ms with a fraction). */
export const micros = (ms: number): number => Math.round(ms * 1000);

export function toTimestamp(ms: number): Timestamp {
  const us = micros(ms);
  const seconds = Math.floor(us / 1e6);
  return { seconds, nanos: (us - seconds * 1e6) * 1000 };
}

function toDuration(s: number): Duration {
  const whole = Math.floor(s);
  return { seconds: whole, nanos: Math.round((s - whole) * 1e9) };
}

/** proto3 scalars: 0 and unset are the same on the wire, and both mean "use the default". */
const nonZero = (n: number | undefined): number | undefined => (n === undefined || n === 0 ? undefined : n);
const unspecified = (v: string | undefined): boolean => v === undefined || v.endsWith('_UNSPECIFIED');

export function queueInputFromMessage(q: QueueMessage | undefined): QueueInput {
  if (!q) return {};
  const rl = q.rateLimits;
  const rc = q.retryConfig;
  return {
    name: q.name,
    rateLimits: rl && {
      maxDispatchesPerSecond: nonZero(rl.maxDispatchesPerSecond),
      maxConcurrentDispatches: nonZero(rl.maxConcurrentDispatches),
    },
    retryConfig: rc && {
      maxAttempts: nonZero(rc.maxAttempts),
      maxRetryDurationSeconds: durationSeconds(rc.maxRetryDuration, 'queue.retryConfig.maxRetryDuration'),
      minBackoffSeconds: durationSeconds(rc.minBackoff, 'queue.retryConfig.minBackoff'),
      maxBackoffSeconds: durationSeconds(rc.maxBackoff, 'queue.retryConfig.maxBackoff'),
      maxDoublings: nonZero(rc.maxDoublings),
    },
    stackdriverLoggingConfig: q.stackdriverLoggingConfig && {
      samplingRatio: q.stackdriverLoggingConfig.samplingRatio ?? 0,
    },
    appEngineRoutingOverride: q.appEngineRoutingOverride,
    httpTarget: q.httpTarget && httpTargetFromMessage(q.httpTarget),
  };
}

function httpTargetFromMessage(t: HttpTargetMessage): QueueHttpTarget {
  const o = t.uriOverride;
  const token = (m: TokenMessage | undefined, extra: 'audience' | 'scope') =>
    m && { serviceAccountEmail: m.serviceAccountEmail ?? '', ...(m[extra] ? { [extra]: m[extra] } : {}) };
  return {
    ...(o
      ? {
          uriOverride: {
            ...(!unspecified(o.scheme) ? { scheme: o.scheme as 'HTTP' | 'HTTPS' } : {}),
            ...(o.host !== undefined ? { host: o.host } : {}),
            ...(o.port !== undefined ? { port: Number(o.port) } : {}),
            ...(o.pathOverride
              ? { pathOverride: { ...(o.pathOverride.path !== undefined ? { path: o.pathOverride.path } : {}) } }
              : {}),
            ...(o.queryOverride
              ? {
                  queryOverride: {
                    ...(o.queryOverride.queryParams !== undefined ? { queryParams: o.queryOverride.queryParams } : {}),
                  },
                }
              : {}),
            ...(!unspecified(o.uriOverrideEnforceMode)
              ? { uriOverrideEnforceMode: o.uriOverrideEnforceMode as 'ALWAYS' | 'IF_NOT_EXISTS' }
              : {}),
          },
        }
      : {}),
    ...(!unspecified(t.httpMethod) ? { httpMethod: t.httpMethod as HttpMethod } : {}),
    ...(t.headerOverrides?.length
      ? {
          headerOverrides: t.headerOverrides.map((h) => ({
            header: { key: h.header?.key ?? '', value: h.header?.value ?? '' },
          })),
        }
      : {}),
    ...(t.oauthToken ? { oauthToken: token(t.oauthToken, 'scope') as QueueHttpTarget['oauthToken'] } : {}),
    ...(t.oidcToken ? { oidcToken: token(t.oidcToken, 'audience') as QueueHttpTarget['oidcToken'] } : {}),
  };
}

export function queueToMessage(q: Queue): QueueMessage {
  return {
    name: q.name,
    ...(q.appEngineRoutingOverride ? { appEngineRoutingOverride: q.appEngineRoutingOverride } : {}),
    rateLimits: {
      maxDispatchesPerSecond: q.rateLimits.maxDispatchesPerSecond,
      maxBurstSize: q.rateLimits.maxBurstSize,
      maxConcurrentDispatches: q.rateLimits.maxConcurrentDispatches,
    },
    retryConfig: {
      maxAttempts: q.retryConfig.maxAttempts,
      maxRetryDuration: toDuration(q.retryConfig.maxRetryDurationSeconds),
      minBackoff: toDuration(q.retryConfig.minBackoffSeconds),
      maxBackoff: toDuration(q.retryConfig.maxBackoffSeconds),
      maxDoublings: q.retryConfig.maxDoublings,
    },
    state: q.state,
    ...(q.purgeTimeMs !== undefined ? { purgeTime: toTimestamp(q.purgeTimeMs) } : {}),
    ...(q.stackdriverLoggingConfig
      ? { stackdriverLoggingConfig: { samplingRatio: q.stackdriverLoggingConfig.samplingRatio } }
      : {}),
    ...(q.httpTarget ? { httpTarget: q.httpTarget as HttpTargetMessage } : {}),
  };
}

export function taskInputFromMessage(t: TaskMessage | undefined): TaskInput {
  if (!t) return {};
  const req = t.httpRequest;
  const deadline = durationSeconds(t.dispatchDeadline, 'task.dispatchDeadline');
  return {
    name: t.name || undefined,
    appEngineHttpRequest: t.appEngineHttpRequest,
    httpRequest: req && {
      url: req.url,
      httpMethod: unspecified(req.httpMethod) ? undefined : (req.httpMethod as HttpMethod),
      headers: req.headers,
      body: req.body,
      oidcToken: req.oidcToken && {
        serviceAccountEmail: req.oidcToken.serviceAccountEmail,
        audience: req.oidcToken.audience,
      },
      oauthToken: req.oauthToken && {
        serviceAccountEmail: req.oauthToken.serviceAccountEmail,
        scope: req.oauthToken.scope,
      },
    },
    scheduleTimeMs: timestampMs(t.scheduleTime, 'task.scheduleTime'),
    // A zero deadline is "unset" (task.proto: for App Engine 0 means the default); anything else is validated.
    dispatchDeadlineSeconds: deadline === 0 ? undefined : deadline,
  };
}

function attemptToMessage(a: Attempt): AttemptMessage {
  return {
    ...(a.scheduleTimeMs !== undefined ? { scheduleTime: toTimestamp(a.scheduleTimeMs) } : {}),
    ...(a.dispatchTimeMs !== undefined ? { dispatchTime: toTimestamp(a.dispatchTimeMs) } : {}),
    ...(a.responseTimeMs !== undefined ? { responseTime: toTimestamp(a.responseTimeMs) } : {}),
    ...(a.responseStatus ? { responseStatus: a.responseStatus } : {}),
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
    httpRequest: {
      url: r.url,
      httpMethod: r.httpMethod,
      headers: { ...r.headers },
      ...(view === 'FULL' && r.body.byteLength > 0 ? { body: r.body } : {}),
      ...(r.oidcToken
        ? {
            oidcToken: {
              serviceAccountEmail: r.oidcToken.serviceAccountEmail,
              ...(r.oidcToken.audience ? { audience: r.oidcToken.audience } : {}),
            },
          }
        : {}),
      ...(r.oauthToken
        ? {
            oauthToken: {
              serviceAccountEmail: r.oauthToken.serviceAccountEmail,
              ...(r.oauthToken.scope ? { scope: r.oauthToken.scope } : {}),
            },
          }
        : {}),
    },
    scheduleTime: toTimestamp(t.scheduleTimeMs),
    createTime: toTimestamp(t.createTimeMs),
    dispatchDeadline: toDuration(t.dispatchDeadlineSeconds),
    dispatchCount: t.dispatchCount,
    responseCount: t.responseCount,
    ...(t.firstAttempt ? { firstAttempt: attemptToMessage(t.firstAttempt) } : {}),
    ...(t.lastAttempt ? { lastAttempt: attemptToMessage(t.lastAttempt) } : {}),
    view,
  };
}

/**
 * A read mask (v2beta3 GetQueueRequest.read_mask) applied to a message: only the named fields (snake_case or
 * camelCase, dotted for nested ones) are kept; an empty mask keeps everything.
 */
export function applyReadMask<T extends object>(message: T, paths: readonly string[] | undefined): T {
  if (!paths || paths.length === 0) return message;
  const camel = (s: string) => s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
  const out: Record<string, unknown> = {};
  for (const path of paths) {
    const parts = path.split('.').map(camel);
    let from: unknown = message;
    let to = out;
    for (const [i, part] of parts.entries()) {
      if (from === null || typeof from !== 'object' || !(part in from)) break;
      const value = (from as Record<string, unknown>)[part];
      if (i === parts.length - 1) to[part] = value;
      else {
        to[part] = (to[part] as Record<string, unknown> | undefined) ?? {};
        to = to[part] as Record<string, unknown>;
        from = value;
      }
    }
  }
  return out as T;
}
