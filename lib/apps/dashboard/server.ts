/**
 * The dashboard server: the page, its JSON API under /api/ and live updates by server-sent events, on 127.0.0.1 only
 * (docs/dashboard.md is the reference). Reads come from the emulator's state and the activity (activity.ts) or the
 * run ledger (runs.ts); every action goes through the Cloud Tasks API a user's client calls (the `tasks` client:
 * PauseQueue, ResumeQueue, PurgeQueue, RunTask, DeleteTask, CreateTask), so the emulator's rules and errors apply.
 *
 * Hardening, since a page on localhost can be reached by any site the browser visits:
 * - the Host header must name this server (`127.0.0.1:<port>` or `localhost:<port>`): DNS rebinding gets 421;
 * - a request that changes something must be JSON (`content-type: application/json`, which a cross-site form cannot
 *   send without a CORS preflight, never granted) and, when the browser says where it comes from (`Origin`,
 *   `Sec-Fetch-Site`), come from this page: others get 403;
 * - the page is static HTML and one script from this server: a Content-Security-Policy without inline scripts or
 *   styles, no framing, nosniff, no referrer; user strings reach the page only as JSON.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PipelineRoutes } from '../../core/routes';
import type { SynthesizedStack } from '../../core/synthesized-stack';
import { codeName, httpStatusOf } from '../../emulator/errors';
import type { RunningEmulator } from '../../emulator/server';
import type { Ledger } from '../../ledger/index';
import { TaskActivity, countPhases } from './activity';
import type {
  ApiError,
  ChangeEvent,
  DashboardInfo,
  PipelineResponse,
  QueuesResponse,
  RunsResponse,
  StartRunRequest,
  TasksResponse,
} from './api-types';
import { loadDashboardAssets, type DashboardAssets } from './assets';
import { pipelineOfStack, type DashboardPipeline } from './pipeline';
import { RunRequestError, ledgerRuns, runOfTask, taskRuns, type RunsSource } from './runs';
import { queueView, taskDetail, taskListItem } from './views';

/** The Cloud Tasks calls the dashboard makes (CloudTasksClient satisfies it). */
export interface DashboardTasksApi {
  pauseQueue(request: { name: string }): Promise<unknown>;
  resumeQueue(request: { name: string }): Promise<unknown>;
  purgeQueue(request: { name: string }): Promise<unknown>;
  runTask(request: { name: string }): Promise<unknown>;
  deleteTask(request: { name: string }): Promise<unknown>;
  createTask(request: { parent: string; task: Record<string, unknown> }): Promise<unknown>;
}

export interface DashboardOptions {
  /** The emulator whose queues and tasks it shows (state, dispatcher, addresses). */
  readonly emulator: Pick<RunningEmulator, 'state' | 'dispatcher' | 'address' | 'restUrl'>;
  /** Actions go through it: a Cloud Tasks client of the emulator. */
  readonly tasks: DashboardTasksApi;
  /** The synthesized stack whose pipeline it draws. @default - none: queues and tasks only */
  readonly stack?: SynthesizedStack;
  /** Routes built from the spec, for a stack without a `routes` output. @default - the stack's */
  readonly routes?: PipelineRoutes;
  /** The run ledger of the pipeline: runs come from it instead of from the tasks. @default - none */
  readonly ledger?: Ledger;
  /** TCP port on 127.0.0.1; 0 picks a free one. @default 0 */
  readonly port?: number;
  /** Where the front-end bundle is. @default - dist/dashboard of this package */
  readonly assetsDir?: string;
  /** Live updates are sent at most this often. @default 250 */
  readonly flushMs?: number;
  /** Finished tasks the dashboard remembers for run pages. @default 50_000 */
  readonly maxFinishedTasks?: number;
}

export interface RunningDashboard {
  /** `http://127.0.0.1:<port>/` */
  readonly url: string;
  readonly port: number;
  readonly pipeline?: DashboardPipeline;
  readonly activity: TaskActivity;
  /** Closes the server and its event streams. */
  close(): Promise<void>;
}

const HOST = '127.0.0.1';
/** A start-run request carries a payload of at most a task's size (1 MB) plus the JSON around it. */
const MAX_REQUEST_BYTES = 1_200_000;
const MAX_EVENT_STREAMS = 32;
const HEARTBEAT_MS = 15_000;
const RUNS_LIMIT = 200;
const TASKS_PAGE_DEFAULT = 50;
const TASKS_PAGE_MAX = 500;

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const COMMON_HEADERS: Record<string, string> = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-resource-policy': 'same-origin',
};

/** An API error with the HTTP status and the google.rpc code name the Cloud Tasks API would use. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly statusName: string,
    message: string,
  ) {
    super(message);
  }
}

export async function startDashboard(o: DashboardOptions): Promise<RunningDashboard> {
  const { state, dispatcher } = o.emulator;
  const pipeline = o.stack ? pipelineOfStack({ stack: o.stack, routes: o.routes }) : undefined;
  const stepOfQueue = new Map((pipeline?.steps ?? []).map((s) => [s.queue, s.name]));
  const activity = new TaskActivity({
    state,
    dispatcher,
    stepOf: (q) => stepOfQueue.get(q),
    runOf: runOfTask,
    flushMs: o.flushMs,
    maxFinishedTasks: o.maxFinishedTasks,
  });
  const runs: RunsSource | undefined = pipeline
    ? o.ledger
      ? ledgerRuns({ ledger: o.ledger, pipeline, activity })
      : taskRuns({ pipeline, activity, tasks: o.tasks, now: () => state.clock.now() })
    : undefined;
  let assets: DashboardAssets | undefined;
  const streams = new Set<ServerResponse>();

  const api = async (req: IncomingMessage, url: URL, res: ServerResponse): Promise<unknown> => {
    const path = url.pathname;
    const method = req.method ?? 'GET';
    if (path === '/api/info' && method === 'GET')
      return {
        ...(pipeline ? { stack: pipeline.stack } : {}),
        emulator: o.emulator.address,
        ...(o.emulator.restUrl ? { restUrl: o.emulator.restUrl } : {}),
        dispatching: dispatcher !== undefined,
        ...(runs ? { runs: runs.kind } : {}),
        now: new Date(state.clock.now()).toISOString(),
      } satisfies DashboardInfo;
    if (path === '/api/events' && method === 'GET') return openStream(req, res);
    if (path === '/api/pipeline' && method === 'GET') return pipelineResponse(url.searchParams.get('run'));
    if (path === '/api/runs' && method === 'GET') {
      const source = needRuns();
      return { source: source.kind, runs: await source.list(RUNS_LIMIT) } satisfies RunsResponse;
    }
    if (path === '/api/runs' && method === 'POST') {
      const body = (await readJson(req)) as Partial<StartRunRequest>;
      if (typeof body?.step !== 'string')
        throw new HttpError(400, 'INVALID_ARGUMENT', 'step: name the step the run starts at (a string)');
      return needRuns().start({ step: body.step, payload: body.payload ?? null });
    }
    const run = /^\/api\/runs\/([^/]+)$/.exec(path);
    if (run && method === 'GET') {
      const id = decodeURIComponent(run[1]);
      const detail = await needRuns().get(id);
      if (!detail) throw new HttpError(404, 'NOT_FOUND', `no run ${JSON.stringify(id)} in this pipeline`);
      return detail;
    }
    if (path === '/api/queues' && method === 'GET')
      return {
        queues: state
          .queues()
          .sort((a, b) => a.name.localeCompare(b.name))
          .map((q) => queueView(q, activity, dispatcher, stepOfQueue.get(q.name))),
      } satisfies QueuesResponse;
    const resource =
      /^\/api\/(projects\/[^/]+\/locations\/[^/]+\/queues\/[^/:]+)(?:\/tasks\/([^/:]+))?(?::([a-z]+))?$/.exec(path);
    if (resource) return resourceCall(req, url, method, resource[1], resource[2], resource[3]);
    if (path.startsWith('/api/'))
      throw new HttpError(404, 'NOT_FOUND', `no API at ${method} ${path} (docs/dashboard.md)`);
    return undefined;
  };

  const needRuns = (): RunsSource => {
    if (!runs)
      throw new HttpError(
        404,
        'NOT_FOUND',
        'no pipeline: start the emulator with --stack cdktf.out/stacks/<stack> (or npm run local) to see its runs',
      );
    return runs;
  };

  const pipelineResponse = (run: string | null): PipelineResponse => {
    if (!pipeline)
      throw new HttpError(404, 'NOT_FOUND', 'no pipeline: start the emulator with --stack cdktf.out/stacks/<stack>');
    const tasks = run ? activity.tasksOfRun(run) : undefined;
    return {
      pipeline: pipeline.pipeline,
      environment: pipeline.environment,
      stack: pipeline.stack,
      ...(run ? { run } : {}),
      steps: pipeline.steps.map((s) => ({
        name: s.name,
        queue: s.queue,
        queueId: s.queueId,
        kind: s.kind,
        ...(s.join ? { join: s.join } : {}),
        next: s.next,
        parents: s.parents,
        seeds: s.seeds,
        schedules: s.schedules,
        counts: tasks ? countPhases(tasks.filter((t) => t.step === s.name)) : activity.countsOf(s.queue),
      })),
    };
  };

  const resourceCall = async (
    req: IncomingMessage,
    url: URL,
    method: string,
    queueName: string,
    taskId: string | undefined,
    verb: string | undefined,
  ): Promise<unknown> => {
    const queue = decodeURIComponent(queueName);
    if (taskId === undefined) {
      if (method === 'GET' && !verb) {
        const q = state.findQueue(queue);
        if (!q) throw new HttpError(404, 'NOT_FOUND', `no queue ${queue} in the emulator`);
        return queueView(q, activity, dispatcher, stepOfQueue.get(q.name));
      }
      if (method === 'POST' && (verb === 'pause' || verb === 'resume' || verb === 'purge')) {
        await readJson(req);
        const call = { pause: 'pauseQueue', resume: 'resumeQueue', purge: 'purgeQueue' } as const;
        await cloudTasks(() => o.tasks[call[verb]]({ name: queue }));
        const q = state.findQueue(queue)!;
        return queueView(q, activity, dispatcher, stepOfQueue.get(q.name));
      }
    }
    if (taskId !== undefined) {
      const name = `${queue}/tasks/${decodeURIComponent(taskId)}`;
      if (method === 'GET' && !verb) {
        const live = state.findTask(name);
        const record = activity.task(name);
        if (!live && !record) throw new HttpError(404, 'NOT_FOUND', `no task ${name} in the emulator or its history`);
        return taskDetail(live ?? record!.last, record, live !== undefined);
      }
      if (method === 'POST' && verb === 'run') {
        await readJson(req);
        await cloudTasks(() => o.tasks.runTask({ name }));
        return { task: name };
      }
      if (method === 'DELETE' && !verb) {
        await cloudTasks(() => o.tasks.deleteTask({ name }));
        return { task: name };
      }
    }
    throw new HttpError(405, 'UNIMPLEMENTED', `${method} ${url.pathname} is not an action of the dashboard API`);
  };

  const listTasks = (queue: string, url: URL): TasksResponse => {
    const q = state.findQueue(queue);
    if (!q) throw new HttpError(404, 'NOT_FOUND', `no queue ${queue} in the emulator`);
    const size = Number(url.searchParams.get('pageSize') ?? TASKS_PAGE_DEFAULT);
    if (!Number.isInteger(size) || size < 1 || size > TASKS_PAGE_MAX)
      throw new HttpError(400, 'INVALID_ARGUMENT', `pageSize: use a whole number from 1 to ${TASKS_PAGE_MAX}`);
    let page: ReturnType<typeof state.listTasks>;
    try {
      page = state.listTasks(queue, { pageSize: size, pageToken: url.searchParams.get('pageToken') ?? '' });
    } catch (err) {
      throw toHttpError(err);
    }
    return {
      queue,
      total: activity.depthOf(queue),
      tasks: page.tasks.map((t) => taskListItem(t, activity.task(t.name))),
      nextPageToken: page.nextPageToken,
    };
  };

  const openStream = (req: IncomingMessage, res: ServerResponse): symbol => {
    if (streams.size >= MAX_EVENT_STREAMS)
      throw new HttpError(503, 'UNAVAILABLE', `${MAX_EVENT_STREAMS} pages are listening already; close one`);
    res.writeHead(200, {
      ...COMMON_HEADERS,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
    });
    // Reconnect after 2 s when the connection drops; the first message tells the page it is live.
    res.write(`retry: 2000\nevent: hello\ndata: {}\n\n`);
    streams.add(res);
    const unsubscribe = activity.onChange((change: ChangeEvent) => {
      res.write(`event: change\ndata: ${JSON.stringify(change)}\n\n`);
    });
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
    heartbeat.unref();
    const end = () => {
      clearInterval(heartbeat);
      unsubscribe();
      streams.delete(res);
    };
    req.on('close', end);
    res.on('close', end);
    return STREAMING;
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => sendError(res, toHttpError(err)));
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', (err) =>
      reject(
        new Error(`cannot serve the dashboard on ${HOST}:${o.port ?? 0}: ${err.message} (pick another --ui-port)`),
      ),
    );
    server.listen(o.port ?? 0, HOST, () => resolve((server.address() as AddressInfo).port));
  });
  const origins = new Set([`http://${HOST}:${port}`, `http://localhost:${port}`]);
  const hosts = new Set([`${HOST}:${port}`, `localhost:${port}`]);

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (!hosts.has((req.headers.host ?? '').toLowerCase()))
      throw new HttpError(
        421,
        'PERMISSION_DENIED',
        `this dashboard answers only to http://${HOST}:${port}/ (the Host header was ${JSON.stringify(req.headers.host ?? '')})`,
      );
    const url = new URL(req.url ?? '/', `http://${HOST}:${port}`);
    const method = req.method ?? 'GET';
    if (method !== 'GET' && method !== 'HEAD') checkSameOrigin(req);
    if (url.pathname.startsWith('/api/')) {
      const tasksList = /^\/api\/(projects\/[^/]+\/locations\/[^/]+\/queues\/[^/:]+)\/tasks$/.exec(url.pathname);
      const result =
        tasksList && method === 'GET' ? listTasks(decodeURIComponent(tasksList[1]), url) : await api(req, url, res);
      if (result === STREAMING) return;
      if (result === undefined) throw new HttpError(404, 'NOT_FOUND', `no API at ${method} ${url.pathname}`);
      return sendJson(res, 200, result);
    }
    if (method !== 'GET' && method !== 'HEAD')
      throw new HttpError(405, 'UNIMPLEMENTED', `${method} is not served here`);
    assets ??= loadDashboardAssets(o.assetsDir);
    if (url.pathname === '/' || url.pathname === '/index.html') {
      res.writeHead(200, {
        ...COMMON_HEADERS,
        'content-security-policy': CSP,
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-cache',
      });
      res.end(method === 'HEAD' ? undefined : assets.index);
      return;
    }
    const asset = /^\/assets\/([a-z]+\.(?:js|css))$/.exec(url.pathname);
    const file = asset ? assets.files.get(asset[1]) : undefined;
    if (!file) throw new HttpError(404, 'NOT_FOUND', `nothing at ${url.pathname}`);
    res.writeHead(200, { ...COMMON_HEADERS, 'content-type': file.type, 'cache-control': 'no-cache' });
    res.end(method === 'HEAD' ? undefined : file.body);
  };

  const checkSameOrigin = (req: IncomingMessage): void => {
    const origin = req.headers.origin;
    const site = req.headers['sec-fetch-site'];
    if (
      (origin !== undefined && !origins.has(origin)) ||
      (site !== undefined && site !== 'same-origin' && site !== 'none')
    )
      throw new HttpError(403, 'PERMISSION_DENIED', 'actions are accepted only from the dashboard page itself');
    const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    if (req.method === 'POST' && type !== 'application/json')
      throw new HttpError(415, 'INVALID_ARGUMENT', 'send actions as JSON: content-type: application/json');
  };

  return {
    url: `http://${HOST}:${port}/`,
    port,
    ...(pipeline ? { pipeline } : {}),
    activity,
    close: async () => {
      activity.close();
      for (const s of streams) s.end();
      streams.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

/** Marks a response the handler already streams (server-sent events). */
const STREAMING = Symbol('streaming');

async function cloudTasks(call: () => Promise<unknown>): Promise<void> {
  try {
    await call();
  } catch (err) {
    throw toHttpError(err);
  }
}

/** A gRPC error (the Cloud Tasks client's, or the emulator's) as the HTTP status Google's REST API gives its code. */
function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof RunRequestError) return new HttpError(err.status, 'INVALID_ARGUMENT', err.message);
  const e = err as { code?: unknown; details?: unknown; message?: unknown; name?: string };
  if (typeof e?.code === 'number' && e.code > 0 && e.code < 17) {
    const message = typeof e.details === 'string' && e.details ? e.details : String(e.message ?? '');
    return new HttpError(httpStatusOf(e.code), codeName(e.code), message.replace(/^\d+ [A-Z_]+: /, ''));
  }
  if (e?.name === 'RunSteeringError') return new HttpError(400, 'FAILED_PRECONDITION', String(e.message));
  return new HttpError(500, 'INTERNAL', `the dashboard failed: ${err instanceof Error ? err.message : String(err)}`);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...COMMON_HEADERS,
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'content-length': String(Buffer.byteLength(text)),
  });
  res.end(text);
}

function sendError(res: ServerResponse, err: HttpError): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const body: ApiError = { error: { code: err.status, status: err.statusName, message: err.message } };
  sendJson(res, err.status, body);
}

function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.byteLength;
      if (size <= MAX_REQUEST_BYTES) chunks.push(c);
    });
    req.on('end', () => {
      if (size > MAX_REQUEST_BYTES)
        return reject(new HttpError(413, 'INVALID_ARGUMENT', `the request is over ${MAX_REQUEST_BYTES} bytes`));
      const text = Buffer.concat(chunks).toString();
      if (text.trim() === '') return resolve({});
      try {
        resolve(JSON.parse(text));
      } catch (err) {
        reject(new HttpError(400, 'INVALID_ARGUMENT', `the request body is not JSON: ${(err as Error).message}`));
      }
    });
    req.on('error', reject);
  });
}
