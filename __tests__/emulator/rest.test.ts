/**
 * The REST face: the official Node client over google-gax's REST transport (`fallback: 'rest'`) and plain HTTP
 * requests, against the same in-process emulator as a gRPC client, so both protocols are seen to share one state and
 * one set of rules. No gcloud here (npm run test:gcloud drives gcloud itself).
 */
import { status } from '@grpc/grpc-js';
import { CloudTasksClient } from '@google-cloud/tasks';
import { PassThroughClient } from 'google-auth-library';
import { LIMITS, storedTaskSizeBytes } from '../../lib/core/rules/cloud-tasks';
import { ManualClock } from '../../lib/emulator/clock';
import { startEmulator, type RunningEmulator } from '../../lib/emulator';
import { PARENT, grpcError, officialClient, queueName, taskName } from './helpers';

let emulator: RunningEmulator;
let grpcClient: CloudTasksClient;
let restClient: CloudTasksClient;
const clock = new ManualClock(Date.UTC(2030, 0, 1, 12, 0, 0));

beforeAll(async () => {
  emulator = await startEmulator({ clock });
  grpcClient = officialClient(emulator.port);
  // The documented REST setup: fallback 'rest', plain http to the emulator's port, no credentials.
  restClient = new CloudTasksClient({
    fallback: 'rest',
    servicePath: '127.0.0.1',
    port: emulator.restPort,
    protocol: 'http',
    // No credentials for a local emulator. (The transporter's fetch is given because jest cannot run gaxios's
    // dynamic import of node-fetch; a plain node process needs neither.)
    authClient: new PassThroughClient({ transporterOptions: { fetchImplementation: fetch } }),
  });
});

afterAll(async () => {
  await grpcClient.close();
  await restClient.close();
  await emulator.stop();
});

interface HttpResult {
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly text: string;
}

async function http(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<HttpResult> {
  const res = await fetch(new URL(path, emulator.restUrl), {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: JSON.parse(text) as Record<string, unknown>, text };
}

const v2 = (name: string) => `/v2/${name}`;
const errorOf = (r: HttpResult) =>
  r.body.error as { code: number; status: string; message: string; details?: unknown[] };

test('startEmulator reports the REST URL on 127.0.0.1 beside the gRPC address', () => {
  expect(emulator.restUrl).toBe(`http://127.0.0.1:${emulator.restPort}/`);
  expect(emulator.grpcAddress).toBe(emulator.address);
});

describe('the Node client over REST and over gRPC see one state', () => {
  test('GIVEN a queue created over REST WHEN read over gRPC THEN it is the same queue, and back', async () => {
    const [created] = await restClient.createQueue({
      parent: PARENT,
      queue: {
        name: queueName('rest-q'),
        rateLimits: { maxDispatchesPerSecond: 7 },
        retryConfig: { minBackoff: { seconds: 1, nanos: 500_000_000 }, maxAttempts: 4 },
      },
    });
    const [viaGrpc] = await grpcClient.getQueue({ name: queueName('rest-q') });
    expect(viaGrpc).toMatchObject({
      name: queueName('rest-q'),
      rateLimits: { maxDispatchesPerSecond: 7, maxBurstSize: 10 },
      retryConfig: { maxAttempts: 4, minBackoff: { nanos: 500_000_000 } },
      state: 'RUNNING',
    });
    expect(Number(created.retryConfig?.minBackoff?.seconds)).toBe(1);

    await grpcClient.pauseQueue({ name: queueName('rest-q') });
    const [viaRest] = await restClient.getQueue({ name: queueName('rest-q') });
    expect(viaRest.state).toBe('PAUSED');
  });

  test('GIVEN a task created over gRPC with a microsecond schedule time WHEN listed over REST THEN body and microseconds survive', async () => {
    await grpcClient.createQueue({ parent: PARENT, queue: { name: queueName('rest-tasks') } });
    const seconds = Math.floor(clock.now() / 1000) + 60;
    await grpcClient.createTask({
      parent: queueName('rest-tasks'),
      task: {
        name: taskName('rest-tasks', 'a'),
        httpRequest: { url: 'http://127.0.0.1:9/w', body: Buffer.from('{"x":1}') },
        scheduleTime: { seconds, nanos: 123_456_000 },
      },
    });
    const [tasks] = await restClient.listTasks({ parent: queueName('rest-tasks'), responseView: 'FULL' });
    expect(tasks).toHaveLength(1);
    expect(Buffer.from(tasks[0].httpRequest!.body!).toString()).toBe('{"x":1}');
    expect(tasks[0].scheduleTime).toEqual({ seconds: String(seconds), nanos: 123_456_000 });
    expect(tasks[0].httpRequest?.headers).toEqual({ 'User-Agent': 'Google-Cloud-Tasks' });

    const [ran] = await restClient.runTask({ name: taskName('rest-tasks', 'a') });
    expect(ran.dispatchCount).toBe(1);
    await restClient.deleteTask({ name: taskName('rest-tasks', 'a') });
    expect((await grpcError(grpcClient.getTask({ name: taskName('rest-tasks', 'a') }))).code).toBe(status.NOT_FOUND);
  });
});

describe('plain HTTP, as curl sends it', () => {
  test('CreateQueue accepts camelCase and snake_case, Duration strings, and answers camelCase JSON', async () => {
    const r = await http('POST', v2(`${PARENT}/queues`), {
      name: queueName('curl-q'),
      retry_config: { max_backoff: '30s', minBackoff: '0.25s' },
    });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      name: queueName('curl-q'),
      retryConfig: { minBackoff: '0.250s', maxBackoff: '30s', maxAttempts: 100 },
      rateLimits: { maxDispatchesPerSecond: 500, maxBurstSize: 100, maxConcurrentDispatches: 1000 },
      state: 'RUNNING',
    });
    // Pretty-printed by default, compact with prettyPrint=false (a system parameter), alt=json accepted.
    expect(r.text).toContain('\n  "name"');
    const compact = await http('GET', `${v2(queueName('curl-q'))}?alt=json&prettyPrint=false`);
    expect(compact.text.trim().split('\n')).toHaveLength(1);
  });

  test('UpdateQueue takes updateMask as a query parameter and changes only the masked fields', async () => {
    const r = await http('PATCH', `${v2(queueName('curl-q'))}?updateMask=rateLimits.maxDispatchesPerSecond`, {
      name: queueName('curl-q'),
      rateLimits: { maxDispatchesPerSecond: 3 },
      retryConfig: { maxAttempts: 9 },
    });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ rateLimits: { maxDispatchesPerSecond: 3 }, retryConfig: { maxAttempts: 100 } });
    const masked = await http('GET', `${v2(queueName('curl-q'))}?readMask=rateLimits`);
    expect(masked.body).toEqual({
      rateLimits: { maxDispatchesPerSecond: 3, maxBurstSize: 10, maxConcurrentDispatches: 1000 },
    });
  });

  test("errors have Google's shape and HTTP status: 404 NOT_FOUND with the service text and a Help link", async () => {
    const r = await http('GET', v2(queueName('no-such-queue')));
    expect(r.status).toBe(404);
    const error = errorOf(r);
    expect(error).toMatchObject({ code: 404, status: 'NOT_FOUND' });
    expect(error.message).toMatch(/^Queue does not exist\. If you just created the queue, wait at least a minute/);
    expect(error.details).toEqual([
      expect.objectContaining({
        '@type': 'type.googleapis.com/google.rpc.Help',
        links: [expect.objectContaining({ url: expect.stringMatching(/^https:\/\//) })],
      }),
    ]);
  });

  test.each([
    [
      'an unknown body field',
      'POST',
      `${PARENT}/queues`,
      { name: 'x', rateLimit: {} },
      /Unknown name "rateLimit" at 'queue': Cannot find field/,
    ],
    [
      'an unknown query parameter',
      'GET',
      `${PARENT}/queues?pageSise=2`,
      undefined,
      /Unknown name "pageSise": Cannot bind query parameter/,
    ],
    ['JSON that does not parse', 'POST', `${PARENT}/queues`, '{"name":', /Invalid JSON payload received/],
    [
      'a Duration that is not a Duration',
      'POST',
      `${PARENT}/queues`,
      { name: queueName('d'), retryConfig: { minBackoff: 'soon' } },
      /Invalid JSON payload received/,
    ],
  ])("%s is 400 INVALID_ARGUMENT in Google's words", async (_what, method, path, body, message) => {
    const r = await http(method, v2(path), body);
    expect(r.status).toBe(400);
    expect(errorOf(r).status).toBe('INVALID_ARGUMENT');
    expect(errorOf(r).message).toMatch(message);
  });

  test('an unknown URL and a wrong method are 404 with a JSON error', async () => {
    expect((await http('GET', '/v1/projects/p/locations/l/queues')).status).toBe(404);
    const wrong = await http('PUT', v2(queueName('curl-q')));
    expect(wrong.status).toBe(404);
    expect(errorOf(wrong).message).toMatch(/PUT is not allowed/);
  });

  test('CreateTask refusals carry BadRequest field violations; ALREADY_EXISTS is 409', async () => {
    await http('POST', v2(`${PARENT}/queues`), { name: queueName('curl-tasks') });
    const bad = await http('POST', v2(`${queueName('curl-tasks')}/tasks`), {
      task: { httpRequest: { url: 'http://127.0.0.1:9/', headers: { 'X-Bad': 'a\r\nInjected: 1' } } },
    });
    expect(bad.status).toBe(400);
    expect(errorOf(bad).details).toEqual([
      {
        '@type': 'type.googleapis.com/google.rpc.BadRequest',
        fieldViolations: [expect.objectContaining({ field: 'task.httpRequest.headers.X-Bad' })],
      },
    ]);
    expect(bad.text).not.toContain('Injected: 1');
    const task = { task: { name: taskName('curl-tasks', 'once'), httpRequest: { url: 'http://127.0.0.1:9/' } } };
    expect((await http('POST', v2(`${queueName('curl-tasks')}/tasks`), task)).status).toBe(200);
    const again = await http('POST', v2(`${queueName('curl-tasks')}/tasks`), task);
    expect(again.status).toBe(409);
    expect(errorOf(again)).toMatchObject({
      status: 'ALREADY_EXISTS',
      message: expect.stringMatching(/^Requested entity already exists/),
    });
  });

  test('enums come as numbers with $alt=json;enum-encoding=int (what google-gax asks for)', async () => {
    const r = await http('GET', `${v2(queueName('curl-q'))}?$alt=json%3Benum-encoding%3Dint`);
    expect(r.body.state).toBe(1);
  });

  test('BufferTask: the raw body and Content-Type become a task for the queue http target, with the request method', async () => {
    await http('POST', v2(`${PARENT}/queues`), {
      name: queueName('buffer'),
      httpTarget: { uriOverride: { scheme: 'HTTP', host: '127.0.0.1', port: '9', pathOverride: { path: '/sink' } } },
    });
    const posted = await fetch(new URL(v2(`${queueName('buffer')}/tasks/b-1:buffer`), emulator.restUrl), {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'raw payload',
    });
    expect(posted.status).toBe(200);
    expect(((await posted.json()) as { task: { name: string } }).task.name).toBe(taskName('buffer', 'b-1'));
    const stored = emulator.state.getTask(taskName('buffer', 'b-1'));
    expect(stored.httpRequest).toMatchObject({
      url: 'http://127.0.0.1:9/sink',
      httpMethod: 'POST',
      headers: { 'Content-Type': 'text/plain' },
    });
    expect(stored.httpRequest.body.toString()).toBe('raw payload');

    const got = await fetch(new URL(v2(`${queueName('buffer')}/tasks:buffer`), emulator.restUrl));
    expect(got.status).toBe(200);
    const name = ((await got.json()) as { task: { name: string } }).task.name;
    expect(emulator.state.getTask(name).httpRequest.httpMethod).toBe('GET');

    const noTarget = await http('POST', v2(`${queueName('curl-tasks')}/tasks:buffer`), {});
    expect(noTarget.status).toBe(400);
    expect(errorOf(noTarget)).toMatchObject({
      status: 'FAILED_PRECONDITION',
      message: expect.stringMatching(/needs a queue with an HTTP target/),
    });
  });

  test('IAM: setIamPolicy and getIamPolicy over REST, etag as base64', async () => {
    const set = await http('POST', v2(`${queueName('curl-q')}:setIamPolicy`), {
      policy: { bindings: [{ role: 'roles/cloudtasks.enqueuer', members: ['user:ml@example.com'] }] },
    });
    expect(set.status).toBe(200);
    const got = await http('POST', v2(`${queueName('curl-q')}:getIamPolicy`), {});
    expect(got.body).toEqual(set.body);
    expect(got.body.etag).toMatch(/^[A-Za-z0-9+/]+=*$/);
  });

  test('locations: list and get', async () => {
    const list = await http('GET', v2(`projects/${PARENT.split('/')[1]}/locations`));
    expect((list.body.locations as Array<{ locationId: string }>).map((l) => l.locationId)).toContain('us-central1');
    const one = await http('GET', v2(PARENT));
    expect(one.body).toMatchObject({ name: PARENT, locationId: 'us-central1' });
  });
});

describe('what the service refuses, over both transports', () => {
  beforeAll(async () => {
    await grpcClient.createQueue({ parent: PARENT, queue: { name: queueName('strict') } });
  });

  test.each([
    [
      'a Duration with nanos out of range',
      { minBackoff: { seconds: 1, nanos: 1_000_000_000 } },
      /queue.retryConfig.minBackoff = .*nanos 1000000000 is outside/,
    ],
    [
      'a Duration of mixed sign',
      { maxBackoff: { seconds: 5, nanos: -1 } },
      /queue.retryConfig.maxBackoff = .*different signs/,
    ],
  ])('gRPC UpdateQueue with %s is INVALID_ARGUMENT naming the field', async (_what, retryConfig, message) => {
    const err = await grpcError(grpcClient.updateQueue({ queue: { name: queueName('strict'), retryConfig } }));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toMatch(message);
  });

  test.each([
    [
      'a schedule time past year 9999',
      { scheduleTime: { seconds: 253_402_300_800 } },
      /task.scheduleTime = .*years 0001..9999/,
    ],
    [
      'a URL with a control character',
      { httpRequest: { url: 'http://127.0.0.1:9/a\tb' } },
      /task.httpRequest.url = "\(not shown\)": the URL contains the control character \\x09/,
    ],
    [
      'a header value with a NUL',
      { httpRequest: { url: 'http://127.0.0.1:9/', headers: { 'X-A': 'a\u0000' } } },
      /headers.X-A = "\(not shown\)".*\\x00/,
    ],
  ])('gRPC CreateTask with %s is INVALID_ARGUMENT naming the field', async (_what, extra, message) => {
    const task = { httpRequest: { url: 'http://127.0.0.1:9/' }, ...extra };
    const err = await grpcError(grpcClient.createTask({ parent: queueName('strict'), task }));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toMatch(message);
  });

  test('a name with ".." is INVALID_ARGUMENT', async () => {
    const err = await grpcError(grpcClient.getQueue({ name: 'projects/a..b/locations/us-central1/queues/q' }));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    const r = await http('GET', '/v2/projects/a..b/locations/us-central1/queues/q');
    expect(r.status).toBe(400);
  });

  test('the task size is the stored task against 1,048,569 bytes: at the limit it is stored, one byte more is refused', async () => {
    const name = taskName('strict', 'big');
    const url = 'http://127.0.0.1:9/';
    // Length prefixes grow with the body, so find the largest body that fits by stepping down from an estimate.
    let bytes = LIMITS.maxTaskSizeBytes;
    while (storedTaskSizeBytes({ name, url, headers: {}, body: Buffer.alloc(bytes) }) > LIMITS.maxTaskSizeBytes)
      bytes--;
    const body = Buffer.alloc(bytes, 'a');
    expect(storedTaskSizeBytes({ name, url, headers: {}, body })).toBe(LIMITS.maxTaskSizeBytes);
    await grpcClient.createTask({ parent: queueName('strict'), task: { name, httpRequest: { url, body } } });
    const over = await grpcError(
      grpcClient.createTask({
        parent: queueName('strict'),
        task: {
          name: taskName('strict', 'bigger'),
          httpRequest: { url, body: Buffer.concat([body, Buffer.from('ab')]) },
        },
      }),
    );
    expect(over.code).toBe(status.INVALID_ARGUMENT);
    expect(over.details).toMatch(/limit for a task is 1,048,569 bytes/);
  });
});
