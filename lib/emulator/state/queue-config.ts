/**
 * A queue's configuration from a CreateQueue / UpdateQueue request: the update-mask merge (cloudtasks.proto
 * UpdateQueueRequest: "only the fields in the mask are updated", empty = all), the service defaults for fields left
 * unset, and validation of every field against lib/core/rules/cloud-tasks.ts.
 */
import {
  HTTP_METHODS,
  LIMITS,
  SERVICE_DEFAULTS,
  apiHeaderProblems,
  rateLimitProblems,
  retryConfigProblems,
  samplingRatioProblems,
} from '../../core/rules/cloud-tasks';
import type { Problem } from '../../core/problem';
import { invalidArgument, throwProblems } from '../errors';
import type { Queue, QueueHttpTarget, QueueInput, QueueRetryConfig } from '../model';

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
  'http_target',
  'http_target.uri_override',
  'http_target.http_method',
  'http_target.header_overrides',
  'http_target.oauth_token',
  'http_target.oidc_token',
]);

/** Accepts snake_case (proto) and camelCase (REST/JSON) paths; refuses paths that are not Queue fields. */
export function normalizeQueueMask(paths: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const raw of paths) {
    const path = raw
      .split('.')
      .map((seg) => seg.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`))
      .join('.');
    if (!QUEUE_MASK_PATHS.has(path))
      throw invalidArgument(
        `update_mask path "${raw}" is not a Queue field; use e.g. rate_limits.max_dispatches_per_second or retry_config`,
        [{ field: 'update_mask', description: `"${raw}" is not a Queue field` }],
      );
    out.add(path);
  }
  return out;
}

/**
 * Builds a queue from the request, the current queue (UpdateQueue) and the service defaults, and validates it.
 * `mask` undefined (CreateQueue) or empty (UpdateQueue "all fields"): every field comes from the request. Output-only
 * fields (state, purge_time, max_burst_size) are never taken from the request.
 */
export function resolveQueue(
  current: Queue | undefined,
  id: { readonly name: string; readonly location: string; readonly queueId: string },
  input: QueueInput,
  mask: ReadonlySet<string> | undefined,
  nowMs: number,
): Queue {
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
    maxDoublings: pick('retry_config.max_doublings', rc.maxDoublings, cur?.maxDoublings, SERVICE_DEFAULTS.maxDoublings),
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
  const httpTarget = mergeHttpTarget(current?.httpTarget, input.httpTarget, takes);
  if (httpTarget) validateHttpTarget(httpTarget);

  return {
    name: id.name,
    location: id.location,
    queueId: id.queueId,
    rateLimits: { ...rateInput, maxBurstSize: maxBurstSizeFor(rateInput.maxDispatchesPerSecond) },
    retryConfig,
    state: current?.state ?? 'RUNNING',
    ...(current?.purgeTimeMs !== undefined ? { purgeTimeMs: current.purgeTimeMs } : {}),
    ...(logging ? { stackdriverLoggingConfig: logging } : {}),
    ...(routing ? { appEngineRoutingOverride: routing } : {}),
    ...(httpTarget ? { httpTarget } : {}),
    createTimeMs: current?.createTimeMs ?? nowMs,
  };
}

/** http_target: the whole message when the mask names it (or is empty), else each masked part. */
function mergeHttpTarget(
  current: QueueHttpTarget | undefined,
  requested: QueueHttpTarget | undefined,
  takes: (path: string) => boolean,
): QueueHttpTarget | undefined {
  if (
    takes('http_target.uri_override') &&
    takes('http_target.http_method') &&
    takes('http_target.header_overrides') &&
    takes('http_target.oauth_token') &&
    takes('http_target.oidc_token')
  )
    return requested && Object.keys(requested).length > 0 ? requested : undefined;
  const merged: { -readonly [K in keyof QueueHttpTarget]: QueueHttpTarget[K] } = { ...current };
  const part = <K extends keyof QueueHttpTarget>(path: string, key: K): void => {
    if (!takes(path)) return;
    if (requested?.[key] === undefined) delete merged[key];
    else merged[key] = requested[key];
  };
  part('http_target.uri_override', 'uriOverride');
  part('http_target.http_method', 'httpMethod');
  part('http_target.header_overrides', 'headerOverrides');
  part('http_target.oauth_token', 'oauthToken');
  part('http_target.oidc_token', 'oidcToken');
  return Object.keys(merged).length > 0 ? merged : undefined;
}

/** target.proto HttpTarget / UriOverride: what the API refuses. */
export function validateHttpTarget(t: QueueHttpTarget): void {
  const problems: Problem[] = [];
  if (t.httpMethod !== undefined && !HTTP_METHODS.includes(t.httpMethod))
    problems.push({ path: ['httpMethod'], value: t.httpMethod, message: `use one of ${HTTP_METHODS.join(', ')}` });
  const o = t.uriOverride;
  if (o?.port !== undefined && !(Number.isInteger(o.port) && o.port >= 0 && o.port <= 65535))
    problems.push({ path: ['uriOverride', 'port'], value: o.port, message: 'is not a TCP port (0..65535)' });
  if (o?.host !== undefined && !/^[A-Za-z0-9.:[\]-]*$/.test(o.host))
    problems.push({ path: ['uriOverride', 'host'], value: o.host, message: 'is not a host name or IP address' });
  if (o?.pathOverride?.path !== undefined && /[\s?#]/.test(o.pathOverride.path))
    problems.push({
      path: ['uriOverride', 'pathOverride', 'path'],
      value: o.pathOverride.path,
      message: 'must be a URL path without spaces, ? or #',
    });
  const headers = Object.fromEntries((t.headerOverrides ?? []).map((h) => [h.header.key, h.header.value]));
  problems.push(...apiHeaderProblems(headers, ['headerOverrides']));
  if (t.oidcToken && t.oauthToken)
    problems.push({ path: ['oidcToken'], value: '(set)', message: 'set oidcToken or oauthToken, not both' });
  const token = t.oidcToken ?? t.oauthToken;
  if (token && !token.serviceAccountEmail)
    problems.push({
      path: [t.oidcToken ? 'oidcToken' : 'oauthToken', 'serviceAccountEmail'],
      value: '',
      message: 'is required: the service account the token is issued for',
    });
  throwProblems(['queue', 'httpTarget'], problems);
}
