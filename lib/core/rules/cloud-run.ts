/**
 * The Cloud Run Jobs rules a job step must respect, each with its source: the one place they live. The spec rules
 * (lib/spec/rules/job-target.ts), the request builder (lib/core/job-requests.ts), the run ledger's stall detection and
 * the local stand-in (lib/apps/local/job-stand-in.ts) call these.
 *
 * Sources: Cloud Run Admin API v2 reference (`projects.locations.jobs.run`, `RunJobRequest.Overrides`, `EnvVar`),
 * "Create jobs" (https://cloud.google.com/run/docs/create-jobs), "Set task timeout for jobs"
 * (https://cloud.google.com/run/docs/configuring/task-timeout), "Set maximum retries"
 * (https://cloud.google.com/run/docs/configuring/max-retries), "Set parallelism"
 * (https://cloud.google.com/run/docs/configuring/parallelism), the container runtime contract
 * (https://cloud.google.com/run/docs/container-contract#jobs-env-vars).
 *
 * Like rules/cloud-tasks.ts, checks return `Problem`s instead of throwing, with paths relative to what they checked.
 */
import { formatValue, type FieldPath, type Problem } from '../problem';

export const CLOUD_RUN_JOB_LIMITS = {
  /**
   * Cloud Run resource names (jobs as services): lower-case letters, digits and hyphens, starting with a letter, not
   * ending with a hyphen, at most 63 characters (an RFC 1035 label; the Admin API's "Must begin with a letter and
   * cannot end with a '-'. Maximum length is 63 characters").
   */
  jobNamePattern: /^[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$/,
  jobNameMaxLength: 63,
  /** "Create jobs": "multiple, independent tasks (up to 10,000 tasks)". */
  maxTaskCount: 10_000,
  /** A job step runs one task per execution unless it says otherwise (and always sends `overrides.taskCount`). */
  defaultTaskCount: 1,
  /** "Set task timeout": "By default, each task runs for a maximum of 10 minutes ... up to 168 hours (7 days)". */
  defaultTaskTimeoutSeconds: 600,
  maxTaskTimeoutSeconds: 168 * 3600,
  /**
   * Task attempts longer than a day get a warning: over 24 h was Preview until recently, and "The longer a job runs,
   * the more likely it is to run into issues that cause it to fail" ("Set task timeout"): checkpoint and use retries.
   */
  longTaskTimeoutSeconds: 24 * 3600,
  /** "Set task timeout": "For tasks using GPUs, the maximum available timeout is 1 hour" (12 hours in Preview). */
  maxGpuTaskTimeoutSeconds: 3600,
  /** "Set maximum retries": "The default is 3", from 0 to 10, per task. */
  defaultMaxRetries: 3,
  maxMaxRetries: 10,
  /** Admin API v2 `EnvVar.value`: "the maximum length is 32768 bytes". */
  maxEnvValueBytes: 32_768,
  /** "Configure environment variables for jobs": "a maximum of 1000 environment variables per container". */
  maxEnvVars: 1000,
  /** Admin API v2: `POST https://run.googleapis.com/v2/{name}:run`, OAuth scope cloud-platform. */
  apiHost: 'run.googleapis.com',
} as const;

const fmt = (n: number): string => n.toLocaleString('en-US');
const hours = (s: number): string => (s % 3600 === 0 ? `${s / 3600}h` : `${s}s`);

export function cloudRunJobNameProblems(name: string, at: FieldPath = ['job']): Problem[] {
  if (CLOUD_RUN_JOB_LIMITS.jobNamePattern.test(name)) return [];
  return [
    {
      path: at,
      value: name,
      message: `${formatValue(name)} is not a Cloud Run job name: at most ${CLOUD_RUN_JOB_LIMITS.jobNameMaxLength} lower-case letters, digits and hyphens, starting with a letter and not ending with a hyphen`,
    },
  ];
}

export function taskCountProblems(taskCount: number, at: FieldPath = ['taskCount']): Problem[] {
  if (Number.isInteger(taskCount) && taskCount >= 1 && taskCount <= CLOUD_RUN_JOB_LIMITS.maxTaskCount) return [];
  return [
    {
      path: at,
      value: taskCount,
      message: `${taskCount} is not a task count Cloud Run runs: use a whole number from 1 to ${fmt(CLOUD_RUN_JOB_LIMITS.maxTaskCount)} (tasks per execution)`,
    },
  ];
}

/** "Set parallelism": an integer from 0 (no limit) up to the quota, and not more than the number of tasks. */
export function parallelismProblems(
  parallelism: number,
  taskCount: number,
  at: FieldPath = ['parallelism'],
): Problem[] {
  if (!Number.isInteger(parallelism) || parallelism < 1)
    return [
      {
        path: at,
        value: parallelism,
        message: `${parallelism} is not a parallelism: use a whole number of at least 1 (leave it out to run as many tasks at once as Cloud Run allows)`,
      },
    ];
  if (Number.isInteger(taskCount) && parallelism > taskCount)
    return [
      {
        path: at,
        value: parallelism,
        message: `${parallelism} is more than taskCount (${taskCount}); Cloud Run's parallelism must not exceed the number of tasks`,
      },
    ];
  return [];
}

/**
 * The task timeout of every execution: 1 s to 168 h; a warning above 24 h; at most 1 h for a job declared to use
 * GPUs (its tasks cannot be live-migrated and are stopped at 1 h; Vertex AI custom training is the path for longer
 * GPU work).
 */
export function taskTimeoutProblems(seconds: number, gpu: boolean, at: FieldPath = ['timeout']): Problem[] {
  const L = CLOUD_RUN_JOB_LIMITS;
  if (!Number.isInteger(seconds) || seconds < 1)
    return [{ path: at, value: seconds, message: `${seconds}s is not a task timeout: use at least 1s` }];
  if (seconds > L.maxTaskTimeoutSeconds)
    return [
      {
        path: at,
        value: hours(seconds),
        message: `${hours(seconds)} is longer than Cloud Run's longest task timeout, 168h (7 days); for longer training use a vertexAI target (custom jobs default to 7 days and can run longer)`,
      },
    ];
  if (gpu && seconds > L.maxGpuTaskTimeoutSeconds)
    return [
      {
        path: at,
        value: hours(seconds),
        message: `${hours(seconds)} is longer than the 1h Cloud Run allows a task that uses GPUs (12h in Preview); split the work into shorter tasks (taskCount), or use a vertexAI target for long GPU training`,
      },
    ];
  if (seconds > L.longTaskTimeoutSeconds)
    return [
      {
        path: at,
        value: hours(seconds),
        severity: 'warning',
        message: `${hours(seconds)} per task attempt: Cloud Run runs tasks up to 168h, but the longer an attempt runs the more likely it is interrupted (maintenance, infrastructure); checkpoint the work so a retry (maxRetries) resumes it`,
      },
    ];
  return [];
}

export function maxRetriesProblems(maxRetries: number, at: FieldPath = ['maxRetries']): Problem[] {
  if (Number.isInteger(maxRetries) && maxRetries >= 0 && maxRetries <= CLOUD_RUN_JOB_LIMITS.maxMaxRetries) return [];
  return [
    {
      path: at,
      value: maxRetries,
      message: `${maxRetries} is not a Cloud Run maxRetries: use a whole number from 0 to ${CLOUD_RUN_JOB_LIMITS.maxMaxRetries} (retries per task; the job's own setting, 3 unless changed)`,
    },
  ];
}

/** An environment variable value set through `overrides.containerOverrides[].env`: at most 32,768 bytes. */
export function cloudRunEnvValueProblems(name: string, value: string, at: FieldPath): Problem[] {
  const bytes = Buffer.byteLength(value);
  if (bytes <= CLOUD_RUN_JOB_LIMITS.maxEnvValueBytes) return [];
  return [
    {
      path: at,
      value: `${fmt(bytes)} bytes`,
      message: `makes ${name} ${fmt(bytes)} bytes; a Cloud Run environment variable holds at most ${fmt(CLOUD_RUN_JOB_LIMITS.maxEnvValueBytes)} bytes. Put the data in Cloud Storage and pass its URI (e.g. { "dataset": "gs://bucket/path/" }) instead`,
    },
  ];
}

export interface CloudRunExecutionShape {
  readonly taskCount: number;
  /** Unset: every task at once. */
  readonly parallelism?: number;
  readonly maxRetries: number;
  readonly timeoutSeconds: number;
}

/**
 * The longest an execution can take: its tasks in waves of `parallelism`, each task up to `maxRetries + 1` attempts of
 * up to the task timeout ("the timeout setting applies to each attempt of a task"). "There is no explicit timeout on
 * a job execution" ("Set task timeout"), so this bound is computed, not read.
 */
export function maxExecutionSeconds(e: CloudRunExecutionShape): number {
  const parallel = Math.max(1, Math.min(e.parallelism ?? e.taskCount, e.taskCount));
  const waves = Math.ceil(e.taskCount / parallel);
  return waves * (e.maxRetries + 1) * e.timeoutSeconds;
}
