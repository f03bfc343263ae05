/**
 * The service steps of a pipeline with job steps, served on the worker SDK (`createStepHandler`) for `npm run local`:
 * a job step's tasks record into the run ledger and read envelopes, so the service steps around them must speak the
 * same protocol (the example worker, lib/worker/example-worker.ts, predates the ledger). One loopback server serves
 * every service step; each does the example work (a short sleep, a share of attempts failing) and passes its input on.
 *
 * Interim: the `runs` work (issue 11, phase 2) moves every step of `npm run local` onto the SDK; this module is then
 * replaced by that one (docs/decisions/job-steps.md, "Merging").
 */
import { createServer, type Server } from 'node:http';
import type { PipelineRoutes } from '../../core/routes';
import { createStepHandler, type StepHandler } from '../../worker/step-handler';
import type { StepFunction } from '../../worker/delivery';

export interface SdkWorkersOptions {
  readonly routes: PipelineRoutes;
  /** The service steps to serve. */
  readonly steps: readonly string[];
  /** FIRESTORE_EMULATOR_HOST, CLOUD_TASKS_EMULATOR_HOST and the emulator's OIDC issuer. */
  readonly env: NodeJS.ProcessEnv;
  /** Simulated work per task, ms. @default 20 */
  readonly workMs?: number;
  /** Share of attempts that fail (and are retried by their queue). @default 0 */
  readonly failureRate?: number;
  /** @default Math.random */
  readonly random?: () => number;
  /** The SDK's JSON log lines. @default - dropped */
  readonly log?: (line: string) => void;
}

export interface RunningSdkWorkers {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly handler: StepHandler;
  close(): Promise<void>;
}

export async function startSdkWorkers(o: SdkWorkersOptions): Promise<RunningSdkWorkers> {
  const random = o.random ?? Math.random;
  const example: StepFunction = async (payload) => {
    if (random() < (o.failureRate ?? 0)) throw new Error('simulated failure (failureRate); Cloud Tasks will retry');
    await new Promise((r) => setTimeout(r, o.workMs ?? 20));
    return payload;
  };
  const handler = createStepHandler({
    routes: o.routes,
    handlers: Object.fromEntries(o.steps.map((s) => [s, example])),
    env: o.env,
    log: o.log ?? (() => undefined),
  });
  const server: Server = createServer(handler);
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
  });
  return {
    url: `http://127.0.0.1:${port}`,
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
