/**
 * The run ledger (docs/runs.md): what Cloud Tasks does not keep, which runs exist and how far each got, in Firestore.
 * `createLedger({ routes })` gives the readers (listRuns, getRun), the steering (startRun, cancelRun, retryRun) and
 * the engine the worker SDK runs deliveries with. Imports lib/core only; the Firestore and Cloud Tasks client
 * libraries load on first use.
 */
import type { Firestore } from '@google-cloud/firestore';
import type { PipelineRoutes } from '../core/routes';
import type { ShardState } from '../core/ledger-layout';
import { systemLedgerClock, type LedgerClock } from './clock';
import { RunEngine } from './engine';
import type { LedgerEventListener } from './events';
import { createLedgerFirestore } from './firestore';
import { getRun, listRuns, type ListRunsOptions, type RunSummary, type RunView } from './readers';
import {
  cancelRun,
  retryRun,
  startRun,
  type CancelRunResult,
  type RetryRunOptions,
  type RetryRunResult,
  type StartRunOptions,
  type StartRunResult,
} from './steering';
import { LedgerStore } from './store';
import type { LedgerTasksClient } from './tasks';

export interface LedgerOptions {
  readonly routes: PipelineRoutes;
  /** @default - a client for routes.ledger (the emulator when FIRESTORE_EMULATOR_HOST is set in `env`) */
  readonly firestore?: Firestore;
  /**
   * Creates and deletes the run's tasks.
   * @default - a CloudTasksClient: ADC, or the emulator when CLOUD_TASKS_EMULATOR_HOST is set in `env` (made on first use)
   */
  readonly tasks?: LedgerTasksClient;
  /** @default the system clock */
  readonly clock?: LedgerClock;
  /** Where the emulator variables are read. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  /** Every decision the ledger takes (run created, step complete, ...). @default - none */
  readonly onEvent?: LedgerEventListener;
  /** Called with the document path of every committed write (to count writes per document). @default - none */
  readonly onWrite?: (path: string) => void;
}

export interface Ledger {
  readonly routes: PipelineRoutes;
  readonly engine: RunEngine;
  listRuns(options?: ListRunsOptions): Promise<RunSummary[]>;
  getRun(runId: string): Promise<RunView | undefined>;
  startRun(options?: StartRunOptions): Promise<StartRunResult>;
  cancelRun(runId: string): Promise<CancelRunResult>;
  retryRun(runId: string, options?: RetryRunOptions): Promise<RetryRunResult>;
  /**
   * The durable idempotency check: the state of a (run, step, shard) in the ledger (undefined: never claimed).
   * `done` means its work finished and was recorded; no worker runs it again.
   */
  shardState(runId: string, step: string, shard: string): Promise<ShardState | undefined>;
  /** Closes the clients the ledger created (not the ones passed in). */
  close(): Promise<void>;
}

export function createLedger(o: LedgerOptions): Ledger {
  const env = o.env ?? process.env;
  const ownFirestore = !o.firestore;
  const firestore = o.firestore ?? createLedgerFirestore({ ...o.routes.ledger, env });
  const lazyTasks = o.tasks ? undefined : lazyTasksClient(env);
  const engine = new RunEngine({
    routes: o.routes,
    store: new LedgerStore(firestore, o.routes.stack, o.onWrite),
    tasks: o.tasks ?? lazyTasks!.client,
    clock: o.clock ?? systemLedgerClock,
    onEvent: o.onEvent,
  });
  return {
    routes: o.routes,
    engine,
    listRuns: (options) => listRuns(engine, options),
    getRun: (runId) => getRun(engine, runId),
    startRun: (options) => startRun(engine, options),
    cancelRun: (runId) => cancelRun(engine, runId),
    retryRun: (runId, options) => retryRun(engine, runId, options),
    shardState: async (runId, step, shard) => (await engine.store.getShard(runId, step, shard))?.state,
    close: async () => {
      await lazyTasks?.close();
      if (ownFirestore) await firestore.terminate();
    },
  };
}

/** A CloudTasksClient made on the first call (loading the client library costs a few hundred ms). */
function lazyTasksClient(env: NodeJS.ProcessEnv): { client: LedgerTasksClient; close(): Promise<void> } {
  type Client = LedgerTasksClient & { close(): Promise<void> };
  let real: Client | undefined;
  const get = (): Client => {
    if (!real) {
      const { seedTargetFromEnv } = require('../core/env') as typeof import('../core/env');
      const { createClients } = require('../core/tasks-client') as typeof import('../core/tasks-client');
      real = createClients(seedTargetFromEnv(env), 1)[0] as unknown as Client;
    }
    return real;
  };
  return {
    client: {
      createTask: (request, options) => get().createTask(request, options),
      deleteTask: (request, options) => get().deleteTask(request, options),
    },
    close: async () => {
      await real?.close();
    },
  };
}

export { PermanentError, isPermanentError } from './errors';
export { RunEngine, compareShardIds, type ClaimResult, type DeliveryInput, type ShardOutcome } from './engine';
export type { LedgerEvent, LedgerEventListener, LedgerEventType } from './events';
export type { LedgerClock } from './clock';
export type { ListRunsOptions, RunSummary, RunView, StepView, ShardView } from './readers';
export { RunSteeringError, generateRunId } from './steering';
export type { StartRunOptions, StartRunResult, CancelRunResult, RetryRunOptions, RetryRunResult } from './steering';
export type { LedgerTasksClient } from './tasks';
export type { RunRecord, ShardRecord, StepRecord } from './store';
export { stallBudgetSeconds } from './stall';
