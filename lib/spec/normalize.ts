/**
 * Raw spec (the YAML/JSON shape) -> normalized PipelineSpec: durations to seconds, presets merged under the spec's
 * own values, defaults applied.
 *
 * Tolerant on purpose: it runs even when the schema check failed, so the semantic rules can still report on the
 * parts that are fine. A value of the wrong type is treated as absent (a required one becomes an empty
 * placeholder); the schema check has already reported it, and the loader drops rule results on those paths.
 * Array positions are kept, so a problem's path index always matches the file.
 */
import { HTTP_METHODS, SERVICE_DEFAULTS, type HttpMethod } from '../core/rules/cloud-tasks';
import { DURATION_FORMAT_HINT, parseDuration } from '../core/duration';
import { SCHEDULER_DEFAULTS } from '../core/rules/scheduler';
import { DEFAULT_LOG_SAMPLING_RATIO, STEP_PRESETS } from './presets';
import { JOIN_MODES, type JoinMode } from '../core/routes';
import type { PathSegment, Problem } from '../core/problem';
import { CLOUD_RUN_JOB_LIMITS } from '../core/rules/cloud-run';
import { DEFAULT_VERTEX_TIMEOUT_SECONDS, JOB_STEP_DISPATCH_DEADLINE_SECONDS, jobApiUrl } from '../core/job-route';
import type {
  CloudRunJobTarget,
  MonitoringSpec,
  PipelineSpec,
  PolicySuppression,
  ScheduleSpec,
  SeedTaskSpec,
  StepPreset,
  StepRateLimits,
  StepRetry,
  StepSpec,
  StepTarget,
  TargetAuth,
  VertexAITarget,
} from './types';

type Raw = Record<string, unknown>;

const isObject = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v);
const obj = (v: unknown): Raw => (isObject(v) ? v : {});
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);
const int = (v: unknown): number | undefined => (Number.isInteger(v) ? (v as number) : undefined);
/** A list with holes filled (`Array.from`), so a sparse array from TypeScript keeps every position. */
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? Array.from(v) : []);
const oneOf = <T extends string>(v: unknown, choices: readonly T[]): T | undefined =>
  choices.includes(v as T) ? (v as T) : undefined;

/**
 * Only string values (labels, headers): a non-string value failed the schema and is left out. Built with
 * Object.fromEntries, so a key such as `__proto__` stays an ordinary key (and meets the rules) instead of vanishing
 * into the prototype.
 */
function stringMap(v: unknown): Record<string, string> {
  return Object.fromEntries(Object.entries(obj(v)).filter(([, val]) => typeof val === 'string')) as Record<
    string,
    string
  >;
}

/** Drops undefined fields so the normalized model only carries what is set (constructs omit unset fields). */
function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

export interface NormalizeResult {
  readonly spec: PipelineSpec;
  /** Values that could not be normalized (bad durations); reported, and their paths count as broken. */
  readonly problems: Problem[];
}

export function normalizeSpec(raw: unknown): NormalizeResult {
  const problems: Problem[] = [];
  const root = obj(raw);
  const region = str(root.region) ?? '';
  const rawPipeline = obj(root.pipeline);

  const duration = (v: unknown, path: PathSegment[]): number | undefined => {
    if (typeof v !== 'string') return undefined; // wrong type: reported by the schema check
    const seconds = parseDuration(v);
    if (seconds === undefined)
      problems.push({ path, value: v, message: `"${v}" is not a duration: use ${DURATION_FORMAT_HINT}` });
    return seconds;
  };

  const project = str(root.project) ?? '';
  const steps = arr(rawPipeline.steps).map((s, i) =>
    normalizeStep(obj(s), ['pipeline', 'steps', i], region, duration, project),
  );
  const seedTasks = arr(rawPipeline.seedTasks).map((t) => normalizeSeedTask(obj(t)));
  // Left out when not written, so specs without schedules normalize as before.
  const schedules = Array.isArray(rawPipeline.schedules)
    ? arr(rawPipeline.schedules).map((s, i) => normalizeSchedule(obj(s), ['pipeline', 'schedules', i], duration))
    : undefined;

  const spec: PipelineSpec = defined({
    project,
    region,
    environment: str(root.environment) ?? '',
    labels: stringMap(root.labels),
    backend: isObject(root.backend)
      ? { gcs: defined({ bucket: str(obj(root.backend.gcs).bucket) ?? '', prefix: str(obj(root.backend.gcs).prefix) }) }
      : undefined,
    // Left out when not written, so specs without it normalize as before; positions kept (deployer[2] is the file's).
    deployer: Array.isArray(root.deployer) ? arr(root.deployer).map((m) => str(m) ?? '') : undefined,
    monitoring: isObject(root.monitoring) ? normalizeMonitoring(root.monitoring, duration) : undefined,
    ledger: isObject(root.ledger)
      ? defined({
          database: str(root.ledger.database),
          project: str(root.ledger.project),
          location: str(root.ledger.location),
        })
      : undefined,
    policy: isObject(root.policy) ? normalizePolicy(root.policy) : undefined,
    pipeline: defined({ name: str(rawPipeline.name) ?? '', steps, seedTasks, schedules }),
  });
  return { spec, problems };
}

function normalizeStep(
  raw: Raw,
  path: PathSegment[],
  region: string,
  duration: (v: unknown, path: PathSegment[]) => number | undefined,
  project: string,
): StepSpec {
  const preset = oneOf<StepPreset>(raw.preset, Object.keys(STEP_PRESETS) as StepPreset[]);
  const base = preset ? STEP_PRESETS[preset] : undefined;
  const rawRate = obj(raw.rateLimits);
  const rawRetry = obj(raw.retry);
  const retryPath = [...path, 'retry'];

  // Field by field: a spec value wins, else the preset's, else unset (the service default applies).
  const rateLimits: StepRateLimits = defined({
    maxDispatchesPerSecond: num(rawRate.maxDispatchesPerSecond) ?? base?.rateLimits.maxDispatchesPerSecond,
    maxConcurrentDispatches: int(rawRate.maxConcurrentDispatches) ?? base?.rateLimits.maxConcurrentDispatches,
  });
  const retry: StepRetry = defined({
    maxAttempts: int(rawRetry.maxAttempts) ?? base?.retry.maxAttempts,
    minBackoffSeconds: duration(rawRetry.minBackoff, [...retryPath, 'minBackoff']) ?? base?.retry.minBackoffSeconds,
    maxBackoffSeconds: duration(rawRetry.maxBackoff, [...retryPath, 'maxBackoff']) ?? base?.retry.maxBackoffSeconds,
    maxDoublings: int(rawRetry.maxDoublings) ?? base?.retry.maxDoublings,
    maxRetryDurationSeconds:
      duration(rawRetry.maxRetryDuration, [...retryPath, 'maxRetryDuration']) ?? base?.retry.maxRetryDurationSeconds,
  });

  const rawLocal = isObject(raw.local) ? raw.local : undefined;
  const target = normalizeTarget(obj(raw.target), region, project, (v, at) => duration(v, [...path, 'target', ...at]));
  const isJob = target.cloudRunJob !== undefined || target.vertexAI !== undefined;
  return defined({
    name: str(raw.name) ?? '',
    preset,
    target,
    rateLimits,
    retry,
    dispatchDeadlineSeconds:
      duration(raw.dispatchDeadline, [...path, 'dispatchDeadline']) ??
      // A job step's call only starts the job: a short default, not the preset's (lib/core/job-route.ts).
      (isJob ? JOB_STEP_DISPATCH_DEADLINE_SECONDS : undefined) ??
      base?.dispatchDeadlineSeconds ??
      SERVICE_DEFAULTS.dispatchDeadlineSeconds,
    logSamplingRatio: num(raw.logSamplingRatio) ?? base?.logSamplingRatio ?? DEFAULT_LOG_SAMPLING_RATIO,
    // Placeholders keep positions: next[2] in a problem is next[2] in the file.
    next: arr(raw.next).map((n) => str(n) ?? ''),
    local: rawLocal
      ? defined({
          url: str(rawLocal.url),
          command: Array.isArray(rawLocal.command) ? arr(rawLocal.command).map((a) => str(a) ?? '') : undefined,
        })
      : undefined,
    // Left unset when not written: the default depends on the graph (lib/core/routes.ts defaultJoin).
    join: oneOf<JoinMode>(raw.join, JOIN_MODES),
  });
}

function normalizeTarget(
  raw: Raw,
  region: string,
  project: string,
  duration: (v: unknown, path: PathSegment[]) => number | undefined,
): StepTarget {
  const cloudRun = isObject(raw.cloudRun) ? raw.cloudRun : undefined;
  const cloudRunJob = isObject(raw.cloudRunJob) ? normalizeCloudRunJob(raw.cloudRunJob, region, duration) : undefined;
  const vertexAI = isObject(raw.vertexAI) ? normalizeVertexAI(raw.vertexAI, region, duration) : undefined;
  const vertexAccount = vertexAI?.customJob.serviceAccount;
  return defined({
    // A job step's URL is the API its queue calls; a url written as well is reported by the job target rules.
    url: str(raw.url) ?? jobApiUrl(project, { cloudRunJob, vertexAI }) ?? '',
    // Google APIs take OAuth tokens: implied for job steps (an explicit `auth: oidc` is reported, with why).
    auth: oneOf<TargetAuth>(raw.auth, ['oidc', 'oauth', 'none']) ?? (cloudRunJob || vertexAI ? 'oauth' : 'oidc'),
    // Left unset when not written: the constructs derive the default (lib/core/naming.ts oidcAudienceFor,
    // oauthScopeFor), so the default lives in one place.
    audience: str(raw.audience),
    scope: str(raw.scope),
    headers: stringMap(raw.headers),
    method: oneOf<HttpMethod>(raw.method, HTTP_METHODS) ?? 'POST',
    // A Vertex job's identity is its customJob.serviceAccount: the account that records progress and enqueues.
    serviceAccount: str(raw.serviceAccount) ?? vertexAccount,
    cloudRun: cloudRun ? { service: str(cloudRun.service) ?? '', region: str(cloudRun.region) ?? region } : undefined,
    cloudRunJob,
    vertexAI,
  });
}

function normalizeCloudRunJob(
  raw: Raw,
  region: string,
  duration: (v: unknown, path: PathSegment[]) => number | undefined,
): CloudRunJobTarget {
  return defined({
    job: str(raw.job) ?? '',
    region: str(raw.region) ?? region,
    taskCount: int(raw.taskCount) ?? CLOUD_RUN_JOB_LIMITS.defaultTaskCount,
    parallelism: int(raw.parallelism),
    timeoutSeconds: duration(raw.timeout, ['cloudRunJob', 'timeout']) ?? CLOUD_RUN_JOB_LIMITS.defaultTaskTimeoutSeconds,
    maxRetries: int(raw.maxRetries) ?? CLOUD_RUN_JOB_LIMITS.defaultMaxRetries,
    gpu: typeof raw.gpu === 'boolean' ? raw.gpu : undefined,
  });
}

function normalizeVertexAI(
  raw: Raw,
  region: string,
  duration: (v: unknown, path: PathSegment[]) => number | undefined,
): VertexAITarget {
  const c = obj(raw.customJob);
  return {
    region: str(raw.region) ?? region,
    customJob: defined({
      machineType: str(c.machineType) ?? '',
      acceleratorType: str(c.acceleratorType),
      acceleratorCount: int(c.acceleratorCount),
      replicaCount: int(c.replicaCount) ?? 1,
      imageUri: str(c.imageUri) ?? '',
      args: arr(c.args).map((a) => str(a) ?? ''),
      serviceAccount: str(c.serviceAccount),
      timeoutSeconds: duration(c.timeout, ['vertexAI', 'customJob', 'timeout']) ?? DEFAULT_VERTEX_TIMEOUT_SECONDS,
    }),
  };
}

function normalizeSeedTask(raw: Raw): SeedTaskSpec {
  return defined({
    step: str(raw.step) ?? '',
    id: str(raw.id) ?? '',
    // Present (even as null) means "send this JSON as the body"; absent means no body.
    payload: 'payload' in raw ? raw.payload : undefined,
    scheduleTime: str(raw.scheduleTime),
  });
}

function normalizeSchedule(
  raw: Raw,
  path: PathSegment[],
  duration: (v: unknown, path: PathSegment[]) => number | undefined,
): ScheduleSpec {
  const rawRetry = obj(raw.retry);
  const retryPath = [...path, 'retry'];
  return defined({
    name: str(raw.name) ?? '',
    step: str(raw.step) ?? '',
    cron: str(raw.cron) ?? '',
    timeZone: str(raw.timeZone) ?? SCHEDULER_DEFAULTS.timeZone,
    // Present (even as null) means "this JSON is the run's input"; absent sends null.
    payload: 'payload' in raw ? raw.payload : undefined,
    paused: raw.paused === true,
    retry: defined({
      retryCount: int(rawRetry.retryCount),
      minBackoffSeconds: duration(rawRetry.minBackoff, [...retryPath, 'minBackoff']),
      maxBackoffSeconds: duration(rawRetry.maxBackoff, [...retryPath, 'maxBackoff']),
      maxDoublings: int(rawRetry.maxDoublings),
      maxRetryDurationSeconds: duration(rawRetry.maxRetryDuration, [...retryPath, 'maxRetryDuration']),
    }),
    attemptDeadlineSeconds: duration(raw.attemptDeadline, [...path, 'attemptDeadline']),
  });
}

/**
 * Alert settings (`queueDepth`, `failedAttempts`: docs/monitoring.md) get their `duration` in seconds, like every
 * other duration; any other monitoring key passes through unchanged. Their rules live with the alerts
 * (lib/constructs/queue-alerts.ts).
 */
function normalizeMonitoring(
  raw: Raw,
  duration: (v: unknown, path: PathSegment[]) => number | undefined,
): MonitoringSpec {
  const out: Record<string, unknown> = {
    ...raw,
    notificationChannels: arr(raw.notificationChannels).map((c) => str(c) ?? ''),
  };
  for (const kind of ['queueDepth', 'failedAttempts'] as const) {
    if (!isObject(raw[kind])) continue;
    const { duration: text, ...rest } = raw[kind];
    out[kind] = defined({ ...rest, durationSeconds: duration(text, ['monitoring', kind, 'duration']) });
  }
  return out as unknown as MonitoringSpec;
}

/** Other policy keys (added by the policy pack) pass through unchanged. */
function normalizePolicy(raw: Raw): { readonly suppress: readonly PolicySuppression[] } {
  return {
    ...raw,
    suppress: arr(raw.suppress).map((s) => ({ rule: str(obj(s).rule) ?? '', reason: str(obj(s).reason) ?? '' })),
  };
}
