/**
 * The single source of truth for every Cloud Tasks rule this project enforces or emulates.
 *
 * Synth-time validation (lib/spec, lib/constructs), the seeder (lib/seeder) and the local emulator (lib/emulator)
 * all call these functions, so a limit is changed in exactly one place. Each rule cites its source; the collected
 * facts are in ../shared/docs/cloud-tasks-facts.md (mirrored in docs/cloud-tasks-rules.md).
 *
 * A check returns `Problem`s (lib/core/problem.ts) instead of throwing, with paths relative to what it checked (`at`
 * names the checked field where a caller's name differs): the caller knows the context (a spec file and field path, a
 * construct id, a gRPC request), places the problems `under` it and prints them with the one formatter.
 */
import { formatValue, type FieldPath, type Problem } from '../problem';
import { parseRfc3339, RFC3339_HINT } from './timestamp';
import { escapeCharacter } from '../text';
import { redactUrl, secretSafeKey } from '../secrets';

export const LIMITS = {
  /** queue.proto `Queue.name`: letters, digits, hyphens; 1-100 characters. */
  queueIdPattern: /^[A-Za-z0-9-]{1,100}$/,
  queueIdMaxLength: 100,
  /** task.proto `Task.name`: letters, digits, hyphens, underscores; 1-500 characters. */
  taskIdPattern: /^[A-Za-z0-9_-]{1,500}$/,
  taskIdMaxLength: 500,
  /**
   * IAM service account ids (the part before `@`): 6-30 characters, lower-case letters, digits, hyphens, starting
   * with a letter and not ending with a hyphen (iam.projects.serviceAccounts.create `accountId`). The token's account
   * on a task (oidc_token / oauth_token) is such an account.
   */
  serviceAccountIdPattern: /^[a-z](?:[-a-z0-9]{4,28}[a-z0-9])$/,
  serviceAccountIdMaxLength: 30,
  /** Cloud Tasks locations are region names such as us-central1. */
  locationPattern: /^[a-z]+(-[a-z]+)*[0-9]+$/,
  /** Quotas page: queues per project per region. */
  queuesPerRegion: 1000,
  /** queue.proto RateLimits.max_dispatches_per_second: > 0 and at most 500. */
  maxDispatchesPerSecond: 500,
  /** queue.proto RateLimits.max_concurrent_dispatches: at most 5,000. */
  maxConcurrentDispatches: 5000,
  /** queue.proto RetryConfig.max_attempts: -1 means unlimited; otherwise >= 1 ... 0 is "use the default". */
  minMaxAttempts: -1,
  /**
   * Quotas page: 1 MB per task (the CreateTask comment still says 100 KB; the quotas page is newer). The service counts
   * the whole stored task (its name, times, dispatch deadline and HTTP request, see storedTaskSizeBytes) and refuses
   * one above 1,048,569 bytes: 1 MiB less 7, found by recordings against the real API (issue 13).
   */
  maxTaskSizeBytes: 1_048_569,
  /** Quotas page / task.proto: schedule_time at most 30 days in the future. */
  maxScheduleAheadSeconds: 30 * 24 * 3600,
  /** Quotas page: a task is kept at most 31 days. */
  maxTaskRetentionSeconds: 31 * 24 * 3600,
  /** task.proto Task.dispatch_deadline for HTTP targets: 15 s .. 30 min, default 10 min. */
  minDispatchDeadlineSeconds: 15,
  maxDispatchDeadlineSeconds: 30 * 60,
  defaultDispatchDeadlineSeconds: 10 * 60,
  /** target.proto HttpRequest.url: at most 2,083 characters. */
  maxUrlLength: 2083,
  /** target.proto HttpRequest.headers: total size under 80 KB. */
  maxHeadersBytes: 80 * 1024,
  /** cloudtasks.proto CreateTaskRequest: a task name stays reserved about 1 hour after the task is gone. */
  taskNameDedupWindowSeconds: 3600,
  /**
   * A deleted queue's name is held in a "tombstone window of up to 3 days" (REST v2 reference, projects.locations.queues
   * delete, https://cloud.google.com/tasks/docs/reference/rest/v2/projects.locations.queues/delete; the older
   * cloudtasks.proto comment said 7 days). The emulator holds it for the whole 3 days.
   */
  deletedQueueNameReuseSeconds: 3 * 24 * 3600,
  /** queue.proto StackdriverLoggingConfig.sampling_ratio: 0.0 .. 1.0. */
  minSamplingRatio: 0,
  maxSamplingRatio: 1,
  /**
   * queue.proto / task.proto `name`: PROJECT_ID "can contain letters, numbers, hyphens, colons, or periods" (the API's
   * resource-name rule; looser than projectIdPattern, which is what resourcemanager lets you create). `..` is refused:
   * the service refuses it, and a path segment of dots must never reach a file name or URL path.
   */
  resourceProjectIdPattern: /^(?!.*\.\.)[A-Za-z0-9:.-]+$/,
  /** cloudtasks.proto ListQueuesRequest.page_size: "The maximum page size is 9800"; unset = the maximum. */
  maxListQueuesPageSize: 9800,
  /** cloudtasks.proto ListTasksRequest.page_size: "The maximum page size is 1000"; unset = the maximum. */
  maxListTasksPageSize: 1000,
  /** v2beta2 RateLimits.max_burst_size docs: "The maximum value of max_burst_size is 500" (output only). */
  maxBurstSize: 500,
  /** google/protobuf/duration.proto: nanos in -999,999,999 .. +999,999,999, with the sign of seconds when both are set. */
  maxDurationNanos: 999_999_999,
  /** google/protobuf/duration.proto: seconds in -315,576,000,000 .. +315,576,000,000 (about 10,000 years). */
  maxDurationSeconds: 315_576_000_000,
  /** google/protobuf/timestamp.proto: 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999999999Z, nanos 0 .. 999,999,999. */
  minTimestampSeconds: -62_135_596_800,
  maxTimestampSeconds: 253_402_300_799,
  /** The User-Agent the service stores in a task's headers and sends with every dispatch (target.proto HttpRequest.headers). */
  taskUserAgent: 'Google-Cloud-Tasks',
} as const;

/**
 * What Cloud Tasks picks when a queue is created without the field (gcloud tasks queues create reference;
 * queue.proto says "Cloud Tasks will pick the default"). The emulator uses these for queues created without them.
 */
export const SERVICE_DEFAULTS = {
  maxDispatchesPerSecond: 500,
  maxConcurrentDispatches: 1000,
  maxAttempts: 100,
  minBackoffSeconds: 0.1,
  maxBackoffSeconds: 3600,
  maxDoublings: 16,
  maxRetryDurationSeconds: 0,
  dispatchDeadlineSeconds: LIMITS.defaultDispatchDeadlineSeconds,
} as const;

/** HTTP methods a Cloud Tasks HttpRequest can carry (target.proto HttpMethod). */
export const HTTP_METHODS = ['POST', 'GET', 'HEAD', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];
/** target.proto HttpRequest.body: "a request body is allowed only if the HTTP method is POST, PUT, or PATCH". */
export const METHODS_WITH_BODY: readonly HttpMethod[] = ['POST', 'PUT', 'PATCH'];

export interface RateLimits {
  readonly maxDispatchesPerSecond?: number;
  readonly maxConcurrentDispatches?: number;
}

/** Durations in seconds. */
export interface RetryConfig {
  readonly maxAttempts?: number;
  readonly minBackoffSeconds?: number;
  readonly maxBackoffSeconds?: number;
  readonly maxDoublings?: number;
  readonly maxRetryDurationSeconds?: number;
}

const fmt = (n: number): string => n.toLocaleString('en-US');

export function queueIdProblems(queueId: string, at: FieldPath = ['queueId']): Problem[] {
  if (LIMITS.queueIdPattern.test(queueId)) return [];
  const why =
    queueId.length > LIMITS.queueIdMaxLength
      ? `is ${queueId.length} characters; Cloud Tasks queue ids are at most ${LIMITS.queueIdMaxLength}`
      : queueId.length === 0
        ? 'is empty; a Cloud Tasks queue id needs 1 to 100 characters'
        : 'is not a valid Cloud Tasks queue id: use only letters, digits and hyphens';
  return [{ path: at, value: queueId, message: `"${truncate(queueId)}" ${why}` }];
}

export function taskIdProblems(taskId: string, at: FieldPath = ['id']): Problem[] {
  if (LIMITS.taskIdPattern.test(taskId)) return [];
  const why =
    taskId.length > LIMITS.taskIdMaxLength
      ? `is ${taskId.length} characters; Cloud Tasks task ids are at most ${LIMITS.taskIdMaxLength}`
      : taskId.length === 0
        ? 'is empty; a Cloud Tasks task id needs 1 to 500 characters'
        : 'is not a valid Cloud Tasks task id: use only letters, digits, hyphens and underscores';
  return [{ path: at, value: taskId, message: `"${truncate(taskId)}" ${why}` }];
}

export function rateLimitProblems(r: RateLimits): Problem[] {
  const out: Problem[] = [];
  const rate = r.maxDispatchesPerSecond;
  if (rate !== undefined) {
    if (!(rate > 0))
      out.push({ path: ['maxDispatchesPerSecond'], value: rate, message: `${rate} must be greater than 0` });
    else if (rate > LIMITS.maxDispatchesPerSecond)
      out.push({
        path: ['maxDispatchesPerSecond'],
        value: rate,
        message: `${rate} exceeds Cloud Tasks' limit of ${LIMITS.maxDispatchesPerSecond} per queue`,
      });
  }
  const conc = r.maxConcurrentDispatches;
  if (conc !== undefined) {
    if (!Number.isInteger(conc) || conc < 1)
      out.push({
        path: ['maxConcurrentDispatches'],
        value: conc,
        message: `${conc} must be a whole number of at least 1`,
      });
    else if (conc > LIMITS.maxConcurrentDispatches)
      out.push({
        path: ['maxConcurrentDispatches'],
        value: conc,
        message: `${fmt(conc)} exceeds Cloud Tasks' limit of ${fmt(LIMITS.maxConcurrentDispatches)} concurrent dispatches per queue`,
      });
  }
  return out;
}

export function retryConfigProblems(r: RetryConfig): Problem[] {
  const out: Problem[] = [];
  if (
    r.maxAttempts !== undefined &&
    (!Number.isInteger(r.maxAttempts) || r.maxAttempts < LIMITS.minMaxAttempts || r.maxAttempts === 0)
  )
    out.push({
      path: ['maxAttempts'],
      value: r.maxAttempts,
      message: `${r.maxAttempts} is not allowed: use a whole number of at least 1, or -1 for unlimited attempts`,
    });
  for (const f of ['minBackoffSeconds', 'maxBackoffSeconds', 'maxRetryDurationSeconds'] as const) {
    const v = r[f];
    if (v !== undefined && !(v >= 0)) out.push({ path: [f], value: v, message: `${v} must not be negative` });
  }
  if (r.maxDoublings !== undefined && (!Number.isInteger(r.maxDoublings) || r.maxDoublings < 0))
    out.push({
      path: ['maxDoublings'],
      value: r.maxDoublings,
      message: `${r.maxDoublings} must be a whole number of at least 0`,
    });
  if (
    r.minBackoffSeconds !== undefined &&
    r.maxBackoffSeconds !== undefined &&
    r.minBackoffSeconds > r.maxBackoffSeconds
  )
    out.push({
      path: ['minBackoffSeconds'],
      value: r.minBackoffSeconds,
      message: `${r.minBackoffSeconds}s is greater than maxBackoff ${r.maxBackoffSeconds}s; Cloud Tasks requires minBackoff <= maxBackoff`,
    });
  return out;
}

export function dispatchDeadlineProblems(seconds: number, at: FieldPath = ['dispatchDeadline']): Problem[] {
  if (seconds >= LIMITS.minDispatchDeadlineSeconds && seconds <= LIMITS.maxDispatchDeadlineSeconds) return [];
  return [
    {
      path: at,
      value: seconds,
      message: `${seconds}s is outside Cloud Tasks' range for HTTP dispatch deadlines, 15s to 1800s (30m)`,
    },
  ];
}

export function samplingRatioProblems(ratio: number, at: FieldPath = ['logSamplingRatio']): Problem[] {
  if (ratio >= LIMITS.minSamplingRatio && ratio <= LIMITS.maxSamplingRatio) return [];
  return [{ path: at, value: ratio, message: `${ratio} is outside the sampling ratio range 0.0 to 1.0` }];
}

/** `now` is injectable so tests and the emulator agree on the clock. */
export function scheduleTimeProblems(scheduleTime: Date, now: Date, at: FieldPath = ['scheduleTime']): Problem[] {
  if (Number.isNaN(scheduleTime.getTime()))
    return [{ path: at, value: String(scheduleTime), message: 'is not a valid RFC 3339 timestamp' }];
  const ahead = (scheduleTime.getTime() - now.getTime()) / 1000;
  if (ahead <= LIMITS.maxScheduleAheadSeconds) return [];
  return [
    {
      path: at,
      value: scheduleTime.toISOString(),
      message: `${scheduleTime.toISOString()} is ${(ahead / 86400).toFixed(1)} days ahead; Cloud Tasks schedules at most 30 days in the future`,
    },
  ];
}

/**
 * A schedule time as text (a spec field, a manifest field): an RFC 3339 timestamp (./timestamp.ts, the form the API
 * takes) at most 30 days ahead of `now`. A time in the past is fine: Cloud Tasks dispatches the task at once.
 */
export function scheduleTimeTextProblems(text: string, now: Date, at: FieldPath = ['scheduleTime']): Problem[] {
  const parsed = parseRfc3339(text);
  if (!parsed)
    return [
      { path: at, value: text, message: `${formatValue(text)} is not a valid RFC 3339 timestamp: ${RFC3339_HINT}` },
    ];
  return scheduleTimeProblems(parsed.date, now, at);
}

/**
 * task.proto schedule_time: a time in the past means "dispatch at once", so the service accepts it; in a spec it is
 * more often a mistyped year or a seed task copied from last month. A warning (never an error), naming the value and
 * how long ago it is. An unparsable text is left to scheduleTimeTextProblems.
 */
export function pastScheduleTimeProblems(text: string, now: Date, at: FieldPath = ['scheduleTime']): Problem[] {
  const parsed = parseRfc3339(text);
  if (!parsed || parsed.date.getTime() >= now.getTime()) return [];
  const seconds = (now.getTime() - parsed.date.getTime()) / 1000;
  const ago =
    seconds >= 86400
      ? `${(seconds / 86400).toFixed(1)} days`
      : seconds >= 3600
        ? `${(seconds / 3600).toFixed(1)} hours`
        : `${Math.ceil(seconds)} s`;
  return [
    {
      path: at,
      value: text,
      severity: 'warning',
      message: `${formatValue(text)} is in the past (${ago} ago): Cloud Tasks dispatches the task as soon as it is created; check the date, or leave scheduleTime out to say "now"`,
    },
  ];
}

export function taskSizeProblems(sizeBytes: number, at: FieldPath = ['payload']): Problem[] {
  if (sizeBytes <= LIMITS.maxTaskSizeBytes) return [];
  return [
    {
      path: at,
      value: `${fmt(sizeBytes)} bytes`,
      message: `the task is ${fmt(sizeBytes)} bytes as stored (name, times, URL, headers, body); Cloud Tasks' limit for a task is ${fmt(LIMITS.maxTaskSizeBytes)} bytes (1 MB)`,
    },
  ];
}

/** What storedTaskSizeBytes counts: the parts of a task that the service stores. */
export interface StoredTaskParts {
  /** Full task name; unset = the longest name a task can have (what a caller that does not know it yet must assume). */
  readonly name?: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: Uint8Array | string;
  /** Service account and audience or scope of the token, when the task has one. */
  readonly token?: { readonly serviceAccountEmail: string; readonly audienceOrScope?: string };
}

/** Bytes of a protobuf varint. */
const varintBytes = (n: number): number => (n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5);
/** A length-delimited field: tag (1 byte for field numbers below 16), length, content. */
const lengthDelimited = (bytes: number): number => 1 + varintBytes(bytes) + bytes;
/** projects/<30>/locations/<30>/queues/<100>/tasks/<500>: the longest name a task can have. */
const LONGEST_TASK_NAME_BYTES = 'projects//locations//queues//tasks/'.length + 30 + 30 + 100 + 500;
/** A Timestamp message with both fields at their widest (seconds 5-byte varint, nanos 5-byte varint), as a field. */
const TIMESTAMP_FIELD_BYTES = lengthDelimited(12);

/**
 * The size the service counts against LIMITS.maxTaskSizeBytes: the task as stored (task.proto), i.e. its protobuf
 * encoding: name, HTTP request (URL, method, headers with the `User-Agent: Google-Cloud-Tasks` the service adds, body,
 * token), schedule and create time, dispatch deadline and the counters. Times are counted at their widest, so the
 * result does not depend on when the task is created; synth and the emulator use the same function.
 */
export function storedTaskSizeBytes(t: StoredTaskParts): number {
  const headers: Record<string, string> = { ...t.headers };
  if (!Object.keys(headers).some((k) => k.toLowerCase() === 'user-agent')) headers['User-Agent'] = LIMITS.taskUserAgent;
  let request = lengthDelimited(Buffer.byteLength(t.url)) + 2; // url, http_method (enum)
  for (const [k, v] of Object.entries(headers))
    request += lengthDelimited(lengthDelimited(Buffer.byteLength(k)) + lengthDelimited(Buffer.byteLength(v)));
  const body = t.body === undefined ? 0 : typeof t.body === 'string' ? Buffer.byteLength(t.body) : t.body.byteLength;
  if (body > 0) request += lengthDelimited(body);
  if (t.token)
    request += lengthDelimited(
      lengthDelimited(Buffer.byteLength(t.token.serviceAccountEmail)) +
        (t.token.audienceOrScope ? lengthDelimited(Buffer.byteLength(t.token.audienceOrScope)) : 0),
    );
  const name = t.name === undefined ? LONGEST_TASK_NAME_BYTES : Buffer.byteLength(t.name);
  return (
    lengthDelimited(name) +
    lengthDelimited(request) +
    2 * TIMESTAMP_FIELD_BYTES + // schedule_time, create_time
    lengthDelimited(2 + 1 + 5) + // dispatch_deadline: seconds (<= 1800) and nanos
    2 * (1 + 5) + // dispatch_count, response_count
    2 // view
  );
}

/**
 * The stored size of a task with this URL, headers and body whose name is not known yet (synth, the seeder's
 * manifest checks): storedTaskSizeBytes with the longest possible name, so a task that passes here passes the service.
 */
export function httpRequestSizeBytes(
  url: string,
  headers: Readonly<Record<string, string>>,
  body?: Uint8Array | string,
): number {
  return storedTaskSizeBytes({ url, headers, body });
}

/**
 * target.proto HttpRequest.headers: Cloud Tasks replaces or reserves these; an OIDC/OAuth token overrides
 * Authorization, so a static one is refused (it would be a secret in the spec or be silently dropped).
 */
const RESERVED_HEADER_NAMES = new Set(['host', 'content-length', 'user-agent', 'authorization']);
const RESERVED_HEADER_PREFIXES = ['x-google-', 'x-appengine-', 'x-cloudtasks-'];

/**
 * RFC 9110 5.5: a field value must not contain CR, LF or NUL, and other control characters (C0 except tab, DEL) are
 * refused by HTTP stacks; a header that holds one would fail on every dispatch. The one rule for synth, the
 * constructs, the seeder and the emulator's CreateTask.
 */

const HEADER_CONTROL_CHARACTER = /[\u0000-\u0008\u000a-\u001f\u007f]/;

/** `\x0d` for the first control character in `s`, for messages that must not print it raw. */
function firstControlCharacter(s: string): string | undefined {
  const m = HEADER_CONTROL_CHARACTER.exec(s);
  return m ? escapeCharacter(m[0]) : undefined;
}

/** Header names and values with control characters (CR, LF, NUL, other C0, DEL): one Problem per header. */
export function headerControlCharacterProblems(
  headers: Readonly<Record<string, string>>,
  at: FieldPath = ['headers'],
): Problem[] {
  const out: Problem[] = [];
  for (const [name, value] of Object.entries(headers)) {
    const inName = firstControlCharacter(name);
    const inValue = inName ? undefined : firstControlCharacter(value);
    if (inName || inValue)
      out.push({
        path: [...at, name.replace(new RegExp(HEADER_CONTROL_CHARACTER.source, 'g'), '?')],
        value: '(not shown)',
        message: `the header ${inName ? 'name' : 'value'} contains the control character ${inName ?? inValue}; HTTP does not allow CR, LF, NUL or other control characters in headers (RFC 9110 5.5)`,
      });
  }
  return out;
}

/** A header name that is not an HTTP token (RFC 9110 5.1); a name that is itself a credential is not printed. */
function invalidHeaderName(name: string, at: FieldPath): Problem {
  const shown = secretSafeKey(name);
  return {
    path: [...at, shown],
    value: shown,
    message: `${shown === name ? `"${truncate(name)}"` : shown} is not a valid HTTP header name`,
  };
}

export function isReservedHeader(name: string): boolean {
  const n = name.toLowerCase();
  return RESERVED_HEADER_NAMES.has(n) || RESERVED_HEADER_PREFIXES.some((p) => n.startsWith(p));
}

export function headerProblems(headers: Readonly<Record<string, string>>, at: FieldPath = ['headers']): Problem[] {
  const out: Problem[] = headerControlCharacterProblems(headers, at);
  let total = 0;
  for (const [name, value] of Object.entries(headers)) {
    total += Buffer.byteLength(name) + Buffer.byteLength(value);
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name) && !HEADER_CONTROL_CHARACTER.test(name))
      out.push(invalidHeaderName(name, at));
    else if (isReservedHeader(name))
      out.push({
        path: [...at, name],
        value: name,
        message:
          name.toLowerCase() === 'authorization'
            ? 'Authorization is set by Cloud Tasks from the OIDC/OAuth token; use target.auth instead of a static header'
            : `"${name}" is reserved by Cloud Tasks (Host, Content-Length, User-Agent, X-Google-*, X-AppEngine-*, X-CloudTasks-* are set by the service)`,
      });
  }
  if (total >= LIMITS.maxHeadersBytes)
    out.push({
      path: at,
      value: `${fmt(total)} bytes`,
      message: `headers total ${fmt(total)} bytes; Cloud Tasks requires under 80 KB`,
    });
  return out;
}

/**
 * What the Cloud Tasks API itself accepts for HttpRequest.url (target.proto: "must begin with either http:// or
 * https://", at most 2,083 characters). Looser than targetUrlProblems, our synth rule: the local emulator uses this
 * one because local workers listen on plain http.
 */
export function apiUrlProblems(url: string, at: FieldPath = ['url']): Problem[] {
  if (url.length === 0)
    return [
      {
        path: at,
        value: redactUrl(url),
        message: 'is required: the absolute http:// or https:// URL the task is sent to',
      },
    ];
  const control = urlControlCharacterProblems(url, at);
  if (control.length > 0) return control;
  if (url.length > LIMITS.maxUrlLength)
    return [
      {
        path: at,
        value: truncate(redactUrl(url)),
        message: `is ${url.length} characters; Cloud Tasks URLs are at most ${LIMITS.maxUrlLength}`,
      },
    ];
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || !parsed.host)
    return [
      {
        path: at,
        value: redactUrl(url),
        message: `"${truncate(redactUrl(url))}" is not an absolute URL that begins with http:// or https://`,
      },
    ];
  return [];
}

/**
 * What the API refuses in HttpRequest.headers (target.proto): a total of 80 KB or more, or a name that is not an HTTP
 * token. Reserved names (Host, User-Agent, X-Google-*, ...) are accepted by the API and replaced at dispatch, so unlike
 * headerProblems (our synth rule) this does not refuse them.
 */
export function apiHeaderProblems(headers: Readonly<Record<string, string>>, at: FieldPath = ['headers']): Problem[] {
  const out: Problem[] = headerControlCharacterProblems(headers, at);
  let total = 0;
  for (const [name, value] of Object.entries(headers)) {
    total += Buffer.byteLength(name) + Buffer.byteLength(value);
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name) && !HEADER_CONTROL_CHARACTER.test(name))
      out.push(invalidHeaderName(name, at));
  }
  if (total >= LIMITS.maxHeadersBytes)
    out.push({
      path: at,
      value: `${fmt(total)} bytes`,
      message: `headers total ${fmt(total)} bytes; Cloud Tasks requires under 80 KB`,
    });
  return out;
}

/** target.proto HttpRequest.body: "allowed only if the HTTP method is POST, PUT, or PATCH". */
export function bodyMethodProblems(method: HttpMethod, bodyBytes: number, at: FieldPath = ['body']): Problem[] {
  if (bodyBytes === 0 || METHODS_WITH_BODY.includes(method)) return [];
  return [
    {
      path: at,
      value: `${fmt(bodyBytes)} bytes`,
      message: `a body is not allowed with ${method}: Cloud Tasks sends a body only with ${METHODS_WITH_BODY.join(', ')}`,
    },
  ];
}

/**
 * A URL with a control character or a space (C0, DEL, C1): WHATWG URL parsing silently drops tabs and newlines, so
 * the URL dispatched would not be the one given; RFC 3986 allows none of them.
 */
export function urlControlCharacterProblems(url: string, at: FieldPath = ['url']): Problem[] {
  const m = /[\u0000-\u0020\u007f-\u009f]/.exec(url);
  if (!m) return [];
  const code = escapeCharacter(m[0]);
  return [
    {
      path: at,
      value: '(not shown)',
      message: `the URL contains ${m[0] === ' ' ? 'a space' : `the control character ${code}`} at position ${m.index + 1}; percent-encode it (RFC 3986)`,
    },
  ];
}

/**
 * https only, a host, at most 2,083 characters (target.proto HttpRequest.url). Messages show the URL with its
 * credentials replaced (lib/core/secrets.ts redactUrl): a `?key=AIza...` is never printed.
 */
export function targetUrlProblems(url: string, at: FieldPath = ['url']): Problem[] {
  const control = urlControlCharacterProblems(url, at);
  if (control.length > 0) return control;
  if (url.length > LIMITS.maxUrlLength)
    return [
      {
        path: at,
        value: truncate(redactUrl(url)),
        message: `is ${url.length} characters; Cloud Tasks URLs are at most ${LIMITS.maxUrlLength}`,
      },
    ];
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return [{ path: at, value: redactUrl(url), message: `"${truncate(redactUrl(url))}" is not an absolute URL` }];
  }
  if (parsed.protocol !== 'https:')
    return [
      {
        path: at,
        value: redactUrl(url),
        message: `"${truncate(redactUrl(url))}" must use https: tasks carry identity tokens, which must not travel in clear text`,
      },
    ];
  if (parsed.username || parsed.password)
    return [{ path: at, value: '(redacted)', message: 'must not contain user:password credentials; use target.auth' }];
  return [];
}

/**
 * google/protobuf/duration.proto: "nanos ... must be of the same sign as the seconds field" and within
 * -999,999,999..+999,999,999; seconds within about 10,000 years. `at` names the request field.
 */
export function durationProblems(seconds: number, nanos: number, at: FieldPath): Problem[] {
  const value = `{ seconds: ${seconds}, nanos: ${nanos} }`;
  if (!Number.isInteger(nanos) || Math.abs(nanos) > LIMITS.maxDurationNanos)
    return [{ path: at, value, message: `nanos ${nanos} is outside -999,999,999..999,999,999` }];
  if ((seconds > 0 && nanos < 0) || (seconds < 0 && nanos > 0))
    return [
      {
        path: at,
        value,
        message: `seconds ${seconds} and nanos ${nanos} have different signs; a Duration's parts share one sign`,
      },
    ];
  if (!Number.isFinite(seconds) || Math.abs(seconds) > LIMITS.maxDurationSeconds)
    return [{ path: at, value, message: `seconds ${seconds} is outside -315,576,000,000..315,576,000,000` }];
  return [];
}

/** google/protobuf/timestamp.proto: years 0001..9999 (seconds within the range), nanos 0..999,999,999. */
export function timestampProblems(seconds: number, nanos: number, at: FieldPath): Problem[] {
  const value = `{ seconds: ${seconds}, nanos: ${nanos} }`;
  if (!Number.isInteger(nanos) || nanos < 0 || nanos > LIMITS.maxDurationNanos)
    return [{ path: at, value, message: `nanos ${nanos} is outside 0..999,999,999` }];
  if (!(seconds >= LIMITS.minTimestampSeconds && seconds <= LIMITS.maxTimestampSeconds))
    return [
      {
        path: at,
        value,
        message: `seconds ${seconds} is outside the years 0001..9999 (-62,135,596,800..253,402,300,799)`,
      },
    ];
  return [];
}

/** target.proto OAuthToken: "should only be used when sending HTTP requests to *.googleapis.com". */
export function isGoogleApisHost(host: string): boolean {
  const h = host.toLowerCase();
  return h === 'googleapis.com' || h.endsWith('.googleapis.com');
}

/**
 * queue.proto RetryConfig.max_doublings: the interval before retry `retryIndex` (0 = first retry) starts at
 * min_backoff, doubles max_doublings times, then grows linearly by 2^max_doublings * min_backoff, capped at
 * max_backoff. Example min 10s, max 300s, doublings 3: 10, 20, 40, 80, 160, 240, 300, 300 ...
 */
export function backoffSeconds(
  retry: Required<Pick<RetryConfig, 'minBackoffSeconds' | 'maxBackoffSeconds' | 'maxDoublings'>>,
  retryIndex: number,
): number {
  const { minBackoffSeconds: min, maxBackoffSeconds: max, maxDoublings: d } = retry;
  const interval = retryIndex <= d ? min * 2 ** retryIndex : min * 2 ** d * (1 + retryIndex - d);
  return Math.min(interval, max);
}

/**
 * queue.proto RetryConfig: "Once max_retry_duration time has passed *and* the task has been attempted max_attempts
 * times, no further attempts will be made". A limit that is not set (max_attempts -1, max_retry_duration 0) never
 * runs out, so it cannot end the task on its own; with neither set the task is retried for ever.
 * `attempts` counts attempts made so far; `sinceFirstAttemptSeconds` is the time since the first attempt.
 */
export function shouldRetry(
  retry: Required<Pick<RetryConfig, 'maxAttempts' | 'maxRetryDurationSeconds'>>,
  attempts: number,
  sinceFirstAttemptSeconds: number,
): boolean {
  const attemptsLimited = retry.maxAttempts !== -1;
  const durationLimited = retry.maxRetryDurationSeconds > 0;
  if (!attemptsLimited && !durationLimited) return true;
  const attemptsLeft = attemptsLimited && attempts < retry.maxAttempts;
  const timeLeft = durationLimited && sinceFirstAttemptSeconds < retry.maxRetryDurationSeconds;
  return attemptsLeft || timeLeft;
}

function truncate(s: string, max = 60): string {
  return s.length > max ? `${s.slice(0, max)}...` : s;
}

/**
 * The longest Cloud Tasks keeps attempting one task under a retry config: attempts that each run up to the dispatch
 * deadline, the backoffs between them (backoffSeconds), until shouldRetry says no; capped at the 31 days a task is
 * kept (quotas page), which is also the answer when neither limit is set. After this long without an answer, a task
 * is gone: the run ledger's stall detection waits this long before it calls a run stalled.
 */
export function maxTaskLifetimeSeconds(retry: Required<RetryConfig>, dispatchDeadlineSeconds: number): number {
  const cap = LIMITS.maxTaskRetentionSeconds;
  let elapsed = 0;
  for (let attempts = 1; attempts <= 1_000_000; attempts++) {
    elapsed += dispatchDeadlineSeconds;
    if (elapsed >= cap) return cap;
    if (!shouldRetry(retry, attempts, elapsed)) return elapsed;
    elapsed += backoffSeconds(retry, attempts - 1);
  }
  return cap;
}
