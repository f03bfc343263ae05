/**
 * The worker SDK (docs/worker.md): a step handler that hides the run protocol. Verify the token, read the
 * X-CloudTasks-* headers, load the run, skip work already done, call the step's function with its payload and a
 * context (runId, step, shard, attempt, emit, output, log), record completion in the run ledger and create the next
 * steps' tasks when their joins are satisfied.
 *
 *   import { createServer } from 'node:http';
 *   import { createStepHandler, PermanentError } from 'cloud-tasks-pipelines/worker';
 *
 *   createServer(createStepHandler({ handlers: { train: async (payload, ctx) => ({ model: await train(payload) }) } }))
 *     .listen(Number(process.env.PORT ?? 8080));
 *
 * The lower-level helpers (verifyTaskRequest, readTaskHeaders, ...) stay in ./index and are re-exported here.
 */
export * from './index';
export { createStepHandler, statusOf, type StepHandler, type StepHandlerOptions } from './step-handler';
export { runDelivery, type Delivery, type DeliveryOutcome, type StepContext, type StepFunction } from './delivery';
export { runJobStep, type JobStepOptions, type JobStepResult } from './job-step';
export type { JobTaskIdentity } from '../core/job-env';
export {
  createStepLogger,
  logLine,
  traceContextOf,
  type LogSink,
  type Severity,
  type StepLogger,
  type TraceContext,
} from './log';
export {
  PermanentError,
  createLedger,
  type Ledger,
  type LedgerOptions,
  type LedgerTasksClient,
  type RunSummary,
  type RunView,
  type StepView,
  type ShardView,
} from '../ledger/index';
export { buildRoutes, parseRoutes, readRoutesFromEnv, RoutesError, type PipelineRoutes } from '../core/routes';
