/**
 * The worker SDK's HTTP entry: one handler for a pipeline's steps, for `http.createServer` and Express-style
 * frameworks alike (a request whose body is already parsed works too).
 *
 *   const handler = createStepHandler({
 *     handlers: {
 *       train: async (payload, ctx) => { ...; ctx.output('model', 'gs://...'); return { model: 'gs://...' }; },
 *     },
 *   });                                  // routes from CLOUD_TASKS_PIPELINE_ROUTES(_FILE), the ledger from them
 *   createServer(handler).listen(Number(process.env.PORT ?? 8080));
 *
 * Per request: the step from X-CloudTasks-QueueName, the OIDC token verified for that step (verifyTaskRequest), the
 * X-CloudTasks-* headers, the envelope (or a plain payload that starts a run), then runDelivery (delivery.ts).
 * Answers: 200 done / duplicate / skipped / failed permanently; 503 + Retry-After while another delivery holds the
 * shard; 500 when the work failed and the queue should retry; 400/401/403/404 for requests that are not ours.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Firestore } from '@google-cloud/firestore';
import { createLedger, type Ledger, type LedgerClock, type LedgerTasksClient } from '../ledger/index';
import {
  START_SHARD,
  envelopeProblems,
  isTaskEnvelope,
  runIdProblem,
  type RunSource,
  type TaskEnvelope,
} from '../core/ledger-layout';
import { readRoutesFromEnv, stepOfQueue, type PipelineRoutes } from '../core/routes';
import { ledgerEventLogger, runDelivery, type Delivery, type DeliveryOutcome, type StepFunction } from './delivery';
import { TaskRequestError, readPipelineMessage, readTaskHeaders, verifyTaskRequest } from './index';
import { logLine, stdoutSink, traceContextOf, type LogSink } from './log';

export interface StepHandlerOptions {
  /** @default - read from CLOUD_TASKS_PIPELINE_ROUTES or CLOUD_TASKS_PIPELINE_ROUTES_FILE in `env` */
  readonly routes?: PipelineRoutes;
  /** The step functions this worker serves, by step name (a subset of the routes' steps). */
  readonly handlers: Readonly<Record<string, StepFunction>>;
  /** A ledger made elsewhere (shared by several handlers, or with a manual clock in tests). @default - one from the options below */
  readonly ledger?: Ledger;
  /** @default - a client for the routes' ledger database (the emulator when FIRESTORE_EMULATOR_HOST is set) */
  readonly firestore?: Firestore;
  /** @default - a CloudTasksClient (ADC, or the emulator when CLOUD_TASKS_EMULATOR_HOST is set) */
  readonly tasks?: LedgerTasksClient;
  /** @default the system clock */
  readonly clock?: LedgerClock;
  /** Where the routes and emulator variables are read. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  /**
   * Verify the OIDC token of steps whose routes say `auth.kind: oidc` (audience and invoker from the routes). Turn
   * off only behind something that verified it already (Cloud Run with IAM: --no-allow-unauthenticated).
   * @default true
   */
  readonly verifyTokens?: boolean;
  /** Where the JSON log lines go. @default - stdout */
  readonly log?: LogSink;
}

export interface StepHandler {
  (req: IncomingMessage & { body?: unknown }, res: ServerResponse): void;
  /** The ledger it records in (readers, steering, and `shardState`, the durable idempotency check). */
  readonly ledger: Ledger;
  /** Closes the clients it created. */
  close(): Promise<void>;
}

/** Bodies above this are refused: Cloud Tasks' own limit for a task is 1 MB. */
const MAX_BODY_BYTES = 1024 * 1024 + 1;

export function createStepHandler(options: StepHandlerOptions): StepHandler {
  const env = options.env ?? process.env;
  const routes = options.ledger?.routes ?? options.routes ?? readRoutesFromEnv(env);
  for (const step of Object.keys(options.handlers))
    if (!routes.steps[step])
      throw new Error(
        `createStepHandler: handlers.${step}: "${step}" is not a step of pipeline ${routes.pipeline} (steps: ${Object.keys(routes.steps).join(', ')})`,
      );
  const sink = options.log ?? stdoutSink;
  const ownLedger = !options.ledger;
  const ledger: Ledger =
    options.ledger ??
    createLedger({
      routes,
      ...(options.firestore ? { firestore: options.firestore } : {}),
      ...(options.tasks ? { tasks: options.tasks } : {}),
      ...(options.clock ? { clock: options.clock } : {}),
      env,
      onEvent: ledgerEventLogger(sink, routes, () => ledger.engine.clock.now()),
    });
  const verify = options.verifyTokens ?? true;

  const respond = (res: ServerResponse, status: number, json: unknown, headers: Record<string, string> = {}) => {
    if (res.headersSent) return;
    res.statusCode = status;
    res.setHeader('content-type', 'application/json');
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    res.end(JSON.stringify(json));
  };

  const handle = async (req: IncomingMessage & { body?: unknown }, res: ServerResponse): Promise<void> => {
    const task = readTaskHeaders(req.headers);
    const queueStep = stepOfQueue(routes, task.queueName);
    if (!queueStep)
      throw new TaskRequestError(
        400,
        `queue ${task.queueName} is not a queue of pipeline ${routes.pipeline} (stack ${routes.stack})`,
      );
    const auth = routes.steps[queueStep].auth;
    if (verify && auth.kind === 'oidc')
      await verifyTaskRequest(req.headers, {
        audience: auth.audience,
        serviceAccountEmail: auth.serviceAccountEmail,
        env,
      });
    const delivery = toDelivery(task, queueStep, await readBody(req), traceContextOf(req.headers, routes.project));
    const fn = options.handlers[delivery.step];
    if (!fn) {
      sink(
        logLine(
          'ERROR',
          `this worker does not serve step ${delivery.step} (it serves ${Object.keys(options.handlers).join(', ')})`,
          { pipeline: routes.pipeline, runId: delivery.runId, step: delivery.step, shard: delivery.shard },
          delivery.trace,
        ),
      );
      return respond(res, 404, { error: `no handler for step ${delivery.step} here` });
    }
    const outcome = await runDelivery(ledger, delivery, fn, sink);
    const body = { ...outcome, runId: delivery.runId, step: delivery.step, shard: delivery.shard };
    respond(
      res,
      statusOf(outcome),
      body,
      outcome.kind === 'busy' ? { 'retry-after': String(outcome.retryAfterSeconds) } : {},
    );
  };

  const handler = ((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (err instanceof TaskRequestError) {
        sink(logLine('WARNING', `refused (${err.status}): ${err.message}`, { pipeline: routes.pipeline }, undefined));
        return respond(res, err.status, { error: err.message });
      }
      // The ledger or Cloud Tasks failed (or the body could not be read): transient as far as we know.
      sink(
        logLine('ERROR', `failed: ${(err as Error).message}`, { pipeline: routes.pipeline }, undefined, {
          stack: (err as Error).stack,
        }),
      );
      respond(res, 503, { error: `failed: ${(err as Error).message}` });
    });
  }) as StepHandler;
  Object.defineProperty(handler, 'ledger', { value: ledger });
  Object.defineProperty(handler, 'close', { value: () => (ownLedger ? ledger.close() : Promise.resolve()) });
  return handler;
}

/** 2xx ends the task; 500 and 503 make Cloud Tasks retry it (503 honours Retry-After). */
export function statusOf(outcome: DeliveryOutcome): number {
  switch (outcome.kind) {
    case 'busy':
      return 503;
    case 'failed':
      // A permanent failure is recorded: 2xx, so Cloud Tasks stops. A last attempt's failure is reported as one.
      return outcome.permanent ? 200 : 500;
    default:
      return 200;
  }
}

/** The body as JSON text and value: already parsed by a framework (object, string or Buffer), or read here. */
async function readBody(req: IncomingMessage & { body?: unknown }): Promise<{ json: string; value: unknown }> {
  let text: string;
  // body-parser leaves `{}` on a request it did not parse (another content type) and the stream unread.
  const unparsed =
    req.body !== null &&
    typeof req.body === 'object' &&
    !(req.body instanceof Uint8Array) &&
    Object.keys(req.body).length === 0 &&
    !req.readableEnded;
  if (req.body !== undefined && !unparsed && !(req.body instanceof Uint8Array) && typeof req.body !== 'string') {
    // express.json() and the like: a parsed value.
    return { json: JSON.stringify(req.body), value: req.body };
  } else if (req.body !== undefined && !unparsed) {
    // express.text() or express.raw(): the body as text or bytes.
    text = typeof req.body === 'string' ? req.body : Buffer.from(req.body as Uint8Array).toString();
  } else {
    text = await new Promise<string>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.byteLength;
        if (size <= MAX_BODY_BYTES) chunks.push(c);
      });
      req.on('end', () =>
        size > MAX_BODY_BYTES
          ? reject(new TaskRequestError(400, 'body larger than a Cloud Tasks task can be (1 MB)'))
          : resolve(Buffer.concat(chunks).toString()),
      );
      req.on('error', reject);
    });
  }
  if (text === '') return { json: 'null', value: null };
  try {
    return { json: text, value: JSON.parse(text) };
  } catch (err) {
    throw new TaskRequestError(400, `task body is not JSON: ${(err as Error).message}`);
  }
}

/** The ledger's view of a request: from the envelope, or (a plain payload) a run's first task. */
function toDelivery(
  task: ReturnType<typeof readTaskHeaders>,
  queueStep: string,
  body: { json: string; value: unknown },
  trace: Delivery['trace'],
): Delivery {
  const common = { taskName: task.taskName, retryCount: task.retryCount, ...(trace ? { trace } : {}) };
  if (isTaskEnvelope(body.value)) {
    const problems = envelopeProblems(body.value as Record<string, unknown>);
    if (problems.length) throw new TaskRequestError(400, `malformed task envelope: ${problems.join('; ')}`);
    const e = body.value as TaskEnvelope;
    if (e.step !== queueStep)
      throw new TaskRequestError(400, `the task is for step ${e.step} but came through the queue of ${queueStep}`);
    const runId = e.runId ?? readPipelineMessage('null', task).runId;
    return {
      ...common,
      runId,
      step: e.step,
      shard: e.shard,
      generation: e.generation,
      payload: e.payload,
      payloadJson: JSON.stringify(e.payload === undefined ? null : e.payload),
      ...(e.from ? { from: e.from } : {}),
      ...(e.shard === START_SHARD && e.generation === 0
        ? { startsRun: { source: e.source ?? { kind: 'manual' }, startTaskId: task.taskName } }
        : {}),
    };
  }
  // A plain payload: a seed (its run id is the seed id), a scheduled firing or a hand-made task (the task id), or a
  // message of an older worker's enqueueNext (its run id).
  const message = readPipelineMessage(body.json, task);
  const bad = runIdProblem(message.runId);
  if (bad) throw new TaskRequestError(400, `cannot start a run from task ${task.taskName}: ${bad}`);
  const source: RunSource =
    message.runId !== task.taskName && message.lineage.length === 0
      ? { kind: 'seed', name: message.runId }
      : { kind: 'manual', name: task.taskName };
  const payloadJson = message.payload === body.value ? body.json : JSON.stringify(message.payload ?? null);
  return {
    ...common,
    runId: message.runId,
    step: queueStep,
    shard: START_SHARD,
    generation: 0,
    payload: message.payload,
    payloadJson,
    startsRun: { source, startTaskId: task.taskName },
  };
}
