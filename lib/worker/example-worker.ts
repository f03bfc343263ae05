/**
 * The example worker: one pipeline step's HTTP handler, written the way a production handler should be.
 *
 *   1. verify the OIDC token (audience and service account)      -> 401 / 403, never retried into success
 *   2. read the X-CloudTasks-* headers                           -> 400 if the request is not from Cloud Tasks
 *   3. read the message (payload, runId, lineage)                -> 400 if the body is not JSON
 *   4. once per task name (idempotency guard):
 *        do the work (simulated: a short sleep; a configurable share of attempts fail with 503, for demos)
 *        enqueue one task into each `next` step's queue (named after this task: a retry cannot duplicate it)
 *   5. answer 200 only after all of that succeeded               -> any failure is a 5xx and Cloud Tasks retries
 *
 * `npm run local` serves every step without `local.url` with one of these, on its own loopback port.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import {
  TaskRequestError,
  createIdempotencyGuard,
  enqueueNext,
  readPipelineMessage,
  readTaskHeaders,
  verifyTaskRequest,
  type TaskCreatorClient,
  type VerifyTaskRequestOptions,
} from './index';

export interface NextStep {
  readonly step: string;
  /** Full queue name. */
  readonly queue: string;
  /** The step's target URL (the queue's http_target routes the task; the API wants a URL on it). */
  readonly url: string;
}

export interface ExampleWorkerOptions {
  /** The step this worker serves. */
  readonly step: string;
  /**
   * Token check. `undefined` accepts requests without one: only for steps whose spec says `auth: none` (or oauth,
   * whose tokens only Google APIs can check).
   */
  readonly verify?: Omit<VerifyTaskRequestOptions, 'env'> & { readonly env?: NodeJS.ProcessEnv };
  /** Steps to enqueue into after the work. @default [] */
  readonly next?: readonly NextStep[];
  /** Creates the next tasks (a CloudTasksClient). Required when `next` is not empty. */
  readonly client?: TaskCreatorClient;
  /** Simulated work per task. @default 20 */
  readonly workMs?: number;
  /** Share of attempts (0..1) that fail with 503 before doing anything, to watch retries. @default 0 */
  readonly failureRate?: number;
  /** @default Math.random */
  readonly random?: () => number;
  /** Log lines (one per request outcome). @default - silent */
  readonly log?: (line: string) => void;
}

/** Bodies above this are refused: Cloud Tasks' own limit for a task is 1 MB. */
const MAX_BODY_BYTES = 1024 * 1024 + 1;

/** A request handler for `http.createServer`. */
export function exampleWorkerHandler(
  options: ExampleWorkerOptions,
): (req: IncomingMessage, res: ServerResponse) => void {
  const next = options.next ?? [];
  if (next.length > 0 && !options.client)
    throw new Error(
      `example worker for step "${options.step}": a client is needed to enqueue into ${next.map((n) => n.step).join(', ')}`,
    );
  const guard = createIdempotencyGuard();
  const random = options.random ?? Math.random;
  const log = options.log ?? (() => undefined);

  const handle = async (req: IncomingMessage, body: Buffer): Promise<{ status: number; json: unknown }> => {
    if (options.verify) await verifyTaskRequest(req.headers, options.verify);
    const task = readTaskHeaders(req.headers);
    const message = readPipelineMessage(body, task);

    const { duplicate } = await guard.run(`${task.queueName}/${task.taskName}`, async () => {
      if (random() < (options.failureRate ?? 0)) throw new SimulatedFailure();
      await new Promise((r) => setTimeout(r, options.workMs ?? 20));
      for (const n of next)
        await enqueueNext(options.client!, { queue: n.queue, url: n.url, parent: task, step: options.step, message });
      return true;
    });
    log(
      `${options.step}: ${duplicate ? 'duplicate delivery of' : 'done'} ${task.taskName} (run ${message.runId}, attempt ${task.retryCount + 1})`,
    );
    return { status: 200, json: { step: options.step, task: task.taskName, runId: message.runId, duplicate } };
  };

  return (req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.byteLength;
      if (size <= MAX_BODY_BYTES) chunks.push(c);
    });
    req.on('end', () => {
      const reply = (status: number, json: unknown): void => {
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
      };
      if (size > MAX_BODY_BYTES) return reply(413, { error: 'body larger than a Cloud Tasks task can be (1 MB)' });
      handle(req, Buffer.concat(chunks)).then(
        (r) => reply(r.status, r.json),
        (err: unknown) => {
          if (err instanceof TaskRequestError) {
            log(`${options.step}: refused (${err.status}): ${err.message}`);
            return reply(err.status, { error: err.message });
          }
          // Anything else is transient as far as we know: 503 makes Cloud Tasks retry with backoff.
          const message = err instanceof SimulatedFailure ? err.message : `failed: ${(err as Error).message}`;
          log(`${options.step}: ${message}`);
          return reply(503, { error: message });
        },
      );
    });
  };
}

class SimulatedFailure extends Error {
  constructor() {
    super('simulated failure (failureRate); Cloud Tasks will retry');
  }
}

export interface RunningWorker {
  readonly step: string;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Serves one step's example worker on a loopback port (0 = a free one). */
export async function startExampleWorker(
  options: ExampleWorkerOptions & { readonly port?: number; readonly host?: string },
): Promise<RunningWorker> {
  const server: Server = createServer(exampleWorkerHandler(options));
  const host = options.host ?? '127.0.0.1';
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve((server.address() as { port: number }).port));
  });
  return {
    step: options.step,
    url: `http://${host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
