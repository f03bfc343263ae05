/**
 * `npm run local`: one pipeline, end to end, on this machine, as it deploys.
 *
 *   1. synthesize the spec (in process: about half the time of a child `tsx main.ts`) into `.local-run/run-*`;
 *   2. start the emulator in process, dispatching, with its OIDC issuer;
 *   3. serve each step: the example worker on the worker SDK (one loopback port, the run ledger in Google's
 *      Firestore emulator: ./ledger.ts), or the step's `local.url`;
 *   4. create the queues from the synthesized Terraform JSON (`google_cloud_tasks_queue`: name, rate_limits,
 *      retry_config, http_target) with each queue's target rewritten to the local worker (the routing rule below);
 *   5. run the stack's seeding as Terraform would: the `terraform_data` local-exec, `node <seeder.cjs> <manifest>`, in
 *      the stack folder, with CLOUD_TASKS_EMULATOR_HOST pointing at the emulator;
 *   6. wait until no task is waiting or in flight in any queue (at once when the ledger says every run finished), or
 *      the timeout; then report, each run's outcome from the ledger included.
 *
 * Routing rule: the seeded tasks (and the tasks workers enqueue) carry production URLs. Every queue gets a queue-level
 * http_target whose uri_override (enforced ALWAYS) sends its tasks to the step's local worker: scheme, host and port
 * are replaced, the path and query of the synthesized uri_override are kept. A step with `local.url` goes to that
 * URL's scheme, host and port, and to its path and query when it has them. Token, method and header overrides stay
 * as synthesized. So no task leaves the machine.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { CloudTasksClient } from '@google-cloud/tasks';
import { EventLogWriter, logListener, type DispatchEventListener, type LogLevel } from '../../emulator/dispatch/events';
import type { QueueHttpTarget } from '../../emulator/model';
import { startEmulator, type RunningEmulator } from '../../emulator/server';
import { EMULATOR_HOST_ENV } from '../../core/env';
import { loadSpecs } from '../../spec/load';
import { type PipelineSpec } from '../../spec/types';
import { createTasksClient } from '../../worker/index';
import { RunRecorder, type LocalReport } from './summary';
import { createStackQueues, localStackOf, type SynthesizedQueue } from './terraform';
import { FIRESTORE_EMULATOR_HOST_ENV } from '../../core/env';
import { readSynthesizedStack, routesOf } from '../../core/synthesized-stack';
import type { LedgerTasksClient } from '../../ledger/index';
import { openLocalLedger, startLocalFirestore, type LocalLedger } from './ledger';
import { terminalSafe } from '../../core/text';
import { queueIdFor, stackNameFor } from '../../core/naming';
import { fireSchedule, runSchedules, scheduleJobsToRun, systemClock, type Firing } from './schedules';
import { jobStepsOf, startLocalJobs } from './jobs';

export interface LocalRunOptions {
  /** The pipeline spec file. */
  readonly specPath: string;
  /** The run stops (and fails) when tasks are still pending after this long. @default 600_000 (10 minutes) */
  readonly timeoutMs?: number;
  /** Share of attempts (0..1) the example workers fail with 503, to watch retries. @default 0 */
  readonly failureRate?: number;
  /** Share of successful deliveries the emulator repeats (emulator `duplicateRate`). @default 0 */
  readonly duplicateRate?: number;
  /** Simulated work per task in the example workers, ms. @default 20 */
  readonly workMs?: number;
  /** Dispatch events written to `log`. @default 'warn' */
  readonly logLevel?: LogLevel;
  /** Append every dispatch event to this JSON-lines file. @default - none */
  readonly eventLog?: string;
  /** Keep the synthesized stack folder after the run. @default false */
  readonly keepOutdir?: boolean;
  /** gRPC port of the emulator (what CLOUD_TASKS_EMULATOR_HOST names); 0 picks a free one. @default 0 */
  readonly port?: number;
  /** Port of the emulator's OIDC issuer; 0 picks a free one. Fix both for `local.url` workers started beforehand. @default 0 */
  readonly oidcPort?: number;
  /**
   * Where `.local-run/` goes: the user's project, never the installed package's folder.
   * @default - the working directory (the project root under `npm run local`)
   */
  readonly workDir?: string;
  /** Log lines (dispatch events at logLevel, seeder output on failure, worker errors). @default - stderr */
  readonly log?: (line: string) => void;
  /** Stops the run early (Ctrl-C): it ends as a failure and cleans up like a timeout. @default - none */
  readonly signal?: AbortSignal;
  /** Progress: phase changes and, while tasks run, every ~100 ms. @default - none */
  readonly onProgress?: (p: RunProgress) => void;
  /**
   * Serve the dashboard (docs/dashboard.md) on 127.0.0.1 from before seeding and, once the pipeline is idle, until
   * `signal` aborts (Ctrl-C); its URL is logged as `Dashboard: <url>`. @default - no dashboard
   */
  readonly ui?: { readonly port?: number };
  /**
   * Fire this schedule once, now, instead of seeding (docs/schedules.md): the synthesized job's request, sent to the
   * emulator's REST API.
   * @default - no firing: the stack's seeding runs
   */
  readonly fire?: string;
  /**
   * Fire every schedule on its cron for this long, instead of seeding, then wait until idle.
   * @default - no schedules run
   */
  readonly schedules?: { readonly forMs: number };
  /**
   * Keep the stack's earlier runs in the Firestore emulator: the seeder then starts only seeds without a run.
   * @default false - they are deleted first, so every seed runs again
   */
  readonly keepRuns?: boolean;
  /** Where FIRESTORE_EMULATOR_HOST is read (unset: an emulator is started for the run). @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  /** The example workers' failures are drawn from this (tests make them deterministic). @default Math.random */
  readonly random?: () => number;
  /** Called before seeding with what a `local.url` worker needs in its environment. @default - none */
  readonly onWorkerEnv?: (env: Readonly<Record<string, string>>) => void;
}

export interface RunProgress {
  readonly phase: 'synthesizing' | 'starting' | 'seeding' | 'running' | 'stopping';
  /** Tasks created so far (seeded + enqueued by workers). */
  readonly tasks: number;
  /** Tasks that succeeded or were given up. */
  readonly finished: number;
  readonly failedAttempts: number;
  readonly inFlight: number;
}

export interface LocalRunResult {
  readonly report: LocalReport;
  /** The synthesized stack folder (removed after the run unless keepOutdir). */
  readonly stackDir: string;
  /** The seeder's stdout (its summary line). */
  readonly seederOutput: string;
}

/** After the last task, wait this long for late enqueues (a `local.url` worker may answer before it enqueues). */
const QUIET_MS = 250;
const TICK_MS = 100;

export async function runLocal(o: LocalRunOptions): Promise<LocalRunResult> {
  const started = Date.now();
  const log = o.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const progress = (phase: RunProgress['phase']) =>
    o.onProgress?.({
      phase,
      tasks: recorder?.tasks ?? 0,
      ...pick(recorder?.counts()),
      inFlight: emulator?.dispatcher?.inFlight ?? 0,
    });
  const root = o.workDir ?? process.cwd();
  const problems: string[] = [];
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  let recorder: RunRecorder | undefined;
  let emulator: RunningEmulator | undefined;

  mkdirSync(path.join(root, '.local-run'), { recursive: true });
  const outdir = mkdtempSync(path.join(root, '.local-run', 'run-'));
  let stackDir = outdir;
  let seederOutput = '';
  let runStart = started;
  try {
    progress('synthesizing');
    const now = new Date();
    // The spec is read for what the Terraform JSON does not say: step names, `next`, `local.url`.
    const [{ spec, file }] = loadSpecs({ specPath: o.specPath, now });
    // The run ledger's Firestore emulator boots (a JVM, seconds) while the spec is synthesized; stopped last.
    const firestoreStarting = startLocalFirestore(o.env ?? process.env);
    firestoreStarting.catch(() => undefined);
    cleanups.push(async () => (await firestoreStarting.catch(() => undefined))?.stop());
    const stepOfQueue = new Map(spec.pipeline.steps.map((s) => [queueNameOf(spec, s.name), s.name]));
    recorder = new RunRecorder(stepOfQueue);
    const listeners: DispatchEventListener[] = [recorder.listener, logListener(o.logLevel ?? 'warn', log)];
    if (o.eventLog) {
      const eventLog = new EventLogWriter(o.eventLog);
      listeners.push(eventLog.listener);
      cleanups.push(() => eventLog.close());
    }

    // Started before the synth: the signing key is generated on the thread pool while the synth runs.
    const emulatorStarting = startEmulator({
      port: o.port ?? 0,
      oidcPort: o.oidcPort ?? 0,
      dispatch: true,
      duplicateRate: o.duplicateRate ?? 0,
      // The local runner talks gRPC only; REST is opened only to receive schedule firings (Cloud Scheduler speaks REST).
      restPort: o.fire !== undefined || o.schedules !== undefined ? 0 : false,
      dispatchListeners: listeners,
    });
    emulatorStarting.then(
      (e) => cleanups.push(() => e.stop()),
      () => undefined,
    );
    let stacks: ReturnType<typeof import('../synth').synthPipelines> = [];
    let synthError: unknown;
    try {
      const { synthPipelines } = require('../synth') as typeof import('../synth');
      stacks = synthPipelines({ specPath: o.specPath, outdir, stateDir: outdir, now });
    } catch (err) {
      synthError = err;
    }
    let emulatorError: Error | undefined;
    emulator = await emulatorStarting.catch((err: Error) => {
      emulatorError = err;
      return undefined;
    });
    if (synthError !== undefined) throw synthError;
    if (!emulator) throw new Error(`cannot start the emulator: ${emulatorError?.message}`);
    stackDir = path.resolve(stacks[0].path);
    const synthesized = readSynthesizedStack(stackDir);
    const stack = localStackOf(synthesized);
    const pipelineRoutes = routesOf(synthesized);
    if (!pipelineRoutes) throw new Error(`${synthesized.file} has no routes output: synthesize it with this version`);
    // --fire / --schedules: the jobs' requests start the runs instead of the seeding (seed tasks run at deploy).
    const firing = o.fire !== undefined || o.schedules !== undefined;
    const scheduleJobs = firing ? scheduleJobsToRun(stackDir, o.fire) : [];
    let firings: Firing[] = [];
    const firestore = await firestoreStarting;

    progress('starting');
    const client: CloudTasksClient = createTasksClient({ [EMULATOR_HOST_ENV]: emulator.address });
    cleanups.push(() => client.close());
    const local = await openLocalLedger({
      firestore,
      routes: pipelineRoutes,
      workDir: root,
      cloudTasks: { address: emulator.address, issuer: emulator.tokens!.issuer },
      tasks: client as unknown as LedgerTasksClient,
      // Job steps run in the stand-in, local.url steps in the user's worker: the example worker serves the rest.
      exampleSteps: spec.pipeline.steps
        .filter((s) => s.local?.url === undefined && !jobStepsOf(spec).includes(s))
        .map((s) => s.name),
      failureRate: o.failureRate,
      workMs: o.workMs,
      random: o.random,
      keepRuns: o.keepRuns,
      showSeverities: new Set(
        o.logLevel === 'debug' ? ['DEBUG', 'INFO', 'WARNING'] : o.logLevel === 'info' ? ['INFO', 'WARNING'] : [],
      ),
      log,
    });
    cleanups.push(() => local.close());
    if (spec.pipeline.steps.some((s) => s.local?.url !== undefined))
      // Workers at local.url record in the same ledger, enqueue with the emulator and verify its tokens.
      log(
        `for local.url workers: ${Object.entries(local.workerEnv)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ')}`,
      );
    o.onWorkerEnv?.(local.workerEnv);
    // Job steps (docs/jobs.md): the stand-in for the Run / Vertex APIs runs their tasks as processes on this ledger.
    const jobs = await startLocalJobs(spec, { routes: pipelineRoutes, workerEnv: local.workerEnv, cwd: root, log });
    if (jobs) cleanups.push(() => jobs.stop());
    const routes = startWorkers(spec, stack.queues, local.worker?.url, (step) => jobs?.routeOf(step));
    createStackQueues(emulator.state, stack.queues, (q) => localHttpTarget(q, routes.get(q.queueName)!));
    let dashboard: import('../dashboard/index').RunningDashboard | undefined;
    if (o.ui) {
      const { startLocalDashboard } = require('../dashboard/index') as typeof import('../dashboard/index');
      dashboard = await startLocalDashboard({ emulator, client, stackDir, spec, ledger: local.ledger, ui: o.ui });
      cleanups.push(() => dashboard!.close());
      log(`Dashboard: ${dashboard.url}`);
    }

    progress('seeding');
    runStart = Date.now();
    recorder.start(runStart);
    let seeded = false;
    let stopping = false;
    const ticker = setInterval(() => progress(stopping ? 'stopping' : seeded ? 'running' : 'seeding'), TICK_MS);
    cleanups.push(() => clearInterval(ticker));
    for (const command of firing ? [] : stack.seedCommands) {
      const r = await runSeedCommand(command.argv, command.cwd, {
        ...command.environment,
        [EMULATOR_HOST_ENV]: emulator.address,
        [FIRESTORE_EMULATOR_HOST_ENV]: firestore.host,
      });
      seederOutput += r.stdout;
      if (r.code !== 0) {
        problems.push(`seeding (${command.address}) exited with ${r.code}: ${lastLines(r.stderr || r.stdout)}`);
        log(`seeding failed (${command.address}, exit ${r.code}):\n${r.stderr}${r.stdout}`);
      }
    }
    if (firing) {
      seeded = true; // progress says `running` while the schedules fire
      const fire = (job: (typeof scheduleJobs)[number], at: Date) => fireSchedule(job, emulator!.restUrl!, at);
      firings = o.schedules
        ? await runSchedules(scheduleJobs, { forMs: o.schedules.forMs, fire, signal: o.signal, log })
        : [await fire(scheduleJobs[0], new Date(systemClock.now()))];
      for (const f of firings) if (!f.task) problems.push(`firing ${f.schedule} failed: ${f.status} ${f.error}`);
    }
    seeded = true;
    if (stack.seedCommands.length === 0 && !firing) log(`${file}: the pipeline has no seedTasks: nothing to run`);

    const outcome = await waitForIdle(emulator, o.timeoutMs ?? 600_000, firing ? Date.now() : runStart, o.signal, {
      finished: local.allFinished,
      busy: () => !!jobs?.busy(),
    });
    if (outcome === 'timeout')
      problems.push(
        `timed out after ${((o.timeoutMs ?? 600_000) / 1000).toFixed(0)} s with ${emulator.dispatcher!.pendingTasks} task(s) still pending`,
      );
    if (outcome === 'aborted')
      problems.push(`interrupted with ${emulator.dispatcher!.pendingTasks} task(s) still pending`);
    if (dashboard && outcome === 'idle') {
      clearInterval(ticker);
      log(`The pipeline is idle; the dashboard keeps serving at ${dashboard.url} until Ctrl-C.`);
      const { untilAborted } = require('../dashboard/index') as typeof import('../dashboard/index');
      await untilAborted(o.signal);
    }
    stopping = true;
    progress('stopping');
    const end = Date.now();

    const steps = recorder.stepStats();
    const failed = Object.values(steps).reduce((n, s) => n + s.failed, 0);
    if (failed > 0) problems.push(`${failed} task(s) failed: their queues gave up after the retry policy was spent`);
    const runs = await local.outcomes();
    problems.push(...runProblems(runs, outcome === 'idle'));
    const report: LocalReport = {
      steps,
      tasks: recorder.tasks,
      durationSeconds: Math.round(end - runStart) / 1000,
      ok: problems.length === 0,
      spec: file,
      stack: stackNameFor(spec),
      pending: emulator.dispatcher!.pendingTasks,
      runs,
      timeline: recorder.timeline(),
      problems,
      ...(firing ? { firings } : {}),
    };
    return { report, stackDir, seederOutput };
  } finally {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (err) {
        log(`cleanup: ${(err as Error).message}`);
      }
    }
    if (!o.keepOutdir) rmSync(outdir, { recursive: true, force: true });
  }
}

function pick(c: { finished: number; failedAttempts: number } | undefined): {
  finished: number;
  failedAttempts: number;
} {
  return { finished: c?.finished ?? 0, failedAttempts: c?.failedAttempts ?? 0 };
}

function queueNameOf(spec: PipelineSpec, step: string): string {
  return `projects/${spec.project}/locations/${spec.region}/queues/${queueIdFor(spec, step)}`;
}

/** Where a queue's tasks go locally: the example worker's origin, or the step's local.url. */
interface Route {
  readonly url: string;
  /** true for local.url: its path and query replace the synthesized ones when it has them. */
  readonly own: boolean;
}

/**
 * Where each queue's tasks go: the step's `local.url`, or the example worker (one SDK handler for every other step;
 * it checks each token as in production, against the emulator's keys, audience and invoker from the routes).
 */
function startWorkers(
  spec: PipelineSpec,
  queues: readonly SynthesizedQueue[],
  exampleWorkerUrl: string | undefined,
  jobRoute: (step: string) => string | undefined,
): Map<string, Route> {
  const byName = new Map(queues.map((q) => [q.queueName, q]));
  const routes = new Map<string, Route>();
  for (const step of spec.pipeline.steps) {
    const queueName = queueNameOf(spec, step.name);
    if (!byName.has(queueName))
      throw new Error(`the synthesized stack has no queue ${queueName} for step "${step.name}"`);
    // A job step's queue goes to the stand-in with the synthesized path (`/v2/.../jobs/<job>:run`).
    const viaJobs = jobRoute(step.name);
    routes.set(
      queueName,
      step.local?.url !== undefined
        ? { url: step.local.url, own: true }
        : { url: viaJobs ?? exampleWorkerUrl!, own: false },
    );
  }
  for (const q of queues)
    if (!routes.has(q.queueName)) throw new Error(`${q.address} (${q.queueName}) belongs to no step of the spec`);
  return routes;
}

/**
 * What the ledger says went wrong: a run that failed (its step and reason), was cancelled, or still runs although no
 * task of it is left in the queues (its task reached a worker that does not record in the ledger, e.g. a `local.url`
 * worker not built on the SDK).
 */
function runProblems(runs: Awaited<ReturnType<LocalLedger['outcomes']>>, idle: boolean): string[] {
  return Object.entries(runs).flatMap(([runId, r]) => {
    const id = terminalSafe(runId);
    if (r.status === 'failed' && r.failure)
      return [
        `run ${id} failed at ${terminalSafe(r.failure.step)} (${r.failure.kind}): ${terminalSafe(r.failure.reason)}`,
      ];
    if (r.status === 'cancelled') return [`run ${id} was cancelled`];
    if (r.status === 'running' && idle)
      return [
        `run ${id} is still running, but none of its tasks is left in the queues: a task reached a worker that did not record it in the run ledger (a local.url worker not built on the worker SDK?); npm run runs -- show ${id} tells where it stopped`,
      ];
    return [];
  });
}

/** The routing rule (see the file comment), as a queue-level http_target. */
export function localHttpTarget(q: Pick<SynthesizedQueue, 'httpTarget'>, route: Route): QueueHttpTarget {
  const url = new URL(route.url);
  const synthesized = q.httpTarget?.uriOverride;
  const ownPath = route.own && url.pathname !== '/' && url.pathname !== '';
  const ownQuery = route.own && url.search !== '';
  const port = url.port !== '' ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  return {
    ...q.httpTarget,
    uriOverride: {
      scheme: url.protocol === 'https:' ? 'HTTPS' : 'HTTP',
      host: url.hostname.replace(/^\[|\]$/g, ''),
      port,
      ...(ownPath
        ? { pathOverride: { path: url.pathname } }
        : synthesized?.pathOverride
          ? { pathOverride: synthesized.pathOverride }
          : {}),
      ...(ownQuery
        ? { queryOverride: { queryParams: url.search.slice(1) } }
        : synthesized?.queryOverride
          ? { queryOverride: synthesized.queryOverride }
          : {}),
      uriOverrideEnforceMode: 'ALWAYS',
    },
  };
}

/** Runs the provisioner's argv without a shell, as Terraform does with an `interpreter` list. */
function runSeedCommand(
  argv: readonly string[],
  cwd: string,
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(argv[0], argv.slice(1), {
      cwd,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (err) =>
      resolve({ code: 127, stdout, stderr: `${stderr}cannot run ${argv[0]}: ${err.message}\n` }),
    );
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

/**
 * Resolves 'idle' once nothing is pending or in flight and no job is running, for QUIET_MS or at once when
 * `finished` (the ledger: every run finished) says so; 'timeout' or 'aborted' otherwise.
 */
function waitForIdle(
  emulator: RunningEmulator,
  timeoutMs: number,
  since: number,
  signal?: AbortSignal,
  until: { finished?: () => Promise<boolean>; busy?: () => boolean } = {},
): Promise<'idle' | 'timeout' | 'aborted'> {
  const d = emulator.dispatcher!;
  const { finished, busy = () => false } = until;
  return new Promise((resolve) => {
    let quietSince: number | undefined;
    let asking = false;
    let askedAt = 0;
    let done = false;
    const check = () => {
      if (done) return;
      const now = Date.now();
      if (signal?.aborted) return finish('aborted');
      if (d.pendingTasks === 0 && d.inFlight === 0 && !busy()) {
        quietSince ??= now;
        if (now - quietSince >= QUIET_MS) return finish('idle');
        // The ledger, at most every TICK_MS: a read of the stack's runs.
        if (finished && !asking && now - askedAt >= TICK_MS) {
          asking = true;
          askedAt = now;
          finished().then(
            (yes) => {
              asking = false;
              if (yes && d.pendingTasks === 0 && d.inFlight === 0 && !busy()) finish('idle');
            },
            () => (asking = false),
          );
        }
      } else quietSince = undefined;
      if (now - since >= timeoutMs) return finish('timeout');
    };
    // The runner's own check, four times per quiet period; the dispatcher itself never polls.
    const timer = setInterval(check, 25);
    const onAbort = () => check();
    signal?.addEventListener('abort', onAbort);
    const finish = (outcome: 'idle' | 'timeout' | 'aborted') => {
      if (done) return;
      done = true;
      clearInterval(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve(outcome);
    };
    check();
  });
}

function lastLines(text: string, n = 3): string {
  return text.trim().split('\n').slice(-n).join(' | ');
}
