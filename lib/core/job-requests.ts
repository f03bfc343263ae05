/**
 * The API request bodies of job steps: the one builder (and the one reader) of what a job step's task carries.
 *
 *   cloudRunJob -> RunJobRequest  (POST run.googleapis.com/v2/{job}:run)
 *     { "overrides": { "containerOverrides": [{ "env": [PIPELINE_MESSAGE, CLOUD_TASKS_PIPELINE_ROUTES] }],
 *                      "taskCount": n, "timeout": "3600s" } }
 *   vertexAI    -> CustomJob      (POST {region}-aiplatform.googleapis.com/v1/{parent}/customJobs)
 *     { "displayName", "labels": { ..., "run-id" }, "jobSpec": { "workerPoolSpecs": [primary, workers?],
 *       "scheduling": { "timeout" }, "serviceAccount"? } }   (the same env on every pool's containerSpec)
 *
 * PIPELINE_MESSAGE is the task envelope (ledger-layout.ts): run id, step, shard, generation, payload. The routes go
 * along in CLOUD_TASKS_PIPELINE_ROUTES when they fit one variable, so the job needs no configuration of its own;
 * larger routes are left out and the job reads them as any worker does (CLOUD_TASKS_PIPELINE_ROUTES_FILE, docs/jobs.md).
 *
 * Used by the seed manifest builder (seeded tasks of job steps), by the ledger when it creates a job step's task
 * (lib/ledger/tasks.ts), and by the local stand-in, which reads the same bodies (readJobRequest).
 */
import { createHash } from 'node:crypto';
import { jobShardId, type StepJobRoute } from './job-route';
import { PIPELINE_MESSAGE_ENV } from './job-env';
import { isTaskEnvelope } from './ledger-layout';
import { MANAGED_BY } from './naming';
import type { Problem } from './problem';
import { ROUTES_ENV, type PipelineRoutes } from './routes';
import { cloudRunEnvValueProblems, CLOUD_RUN_JOB_LIMITS } from './rules/cloud-run';
import { vertexEnvValueProblems, vertexLabelValue, VERTEX_AI_LIMITS } from './rules/vertex-ai';

export interface JobRequestInput {
  /** The run the task belongs to (the envelope's `runId`): Vertex jobs are labelled with it. */
  readonly runId?: string;
  /** The message's shard (the envelope's `shard`). */
  readonly shard: string;
  /** The task envelope as JSON text: PIPELINE_MESSAGE. */
  readonly envelopeJson: string;
}

export interface JobRequest {
  /** The request body, JSON text. */
  readonly body: string;
  /** What stops the body from working (PIPELINE_MESSAGE too large for an environment variable); paths are []. */
  readonly problems: readonly Problem[];
  /** Whether the routes travel in CLOUD_TASKS_PIPELINE_ROUTES (false: too large; the job must have them itself). */
  readonly routesIncluded: boolean;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const seconds = (s: number) => `${s}s`;
const routesJsonCache = new WeakMap<PipelineRoutes, string>();

/** The compact routes JSON a job's container receives (the stack output `routes`, as one line). */
export function routesEnvValue(routes: PipelineRoutes): string {
  let text = routesJsonCache.get(routes);
  if (text === undefined) routesJsonCache.set(routes, (text = JSON.stringify(routes)));
  return text;
}

/** The body of the API call that starts `step`'s job for one message. `step` must be a job step of `routes`. */
export function jobRequest(routes: PipelineRoutes, step: string, input: JobRequestInput): JobRequest {
  const job = routes.steps[step]?.job;
  if (!job) throw new Error(`jobRequest: step "${step}" of ${routes.pipeline} is not a job step`);
  const routesText = routesEnvValue(routes);
  const limit = job.kind === 'cloudRunJob' ? CLOUD_RUN_JOB_LIMITS.maxEnvValueBytes : VERTEX_AI_LIMITS.maxEnvValueBytes;
  const routesIncluded = Buffer.byteLength(routesText) + ROUTES_ENV.length + 1 <= limit;
  const env = [
    { name: PIPELINE_MESSAGE_ENV, value: input.envelopeJson },
    ...(routesIncluded ? [{ name: ROUTES_ENV, value: routesText }] : []),
  ];
  const problems =
    job.kind === 'cloudRunJob'
      ? cloudRunEnvValueProblems(PIPELINE_MESSAGE_ENV, input.envelopeJson, [])
      : vertexEnvValueProblems(PIPELINE_MESSAGE_ENV, input.envelopeJson, []);
  const body = job.kind === 'cloudRunJob' ? runJobRequest(job, env) : customJob(routes, step, job, env, input);
  return { body: JSON.stringify(body), problems, routesIncluded };
}

type EnvVar = { readonly name: string; readonly value: string };

function runJobRequest(job: Extract<StepJobRoute, { kind: 'cloudRunJob' }>, env: EnvVar[]) {
  // `name` is left out: it selects a container of a multi-container job, and a job step's image is the only one.
  return {
    overrides: { containerOverrides: [{ env }], taskCount: job.taskCount, timeout: seconds(job.timeoutSeconds) },
  };
}

function customJob(
  routes: PipelineRoutes,
  step: string,
  job: Extract<StepJobRoute, { kind: 'vertexAI' }>,
  env: EnvVar[],
  input: JobRequestInput,
) {
  const run = input.runId ?? 'new-run';
  const machineSpec = {
    machineType: job.machineType,
    ...(job.acceleratorType !== undefined ? { acceleratorType: job.acceleratorType } : {}),
    ...(job.acceleratorCount !== undefined ? { acceleratorCount: job.acceleratorCount } : {}),
  };
  const containerSpec = { imageUri: job.imageUri, ...(job.args.length ? { args: [...job.args] } : {}), env };
  const pool = (replicaCount: number) => ({ machineSpec, replicaCount, containerSpec });
  const workerPoolSpecs = [pool(VERTEX_AI_LIMITS.primaryPoolReplicas)];
  if (job.replicaCount > 1) workerPoolSpecs.push(pool(job.replicaCount - 1));
  const label = (v: string) => vertexLabelValue(v, sha256);
  return {
    displayName: `${routes.stack}-${step}-${run}-${input.shard}`.slice(0, VERTEX_AI_LIMITS.maxDisplayNameLength),
    labels: {
      'managed-by': MANAGED_BY,
      pipeline: label(routes.pipeline),
      stack: label(routes.stack),
      step: label(step),
      'run-id': label(run),
    },
    jobSpec: {
      workerPoolSpecs,
      scheduling: { timeout: seconds(job.timeoutSeconds) },
      ...(job.serviceAccount !== undefined ? { serviceAccount: job.serviceAccount } : {}),
    },
  };
}

// ------------------------------------------------------------------ reading (the local stand-in)

/** What a job step's container is started with, read back from a request body. */
export interface JobLaunch {
  /** The container environment the body sets (PIPELINE_MESSAGE, the routes). */
  readonly env: Readonly<Record<string, string>>;
  /** Tasks (Cloud Run) or replicas (Vertex). */
  readonly count: number;
  readonly timeoutSeconds?: number;
  /** Container args (Vertex `containerSpec.args`). */
  readonly args: readonly string[];
  /** Vertex: the job's display name and labels. */
  readonly displayName?: string;
  readonly labels?: Readonly<Record<string, string>>;
}

/**
 * Reads a RunJobRequest or a CustomJob body as Google reads it (unknown fields refused by the stand-in's caller, a
 * malformed one explained). Throws an Error whose message says which field is wrong: the stand-in answers 400 with it.
 */
export function readJobRequest(kind: StepJobRoute['kind'], bodyText: string): JobLaunch {
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(bodyText === '' ? '{}' : bodyText) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`the request body is not JSON: ${(err as Error).message}`);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new Error(
      `the request body must be a JSON object (${kind === 'cloudRunJob' ? 'RunJobRequest' : 'CustomJob'})`,
    );
  const envOf = (list: unknown, at: string): Record<string, string> => {
    const out: Record<string, string> = {};
    if (list === undefined) return out;
    if (!Array.isArray(list)) throw new Error(`${at} must be a list of { name, value }`);
    list.forEach((e: { name?: unknown; value?: unknown }, i) => {
      if (typeof e?.name !== 'string' || (e.value !== undefined && typeof e.value !== 'string'))
        throw new Error(`${at}[${i}] must be { name: string, value: string }`);
      out[e.name] = (e.value as string | undefined) ?? '';
    });
    return out;
  };
  const duration = (v: unknown, at: string): number | undefined => {
    if (v === undefined) return undefined;
    const m = typeof v === 'string' ? /^(\d+(?:\.\d+)?)s$/.exec(v) : null;
    if (!m) throw new Error(`${at} must be a duration such as "3600s"`);
    return Number(m[1]);
  };
  if (kind === 'cloudRunJob') {
    const o = (body.overrides ?? {}) as Record<string, unknown>;
    const containers = (o.containerOverrides ?? []) as unknown[];
    if (!Array.isArray(containers)) throw new Error('overrides.containerOverrides must be a list');
    const env = Object.assign(
      {},
      ...containers.map((c, i) => envOf((c as { env?: unknown })?.env, `overrides.containerOverrides[${i}].env`)),
    );
    const count = o.taskCount === undefined ? 1 : o.taskCount;
    if (!Number.isInteger(count) || (count as number) < 1)
      throw new Error('overrides.taskCount must be a whole number of at least 1');
    return { env, count: count as number, timeoutSeconds: duration(o.timeout, 'overrides.timeout'), args: [] };
  }
  const spec = (body.jobSpec ?? {}) as { workerPoolSpecs?: unknown; scheduling?: { timeout?: unknown } };
  const pools = spec.workerPoolSpecs;
  if (!Array.isArray(pools) || pools.length === 0)
    throw new Error('jobSpec.workerPoolSpecs must list at least one worker pool');
  let count = 0;
  pools.forEach((p: { replicaCount?: unknown }, i) => {
    const n = p?.replicaCount === undefined ? 1 : p.replicaCount;
    if (!Number.isInteger(n) || (n as number) < 1)
      throw new Error(`jobSpec.workerPoolSpecs[${i}].replicaCount must be a whole number of at least 1`);
    if (i === 0 && n !== 1) throw new Error('jobSpec.workerPoolSpecs[0].replicaCount must be 1 (the primary replica)');
    count += n as number;
  });
  const first = (pools[0] as { containerSpec?: { env?: unknown; args?: unknown } }).containerSpec ?? {};
  const args = first.args === undefined ? [] : first.args;
  if (!Array.isArray(args) || !args.every((a) => typeof a === 'string'))
    throw new Error('jobSpec.workerPoolSpecs[0].containerSpec.args must be a list of strings');
  if (typeof body.displayName !== 'string' || body.displayName === '') throw new Error('displayName is required');
  return {
    env: envOf(first.env, 'jobSpec.workerPoolSpecs[0].containerSpec.env'),
    count,
    timeoutSeconds: duration(spec.scheduling?.timeout, 'jobSpec.scheduling.timeout'),
    args: args as string[],
    displayName: body.displayName,
    labels: (body.labels ?? {}) as Record<string, string>,
  };
}

/** The ledger shards one job request makes: `<shard>#0` ... `<shard>#<count - 1>`. */
export function jobShardsOf(messageShard: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => jobShardId(messageShard, i));
}

/**
 * The run id a task body carries, when it is a ledger envelope or a job request with one in PIPELINE_MESSAGE (for
 * readers of task bodies that know neither format, e.g. `npm run local`'s timeline); undefined otherwise.
 */
export function runIdOfTaskBody(body: string): string | undefined {
  let v: unknown;
  try {
    v = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (isTaskEnvelope(v)) {
    const runId = (v as { runId?: unknown }).runId;
    return typeof runId === 'string' ? runId : undefined;
  }
  for (const kind of ['cloudRunJob', 'vertexAI'] as const) {
    try {
      const message = readJobRequest(kind, body).env[PIPELINE_MESSAGE_ENV];
      if (message !== undefined) return runIdOfTaskBody(message);
    } catch {
      // not this kind's body
    }
  }
  return undefined;
}
