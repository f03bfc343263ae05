/**
 * `npm run local`: one pipeline, end to end, on this machine, as it deploys.
 *
 *   1. synthesize the spec (in process: about half the time of a child `tsx main.ts`) into `.local-run/run-*`;
 *   2. start the emulator in process, dispatching, with its OIDC issuer;
 *   3. serve each step: the built-in example worker on a loopback port, or the step's `local.url`;
 *   4. create the queues from the synthesized Terraform JSON (`google_cloud_tasks_queue`: name, rate_limits,
 *      retry_config, http_target) with each queue's target rewritten to the local worker (the routing rule below);
 *   5. run the stack's seeding as Terraform would: the `terraform_data` local-exec, `node <seeder.cjs> <manifest>`, in
 *      the stack folder, with CLOUD_TASKS_EMULATOR_HOST pointing at the emulator;
 *   6. wait until no task is waiting or in flight in any queue (or the timeout), then report.
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
import { EMULATOR_HOST_ENV, EMULATOR_ISSUER_ENV } from '../../core/env';
import { loadSpecs } from '../../spec/load';
import { type PipelineSpec } from '../../spec/types';
import { startExampleWorker, type RunningWorker } from '../../worker/example-worker';
import { createTasksClient } from '../../worker/index';
import { RunRecorder, type LocalReport } from './summary';
import { createStackQueues, readLocalStack, type SynthesizedQueue } from './terraform';
import { queueIdFor, stackNameFor } from '../../core/naming';
import { startLocalJobs, type LocalJobs } from './jobs';

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
      // The local runner talks gRPC only; REST stays off so no extra port is opened.
      restPort: false,
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
    const stack = readLocalStack(stackDir);

    progress('starting');
    if (spec.pipeline.steps.some((s) => s.local))
      // Workers at local.url enqueue with the emulator and verify its tokens: tell them where both are.
      log(
        `for local.url workers: ${EMULATOR_HOST_ENV}=${emulator.address} ${EMULATOR_ISSUER_ENV}=${emulator.tokens!.issuer}`,
      );
    const client: CloudTasksClient = createTasksClient({ [EMULATOR_HOST_ENV]: emulator.address });
    cleanups.push(() => client.close());
    // Job steps (docs/jobs.md): the ledger, the stand-in for the Run / Vertex APIs, the service steps on the SDK.
    const jobs = await startLocalJobs(spec, emulator, { ...o, outdir, cwd: root, log });
    if (jobs) cleanups.push(() => jobs.stop());
    const routes = await startWorkers(spec, stack.queues, emulator, client, o, log, cleanups, jobs);
    createStackQueues(emulator.state, stack.queues, (q) => localHttpTarget(q, routes.get(q.queueName)!));

    progress('seeding');
    runStart = Date.now();
    recorder.start(runStart);
    let seeded = false;
    const ticker = setInterval(() => progress(seeded ? 'running' : 'seeding'), TICK_MS);
    cleanups.push(() => clearInterval(ticker));
    for (const command of stack.seedCommands) {
      const r = await runSeedCommand(command.argv, command.cwd, {
        ...command.environment,
        [EMULATOR_HOST_ENV]: emulator.address,
      });
      seederOutput += r.stdout;
      if (r.code !== 0) {
        problems.push(`seeding (${command.address}) exited with ${r.code}: ${lastLines(r.stderr || r.stdout)}`);
        log(`seeding failed (${command.address}, exit ${r.code}):\n${r.stderr}${r.stdout}`);
      }
    }
    seeded = true;
    if (stack.seedCommands.length === 0) log(`${file}: the pipeline has no seedTasks: nothing to run`);

    const outcome = await waitForIdle(emulator, o.timeoutMs ?? 600_000, runStart, o.signal, () => !!jobs?.busy());
    if (outcome === 'timeout')
      problems.push(
        `timed out after ${((o.timeoutMs ?? 600_000) / 1000).toFixed(0)} s with ${emulator.dispatcher!.pendingTasks} task(s) still pending`,
      );
    if (outcome === 'aborted')
      problems.push(`interrupted with ${emulator.dispatcher!.pendingTasks} task(s) still pending`);
    progress('stopping');
    const end = Date.now();

    const steps = recorder.stepStats();
    const failed = Object.values(steps).reduce((n, s) => n + s.failed, 0);
    if (failed > 0) problems.push(`${failed} task(s) failed: their queues gave up after the retry policy was spent`);
    const report: LocalReport = {
      steps,
      tasks: recorder.tasks,
      durationSeconds: Math.round(end - runStart) / 1000,
      ok: problems.length === 0,
      spec: file,
      stack: stackNameFor(spec),
      pending: emulator.dispatcher!.pendingTasks,
      runs: recorder.timeline(),
      problems,
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

async function startWorkers(
  spec: PipelineSpec,
  queues: readonly SynthesizedQueue[],
  emulator: RunningEmulator,
  client: CloudTasksClient,
  o: LocalRunOptions,
  log: (line: string) => void,
  cleanups: Array<() => Promise<unknown> | unknown>,
  jobs?: LocalJobs,
): Promise<Map<string, Route>> {
  const byName = new Map(queues.map((q) => [q.queueName, q]));
  const routes = new Map<string, Route>();
  for (const step of spec.pipeline.steps) {
    const queueName = queueNameOf(spec, step.name);
    const queue = byName.get(queueName);
    if (!queue) throw new Error(`the synthesized stack has no queue ${queueName} for step "${step.name}"`);
    if (step.local?.url !== undefined) {
      routes.set(queueName, { url: step.local.url, own: true });
      continue;
    }
    // A job step's queue goes to the stand-in with the synthesized path (`/v2/.../jobs/<job>:run`).
    const viaJobs = jobs?.routeOf(step.name);
    if (viaJobs) {
      routes.set(queueName, { url: viaJobs, own: false });
      continue;
    }
    const oidc = queue.httpTarget?.oidcToken;
    const worker: RunningWorker = await startExampleWorker({
      step: step.name,
      // The worker checks the token as in production, against the emulator's keys: audience and invoker from the
      // synthesized queue.
      verify: oidc
        ? {
            audience: oidc.audience ?? step.target.url,
            serviceAccountEmail: oidc.serviceAccountEmail,
            issuer: emulator.tokens!.issuer,
            jwksUri: emulator.tokens!.jwksUri,
          }
        : undefined,
      next: step.next.map((n) => ({
        step: n,
        queue: queueNameOf(spec, n),
        url: spec.pipeline.steps.find((s) => s.name === n)!.target.url,
      })),
      client,
      workMs: o.workMs,
      failureRate: o.failureRate,
      log: (line) => {
        if (line.includes('refused') || line.includes('failed:')) log(line);
      },
    });
    cleanups.push(() => worker.close());
    routes.set(queueName, { url: worker.url, own: false });
  }
  for (const q of queues)
    if (!routes.has(q.queueName)) throw new Error(`${q.address} (${q.queueName}) belongs to no step of the spec`);
  return routes;
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
 * Resolves 'idle' once nothing is pending or in flight (and no job is running) for QUIET_MS; 'timeout' or 'aborted'
 * otherwise.
 */
function waitForIdle(
  emulator: RunningEmulator,
  timeoutMs: number,
  since: number,
  signal?: AbortSignal,
  busy: () => boolean = () => false,
): Promise<'idle' | 'timeout' | 'aborted'> {
  const d = emulator.dispatcher!;
  return new Promise((resolve) => {
    let quietSince: number | undefined;
    const check = () => {
      const now = Date.now();
      if (signal?.aborted) return finish('aborted');
      if (d.pendingTasks === 0 && d.inFlight === 0 && !busy()) {
        quietSince ??= now;
        if (now - quietSince >= QUIET_MS) return finish('idle');
      } else quietSince = undefined;
      if (now - since >= timeoutMs) return finish('timeout');
    };
    // The runner's own check, four times per quiet period; the dispatcher itself never polls.
    const timer = setInterval(check, 25);
    const onAbort = () => check();
    signal?.addEventListener('abort', onAbort);
    const finish = (outcome: 'idle' | 'timeout' | 'aborted') => {
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
