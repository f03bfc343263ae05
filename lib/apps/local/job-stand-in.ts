/**
 * The local stand-in for the two Google APIs a job step's queue calls (`npm run local`; docs/jobs.md, "Locally"):
 *
 *   POST /v2/projects/{p}/locations/{l}/jobs/{job}:run          Cloud Run Admin: start an execution -> Operation
 *   GET  /v2/projects/{p}/locations/{l}/jobs/{job}/executions/{e}   the execution (counts, completion)
 *   GET  /v2/projects/{p}/locations/{l}/operations/{o}              the operation (done, the execution)
 *   POST /v1/projects/{p}/locations/{l}/customJobs               Vertex AI: create a custom job -> CustomJob
 *   GET  /v1/projects/{p}/locations/{l}/customJobs/{id}           the custom job (state)
 *
 * It is reached through the emulator's routing exactly as the queue's uri_override reaches Google (run.ts rewrites
 * the host to this server and keeps the synthesized path), checks the invoker's OAuth token as the emulator mints it,
 * reads the request body as Google would (lib/core/job-requests.ts readJobRequest) and runs the step's command as
 * child processes (an argv array, no shell): `taskCount` tasks at most `parallelism` at a time, each retried up to the
 * job's `maxRetries` and stopped at its timeout (Cloud Run), or every replica at once and no retries (Vertex), each
 * with the environment the platform gives a container (lib/core/job-env.ts) plus the request's own (PIPELINE_MESSAGE,
 * the routes) and the emulators' hosts. Every line a task prints is passed on prefixed with its step and shard.
 */
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { jobShardId, STEP_KIND_LABELS, type StepJobRoute } from '../../core/job-route';
import { readJobRequest, type JobLaunch } from '../../core/job-requests';
import { jobTaskEnv, PIPELINE_MESSAGE_ENV } from '../../core/job-env';
import { DEFAULT_OAUTH_SCOPE } from '../../core/naming';
import { ROUTES_ENV, ROUTES_FILE_ENV, type PipelineRoutes } from '../../core/routes';
import { emulatorOAuthToken } from '../../emulator/dispatch/oidc';
import { Code, httpStatusOf, codeName } from '../../emulator/errors';

/** One attempt of one task: what a TaskRunner is asked to run. */
export interface TaskLaunch {
  readonly step: string;
  /** The ledger shard this task works on (`<message shard>#<index>`), for output prefixes. */
  readonly shard: string;
  readonly argv: readonly string[];
  /** The task's complete environment. */
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
  /** Stop the attempt after this long (the task timeout). */
  readonly timeoutMs: number;
  /** Each line the task prints. */
  readonly onLine: (line: string, stream: 'stdout' | 'stderr') => void;
}

/** Runs one attempt; resolves its exit code (non-zero: failed; a timeout or spawn error counts as failed). */
export type TaskRunner = (t: TaskLaunch, registerStop: (stop: () => void) => void) => Promise<number>;

export interface JobStandInOptions {
  /** The pipeline's routes: which queues are job steps, and their jobs. */
  readonly routes: PipelineRoutes;
  /** The argv of each job step's task (`local.command`, or the built-in example job). */
  readonly commands: Readonly<Record<string, readonly string[]>>;
  /** Variables every task gets on top of this process's: the emulators' hosts. @default {} */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * A file holding the routes, for tasks whose request could not carry them (routes over an environment variable's
   * limit): set as CLOUD_TASKS_PIPELINE_ROUTES_FILE only then. @default - none
   */
  readonly routesFile?: string;
  /** Working directory of the tasks. @default process.cwd() */
  readonly cwd?: string;
  /** Output lines of the tasks and the stand-in's own notes. @default - stderr */
  readonly log?: (line: string) => void;
  /** How a task attempt runs. @default - a child process (spawn, no shell) */
  readonly runTask?: TaskRunner;
  /** Interface and port of the HTTP server. @default 127.0.0.1, a free port */
  readonly host?: string;
  readonly port?: number;
}

export type ExecutionState = 'running' | 'succeeded' | 'failed' | 'stopped';

export interface TaskRecord {
  readonly index: number;
  /** Exit code of each attempt, in order. */
  readonly exitCodes: number[];
  startedAt?: number;
  finishedAt?: number;
}

export interface ExecutionRecord {
  /** Full name: `.../jobs/{job}/executions/{id}` or `.../customJobs/{id}`. */
  readonly name: string;
  /** The execution id (Cloud Run) or custom job id (Vertex) the tasks see. */
  readonly id: string;
  readonly step: string;
  readonly kind: StepJobRoute['kind'];
  readonly count: number;
  /** The message shard and run (the envelope's), or undefined when PIPELINE_MESSAGE is not an envelope. */
  readonly shard?: string;
  readonly runId?: string;
  /** Vertex: the custom job's display name and labels, as created. */
  readonly displayName?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly receivedAt: number;
  /** When the first task's process started. */
  firstTaskStartedAt?: number;
  finishedAt?: number;
  state: ExecutionState;
  readonly tasks: TaskRecord[];
}

export interface RunningJobStandIn {
  /** `http://127.0.0.1:<port>`: where run.ts routes the job steps' queues. */
  readonly url: string;
  /** Every execution and custom job started, in order. */
  readonly executions: readonly ExecutionRecord[];
  /** Whether an execution is still running (the local run is not idle while one is). */
  busy(): boolean;
  /** Resolves when no execution is running. */
  idle(): Promise<void>;
  /** Stops running tasks (their processes, by pid) and the server. */
  stop(): Promise<void>;
}

const RUN_JOB = /^\/v2\/(projects\/[^/]+\/locations\/[^/]+\/jobs\/[^/:]+):run$/;
const EXECUTION = /^\/v2\/(projects\/[^/]+\/locations\/[^/]+\/jobs\/[^/]+\/executions\/[^/]+)$/;
const OPERATION = /^\/v2\/(projects\/[^/]+\/locations\/[^/]+\/operations\/[^/]+)$/;
const CUSTOM_JOBS = /^\/v1\/(projects\/[^/]+\/locations\/[^/]+)\/customJobs$/;
const CUSTOM_JOB = /^\/v1\/(projects\/[^/]+\/locations\/[^/]+\/customJobs\/[^/]+)$/;
/** Request bodies above this are refused (a task holds at most 1 MB). */
const MAX_BODY_BYTES = 2 * 1024 * 1024;

export async function startJobStandIn(o: JobStandInOptions): Promise<RunningJobStandIn> {
  const log = o.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const runTask = o.runTask ?? spawnTask;
  const executions: ExecutionRecord[] = [];
  const operations = new Map<string, ExecutionRecord>();
  const running = new Set<Promise<void>>();
  const stops = new Set<() => void>();
  let stopping = false;
  const waiters: Array<() => void> = [];
  const settle = () => {
    if (running.size === 0) for (const w of waiters.splice(0)) w();
  };
  const invoker = Object.values(o.routes.steps).find((s) => s.job)?.auth;
  const expectedToken =
    invoker?.kind === 'oauth' ? `Bearer ${emulatorOAuthToken(invoker.serviceAccountEmail, invoker.scope)}` : undefined;
  const stepOfJob = new Map<string, string>();
  const stepsOfParent = new Map<string, string[]>();
  for (const [name, r] of Object.entries(o.routes.steps)) {
    if (r.job?.kind === 'cloudRunJob') stepOfJob.set(r.job.name, name);
    if (r.job?.kind === 'vertexAI') stepsOfParent.set(r.job.parent, [...(stepsOfParent.get(r.job.parent) ?? []), name]);
  }

  const start = (step: string, launch: JobLaunch, name: string, id: string): ExecutionRecord => {
    const route = o.routes.steps[step];
    const job = route.job!;
    const { shard: messageShard, runId } = envelopeOf(launch.env);
    const exec: ExecutionRecord = {
      name,
      id,
      step,
      kind: job.kind,
      count: launch.count,
      ...(messageShard !== undefined ? { shard: messageShard } : {}),
      ...(runId !== undefined ? { runId } : {}),
      ...(launch.displayName !== undefined ? { displayName: launch.displayName } : {}),
      ...(launch.labels !== undefined ? { labels: launch.labels } : {}),
      receivedAt: Date.now(),
      state: 'running',
      tasks: Array.from({ length: launch.count }, (_, index) => ({ index, exitCodes: [] })),
    };
    executions.push(exec);
    const command = [...(o.commands[step] ?? []), ...launch.args];
    const timeoutMs = (launch.timeoutSeconds ?? job.timeoutSeconds) * 1000;
    const maxRetries = job.kind === 'cloudRunJob' ? job.maxRetries : 0;
    const parallelism = job.kind === 'cloudRunJob' ? (job.parallelism ?? launch.count) : launch.count;
    const needsRoutesFile = launch.env[ROUTES_ENV] === undefined && o.routesFile !== undefined;
    const runOne = async (t: TaskRecord): Promise<boolean> => {
      for (let attempt = 0; attempt <= maxRetries && !stopping; attempt++) {
        const env: Record<string, string> = {
          ...(process.env as Record<string, string>),
          ...(o.env ?? {}),
          ...launch.env,
          ...(needsRoutesFile ? { [ROUTES_FILE_ENV]: o.routesFile! } : {}),
          ...jobTaskEnv(
            job.kind === 'cloudRunJob'
              ? { platform: 'cloudRunJob', job: job.name.slice(job.name.lastIndexOf('/') + 1) }
              : { platform: 'vertexAI', replicaCount: launch.count },
            id,
            t.index,
            launch.count,
            attempt,
          ),
        };
        const shard = messageShard !== undefined ? jobShardId(messageShard, t.index) : `#${t.index}`;
        const prefix = `[${step} ${shard}${attempt > 0 ? ` attempt ${attempt + 1}` : ''}]`;
        t.startedAt ??= Date.now();
        exec.firstTaskStartedAt ??= t.startedAt;
        const code = await runTask(
          {
            step,
            shard,
            argv: command,
            env,
            cwd: o.cwd ?? process.cwd(),
            timeoutMs,
            onLine: (line) => log(`${prefix} ${readable(line)}`),
          },
          (stop) => stops.add(stop),
        );
        t.exitCodes.push(code);
        if (code === 0) {
          t.finishedAt = Date.now();
          return true;
        }
        log(
          `${prefix} exited with ${code}${attempt < maxRetries ? `; retrying (maxRetries ${maxRetries})` : `: ${maxRetries > 0 ? `maxRetries (${maxRetries}) spent` : 'no retries'}`}`,
        );
      }
      t.finishedAt = Date.now();
      return false;
    };
    const work = (async () => {
      const queue = [...exec.tasks];
      const results: boolean[] = [];
      const lanes = Array.from({ length: Math.max(1, Math.min(parallelism, queue.length)) }, async () => {
        for (let t = queue.shift(); t; t = queue.shift()) results.push(await runOne(t));
      });
      await Promise.all(lanes);
      exec.finishedAt = Date.now();
      exec.state = stopping ? 'stopped' : results.every(Boolean) ? 'succeeded' : 'failed';
      log(
        `[${step}] ${STEP_KIND_LABELS[job.kind]} ${id} ${exec.state} (${results.filter(Boolean).length} of ${launch.count} tasks succeeded)`,
      );
    })().catch((err: unknown) => {
      exec.state = 'failed';
      log(`[${step}] ${id}: ${(err as Error).message}`);
    });
    running.add(work);
    void work.finally(() => {
      running.delete(work);
      settle();
    });
    return exec;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, body: string): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const path = url.pathname;
    if (req.method === 'GET') {
      const e = EXECUTION.exec(path);
      if (e) return reply(res, 200, executionJson(find(executions, e[1])));
      const op = OPERATION.exec(path);
      if (op) {
        const exec = operations.get(op[1]);
        if (!exec) throw new ApiError('NOT_FOUND', `Operation ${op[1]} not found`);
        return reply(res, 200, operationJson(op[1], exec));
      }
      const cj = CUSTOM_JOB.exec(path);
      if (cj) return reply(res, 200, customJobJson(find(executions, cj[1])));
      throw new ApiError(
        'NOT_FOUND',
        `The requested URL ${path} was not found on this server (the stand-in serves jobs.run and customJobs only)`,
      );
    }
    if (req.method !== 'POST')
      throw new ApiError('UNIMPLEMENTED', `${req.method} ${path} is not served by the stand-in`);
    if (expectedToken && req.headers.authorization !== expectedToken)
      throw req.headers.authorization
        ? new ApiError(
            'PERMISSION_DENIED',
            `the caller is not the pipeline's invoker ${invoker!.kind === 'oauth' ? invoker!.serviceAccountEmail : ''} with scope ${DEFAULT_OAUTH_SCOPE}`,
          )
        : new ApiError(
            'UNAUTHENTICATED',
            'Request is missing required authentication credential: expected an OAuth 2 access token',
          );
    const run = RUN_JOB.exec(path);
    if (run) {
      const step = stepOfJob.get(run[1]);
      if (!step)
        throw new ApiError(
          'NOT_FOUND',
          `Resource '${run[1]}' was not found (no job step of ${o.routes.pipeline} names this job)`,
        );
      const launch = parse('cloudRunJob', body);
      const job = run[1].slice(run[1].lastIndexOf('/') + 1);
      const id = `${job}-${randomBytes(3).toString('hex').slice(0, 5)}`;
      const exec = start(step, launch, `${run[1]}/executions/${id}`, id);
      const location = run[1].slice(0, run[1].indexOf('/jobs/'));
      const opName = `${location}/operations/${randomUUID()}`;
      operations.set(opName, exec);
      return reply(res, 200, operationJson(opName, exec));
    }
    const create = CUSTOM_JOBS.exec(path);
    if (create) {
      const steps = stepsOfParent.get(create[1]) ?? [];
      const launch = parse('vertexAI', body);
      // Several Vertex steps may share a location: the labels name the step (lib/core/job-requests.ts).
      const step = steps.find((s) => launch.labels?.step === s) ?? (steps.length === 1 ? steps[0] : undefined);
      if (!step)
        throw new ApiError('NOT_FOUND', `no vertexAI step of ${o.routes.pipeline} creates custom jobs in ${create[1]}`);
      const id = String(BigInt(`0x${randomBytes(7).toString('hex')}`));
      const exec = start(step, launch, `${create[1]}/customJobs/${id}`, id);
      return reply(res, 200, customJobJson(exec));
    }
    throw new ApiError(
      'NOT_FOUND',
      `The requested URL ${path} was not found on this server (the stand-in serves jobs.run and customJobs only)`,
    );
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.byteLength;
      if (size <= MAX_BODY_BYTES) chunks.push(c);
    });
    req.on('end', () => {
      if (size > MAX_BODY_BYTES)
        return replyError(res, new ApiError('INVALID_ARGUMENT', 'Request payload size exceeds the limit'));
      handle(req, res, Buffer.concat(chunks).toString()).catch((err: unknown) =>
        replyError(res, err instanceof ApiError ? err : new ApiError('INTERNAL', (err as Error).message)),
      );
    });
  });
  const host = o.host ?? '127.0.0.1';
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, host, () => resolve((server.address() as { port: number }).port));
  });
  return {
    url: `http://${host}:${port}`,
    executions,
    busy: () => running.size > 0,
    idle: () => (running.size === 0 ? Promise.resolve() : new Promise<void>((r) => waiters.push(r))),
    stop: async () => {
      stopping = true;
      for (const stop of stops) stop();
      await Promise.all([...running]);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

class ApiError extends Error {
  constructor(
    readonly status: keyof typeof Code,
    message: string,
  ) {
    super(message);
  }
}

function parse(kind: StepJobRoute['kind'], body: string): JobLaunch {
  try {
    return readJobRequest(kind, body);
  } catch (err) {
    throw new ApiError(
      'INVALID_ARGUMENT',
      `Invalid ${kind === 'cloudRunJob' ? 'RunJobRequest' : 'CustomJob'}: ${(err as Error).message}`,
    );
  }
}

function find(executions: readonly ExecutionRecord[], name: string): ExecutionRecord {
  const e = executions.find((x) => x.name === name);
  if (!e) throw new ApiError('NOT_FOUND', `Resource '${name}' was not found`);
  return e;
}

/** The envelope's shard and run, when PIPELINE_MESSAGE is one (for output prefixes and the executions list). */
function envelopeOf(env: Readonly<Record<string, string>>): { shard?: string; runId?: string } {
  try {
    const v = JSON.parse(env[PIPELINE_MESSAGE_ENV] ?? '') as { shard?: unknown; runId?: unknown };
    return {
      ...(typeof v?.shard === 'string' ? { shard: v.shard } : {}),
      ...(typeof v?.runId === 'string' ? { runId: v.runId } : {}),
    };
  } catch {
    return {};
  }
}

/** A Cloud Logging JSON line as `SEVERITY message`; any other line as it is. */
function readable(line: string): string {
  if (!line.startsWith('{')) return line;
  try {
    const v = JSON.parse(line) as { severity?: unknown; message?: unknown };
    if (typeof v.message === 'string') return `${typeof v.severity === 'string' ? `${v.severity} ` : ''}${v.message}`;
  } catch {
    // not JSON after all
  }
  return line;
}

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

function executionJson(e: ExecutionRecord): Record<string, unknown> {
  const count = (f: (t: TaskRecord) => boolean) => e.tasks.filter(f).length;
  const done = e.state !== 'running';
  return {
    name: e.name,
    job: e.name.slice(e.name.lastIndexOf('/jobs/') + 6, e.name.indexOf('/executions/')),
    taskCount: e.count,
    createTime: iso(e.receivedAt),
    ...(e.firstTaskStartedAt !== undefined ? { startTime: iso(e.firstTaskStartedAt) } : {}),
    ...(done ? { completionTime: iso(e.finishedAt) } : {}),
    runningCount: count((t) => t.startedAt !== undefined && t.finishedAt === undefined),
    succeededCount: count((t) => t.exitCodes.at(-1) === 0),
    failedCount: count((t) => t.finishedAt !== undefined && t.exitCodes.at(-1) !== 0),
    retriedCount: e.tasks.reduce((n, t) => n + Math.max(0, t.exitCodes.length - 1), 0),
    conditions: done
      ? [{ type: 'Completed', state: e.state === 'succeeded' ? 'CONDITION_SUCCEEDED' : 'CONDITION_FAILED' }]
      : [],
  };
}

function operationJson(name: string, e: ExecutionRecord): Record<string, unknown> {
  const done = e.state !== 'running';
  const execution = { '@type': 'type.googleapis.com/google.cloud.run.v2.Execution', ...executionJson(e) };
  return { name, metadata: execution, done, ...(done ? { response: execution } : {}) };
}

const VERTEX_STATES: Record<ExecutionState, string> = {
  running: 'JOB_STATE_RUNNING',
  succeeded: 'JOB_STATE_SUCCEEDED',
  failed: 'JOB_STATE_FAILED',
  stopped: 'JOB_STATE_CANCELLED',
};

function customJobJson(e: ExecutionRecord): Record<string, unknown> {
  return {
    name: e.name,
    ...(e.displayName ? { displayName: e.displayName } : {}),
    ...(e.labels ? { labels: e.labels } : {}),
    state: e.firstTaskStartedAt === undefined && e.state === 'running' ? 'JOB_STATE_PENDING' : VERTEX_STATES[e.state],
    createTime: iso(e.receivedAt),
    ...(e.firstTaskStartedAt !== undefined ? { startTime: iso(e.firstTaskStartedAt) } : {}),
    ...(e.finishedAt !== undefined ? { endTime: iso(e.finishedAt) } : {}),
  };
}

function reply(res: ServerResponse, status: number, json: unknown): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' }).end(JSON.stringify(json));
}

/** Google's REST error shape: `{ "error": { "code", "message", "status" } }`. */
function replyError(res: ServerResponse, err: ApiError): void {
  const code = Code[err.status];
  reply(res, httpStatusOf(code), { error: { code: httpStatusOf(code), message: err.message, status: codeName(code) } });
}

/** The default TaskRunner: a child process, argv without a shell; SIGTERM at the timeout (SIGKILL 10 s later). */
export const spawnTask: TaskRunner = (t, registerStop) =>
  new Promise((resolve) => {
    const [file, ...args] = t.argv;
    // `node` is the Node that runs npm run local, whatever PATH says.
    const child = spawn(file === 'node' ? process.execPath : file, args, {
      cwd: t.cwd,
      env: t.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let killTimer: NodeJS.Timeout | undefined;
    const stop = () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      killTimer.unref();
    };
    registerStop(stop);
    const timeout = setTimeout(() => {
      t.onLine(`task timeout (${Math.round(t.timeoutMs / 1000)} s) reached: stopping it`, 'stderr');
      stop();
    }, t.timeoutMs);
    timeout.unref();
    for (const [stream, name] of [
      [child.stdout, 'stdout'],
      [child.stderr, 'stderr'],
    ] as const) {
      let rest = '';
      stream.on('data', (d: Buffer) => {
        const lines = (rest + d.toString()).split('\n');
        rest = lines.pop() ?? '';
        for (const line of lines) if (line !== '') t.onLine(line, name);
      });
      stream.on('end', () => {
        if (rest !== '') t.onLine(rest, name);
      });
    }
    child.on('error', (err) => {
      clearTimeout(timeout);
      t.onLine(`cannot run ${file}: ${err.message}`, 'stderr');
      resolve(127);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timeout);
      if (killTimer) clearTimeout(killTimer);
      resolve(code ?? (signal ? 128 + 15 : 1));
    });
  });
