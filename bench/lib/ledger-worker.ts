/**
 * The run-ledger benchmark's worker, in its own process as a deployed worker would be: the worker SDK's step handler
 * on a loopback port, configured the production way (routes from CLOUD_TASKS_PIPELINE_ROUTES, the Firestore emulator
 * from FIRESTORE_EMULATOR_HOST, the Cloud Tasks emulator from CLOUD_TASKS_EMULATOR_HOST). Started by
 * bench/sections/ledger.ts over IPC: it sends { port } when listening; on { type: 'report' } it replies with when each
 * step function started and returned (Date.now(), per run, step and shard) and the ledger's writes per document.
 */
import { createServer } from 'node:http';
import { readRoutesFromEnv } from '../../lib/core/routes';
import { createLedger } from '../../lib/ledger/index';
import { createStepHandler } from '../../lib/worker/step-handler';
import type { StepContext, StepFunction } from '../../lib/worker/delivery';

export interface WorkTiming {
  readonly runId: string;
  readonly step: string;
  readonly shard: string;
  readonly startedAt: number;
  readonly endedAt: number;
}

export interface WorkerReport {
  readonly timings: WorkTiming[];
  /** Committed ledger writes per document path. */
  readonly writes: Record<string, number>;
}

const timings: WorkTiming[] = [];
const writes: Record<string, number> = {};

/** Records when a step function ran, around `fn`. */
const timed =
  (step: string, fn: StepFunction): StepFunction =>
  async (payload, ctx: StepContext) => {
    const startedAt = Date.now();
    const result = await fn(payload, ctx);
    timings.push({ runId: ctx.runId, step, shard: ctx.shard, startedAt, endedAt: Date.now() });
    return result;
  };

function main(): void {
  const routes = readRoutesFromEnv();
  const handlers: Record<string, StepFunction> = {};
  for (const step of Object.keys(routes.steps)) {
    // `split` fans out (its payload says how wide); every other step passes a small message on.
    handlers[step] =
      step === 'split'
        ? timed(step, (p: { shards: number }, ctx) =>
            ctx.fanOut(
              'work',
              Array.from({ length: p.shards }, (_, i) => ({ i })),
            ),
          )
        : timed(step, (p: unknown) => (step === 'merge' ? { parts: (p as { work: unknown[] }).work.length } : p));
  }
  const ledger = createLedger({ routes, onWrite: (path) => (writes[path] = (writes[path] ?? 0) + 1) });
  const handler = createStepHandler({ ledger, handlers, log: () => undefined });
  const server = createServer(handler);
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => process.send!({ port: (server.address() as { port: number }).port }));
  process.on('message', (m: { type?: string }) => {
    if (m?.type === 'report') process.send!({ timings, writes } satisfies WorkerReport);
  });
  process.on('disconnect', () => {
    server.close();
    void ledger.close().finally(() => process.exit(0));
  });
}

main();
