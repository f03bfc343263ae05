/**
 * The example worker: a pipeline's steps on the worker SDK (createStepHandler), written the way a real worker is.
 * `npm run local` serves it for every step without `local.url`; it is also the reference for your own (docs/worker.md).
 *
 * The work is simulated (a short sleep), the shape is not:
 *   - a step whose payload says `shards: n` (the example's `ingest`) splits its input: `ctx.fanOut` sends n messages
 *     to each next step, so each next step (join: each) runs once per shard;
 *   - every step writes its artifact to a URI named after the run and the shard (`ctx.output`), so a retried attempt
 *     overwrites its own output instead of adding one;
 *   - what a step returns goes to every next step; a `join: all` step (the example's `train`) receives
 *     `{ "<parent>": [message, ...] }` once per run, after every parent finished;
 *   - `failureRate` makes a share of attempts throw before the work (the SDK answers 500, Cloud Tasks retries it):
 *     `npm run local -- --fail-rate 0.3` shows retries without changing what each run does.
 *
 * The SDK does the rest: the token, the X-CloudTasks-* headers, the run ledger, duplicates, the next tasks.
 */
import { createServer, type Server } from 'node:http';
import type { PipelineRoutes } from '../core/routes';
import type { StepContext, StepFunction } from './delivery';
import { createStepHandler, type StepHandler, type StepHandlerOptions } from './step-handler';

export interface ExampleWorkerOptions {
  /** The pipeline's routes (the stack output `routes`). */
  readonly routes: PipelineRoutes;
  /**
   * The steps this worker serves.
   * @default - every step of the routes
   */
  readonly steps?: readonly string[];
  /**
   * Simulated work per task, in ms.
   * @default 20
   */
  readonly workMs?: number;
  /**
   * Share of attempts (0..1) that fail before the work; Cloud Tasks retries them with the queue's backoff.
   * @default 0
   */
  readonly failureRate?: number;
  /** @default Math.random */
  readonly random?: () => number;
  /**
   * Where the simulated artifacts are "written": `<artifacts>/<pipeline>/<run>/<step>/<shard>`.
   * @default 'gs://local-artifacts'
   */
  readonly artifacts?: string;
}

/** The step functions of the example worker, by step name (what createStepHandler's `handlers` takes). */
export function exampleStepFunctions(o: ExampleWorkerOptions): Record<string, StepFunction> {
  const random = o.random ?? Math.random;
  const workMs = o.workMs ?? 20;
  const artifacts = o.artifacts ?? 'gs://local-artifacts';
  const steps = o.steps ?? Object.keys(o.routes.steps);
  const work = async (payload: unknown, ctx: StepContext): Promise<unknown> => {
    if (random() < (o.failureRate ?? 0))
      throw new Error(`simulated failure of ${ctx.step} (failure rate ${o.failureRate})`);
    await new Promise((resolve) => setTimeout(resolve, workMs));
    const uri = `${artifacts}/${ctx.pipeline}/${ctx.runId}/${ctx.step}/${ctx.shard}`;
    ctx.output('artifact', uri);
    const next = o.routes.steps[ctx.step].next;
    const shards = shardCount(payload);
    if (shards > 1 && next.length > 0) {
      const parts = Array.from({ length: shards }, (_, i) => ({ input: uri, part: i, of: shards }));
      for (const step of next) ctx.fanOut(step, parts);
      ctx.log.info(`split into ${shards} parts`, { parts: shards, next });
      return undefined;
    }
    return { input: uri };
  };
  return Object.fromEntries(steps.map((step) => [step, work]));
}

/** `shards` of an object payload, when it is a whole number from 1 to 1,000 (else 1: no split). */
function shardCount(payload: unknown): number {
  const n = (payload as { shards?: unknown } | null)?.shards;
  return typeof payload === 'object' && Number.isInteger(n) && (n as number) >= 1 && (n as number) <= 1000
    ? (n as number)
    : 1;
}

export interface RunningWorker {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** The SDK handler (its `ledger` reads and steers the runs it records). */
  readonly handler: StepHandler;
  close(): Promise<void>;
}

/** Serves the example worker on a loopback port (0 = a free one), with the SDK options given (ledger, env, log). */
export async function startExampleWorker(
  options: ExampleWorkerOptions &
    Omit<StepHandlerOptions, 'handlers' | 'routes'> & { readonly port?: number; readonly host?: string },
): Promise<RunningWorker> {
  const { routes, steps, workMs, failureRate, random, artifacts, port: wanted, host: wantedHost, ...sdk } = options;
  const handler = createStepHandler({
    ...sdk,
    routes,
    handlers: exampleStepFunctions({ routes, steps, workMs, failureRate, random, artifacts }),
  });
  const server: Server = createServer(handler);
  const host = wantedHost ?? '127.0.0.1';
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(wanted ?? 0, host, () => resolve((server.address() as { port: number }).port));
  });
  return {
    url: `http://${host}:${port}`,
    port,
    handler,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await handler.close();
    },
  };
}
