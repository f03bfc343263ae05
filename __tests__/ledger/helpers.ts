/**
 * Test harness for the run ledger: Google's Firestore emulator (one per suite run, started by global-setup.ts; each
 * caller gets its own project id, so suites never see each other's documents), the in-process Cloud Tasks emulator
 * dispatching to a real worker (createStepHandler on a loopback server) with OIDC tokens the worker verifies, and
 * queues routed exactly as a stack's http_target would route them.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Firestore } from '@google-cloud/firestore';
import * as grpc from '@grpc/grpc-js';
import { CloudTasksClient } from '@google-cloud/tasks';
import { EMULATOR_ISSUER_ENV, FIRESTORE_EMULATOR_HOST_ENV } from '../../lib/core/env';
import { buildRoutes, type PipelineRoutes, type RoutesStepInput } from '../../lib/core/routes';
import type { RunStatus } from '../../lib/core/ledger-layout';
import type { DispatchEvent } from '../../lib/emulator/dispatch/events';
import type { Task } from '../../lib/emulator/model';
import { startEmulator, type RunningEmulator } from '../../lib/emulator/server';
import { createLedger, type Ledger, type LedgerEvent, type RunView } from '../../lib/ledger/index';
import type { LedgerClock } from '../../lib/ledger/clock';
import { firestoreLibrary } from '../../lib/ledger/firestore';
import { FIRESTORE_EMULATOR_INSTALL_HINT, waitForFirestoreEmulator } from '../../lib/ledger/firestore-emulator';
import type { LedgerTasksClient } from '../../lib/ledger/tasks';
import { createStepHandler, type StepHandler } from '../../lib/worker/step-handler';
import type { StepFunction } from '../../lib/worker/delivery';
import { FIRESTORE_ERROR_ENV } from '../global-setup';

process.env.METADATA_SERVER_DETECTION ??= 'none';

export const PROJECT = 'acme-ml-dev';
export const REGION = 'us-central1';
/** Waiting for the emulator's JVM on a busy 2-core machine: generous, it is paid once per suite run. */
export const FIRESTORE_READY_MS = 120_000;

/** A Firestore client on the suite's emulator, in a project of its own. */
export async function testFirestore(label: string): Promise<{ firestore: Firestore; project: string }> {
  const host = process.env[FIRESTORE_EMULATOR_HOST_ENV];
  if (!host) throw new Error(process.env[FIRESTORE_ERROR_ENV] ?? FIRESTORE_EMULATOR_INSTALL_HINT);
  await waitForFirestoreEmulator(host, FIRESTORE_READY_MS);
  const project = `t-${label}-${randomBytes(4).toString('hex')}`.toLowerCase();
  const { Firestore: Client } = firestoreLibrary();
  const firestore = new Client({ projectId: project, host, ssl: false, universeDomain: 'googleapis.com' });
  return { firestore, project };
}

export const url = (step: string) => `https://${step}-abc123-uc.a.run.app/tasks`;

/** Steps for buildRoutes: fast retries so failure tests take milliseconds. */
export function step(
  name: string,
  next: string[] = [],
  extra: Partial<Omit<RoutesStepInput, 'name' | 'next'>> = {},
): RoutesStepInput {
  return {
    name,
    next,
    dispatchDeadlineSeconds: 60,
    retry: { maxAttempts: 5, minBackoffSeconds: 0.05, maxBackoffSeconds: 0.05, maxDoublings: 0 },
    target: { url: url(name), auth: 'oidc' },
    ...extra,
  };
}

export function routesFor(pipeline: string, steps: RoutesStepInput[], ledgerProject: string): PipelineRoutes {
  return buildRoutes({
    project: PROJECT,
    region: REGION,
    environment: 'test',
    pipeline: { name: pipeline, steps },
    ledger: { project: ledgerProject, database: '(default)' },
  });
}

/** Counts committed writes per document path. */
export class WriteCounter {
  readonly counts = new Map<string, number>();
  readonly onWrite = (path: string) => this.counts.set(path, (this.counts.get(path) ?? 0) + 1);
  max(filter: (path: string) => boolean = () => true): number {
    return Math.max(0, ...[...this.counts].filter(([p]) => filter(p)).map(([, n]) => n));
  }
}

export interface Call {
  readonly step: string;
  readonly runId: string;
  readonly shard: string;
  readonly attempt: number;
  readonly payload: unknown;
}

export interface HarnessOptions {
  readonly pipeline: string;
  readonly steps: RoutesStepInput[];
  /** Step functions; each call is recorded in `calls` before the function runs. */
  readonly handlers: Record<string, StepFunction>;
  readonly clock?: LedgerClock;
  /** Called for every dispatch event (after the harness records it). */
  readonly onDispatch?: (e: DispatchEvent, task: Task, h: Harness) => void;
  /** Per-step queue rate limits (e.g. one task at a time). */
  readonly rateLimits?: Record<string, { maxConcurrentDispatches?: number; maxDispatchesPerSecond?: number }>;
  /** Wraps the worker's request handler (to lose a response, for example). */
  readonly wrap?: (handler: StepHandler) => (req: IncomingMessage, res: ServerResponse) => void;
}

export interface Harness {
  readonly routes: PipelineRoutes;
  readonly emulator: RunningEmulator;
  readonly tasks: CloudTasksClient;
  readonly ledger: Ledger;
  readonly handler: StepHandler;
  readonly firestore: Firestore;
  readonly calls: Call[];
  readonly events: LedgerEvent[];
  readonly dispatches: Array<{ e: DispatchEvent; at: number }>;
  readonly logLines: string[];
  readonly writes: WriteCounter;
  /** http://127.0.0.1:<port> of the worker. */
  readonly workerUrl: string;
  callsOf(step: string, runId?: string): Call[];
  waitForRun(runId: string, statuses?: readonly RunStatus[], timeoutMs?: number): Promise<RunView>;
  /** A second worker on the same ledger (a new process, as after a restart): its own Firestore client and server. */
  restartWorker(handlers?: Record<string, StepFunction>): Promise<void>;
  close(): Promise<void>;
}

export async function startHarness(o: HarnessOptions): Promise<Harness> {
  const { firestore, project } = await testFirestore(o.pipeline);
  const routes = routesFor(o.pipeline, o.steps, project);
  const calls: Call[] = [];
  const events: LedgerEvent[] = [];
  const dispatches: Array<{ e: DispatchEvent; at: number }> = [];
  const logLines: string[] = [];
  const writes = new WriteCounter();
  const self: { harness?: Harness } = {};
  const emulator = await startEmulator({
    dispatch: true,
    dispatchListeners: [
      (e, task) => {
        dispatches.push({ e, at: Date.now() });
        o.onDispatch?.(e, task, self.harness!);
      },
    ],
  });
  const tasks = new CloudTasksClient({
    servicePath: '127.0.0.1',
    port: emulator.port,
    sslCreds: grpc.credentials.createInsecure(),
    universeDomain: 'googleapis.com',
  });
  const env = { [EMULATOR_ISSUER_ENV]: emulator.tokens!.issuer };
  const recorded = (handlers: Record<string, StepFunction>) =>
    Object.fromEntries(
      Object.entries(handlers).map(([name, fn]) => [
        name,
        ((payload, ctx) => {
          calls.push({ step: name, runId: ctx.runId, shard: ctx.shard, attempt: ctx.attempt, payload });
          return fn(payload, ctx);
        }) as StepFunction,
      ]),
    );
  const makeHandler = (handlers: Record<string, StepFunction>, fs: Firestore) =>
    createStepHandler({
      routes,
      handlers: recorded(handlers),
      ledger: createLedger({
        routes,
        firestore: fs,
        tasks: tasks as unknown as LedgerTasksClient,
        env,
        onWrite: writes.onWrite,
        onEvent: (e) => events.push(e),
        ...(o.clock ? { clock: o.clock } : {}),
      }),
      env,
      log: (line) => logLines.push(line),
    });
  let handler = makeHandler(o.handlers, firestore);
  const serve = (h: StepHandler) => (o.wrap ? o.wrap(h) : h);
  let server = await listen(serve(handler));
  const port = (server.address() as { port: number }).port;
  for (const [name, r] of Object.entries(routes.steps)) {
    const parent = r.queue.slice(0, r.queue.indexOf('/queues/'));
    emulator.state.createQueue(parent, {
      name: r.queue,
      retryConfig: r.retry,
      ...(o.rateLimits?.[name] ? { rateLimits: o.rateLimits[name] } : {}),
    });
    emulator.state.setQueueHttpTarget(r.queue, {
      uriOverride: { scheme: 'HTTP', host: '127.0.0.1', port, uriOverrideEnforceMode: 'ALWAYS' },
      // The token the stack configures: the audience the routes say the worker accepts.
      oidcToken: {
        serviceAccountEmail: (r.auth as { serviceAccountEmail: string }).serviceAccountEmail,
        audience: (r.auth as { audience: string }).audience,
      },
    });
  }
  const extraFirestores: Firestore[] = [];
  const harness: Harness = {
    routes,
    emulator,
    tasks,
    get ledger() {
      return handler.ledger;
    },
    get handler() {
      return handler;
    },
    firestore,
    calls,
    events,
    dispatches,
    logLines,
    writes,
    workerUrl: `http://127.0.0.1:${port}`,
    callsOf: (s, runId) => calls.filter((c) => c.step === s && (runId === undefined || c.runId === runId)),
    async waitForRun(runId, statuses = ['succeeded', 'failed', 'cancelled'], timeoutMs = 20_000) {
      const until = Date.now() + timeoutMs;
      // The run document alone (one read) while waiting: polling the whole view would load the emulator.
      for (;;) {
        const run = await handler.ledger.engine.store.getRun(runId);
        if (run && statuses.includes(run.status)) return (await handler.ledger.getRun(runId))!;
        if (Date.now() > until)
          throw new Error(
            `run ${runId} is ${run?.status ?? 'absent'} after ${timeoutMs} ms, waiting for ${statuses.join(' or ')}`,
          );
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async restartWorker(handlers = o.handlers) {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      const { firestore: fresh } = await testFirestoreFor(project);
      extraFirestores.push(fresh);
      handler = makeHandler(handlers, fresh);
      server = await listen(serve(handler), port);
    },
    async close() {
      await emulator.stop();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await tasks.close();
      await Promise.all([firestore, ...extraFirestores].map((f) => f.terminate()));
    },
  };
  self.harness = harness;
  return harness;
}

/** Another client on an existing test project (a restarted worker). */
async function testFirestoreFor(project: string): Promise<{ firestore: Firestore }> {
  const host = process.env[FIRESTORE_EMULATOR_HOST_ENV]!;
  const { Firestore: Client } = firestoreLibrary();
  return { firestore: new Client({ projectId: project, host, ssl: false, universeDomain: 'googleapis.com' }) };
}

function listen(handler: (req: IncomingMessage, res: ServerResponse) => void, port = 0): Promise<Server> {
  const server = createServer(handler);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

/** A promise and its resolver: a gate a step function waits on. */
export function gate(): { promise: Promise<void>; open(): void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

/** The system clock moved forward by hand: leases and stall budgets pass without waiting. */
export class OffsetClock {
  offsetMs = 0;
  now(): number {
    return Date.now() + this.offsetMs;
  }
  advance(ms: number): void {
    this.offsetMs += ms;
  }
}

/** Polls until `check` holds (every 20 ms), failing with `what` after `timeoutMs`. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 20_000,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Tasks created in a step's queue, counted from the emulator's dispatch timeline. */
export function tasksCreatedIn(h: Harness, step: string): string[] {
  return h.dispatches
    .filter((d) => d.e.event === 'created' && d.e.queue === h.routes.steps[step].queue)
    .map((d) => d.e.task);
}
