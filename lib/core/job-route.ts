/**
 * Job steps in the routes: what the stack publishes about a step whose target is a Cloud Run job or a Vertex AI
 * custom job (`StepRoute.job`), and the few rules the ledger, the worker SDK and the local stand-in derive from it:
 *
 *   - the step's queue calls a Google API that STARTS the work (`jobs/{job}:run`, `customJobs` create) and answers
 *     at once; the work itself runs in the job's tasks (Cloud Run) or replicas (Vertex), each of which is one shard
 *     of the step in the ledger: `<message shard>#<task index>` (`0#2`, `all#0`, `0.3#1`);
 *   - so a message to a job step makes `taskCount` (Cloud Run) or `replicaCount` (Vertex) shards, and a shard's lease
 *     is a task attempt's timeout, not the dispatch deadline of the API call;
 *   - a run whose job never reported is stalled after the API call's retry budget, the longest the execution can run
 *     and a start margin (stall detection, lib/ledger/stall.ts).
 *
 * Plain data and pure functions (no client library), like routes.ts, which imports this file.
 */
import { CLOUD_RUN_JOB_LIMITS, maxExecutionSeconds } from './rules/cloud-run';
import { VERTEX_AI_LIMITS, vertexEndpointHost } from './rules/vertex-ai';

export const JOB_KINDS = ['cloudRunJob', 'vertexAI'] as const;
export type JobKind = (typeof JOB_KINDS)[number];

/** How the step's readers name its kind (review, graph, `runs show`). */
export const STEP_KIND_LABELS = {
  service: 'service',
  cloudRunJob: 'Cloud Run job',
  vertexAI: 'Vertex AI custom job',
} as const;

export interface CloudRunJobRoute {
  readonly kind: 'cloudRunJob';
  /** `projects/{project}/locations/{region}/jobs/{job}`. */
  readonly name: string;
  /** Tasks per execution (`overrides.taskCount`, always sent): the step's shards per message. */
  readonly taskCount: number;
  /** The job's own parallelism (an execution cannot override it); unset: as many at once as Cloud Run allows. */
  readonly parallelism?: number;
  /** The job's own retries per task (an execution cannot override them): the last attempt is `maxRetries`. */
  readonly maxRetries: number;
  /** Task timeout of every execution (`overrides.timeout`, always sent), in seconds. */
  readonly timeoutSeconds: number;
}

export interface VertexCustomJobRoute {
  readonly kind: 'vertexAI';
  /** `projects/{project}/locations/{region}`: where `customJobs` are created. */
  readonly parent: string;
  readonly machineType: string;
  readonly acceleratorType?: string;
  readonly acceleratorCount?: number;
  /** Replicas of the machine: 1 primary (worker pool 0), the rest workers (pool 1): the step's shards per message. */
  readonly replicaCount: number;
  readonly imageUri: string;
  readonly args: readonly string[];
  /** The identity the job runs as. @default - Vertex AI's custom code service agent */
  readonly serviceAccount?: string;
  /** `scheduling.timeout` in seconds. */
  readonly timeoutSeconds: number;
}

export type StepJobRoute = CloudRunJobRoute | VertexCustomJobRoute;

// ------------------------------------------------------------------ from the spec

/** What the routes read from a step's `target.cloudRunJob` (a structural subset of the normalized spec). */
export interface CloudRunJobInput {
  readonly job: string;
  readonly region: string;
  readonly taskCount: number;
  readonly parallelism?: number;
  readonly maxRetries: number;
  readonly timeoutSeconds: number;
}

/** What the routes read from a step's `target.vertexAI`. */
export interface VertexAIInput {
  readonly region: string;
  readonly customJob: {
    readonly machineType: string;
    readonly acceleratorType?: string;
    readonly acceleratorCount?: number;
    readonly replicaCount: number;
    readonly imageUri: string;
    readonly args: readonly string[];
    readonly serviceAccount?: string;
    readonly timeoutSeconds: number;
  };
}

export interface JobTargetInput {
  readonly cloudRunJob?: CloudRunJobInput;
  readonly vertexAI?: VertexAIInput;
}

/** The job route of a step's target, or undefined for a service (an HTTP endpoint). */
export function jobRouteFor(project: string, t: JobTargetInput): StepJobRoute | undefined {
  if (t.cloudRunJob) {
    const j = t.cloudRunJob;
    return {
      kind: 'cloudRunJob',
      name: cloudRunJobName(project, j.region, j.job),
      taskCount: j.taskCount,
      ...(j.parallelism !== undefined ? { parallelism: j.parallelism } : {}),
      maxRetries: j.maxRetries,
      timeoutSeconds: j.timeoutSeconds,
    };
  }
  if (t.vertexAI) {
    const c = t.vertexAI.customJob;
    return {
      kind: 'vertexAI',
      parent: `projects/${project}/locations/${t.vertexAI.region}`,
      machineType: c.machineType,
      ...(c.acceleratorType !== undefined ? { acceleratorType: c.acceleratorType } : {}),
      ...(c.acceleratorCount !== undefined ? { acceleratorCount: c.acceleratorCount } : {}),
      replicaCount: c.replicaCount,
      imageUri: c.imageUri,
      args: [...c.args],
      ...(c.serviceAccount !== undefined ? { serviceAccount: c.serviceAccount } : {}),
      timeoutSeconds: c.timeoutSeconds,
    };
  }
  return undefined;
}

export function cloudRunJobName(project: string, region: string, job: string): string {
  return `projects/${project}/locations/${region}/jobs/${job}`;
}

/**
 * The API URL a job step's queue calls (its `uri_override` host and path, and the URL on every task):
 * `https://run.googleapis.com/v2/projects/{p}/locations/{l}/jobs/{job}:run` or
 * `https://{region}-aiplatform.googleapis.com/v1/projects/{p}/locations/{l}/customJobs`.
 */
export function jobApiUrl(project: string, t: JobTargetInput): string | undefined {
  if (t.cloudRunJob)
    return `https://${CLOUD_RUN_JOB_LIMITS.apiHost}/v2/${cloudRunJobName(project, t.cloudRunJob.region, t.cloudRunJob.job)}:run`;
  if (t.vertexAI)
    return `https://${vertexEndpointHost(t.vertexAI.region)}/v1/projects/${project}/locations/${t.vertexAI.region}/customJobs`;
  return undefined;
}

// ------------------------------------------------------------------ shards

/** Separates a message's shard from the task index in a job step's shard ids (no shard id contains it otherwise). */
export const JOB_TASK_SEPARATOR = '#';

/** The shard of task `index` of the execution that `messageShard`'s task started: `0#2`, `all#0`. */
export function jobShardId(messageShard: string, index: number): string {
  return `${messageShard}${JOB_TASK_SEPARATOR}${index}`;
}

/** The message's shard of a job shard (`0#2` -> `0`); any other shard id is returned as it is. */
export function messageShardOf(shard: string): string {
  const i = shard.lastIndexOf(JOB_TASK_SEPARATOR);
  return i < 0 ? shard : shard.slice(0, i);
}

/** How many shards one message makes in this step: the job's tasks or replicas, 1 for a service. */
export function shardsPerMessage(route: { readonly job?: StepJobRoute }): number {
  if (!route.job) return 1;
  return route.job.kind === 'cloudRunJob' ? route.job.taskCount : route.job.replicaCount;
}

/**
 * A job task's lease on its shard: one attempt's timeout and a minute for reporting (a Cloud Run task attempt is
 * stopped at its timeout; a Vertex job at `scheduling.timeout`). A retry of the same task takes its lease over.
 */
export const JOB_LEASE_MARGIN_SECONDS = 60;

/** How long a claim of one of the step's shards holds: the dispatch deadline for a service, a task attempt for a job. */
export function shardLeaseSeconds(route: {
  readonly job?: StepJobRoute;
  readonly task: { readonly dispatchDeadlineSeconds: number };
}): number {
  return route.job ? route.job.timeoutSeconds + JOB_LEASE_MARGIN_SECONDS : route.task.dispatchDeadlineSeconds;
}

/**
 * Time allowed for an execution to start its tasks (Cloud Run) or for Vertex to provision the replicas (accelerators
 * can wait in a queue for capacity) before stall detection counts the job's own run time. Ours, not Google's:
 * generous, since a false "stalled" fails a run that is still training.
 */
export const JOB_START_MARGIN_SECONDS = { cloudRunJob: 10 * 60, vertexAI: 60 * 60 } as const;

/** How long a job can run before every shard reported: the execution's worst case plus the start margin. */
export function jobRunBudgetSeconds(job: StepJobRoute): number {
  if (job.kind === 'cloudRunJob') return maxExecutionSeconds(job) + JOB_START_MARGIN_SECONDS.cloudRunJob;
  return job.timeoutSeconds + JOB_START_MARGIN_SECONDS.vertexAI;
}

/** Vertex's default job timeout, for the spec's defaults. */
export const DEFAULT_VERTEX_TIMEOUT_SECONDS = VERTEX_AI_LIMITS.defaultTimeoutSeconds;

// ------------------------------------------------------------------ reading routes

/**
 * Shape problems of a step route's `job` (routes read from the environment): present exactly for job kinds, with the
 * fields the ledger and runJobStep rely on. Fields are relative to the step (`job.taskCount`).
 */
export function jobRouteShapeProblems(
  kind: unknown,
  job: unknown,
): Array<{ readonly field: string; readonly value: unknown; readonly message: string }> {
  const out: Array<{ field: string; value: unknown; message: string }> = [];
  const isJobKind = (JOB_KINDS as readonly unknown[]).includes(kind);
  if (!isJobKind) {
    if (job !== undefined)
      out.push({ field: 'job', value: job, message: `is only for job steps, and this step is a ${String(kind)}` });
    return out;
  }
  if (typeof job !== 'object' || job === null || Array.isArray(job)) {
    out.push({
      field: 'job',
      value: job,
      message: `must describe the ${String(kind)} (the stack output \`routes\` has it)`,
    });
    return out;
  }
  const j = job as Record<string, unknown>;
  if (j.kind !== kind)
    out.push({ field: 'job.kind', value: j.kind, message: `must be ${JSON.stringify(kind)}, the step's kind` });
  const whole = (f: string, min: number) => {
    if (!Number.isInteger(j[f]) || (j[f] as number) < min)
      out.push({ field: `job.${f}`, value: j[f], message: `must be a whole number of at least ${min}` });
  };
  const text = (f: string) => {
    if (typeof j[f] !== 'string' || j[f] === '')
      out.push({ field: `job.${f}`, value: j[f], message: 'must be a non-empty string' });
  };
  if (kind === 'cloudRunJob') {
    if (typeof j.name !== 'string' || !/^projects\/[^/]+\/locations\/[^/]+\/jobs\/[^/]+$/.test(j.name))
      out.push({
        field: 'job.name',
        value: j.name,
        message: 'must be projects/<project>/locations/<region>/jobs/<job>',
      });
    whole('taskCount', 1);
    whole('maxRetries', 0);
    whole('timeoutSeconds', 1);
    if (j.parallelism !== undefined) whole('parallelism', 1);
  } else {
    if (typeof j.parent !== 'string' || !/^projects\/[^/]+\/locations\/[^/]+$/.test(j.parent))
      out.push({ field: 'job.parent', value: j.parent, message: 'must be projects/<project>/locations/<region>' });
    text('machineType');
    text('imageUri');
    whole('replicaCount', 1);
    whole('timeoutSeconds', 1);
    if (!Array.isArray(j.args) || !j.args.every((a) => typeof a === 'string'))
      out.push({ field: 'job.args', value: j.args, message: 'must be a list of strings' });
  }
  return out;
}

/**
 * The dispatch deadline of a job step's tasks unless the spec sets one: the API call answers as soon as the execution
 * or custom job is created (a long-running operation), so a minute is plenty, and a call cut short is retried by the
 * queue (a duplicated start is harmless: the ledger claims each shard once). The step presets' deadlines are for
 * workers that do the work in the request, so they do not apply here.
 */
export const JOB_STEP_DISPATCH_DEADLINE_SECONDS = 60;
