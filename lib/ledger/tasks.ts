/**
 * The Cloud Tasks calls of the ledger: creating a step's task (named deterministically, carrying the step's per-task
 * settings from the routes and the envelope as its body) and deleting one (cancel). `LedgerTasksClient` is the
 * subset of CloudTasksClient used, so tests pass a fake and the SDK passes the official client (ADC, or the
 * emulator through CLOUD_TASKS_EMULATOR_HOST).
 */
import { envelopeJson, ledgerTaskIdFor, type RunSource, type TaskEnvelope } from '../core/ledger-layout';
import type { PipelineRoutes } from '../core/routes';
import { httpRequestSizeBytes, LIMITS } from '../core/rules/cloud-tasks';
import { messageShardOf } from '../core/job-route';
import { jobRequest } from '../core/job-requests';
import { PermanentError } from './errors';

export { envelopeJson };

/** What the ledger needs of a Cloud Tasks client; `CloudTasksClient` from @google-cloud/tasks satisfies it. */
export interface LedgerTasksClient {
  createTask(
    request: { parent: string; task: Record<string, unknown> },
    options?: { timeout?: number },
  ): Promise<unknown>;
  deleteTask(request: { name: string }, options?: { timeout?: number }): Promise<unknown>;
}

/** gRPC codes (google.rpc.Code) the ledger treats as success: the task exists already, or is gone already. */
const ALREADY_EXISTS = 6;
const NOT_FOUND = 5;
const CALL_TIMEOUT_MS = 30_000;
const JSON_HEADERS = { 'Content-Type': 'application/json' } as const;

export interface StepTaskInput {
  readonly runId?: string;
  readonly step: string;
  readonly shard: string;
  readonly generation: number;
  /** The payload as JSON text (as the ledger stores messages). */
  readonly payloadJson: string;
  readonly from?: TaskEnvelope['from'];
  readonly source?: RunSource;
  /** When the first attempt is due (ms); unset = now. */
  readonly scheduleTimeMs?: number;
  /** The task id; default ledgerTaskIdFor(run, step, shard, generation). */
  readonly taskId?: string;
}

/**
 * The full task name of a ledger task. A job step has one task per message (its job runs every shard of it), so a job
 * shard (`0#2`) names the task of its message (`0`).
 */
export function ledgerTaskName(
  routes: PipelineRoutes,
  runId: string,
  step: string,
  shard: string,
  generation: number,
): string {
  return `${routes.steps[step].queue}/tasks/${ledgerTaskIdFor(runId, step, taskShardOf(routes, step, shard), generation)}`;
}

/** The shard a task of `step` is named after and carries: the message's, for a job step. */
function taskShardOf(routes: PipelineRoutes, step: string, shard: string): string {
  return routes.steps[step].job ? messageShardOf(shard) : shard;
}

/**
 * The body of a task of `step`: the envelope (a service's worker reads it), or for a job step the API request that
 * starts the job with the envelope as PIPELINE_MESSAGE (lib/core/job-requests.ts). Throws PermanentError when the
 * message cannot travel (a task over 1 MB, or an environment variable over the job's limit): a retry would build the
 * same body.
 */
export function stepTaskBody(routes: PipelineRoutes, t: StepTaskInput, what: string): string {
  const shard = taskShardOf(routes, t.step, t.shard);
  const envelope = envelopeJson({ ...t, shard });
  let body = envelope;
  if (routes.steps[t.step].job) {
    const request = jobRequest(routes, t.step, { runId: t.runId, shard, envelopeJson: envelope });
    const [tooLarge] = request.problems;
    if (tooLarge) throw new PermanentError(`${what} ${tooLarge.message}`);
    body = request.body;
  }
  checkTaskSize(routes, t.step, body, what);
  return body;
}

/**
 * Refuses a message that cannot travel as a task (Cloud Tasks: 1 MB per task, quotas page), with what to do instead.
 * Thrown as a PermanentError: a retry would build the same task.
 */
export function checkTaskSize(routes: PipelineRoutes, step: string, body: string, what: string): void {
  const size = httpRequestSizeBytes(routes.steps[step].url, JSON_HEADERS, body);
  if (size <= LIMITS.maxTaskSizeBytes) return;
  throw new PermanentError(
    `${what} make a task of ${size.toLocaleString('en-US')} bytes for step "${step}"; a Cloud Tasks task holds at most 1 MB (${LIMITS.maxTaskSizeBytes.toLocaleString('en-US')} bytes). Emit URIs of the data (e.g. gs://bucket/path written by the step) rather than the data itself`,
  );
}

/**
 * Creates the task of one shard: named `ledgerTaskIdFor(...)` in the step's queue, with the routes' URL, POST, JSON,
 * the step's dispatch deadline (the queue's http_target routes it and attaches the token). ALREADY_EXISTS (a retried
 * worker, or a duplicate delivery) is success with `created: false`.
 */
export async function createStepTask(
  client: LedgerTasksClient,
  routes: PipelineRoutes,
  t: StepTaskInput,
): Promise<{ name: string; created: boolean }> {
  const route = routes.steps[t.step];
  const body = stepTaskBody(routes, t, `the message${t.from ? ` from ${t.from.step}` : ''}`);
  const taskId = t.taskId ?? ledgerTaskIdFor(t.runId ?? '', t.step, taskShardOf(routes, t.step, t.shard), t.generation);
  const name = `${route.queue}/tasks/${taskId}`;
  const task: Record<string, unknown> = {
    name,
    httpRequest: { url: route.url, httpMethod: 'POST', headers: { ...JSON_HEADERS }, body: Buffer.from(body) },
    dispatchDeadline: { seconds: route.task.dispatchDeadlineSeconds },
  };
  if (t.scheduleTimeMs !== undefined)
    task.scheduleTime = { seconds: Math.floor(t.scheduleTimeMs / 1000), nanos: (t.scheduleTimeMs % 1000) * 1e6 };
  try {
    await client.createTask({ parent: route.queue, task }, { timeout: CALL_TIMEOUT_MS });
    return { name, created: true };
  } catch (err) {
    if ((err as { code?: number }).code === ALREADY_EXISTS) return { name, created: false };
    throw err;
  }
}

/** Deletes a task; false when it was not there (done, deleted, or never created). */
export async function deleteTaskIfPresent(client: LedgerTasksClient, name: string): Promise<boolean> {
  try {
    await client.deleteTask({ name }, { timeout: CALL_TIMEOUT_MS });
    return true;
  } catch (err) {
    if ((err as { code?: number }).code === NOT_FOUND) return false;
    throw err;
  }
}

/** Runs `fn` over `items`, at most `limit` at a time; results in input order; the first error rejects. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
