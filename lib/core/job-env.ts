/**
 * The environment of a job step's container: the variables Cloud Run and Vertex AI set for each task or replica,
 * and the one our request bodies add (`PIPELINE_MESSAGE`). One reader (`readJobTaskEnv`, used by the worker SDK's
 * `runJobStep`) and one writer (`jobTaskEnv`, used by the local stand-in, which must give a child process exactly
 * what the cloud gives a container).
 *
 * Cloud Run (container runtime contract, jobs): CLOUD_RUN_JOB, CLOUD_RUN_EXECUTION, CLOUD_RUN_TASK_INDEX (0-based),
 * CLOUD_RUN_TASK_COUNT, CLOUD_RUN_TASK_ATTEMPT ("the number of times this task has been retried", 0 first).
 * Vertex AI ("Distributed training"): CLOUD_ML_JOB_ID and CLUSTER_SPEC, a JSON
 * `{ "cluster": { "workerpool0": ["host:port"], "workerpool1": [...] }, "task": { "type": "workerpool1", "index": 0 },
 * "environment": "cloud" }`; a replica's place in the job is its pool's offset plus its index.
 */

/** The task envelope (lib/core/ledger-layout.ts TaskEnvelope) of the run, set by the step's API request body. */
export const PIPELINE_MESSAGE_ENV = 'PIPELINE_MESSAGE';

export const CLOUD_RUN_JOB_ENV = {
  job: 'CLOUD_RUN_JOB',
  execution: 'CLOUD_RUN_EXECUTION',
  taskIndex: 'CLOUD_RUN_TASK_INDEX',
  taskCount: 'CLOUD_RUN_TASK_COUNT',
  taskAttempt: 'CLOUD_RUN_TASK_ATTEMPT',
} as const;

export const VERTEX_JOB_ENV = { jobId: 'CLOUD_ML_JOB_ID', clusterSpec: 'CLUSTER_SPEC' } as const;

/** Which task of which execution this process is. */
export interface JobTaskIdentity {
  readonly platform: 'cloudRunJob' | 'vertexAI';
  /** The execution (Cloud Run, e.g. `train-x7k2p`) or the custom job id (Vertex). */
  readonly execution: string;
  /** 0-based task index (Cloud Run), or replica index over the job's worker pools (Vertex). */
  readonly index: number;
  /** Tasks in the execution, or replicas in the job. */
  readonly count: number;
  /** Retries of this task so far (0 on the first attempt; always 0 on Vertex, which restarts a job, not a replica). */
  readonly attempt: number;
}

const WORKER_POOL = /^workerpool(\d+)$/;

/**
 * Reads this process's task from the environment; throws an Error naming the variable when it is neither a Cloud
 * Run job task nor a Vertex AI replica (or a variable is malformed).
 */
export function readJobTaskEnv(env: NodeJS.ProcessEnv): JobTaskIdentity {
  const E = CLOUD_RUN_JOB_ENV;
  if (env[E.taskIndex] !== undefined || env[E.execution] !== undefined) {
    const whole = (name: string, min: number): number => {
      const text = env[name];
      const n = Number(text);
      if (text === undefined || !/^\d+$/.test(text) || n < min)
        throw new Error(`${name}=${JSON.stringify(text)} is not a whole number of at least ${min} (Cloud Run sets it)`);
      return n;
    };
    const execution = env[E.execution];
    if (!execution) throw new Error(`${E.execution} is not set (Cloud Run sets it in every job task)`);
    const index = whole(E.taskIndex, 0);
    const count = whole(E.taskCount, 1);
    if (index >= count) throw new Error(`${E.taskIndex}=${index} is not below ${E.taskCount}=${count}`);
    return { platform: 'cloudRunJob', execution, index, count, attempt: whole(E.taskAttempt, 0) };
  }
  const spec = env[VERTEX_JOB_ENV.clusterSpec];
  if (spec !== undefined) {
    const jobId = env[VERTEX_JOB_ENV.jobId];
    if (!jobId) throw new Error(`${VERTEX_JOB_ENV.jobId} is not set (Vertex AI sets it in every replica)`);
    const { index, count } = replicaOf(spec);
    return { platform: 'vertexAI', execution: jobId, index, count, attempt: 0 };
  }
  throw new Error(
    `this process is not a Cloud Run job task (${E.taskIndex} and ${E.execution} are not set) nor a Vertex AI replica (${VERTEX_JOB_ENV.clusterSpec} is not set): runJobStep runs in the container of a cloudRunJob or vertexAI step, or under npm run local`,
  );
}

function replicaOf(text: string): { index: number; count: number } {
  const bad = (why: string) => new Error(`${VERTEX_JOB_ENV.clusterSpec} ${why} (Vertex AI sets it in every replica)`);
  let spec: { cluster?: Record<string, unknown>; task?: { type?: unknown; index?: unknown } };
  try {
    spec = JSON.parse(text) as typeof spec;
  } catch {
    throw bad('is not JSON');
  }
  const pools = Object.entries(spec.cluster ?? {})
    .map(([name, hosts]) => ({
      pool: Number(WORKER_POOL.exec(name)?.[1] ?? NaN),
      size: Array.isArray(hosts) ? hosts.length : 0,
    }))
    .filter((p) => Number.isInteger(p.pool))
    .sort((a, b) => a.pool - b.pool);
  const type = typeof spec.task?.type === 'string' ? WORKER_POOL.exec(spec.task.type) : null;
  const index = spec.task?.index;
  if (!type || !Number.isInteger(index)) throw bad('has no task { type: "workerpoolN", index }');
  const pool = Number(type[1]);
  const offset = pools.filter((p) => p.pool < pool).reduce((n, p) => n + p.size, 0);
  const count = pools.reduce((n, p) => n + p.size, 0);
  const at = offset + (index as number);
  if (at >= count) throw bad(`names replica ${spec.task!.type}[${index}], which its cluster does not list`);
  return { index: at, count };
}

/** The variables a task gets (the local stand-in's writer of what readJobTaskEnv reads). */
export function jobTaskEnv(
  t:
    | { readonly platform: 'cloudRunJob'; readonly job: string }
    | { readonly platform: 'vertexAI'; readonly replicaCount: number },
  execution: string,
  index: number,
  count: number,
  attempt: number,
): Record<string, string> {
  if (t.platform === 'cloudRunJob')
    return {
      [CLOUD_RUN_JOB_ENV.job]: t.job,
      [CLOUD_RUN_JOB_ENV.execution]: execution,
      [CLOUD_RUN_JOB_ENV.taskIndex]: String(index),
      [CLOUD_RUN_JOB_ENV.taskCount]: String(count),
      [CLOUD_RUN_JOB_ENV.taskAttempt]: String(attempt),
    };
  // Replica 0 is the primary (worker pool 0, one replica), the others workers (pool 1).
  const host = (pool: number, i: number) => `workerpool${pool}-${execution}-${i}:2222`;
  const cluster: Record<string, string[]> = { workerpool0: [host(0, 0)] };
  if (t.replicaCount > 1) cluster.workerpool1 = Array.from({ length: t.replicaCount - 1 }, (_, i) => host(1, i));
  const task = index === 0 ? { type: 'workerpool0', index: 0 } : { type: 'workerpool1', index: index - 1 };
  return {
    [VERTEX_JOB_ENV.jobId]: execution,
    [VERTEX_JOB_ENV.clusterSpec]: JSON.stringify({ cluster, environment: 'cloud', task }),
  };
}
