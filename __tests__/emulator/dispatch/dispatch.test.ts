/**
 * Dispatch semantics against a real loopback HTTP target, timed with the system clock. Tolerances are generous (a busy
 * 2-core machine can delay a timer by tens of ms); each scenario has its own queue and path, and the scenarios run
 * concurrently so the file takes about as long as its slowest scenario.
 *
 * Expected timings are computed with backoffSeconds() from lib/core/rules/cloud-tasks.ts, the rule the dispatcher uses.
 */
import { status } from '@grpc/grpc-js';
import type { CloudTasksClient } from '@google-cloud/tasks';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { backoffSeconds } from '../../../lib/core/rules/cloud-tasks';
import { ManualClock } from '../../../lib/emulator/clock';
import { etaHeader } from '../../../lib/emulator/dispatch/dispatcher';
import { EventLogWriter } from '../../../lib/emulator/dispatch/events';
import type { DispatchEvent } from '../../../lib/emulator/dispatch/events';
import type { QueueInput } from '../../../lib/emulator/model';
import { startEmulator, type RunningEmulator } from '../../../lib/emulator/server';
import { PARENT, grpcError, officialClient, queueName, taskName } from '../helpers';
import { RecordingTarget, fail, ok, waitUntil } from './helpers';

interface Env {
  emulator: RunningEmulator;
  target: RecordingTarget;
  client: CloudTasksClient;
  events: DispatchEvent[];
}

// Started once, on first use: concurrent tests await the same promise (beforeAll does not order them).
let envPromise: Promise<Env> | undefined;
const env = (): Promise<Env> =>
  (envPromise ??= (async () => {
    const target = await new RecordingTarget().start();
    const events: DispatchEvent[] = [];
    const emulator = await startEmulator({ port: 0, dispatch: true, dispatchListeners: [(e) => events.push(e)] });
    return { emulator, target, client: officialClient(emulator.port), events };
  })());

afterAll(async () => {
  if (!envPromise) return;
  const { emulator, target, client } = await envPromise;
  await client.close();
  await emulator.stop();
  await target.close();
});

const fastRetries = { minBackoffSeconds: 0.05, maxBackoffSeconds: 0.05, maxDoublings: 0 };

async function queue(id: string, input: Omit<QueueInput, 'name'> = {}): Promise<string> {
  const { emulator } = await env();
  return emulator.state.createQueue(PARENT, { name: queueName(id), ...input }).name;
}

const eventsOf = (events: DispatchEvent[], queueId: string, type?: DispatchEvent['event']) =>
  events.filter((e) => e.queue === queueName(queueId) && (type === undefined || e.event === type));

const gaps = (times: number[]) => times.slice(1).map((t, i) => t - times[i]);

test.concurrent('rate: a new 20/s queue sends 20 per second from the first task (within 20%)', async () => {
  const { emulator, target } = await env();
  const url = target.handle('rate', ok);
  const q = await queue('rate', { rateLimits: { maxDispatchesPerSecond: 20 } });
  for (let i = 0; i < 40; i++) emulator.state.createTask(q, { httpRequest: { url: `${url}/${i}` } });

  await waitUntil(() => target.requests('rate').length === 40, '40 dispatches', 6000);
  const at = target.requests('rate').map((r) => r.at);
  const rate = (at.length - 1) / ((at[at.length - 1] - at[0]) / 1000);
  expect(rate).toBeGreaterThan(16);
  expect(rate).toBeLessThan(24);
});

test.concurrent('burst: an idle 20/s queue sends max_burst_size (10) at once, then 20 per second', async () => {
  const { emulator, target } = await env();
  const url = target.handle('burst', ok);
  const q = await queue('burst', { rateLimits: { maxDispatchesPerSecond: 20 } });
  const burst = emulator.state.getQueue(q).rateLimits.maxBurstSize;
  expect(burst).toBe(10);
  await new Promise((r) => setTimeout(r, 600)); // idle: the bucket fills (10 tokens take 0.5 s)
  for (let i = 0; i < 30; i++) emulator.state.createTask(q, { httpRequest: { url: `${url}/${i}` } });

  await waitUntil(() => target.requests('burst').length === 30, '30 dispatches', 6000);
  const at = target.requests('burst').map((r) => r.at);
  expect(at[burst - 1] - at[0]).toBeLessThan(150);
  // After the burst the bucket is empty: from then on, one token per 50 ms.
  const steady = (at.length - 1 - burst) / ((at[at.length - 1] - at[burst]) / 1000);
  expect(steady).toBeGreaterThan(16);
  expect(steady).toBeLessThan(24);
});

test.concurrent('concurrency: never more than maxConcurrentDispatches in flight', async () => {
  const { emulator, target } = await env();
  const url = target.handle('conc', (_r, res) => setTimeout(() => res.writeHead(200).end(), 120));
  const q = await queue('conc', { rateLimits: { maxConcurrentDispatches: 3 } });
  let peak = 0;
  const off = emulator.dispatcher!.onDispatchEvent((e) => {
    if (e.queue === q) peak = Math.max(peak, emulator.dispatcher!.inFlightOf(q));
  });
  for (let i = 0; i < 12; i++) emulator.state.createTask(q, { httpRequest: { url } });

  await waitUntil(() => target.requests('conc').length === 12, '12 dispatches');
  await waitUntil(() => emulator.state.tasksOf(q).length === 0, 'all tasks done');
  off();
  expect(target.peakInFlight('conc')).toBe(3);
  expect(peak).toBe(3);
});

test.concurrent(
  'backoff: retry gaps follow backoffSeconds (doubling, then linear, then capped) and the task is deleted after maxAttempts',
  async () => {
    const { emulator, target, events } = await env();
    const url = target.handle('backoff', fail(500));
    const retry = { maxAttempts: 6, minBackoffSeconds: 0.1, maxBackoffSeconds: 0.5, maxDoublings: 1 };
    const q = await queue('backoff', { retryConfig: retry });
    const task = emulator.state.createTask(q, { name: taskName('backoff', 'b1'), httpRequest: { url } });

    await waitUntil(() => eventsOf(events, 'backoff', 'gave-up').length === 1, 'the task to give up', 6000);
    const at = target.requests('backoff').map((r) => r.at);
    expect(at).toHaveLength(6);
    const expected = [0, 1, 2, 3, 4].map((i) => backoffSeconds(retry, i) * 1000);
    expect(expected).toEqual([100, 200, 400, 500, 500]);
    // By the emulator's own clock each retry is scheduled exactly its backoff after the failure; at the worker the
    // gap is never shorter (how much longer is machine load, which the benchmark measures).
    const retries = eventsOf(events, 'backoff', 'retry-scheduled');
    const failures = eventsOf(events, 'backoff', 'failed');
    retries.forEach((r, i) => expect(Date.parse(r.nextAttemptAt!) - Date.parse(failures[i].ts)).toBe(expected[i]));
    gaps(at).forEach((gap, i) => expect(gap).toBeGreaterThanOrEqual(expected[i] - 5));
    expect(() => emulator.state.getTask(task.name)).toThrow(/no longer exists/);
    expect(eventsOf(events, 'backoff', 'retry-scheduled')).toHaveLength(5);
  },
);

test.concurrent('maxAttempts -1 keeps retrying past any count; a limited queue gives up', async () => {
  const { emulator, target, events } = await env();
  const url = target.handle('unlimited', (_r, res, n) => res.writeHead(n <= 7 ? 503 : 200).end());
  const limitedUrl = target.handle('limited', fail(503));
  const unlimited = await queue('unlimited', { retryConfig: { maxAttempts: -1, ...fastRetries } });
  const limited = await queue('limited', { retryConfig: { maxAttempts: 3, ...fastRetries } });
  emulator.state.createTask(unlimited, { httpRequest: { url } });
  emulator.state.createTask(limited, { httpRequest: { url: limitedUrl } });

  await waitUntil(() => eventsOf(events, 'unlimited', 'succeeded').length === 1, 'success after 8 attempts');
  expect(target.requests('unlimited')).toHaveLength(8);
  expect(eventsOf(events, 'unlimited', 'succeeded')[0].attempt).toBe(8);
  await waitUntil(() => eventsOf(events, 'limited', 'gave-up').length === 1, 'the limited queue to give up');
  expect(target.requests('limited')).toHaveLength(3);
});

test.concurrent('maxRetryDuration: attempts continue after maxAttempts until the duration has passed too', async () => {
  const { emulator, target, events } = await env();
  const url = target.handle('duration', fail(500));
  const q = await queue('duration', {
    retryConfig: {
      maxAttempts: 2,
      maxRetryDurationSeconds: 0.5,
      minBackoffSeconds: 0.1,
      maxBackoffSeconds: 0.1,
      maxDoublings: 0,
    },
  });
  emulator.state.createTask(q, { httpRequest: { url } });

  await waitUntil(() => eventsOf(events, 'duration', 'gave-up').length === 1, 'the task to give up', 4000);
  expect(target.requests('duration').length).toBeGreaterThan(2);
  // shouldRetry is decided when an attempt fails, from the time since the first dispatch: every failure before 0.5 s
  // was retried, the first one after it was the last.
  const ms = (e: DispatchEvent) => Date.parse(e.ts);
  const first = ms(eventsOf(events, 'duration', 'dispatched')[0]);
  const failed = eventsOf(events, 'duration', 'failed').map((e) => ms(e) - first);
  expect(failed[failed.length - 1]).toBeGreaterThanOrEqual(500);
  expect(failed.slice(0, -1).every((t) => t < 500)).toBe(true);
  expect(ms(eventsOf(events, 'duration', 'gave-up')[0]) - first).toBeGreaterThanOrEqual(500);
});

test.concurrent('pause and resume: a paused queue sends nothing; RunTask sends at once anyway', async () => {
  const { emulator, target, client } = await env();
  const url = target.handle('pause', ok);
  const q = await queue('pause');
  emulator.state.pauseQueue(q);
  emulator.state.createTask(q, { httpRequest: { url: `${url}/waits` } });
  const run = emulator.state.createTask(q, { name: taskName('pause', 'run-now'), httpRequest: { url: `${url}/run` } });

  const [ran] = await client.runTask({ name: run.name });
  expect(ran.dispatchCount).toBe(1);
  await waitUntil(() => target.requests('pause').length === 1, 'the RunTask dispatch', 2000);
  expect(target.requests('pause')[0].path).toBe('/pause/run');
  await new Promise((r) => setTimeout(r, 300));
  expect(target.requests('pause')).toHaveLength(1);

  const resumedAt = Date.now();
  await client.resumeQueue({ name: q });
  await waitUntil(() => target.requests('pause').length === 2, 'the dispatch after resume', 2000);
  expect(target.requests('pause')[1].at - resumedAt).toBeLessThan(300);
});

test.concurrent('scheduleTime: a task is not sent before its ETA, and is sent after it', async () => {
  const { emulator, target } = await env();
  const url = target.handle('eta', ok);
  const q = await queue('eta');
  const eta = Date.now() + 600;
  emulator.state.createTask(q, { httpRequest: { url }, scheduleTimeMs: eta });
  await waitUntil(() => target.requests('eta').length === 1, 'the dispatch', 3000);
  const r = target.requests('eta')[0];
  expect(r.at).toBeGreaterThanOrEqual(eta);
  // How soon after is machine load (docs/BENCHMARKS.md); here only the order matters.
  expect(r.headers['x-cloudtasks-tasketa']).toBe(etaHeader(eta));
});

test.concurrent(
  'headers: User-Agent, every X-CloudTasks-* header, and the retry ones from the second attempt',
  async () => {
    const { emulator, target } = await env();
    const url = target.handle('headers', (_r, res, n) => res.writeHead(n === 1 ? 404 : n === 2 ? 503 : 200).end());
    const q = await queue('headers', { retryConfig: fastRetries });
    const task = emulator.state.createTask(q, {
      name: taskName('headers', 'h-1'),
      httpRequest: {
        url,
        headers: { 'X-Custom': 'yes', 'User-Agent': 'spoofed', 'X-CloudTasks-TaskRetryCount': '99' },
        body: Buffer.from('{"k":1}'),
      },
    });
    const firstEta = task.scheduleTimeMs;
    await waitUntil(() => target.requests('headers').length === 3, 'three attempts');
    const [first, second, third] = target.requests('headers');
    expect(first.headers).toMatchObject({
      'user-agent': 'Google-Cloud-Tasks',
      'x-custom': 'yes',
      'x-cloudtasks-queuename': 'headers',
      'x-cloudtasks-taskname': 'h-1',
      'x-cloudtasks-taskretrycount': '0',
      'x-cloudtasks-taskexecutioncount': '0',
      'x-cloudtasks-tasketa': etaHeader(firstEta),
    });
    expect(first.headers['x-cloudtasks-taskpreviousresponse']).toBeUndefined();
    expect(first.body).toBe('{"k":1}');
    expect(second.headers).toMatchObject({
      'x-cloudtasks-taskretrycount': '1',
      'x-cloudtasks-taskexecutioncount': '1',
      'x-cloudtasks-taskpreviousresponse': '404',
      // The service sends the reason header empty (recorded against Cloud Tasks, issue 13).
      'x-cloudtasks-taskretryreason': '',
    });
    // A 5xx is not an execution (X-CloudTasks-TaskExecutionCount excludes 5xx responses).
    expect(third.headers).toMatchObject({
      'x-cloudtasks-taskretrycount': '2',
      'x-cloudtasks-taskexecutioncount': '1',
      'x-cloudtasks-taskpreviousresponse': '503',
    });
    // The ETA of a retry is its new schedule time.
    expect(Number(third.headers['x-cloudtasks-tasketa'])).toBeGreaterThan(
      Number(first.headers['x-cloudtasks-tasketa']),
    );
  },
);

test.concurrent(
  'OIDC tokens verify with jose against the emulator JWKS; OAuth tokens are recognisable fakes',
  async () => {
    const { emulator, target } = await env();
    const url = target.handle('oidc', ok);
    const q = await queue('oidc');
    const email = 'invoker@demo-project.iam.gserviceaccount.com';
    emulator.state.createTask(q, {
      httpRequest: { url, oidcToken: { serviceAccountEmail: email, audience: 'https://worker.example.com/tasks' } },
    });
    emulator.state.createTask(q, {
      httpRequest: { url: `${url}/default-aud`, oidcToken: { serviceAccountEmail: email } },
    });
    emulator.state.createTask(q, { httpRequest: { url: `${url}/oauth`, oauthToken: { serviceAccountEmail: email } } });
    await waitUntil(() => target.requests('oidc').length === 3, 'three dispatches');

    const jose = await import('jose');
    const tokens = emulator.tokens!;
    const discovery = (await (await fetch(`${tokens.issuer}/.well-known/openid-configuration`)).json()) as {
      issuer: string;
      jwks_uri: string;
    };
    expect(discovery).toMatchObject({ issuer: tokens.issuer, jwks_uri: tokens.jwksUri });
    const jwks = jose.createRemoteJWKSet(new URL(discovery.jwks_uri));
    const byPath = (p: string) => target.requests('oidc').find((r) => r.path === p)!;
    const bearer = (p: string) => String(byPath(p).headers.authorization).replace(/^Bearer /, '');

    const { payload, protectedHeader } = await jose.jwtVerify(bearer('/oidc'), jwks, {
      issuer: tokens.issuer,
      audience: 'https://worker.example.com/tasks',
      algorithms: ['RS256'],
    });
    expect(protectedHeader.alg).toBe('RS256');
    expect(payload).toMatchObject({
      email,
      email_verified: true,
      iss: tokens.issuer,
      aud: 'https://worker.example.com/tasks',
    });
    expect(payload.sub).toMatch(/^\d{21}$/);
    expect(payload.exp! - payload.iat!).toBe(3600);
    expect(Math.abs(payload.iat! * 1000 - Date.now())).toBeLessThan(10_000);
    // Default audience: the URL the task is sent to.
    const other = await jose.jwtVerify(bearer('/oidc/default-aud'), jwks, {
      issuer: tokens.issuer,
      audience: `${url}/default-aud`,
    });
    expect(other.payload.email).toBe(email);
    // A wrong audience is refused, as a worker must.
    await expect(
      jose.jwtVerify(bearer('/oidc'), jwks, { issuer: tokens.issuer, audience: 'https://other.example.com' }),
    ).rejects.toThrow(/aud/);
    expect(bearer('/oidc/oauth')).toMatch(
      new RegExp(`^emulator-oauth-token\\.${Buffer.from(email).toString('base64url')}\\.[0-9a-f]{12}$`),
    );
  },
);

test.concurrent('a name stays taken after its task ran: CreateTask with it is ALREADY_EXISTS', async () => {
  const { target, client, events } = await env();
  const url = target.handle('dedup', ok);
  const q = await queue('dedup');
  const name = taskName('dedup', 'once');
  await client.createTask({ parent: q, task: { name, httpRequest: { url } } });
  await waitUntil(() => eventsOf(events, 'dedup', 'succeeded').length === 1, 'the task to succeed');
  const err = await grpcError(client.createTask({ parent: q, task: { name, httpRequest: { url } } }));
  expect(err.code).toBe(status.ALREADY_EXISTS);
  expect(target.requests('dedup')).toHaveLength(1);
});

test.concurrent('Retry-After on 429/503 lengthens the wait beyond the backoff', async () => {
  const { emulator, target } = await env();
  const url = target.handle('retry-after', (_r, res, n) =>
    n === 1 ? res.writeHead(503, { 'Retry-After': '1' }).end() : res.writeHead(200).end(),
  );
  const q = await queue('retry-after', { retryConfig: fastRetries });
  emulator.state.createTask(q, { httpRequest: { url } });
  await waitUntil(() => target.requests('retry-after').length === 2, 'the retry', 4000);
  const [a, b] = target.requests('retry-after');
  expect(b.at - a.at).toBeGreaterThanOrEqual(990);
  expect(b.at - a.at).toBeLessThan(1300);
});

test.concurrent('a queue http_target routes tasks created for production URLs to a local target', async () => {
  const { emulator, target } = await env();
  target.handle('routed', ok);
  const q = await queue('routed');
  emulator.state.setQueueHttpTarget(q, {
    uriOverride: { scheme: 'HTTP', host: '127.0.0.1', port: target.port, uriOverrideEnforceMode: 'ALWAYS' },
    headerOverrides: [{ header: { key: 'X-Pipeline', value: 'recsys' } }],
  });
  emulator.state.createTask(q, { httpRequest: { url: 'https://preprocess-abc-uc.a.run.app/routed/tasks?shard=3' } });
  await waitUntil(() => target.requests('routed').length === 1, 'the routed dispatch');
  expect(target.requests('routed')[0]).toMatchObject({
    path: '/routed/tasks?shard=3',
    headers: expect.objectContaining({ 'x-pipeline': 'recsys' }),
  });
});

test.concurrent(
  'no response within the dispatch deadline is a failure, retried by the queue (manual clock)',
  async () => {
    const { target } = await env();
    const url = target.handle('deadline', (_r, res, n) => (n === 1 ? undefined : res.writeHead(200).end()));
    const clock = new ManualClock();
    const dir = mkdtempSync(path.join(tmpdir(), 'dispatch-events-'));
    const log = new EventLogWriter(path.join(dir, 'events.jsonl'));
    const emulator = await startEmulator({ port: 0, dispatch: true, clock, dispatchListeners: [log.listener] });
    try {
      const q = emulator.state.createQueue(PARENT, {
        name: queueName('deadline'),
        retryConfig: { ...fastRetries, maxBackoffSeconds: 2, minBackoffSeconds: 2 },
      }).name;
      const task = emulator.state.createTask(q, {
        name: taskName('deadline', 'slow'),
        httpRequest: { url },
        dispatchDeadlineSeconds: 15,
      });
      await waitUntil(() => target.requests('deadline').length === 1, 'the first attempt');

      clock.advance(14_999);
      await new Promise((r) => setTimeout(r, 50));
      expect(emulator.state.getTask(task.name).lastAttempt?.responseStatus).toBeUndefined();
      clock.advance(1);
      await waitUntil(
        () => emulator.state.getTask(task.name).lastAttempt?.responseStatus !== undefined,
        'the deadline to pass',
      );
      expect(emulator.state.getTask(task.name)).toMatchObject({
        dispatchCount: 1,
        responseCount: 0,
        lastAttempt: { responseStatus: { code: status.DEADLINE_EXCEEDED, message: 'deadline exceeded' } },
        scheduleTimeMs: clock.now() + 2000,
      });

      clock.advance(2000);
      await waitUntil(() => target.requests('deadline').length === 2, 'the retry');
      // After a dispatch deadline the service reports the previous response as 504, with an empty reason.
      expect(target.requests('deadline')[1].headers).toMatchObject({
        'x-cloudtasks-taskpreviousresponse': '504',
        'x-cloudtasks-taskretryreason': '',
      });
      await waitUntil(() => emulator.state.tasksOf(q).length === 0, 'the retry to succeed');
    } finally {
      await emulator.stop();
      await log.close();
    }
    const lines = readFileSync(path.join(dir, 'events.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as DispatchEvent);
    rmSync(dir, { recursive: true, force: true });
    expect(lines.map((e) => e.event)).toEqual([
      'created',
      'dispatched',
      'failed',
      'retry-scheduled',
      'dispatched',
      'succeeded',
    ]);
    expect(lines[2]).toMatchObject({
      queue: queueName('deadline'),
      task: 'slow',
      attempt: 1,
      reason: 'deadline exceeded',
      latencyMs: 15_000,
    });
    expect(lines[2].status).toBeUndefined();
    expect(lines[3].nextAttemptAt).toBe(new Date(Date.parse(lines[2].ts) + 2000).toISOString());
    expect(lines[5]).toMatchObject({ attempt: 2, status: 200 });
  },
);

test.concurrent(
  'stop() does not wait a whole dispatch deadline for a hung worker: the attempt is cut and the task kept',
  async () => {
    const { target } = await env();
    const url = target.handle('hung', () => undefined);
    const emulator = await startEmulator({ port: 0, dispatch: true });
    const q = emulator.state.createQueue(PARENT, { name: queueName('hung') }).name;
    const task = emulator.state.createTask(q, { httpRequest: { url } });
    await waitUntil(() => target.requests('hung').length === 1, 'the attempt');
    const t0 = Date.now();
    await emulator.dispatcher!.stop(100);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(emulator.state.getTask(task.name)).toMatchObject({
      dispatchCount: 1,
      responseCount: 0,
      lastAttempt: { responseStatus: { code: status.UNAVAILABLE } },
    });
    await emulator.stop();
  },
);
