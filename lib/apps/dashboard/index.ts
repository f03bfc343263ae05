/**
 * The local dashboard (docs/dashboard.md): `npm run local -- --ui` and `npm run emulator -- --ui` call these. Loaded
 * only with `--ui`, so the runs without it pay nothing for it.
 */
import type { CloudTasksClient } from '@google-cloud/tasks';
import { EMULATOR_HOST_ENV } from '../../core/env';
import { buildRoutes, type RoutesInput } from '../../core/routes';
import { readSynthesizedStack } from '../../core/synthesized-stack';
import type { RunningEmulator } from '../../emulator/server';
import type { Ledger } from '../../ledger/index';
import { createTasksClient } from '../../worker/index';
import { startDashboard, type RunningDashboard } from './server';

export { startDashboard, type DashboardOptions, type RunningDashboard } from './server';

export interface DashboardUiOptions {
  /** TCP port on 127.0.0.1; 0 picks a free one. @default 0 */
  readonly port?: number;
}

/**
 * The dashboard of a local run: the run's emulator, the synthesized stack it created its queues from, the spec's
 * routes (for stacks that publish none), and the run's Cloud Tasks client for the actions.
 */
export function startLocalDashboard(o: {
  readonly emulator: RunningEmulator;
  readonly client: CloudTasksClient;
  readonly stackDir: string;
  readonly spec: RoutesInput;
  readonly ledger?: Ledger;
  readonly ui: DashboardUiOptions;
}): Promise<RunningDashboard> {
  let routes: ReturnType<typeof buildRoutes> | undefined;
  try {
    routes = buildRoutes(o.spec);
  } catch {
    // The stack's own routes output (or its pipeline_graph) is enough to draw it.
    routes = undefined;
  }
  return startDashboard({
    emulator: o.emulator,
    tasks: o.client,
    stack: readSynthesizedStack(o.stackDir),
    ...(routes ? { routes } : {}),
    ...(o.ledger ? { ledger: o.ledger } : {}),
    port: o.ui.port ?? 0,
  });
}

/**
 * The dashboard of `npm run emulator -- --ui`: the pipeline of the first `--stack` (if any), actions through a
 * Cloud Tasks client of this emulator (closed with the dashboard).
 */
export async function startEmulatorDashboard(o: {
  readonly emulator: RunningEmulator;
  readonly stackDir?: string;
  readonly ui: DashboardUiOptions;
}): Promise<RunningDashboard> {
  const client = createTasksClient({ [EMULATOR_HOST_ENV]: o.emulator.address });
  try {
    const dashboard = await startDashboard({
      emulator: o.emulator,
      tasks: client,
      ...(o.stackDir ? { stack: readSynthesizedStack(o.stackDir) } : {}),
      port: o.ui.port ?? 0,
    });
    return {
      ...dashboard,
      close: async () => {
        await dashboard.close();
        await client.close();
      },
    };
  } catch (err) {
    await client.close();
    throw err;
  }
}

/** Resolves when `signal` aborts (Ctrl-C): a dashboard keeps serving until then. */
export function untilAborted(signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return new Promise<void>(() => undefined);
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}
