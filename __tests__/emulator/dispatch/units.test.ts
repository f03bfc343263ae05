/**
 * The dispatcher's pure parts: the token bucket, the due-time heap, request resolution (queue-level http_target),
 * Retry-After and the HTTP -> google.rpc status mapping. No server, no timers.
 */
import { status } from '@grpc/grpc-js';
import { ManualClock } from '../../../lib/emulator/clock';
import { EmulatorState } from '../../../lib/emulator/state';
import { applyRoutes, parseRoute, uriOverrideFor } from '../../../lib/emulator/dispatch/routes';
import type { Queue, Task } from '../../../lib/emulator/model';
import { formatEvent, shows } from '../../../lib/emulator/dispatch/events';
import { subjectFor } from '../../../lib/emulator/dispatch/oidc';
import { parseRetryAfter, rpcStatusForHttp } from '../../../lib/emulator/dispatch/status';
import { applyUriOverride, resolveRequest } from '../../../lib/emulator/dispatch/target';
import { MinHeap } from '../../../lib/emulator/dispatch/task-heap';
import { TokenBucket } from '../../../lib/emulator/dispatch/token-bucket';

describe('TokenBucket', () => {
  test('a new bucket holds one token; an idle one fills to capacity; then tokens come at the rate however late asked', () => {
    const bucket = new TokenBucket(20, 10, 0);
    expect(bucket.tryTake(0)).toBe(true);
    expect(bucket.tryTake(0)).toBe(false);
    expect(bucket.msUntilToken(0)).toBeCloseTo(50, 5);
    bucket.markIdle(0); // no due task left
    // Idle for 1 s: 20 tokens accrued, but the bucket holds 10 (the burst).
    let taken = 0;
    while (bucket.tryTake(1000)) taken++;
    expect(taken).toBe(10);
    // Asked every 7 ms for 2 s (a timer that fires at odd times): 40 tokens, the rate.
    taken = 0;
    for (let t = 1000; t <= 3000; t += 7) while (bucket.tryTake(t)) taken++;
    expect(taken).toBe(39); // 1,995 ms of refill at 20/s
  });

  test('GIVEN a backlogged queue WHEN the clock jumps (a stalled event loop) THEN it falls behind instead of bursting', () => {
    const bucket = new TokenBucket(500, 100, 0);
    bucket.markIdle(0);
    let taken = 0;
    while (bucket.tryTake(1000)) taken++;
    expect(taken).toBe(100); // idle for a second: a full bucket, as the service allows
    // Backlogged, asked 300 ms late: credited 100 ms of tokens (50), not 150 (nor a full bucket).
    taken = 0;
    while (bucket.tryTake(1300)) taken++;
    expect(taken).toBe(50);
    // Asked on time again: the rate (1,000 ms at 500/s).
    taken = 0;
    for (let t = 1304; t <= 2300; t += 4) while (bucket.tryTake(t)) taken++;
    expect(taken).toBe(500);
  });

  test('reconfigure keeps what accrued, within the new capacity', () => {
    const bucket = new TokenBucket(100, 50, 0);
    bucket.reconfigure(1, 2, 1000);
    let taken = 0;
    while (bucket.tryTake(1000)) taken++;
    expect(taken).toBe(2);
    expect(bucket.msUntilToken(1000)).toBeCloseTo(1000, 5);
  });
});

test('MinHeap pops by due time, then by sequence', () => {
  const heap = new MinHeap<{ at: number; seq: number; id: string }>();
  const input = [
    { at: 30, seq: 1, id: 'c' },
    { at: 10, seq: 2, id: 'a2' },
    { at: 10, seq: 0, id: 'a1' },
    { at: 20, seq: 3, id: 'b' },
    { at: 5, seq: 4, id: 'z' },
  ];
  for (const e of input) heap.push(e);
  const out: string[] = [];
  while (heap.size) out.push(heap.pop()!.id);
  expect(out).toEqual(['z', 'a1', 'a2', 'b', 'c']);
  expect(heap.pop()).toBeUndefined();
});

const queue = (httpTarget?: Queue['httpTarget']): Queue => ({
  name: 'projects/p/locations/us-central1/queues/q',
  location: 'projects/p/locations/us-central1',
  queueId: 'q',
  rateLimits: { maxDispatchesPerSecond: 500, maxBurstSize: 100, maxConcurrentDispatches: 1000 },
  retryConfig: {
    maxAttempts: 100,
    minBackoffSeconds: 0.1,
    maxBackoffSeconds: 3600,
    maxDoublings: 16,
    maxRetryDurationSeconds: 0,
  },
  state: 'RUNNING',
  createTimeMs: 0,
  ...(httpTarget ? { httpTarget } : {}),
});

const task = (httpRequest: Partial<Task['httpRequest']> = {}): Task => ({
  name: 'projects/p/locations/us-central1/queues/q/tasks/t',
  queueName: 'projects/p/locations/us-central1/queues/q',
  taskId: 't',
  seq: 1,
  httpRequest: {
    url: 'https://prod.example.com/tasks?shard=1',
    httpMethod: 'POST',
    headers: {},
    body: Buffer.from('{"a":1}'),
    ...httpRequest,
  },
  scheduleTimeMs: 0,
  createTimeMs: 0,
  dispatchDeadlineSeconds: 600,
  dispatchCount: 0,
  responseCount: 0,
});

describe('applyUriOverride (v2beta3 UriOverride)', () => {
  test('ALWAYS (the default) replaces each part it names and keeps the others', () => {
    expect(
      applyUriOverride('https://prod.example.com/tasks?shard=1', { scheme: 'HTTP', host: '127.0.0.1', port: 8080 }),
    ).toBe('http://127.0.0.1:8080/tasks?shard=1');
    expect(
      applyUriOverride('https://a.example.com:444/x?q=1', {
        pathOverride: { path: '/y' },
        queryOverride: { queryParams: 'r=2' },
      }),
    ).toBe('https://a.example.com:444/y?r=2');
    expect(applyUriOverride('https://a.example.com:444/x?q=1', { port: 0, queryOverride: { queryParams: '' } })).toBe(
      'https://a.example.com/x',
    );
    expect(applyUriOverride('https://a.example.com/x', { host: '::1', port: 9000, scheme: 'HTTP' })).toBe(
      'http://[::1]:9000/x',
    );
  });

  test('IF_NOT_EXISTS fills in only what the task URL lacks', () => {
    const o = {
      uriOverrideEnforceMode: 'IF_NOT_EXISTS' as const,
      host: 'other.example.com',
      port: 8443,
      pathOverride: { path: '/p' },
      queryOverride: { queryParams: 'a=1' },
    };
    expect(applyUriOverride('https://a.example.com/', o)).toBe('https://a.example.com:8443/p?a=1');
    expect(applyUriOverride('https://a.example.com:9/x?b=2', o)).toBe('https://a.example.com:9/x?b=2');
  });
});

describe('resolveRequest', () => {
  test('without a queue target: the task as created, minus the headers Cloud Tasks sets', () => {
    const r = resolveRequest(
      task({
        headers: {
          'X-Custom': '1',
          'User-Agent': 'mine',
          'X-CloudTasks-TaskName': 'fake',
          Host: 'h',
          Authorization: 'Basic x',
        },
      }),
      queue(),
    );
    expect(r).toEqual({
      url: 'https://prod.example.com/tasks?shard=1',
      method: 'POST',
      headers: { 'X-Custom': '1', Authorization: 'Basic x' },
      body: Buffer.from('{"a":1}'),
    });
  });

  test('the task OIDC token replaces a static Authorization header; its audience defaults to the URL', () => {
    const r = resolveRequest(
      task({
        headers: { authorization: 'Basic x' },
        oidcToken: { serviceAccountEmail: 'sa@p.iam.gserviceaccount.com' },
      }),
      queue(),
    );
    expect(r.headers).toEqual({});
    expect(r.token).toEqual({
      kind: 'oidc',
      serviceAccountEmail: 'sa@p.iam.gserviceaccount.com',
      audience: 'https://prod.example.com/tasks?shard=1',
    });
  });

  test('a queue http_target overrides URL parts, method, headers (case-insensitively) and the token', () => {
    const r = resolveRequest(
      task({
        headers: { 'x-pipeline': 'task', Keep: 'me' },
        oauthToken: { serviceAccountEmail: 'task@p.iam.gserviceaccount.com' },
      }),
      queue({
        httpMethod: 'PUT',
        uriOverride: { scheme: 'HTTP', host: '127.0.0.1', port: 7000, uriOverrideEnforceMode: 'ALWAYS' },
        headerOverrides: [{ header: { key: 'X-Pipeline', value: 'queue' } }],
        oidcToken: {
          serviceAccountEmail: 'invoker@p.iam.gserviceaccount.com',
          audience: 'https://prod.example.com/tasks',
        },
      }),
    );
    expect(r).toEqual({
      url: 'http://127.0.0.1:7000/tasks?shard=1',
      method: 'PUT',
      headers: { Keep: 'me', 'X-Pipeline': 'queue' },
      body: Buffer.from('{"a":1}'),
      token: {
        kind: 'oidc',
        serviceAccountEmail: 'invoker@p.iam.gserviceaccount.com',
        audience: 'https://prod.example.com/tasks',
      },
    });
  });

  test('a GET method override drops the body; an OAuth token gets the default scope', () => {
    const r = resolveRequest(
      task(),
      queue({ httpMethod: 'GET', oauthToken: { serviceAccountEmail: 'sa@p.iam.gserviceaccount.com' } }),
    );
    expect(r.body.byteLength).toBe(0);
    expect(r.token).toEqual({
      kind: 'oauth',
      serviceAccountEmail: 'sa@p.iam.gserviceaccount.com',
      scope: 'https://www.googleapis.com/auth/cloud-platform',
    });
  });
});

test('Retry-After: delay-seconds or an HTTP date, relative to now; anything else is ignored', () => {
  const now = Date.UTC(2030, 0, 1, 12, 0, 0);
  expect(parseRetryAfter('7', now)).toBe(7);
  expect(parseRetryAfter(new Date(now + 30_000).toUTCString(), now)).toBe(30);
  expect(parseRetryAfter(new Date(now - 30_000).toUTCString(), now)).toBe(0);
  expect(parseRetryAfter('soon', now)).toBeUndefined();
  expect(parseRetryAfter(undefined, now)).toBeUndefined();
});

test('HTTP statuses map to google.rpc codes for last_attempt.response_status', () => {
  expect(rpcStatusForHttp(204)).toEqual({ code: status.OK, message: 'OK' });
  expect(rpcStatusForHttp(503)).toEqual({ code: status.UNAVAILABLE, message: 'HTTP 503' });
  expect(rpcStatusForHttp(429).code).toBe(status.RESOURCE_EXHAUSTED);
  expect(rpcStatusForHttp(404).code).toBe(status.NOT_FOUND);
  expect(rpcStatusForHttp(418).code).toBe(status.FAILED_PRECONDITION);
  expect(rpcStatusForHttp(500).code).toBe(status.INTERNAL);
});

test('event lines and log levels', () => {
  const line = formatEvent({
    ts: '2030-01-01T12:00:01.234Z',
    queue: 'projects/p/locations/l1/queues/q',
    task: 't',
    event: 'failed',
    attempt: 2,
    status: 503,
    latencyMs: 12.4,
  });
  expect(line).toBe('12:00:01.234 failed          q/t attempt 2 HTTP 503 in 12 ms');
  expect(shows('warn', 'error')).toBe(true);
  expect(shows('warn', 'info')).toBe(false);
});

test('token subjects are stable 21-digit ids per service account', () => {
  expect(subjectFor('a@p.iam.gserviceaccount.com')).toMatch(/^\d{21}$/);
  expect(subjectFor('a@p.iam.gserviceaccount.com')).toBe(subjectFor('a@p.iam.gserviceaccount.com'));
  expect(subjectFor('b@p.iam.gserviceaccount.com')).not.toBe(subjectFor('a@p.iam.gserviceaccount.com'));
});

describe('--route (queue-level routing from the CLI)', () => {
  test('parses <queue>=<url> and builds the uri_override', () => {
    expect(parseRoute('recsys-dev-train=http://127.0.0.1:8080')).toEqual(['recsys-dev-train', 'http://127.0.0.1:8080']);
    expect(() => parseRoute('train:8080')).toThrow(/expected <queue-id or \*>=<http\(s\) URL>/);
    expect(() => parseRoute('q=ftp://x')).toThrow(/expected/);
    expect(uriOverrideFor('http://127.0.0.1:8080')).toEqual({
      scheme: 'HTTP',
      host: '127.0.0.1',
      port: 8080,
      uriOverrideEnforceMode: 'ALWAYS',
    });
    expect(uriOverrideFor('https://[::1]/w?x=1')).toEqual({
      scheme: 'HTTPS',
      host: '::1',
      port: 443,
      pathOverride: { path: '/w' },
      queryOverride: { queryParams: 'x=1' },
      uriOverrideEnforceMode: 'ALWAYS',
    });
  });

  test('routes existing and new queues, a named route before *, keeping the queue token', () => {
    const state = new EmulatorState({ clock: new ManualClock() });
    const parent = 'projects/p/locations/us-central1';
    state.createQueue(parent, { name: `${parent}/queues/old` });
    state.setQueueHttpTarget(`${parent}/queues/old`, {
      oidcToken: { serviceAccountEmail: 'sa@p.iam.gserviceaccount.com' },
    });
    applyRoutes(
      state,
      new Map([
        ['*', 'http://127.0.0.1:9000'],
        ['special', 'http://127.0.0.1:9001/x'],
      ]),
    );
    state.createQueue(parent, { name: `${parent}/queues/special` });
    expect(state.getQueue(`${parent}/queues/old`).httpTarget).toEqual({
      oidcToken: { serviceAccountEmail: 'sa@p.iam.gserviceaccount.com' },
      uriOverride: uriOverrideFor('http://127.0.0.1:9000'),
    });
    expect(state.getQueue(`${parent}/queues/special`).httpTarget?.uriOverride).toEqual(
      uriOverrideFor('http://127.0.0.1:9001/x'),
    );
  });
});
