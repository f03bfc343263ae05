/**
 * The emulator through the official client (@google-cloud/tasks over google-gax), started in process on port 0.
 * One emulator serves the whole file; each test uses its own queue ids so the tests stay independent.
 */
import { status } from '@grpc/grpc-js';
import type { CloudTasksClient, protos } from '@google-cloud/tasks';
import { ManualClock } from '../../lib/emulator/clock';
import type { EmulatorEvent } from '../../lib/emulator/model';
import { startEmulator, type RunningEmulator } from '../../lib/emulator/server';
import { PARENT, grpcError, httpTask, officialClient, queueName, seededRandom, taskName } from './helpers';

const DAY_MS = 86_400_000;
let emulator: RunningEmulator;
let client: CloudTasksClient;
let clock: ManualClock;

beforeAll(async () => {
  clock = new ManualClock(Date.UTC(2030, 0, 1, 12, 0, 0, 250));
  emulator = await startEmulator({ port: 0, clock });
  client = officialClient(emulator.port);
});

afterAll(async () => {
  await client.close();
  await emulator.stop();
});

const createQueue = async (id: string, queue: Record<string, unknown> = {}) =>
  (await client.createQueue({ parent: PARENT, queue: { name: queueName(id), ...queue } }))[0];
const createTask = async (queueId: string, task: Record<string, unknown>, responseView?: 'BASIC' | 'FULL') =>
  (await client.createTask({ parent: queueName(queueId), task, responseView }))[0];
const seconds = (t: { seconds?: unknown } | null | undefined): number => Number(t?.seconds ?? 0);

describe('startEmulator', () => {
  test('binds 127.0.0.1 by default and reports the picked port', () => {
    expect(emulator.host).toBe('127.0.0.1');
    expect(emulator.port).toBeGreaterThan(0);
    expect(emulator.address).toBe(`127.0.0.1:${emulator.port}`);
  });

  test('refuses a fail rate outside 0..1 and a port outside 0..65535', async () => {
    await expect(startEmulator({ failRate: 1.5 })).rejects.toThrow(/failRate 1.5 is not a fraction/);
    await expect(startEmulator({ port: 70000 })).rejects.toThrow(/port 70000 is not a TCP port/);
  });
});

describe('queues', () => {
  test('CreateQueue fills in the service defaults and GetQueue returns the same queue', async () => {
    const created = await createQueue('defaults');
    expect(created).toMatchObject({
      name: queueName('defaults'),
      state: 'RUNNING',
      rateLimits: { maxDispatchesPerSecond: 500, maxBurstSize: 100, maxConcurrentDispatches: 1000 },
      retryConfig: { maxAttempts: 100, maxDoublings: 16 },
      purgeTime: null,
      stackdriverLoggingConfig: null,
    });
    expect(seconds(created.retryConfig?.maxBackoff)).toBe(3600);
    expect(created.retryConfig?.minBackoff?.nanos).toBe(100_000_000);
    const [got] = await client.getQueue({ name: queueName('defaults') });
    expect(got).toEqual(created);
  });

  test('CreateQueue keeps the given rate limits, retry config and logging config', async () => {
    const created = await createQueue('custom', {
      rateLimits: { maxDispatchesPerSecond: 5, maxConcurrentDispatches: 20, maxBurstSize: 999 },
      retryConfig: {
        maxAttempts: -1,
        minBackoff: { seconds: 10 },
        maxBackoff: { seconds: 300 },
        maxDoublings: 3,
        maxRetryDuration: { seconds: 7200 },
      },
      stackdriverLoggingConfig: { samplingRatio: 0.5 },
    });
    expect(created.rateLimits).toEqual({ maxDispatchesPerSecond: 5, maxConcurrentDispatches: 20, maxBurstSize: 10 });
    expect(created.retryConfig).toMatchObject({ maxAttempts: -1, maxDoublings: 3 });
    expect(
      [created.retryConfig?.minBackoff, created.retryConfig?.maxBackoff, created.retryConfig?.maxRetryDuration].map(
        seconds,
      ),
    ).toEqual([10, 300, 7200]);
    expect(created.stackdriverLoggingConfig).toEqual({ samplingRatio: 0.5 });
  });

  test('CreateQueue of an existing name is ALREADY_EXISTS', async () => {
    await createQueue('twice');
    const err = await grpcError(createQueue('twice'));
    expect(err.code).toBe(status.ALREADY_EXISTS);
    expect(err.details).toMatch(/^Requested entity already exists: queue .*queues\/twice/);
  });

  test.each([
    [
      'a parent that is not projects/P/locations/L',
      { parent: 'projects/demo-project', queue: { name: queueName('x') } },
      /parent = "projects\/demo-project": must be formatted "projects\/<PROJECT_ID>\/locations\/<LOCATION_ID>"/,
    ],
    [
      'a queue outside its parent',
      { parent: 'projects/demo-project/locations/europe-west1', queue: { name: queueName('x') } },
      /is not in parent/,
    ],
    [
      'a queue id with an underscore',
      { parent: PARENT, queue: { name: queueName('bad_id') } },
      /QUEUE_ID = "bad_id".*letters, digits and hyphens/,
    ],
    ['no queue name', { parent: PARENT, queue: {} }, /queue.name is required/],
    [
      'a rate above 500/s',
      { parent: PARENT, queue: { name: queueName('fast'), rateLimits: { maxDispatchesPerSecond: 900 } } },
      /queue.rateLimits.maxDispatchesPerSecond = 900: 900 exceeds Cloud Tasks' limit of 500/,
    ],
    [
      'a negative rate',
      { parent: PARENT, queue: { name: queueName('neg'), rateLimits: { maxDispatchesPerSecond: -1 } } },
      /maxDispatchesPerSecond = -1: -1 must be greater than 0/,
    ],
    [
      'concurrency above 5,000',
      { parent: PARENT, queue: { name: queueName('wide'), rateLimits: { maxConcurrentDispatches: 6000 } } },
      /maxConcurrentDispatches = 6000: 6,000 exceeds Cloud Tasks' limit of 5,000/,
    ],
    [
      'min backoff above max backoff',
      {
        parent: PARENT,
        queue: { name: queueName('bo'), retryConfig: { minBackoff: { seconds: 600 }, maxBackoff: { seconds: 60 } } },
      },
      /queue.retryConfig.minBackoff = 600: .*minBackoff <= maxBackoff/,
    ],
    [
      'min backoff above the default max backoff',
      { parent: PARENT, queue: { name: queueName('bo2'), retryConfig: { minBackoff: { seconds: 7200 } } } },
      /minBackoff = 7200: 7200s is greater than maxBackoff 3600s/,
    ],
    [
      'max attempts below -1',
      { parent: PARENT, queue: { name: queueName('att'), retryConfig: { maxAttempts: -2 } } },
      /retryConfig.maxAttempts = -2/,
    ],
    [
      'a sampling ratio above 1',
      { parent: PARENT, queue: { name: queueName('log'), stackdriverLoggingConfig: { samplingRatio: 1.5 } } },
      /stackdriverLoggingConfig.samplingRatio = 1.5: 1.5 is outside the sampling ratio range/,
    ],
  ])('CreateQueue with %s is INVALID_ARGUMENT', async (_what, request, message) => {
    const err = await grpcError(client.createQueue(request));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toMatch(message);
  });

  test('GetQueue, PauseQueue, ResumeQueue, PurgeQueue and DeleteQueue of a missing queue are NOT_FOUND', async () => {
    const name = queueName('missing');
    for (const call of [
      client.getQueue({ name }),
      client.pauseQueue({ name }),
      client.resumeQueue({ name }),
      client.purgeQueue({ name }),
      client.deleteQueue({ name }),
    ]) {
      const err = await grpcError(call);
      expect(err.code).toBe(status.NOT_FOUND);
      expect(err.details).toMatch(/Queue does not exist.*queues\/missing/);
    }
  });

  test('ListQueues pages in lexicographical order and filters by state', async () => {
    const parent = 'projects/demo-project/locations/asia-east1';
    for (const id of ['q-e', 'q-b', 'q-d', 'q-a', 'q-c'])
      await client.createQueue({ parent, queue: { name: `${parent}/queues/${id}` } });
    await client.pauseQueue({ name: `${parent}/queues/q-d` });

    const pages: string[][] = [];
    let pageToken: string | undefined;
    do {
      const [queues, , response] = await client.listQueues({ parent, pageSize: 2, pageToken }, { autoPaginate: false });
      pages.push(queues.map((q) => q.name!.split('/').pop()!));
      pageToken = response?.nextPageToken || undefined;
    } while (pageToken);
    expect(pages).toEqual([['q-a', 'q-b'], ['q-c', 'q-d'], ['q-e']]);

    const [all] = await client.listQueues({ parent });
    expect(all).toHaveLength(5);
    const [paused] = await client.listQueues({ parent, filter: 'state: PAUSED' });
    expect(paused.map((q) => q.name)).toEqual([`${parent}/queues/q-d`]);
    const [running] = await client.listQueues({ parent, filter: 'state != PAUSED' });
    expect(running).toHaveLength(4);

    const badFilter = await grpcError(client.listQueues({ parent, filter: 'name: q-a' }));
    expect(badFilter.code).toBe(status.INVALID_ARGUMENT);
    const badToken = await grpcError(client.listQueues({ parent, pageToken: 'not-a-token' }, { autoPaginate: false }));
    expect(badToken.code).toBe(status.INVALID_ARGUMENT);
    expect(badToken.details).toMatch(/page_token/);
  });

  test('UpdateQueue changes only the fields in update_mask and ignores output-only fields', async () => {
    await createQueue('upd', { retryConfig: { maxAttempts: 5 } });
    const [updated] = await client.updateQueue({
      queue: {
        name: queueName('upd'),
        rateLimits: { maxDispatchesPerSecond: 50 },
        retryConfig: { maxAttempts: 9 },
        state: 'PAUSED',
      },
      updateMask: { paths: ['rate_limits.max_dispatches_per_second', 'state'] },
    });
    expect(updated.rateLimits).toMatchObject({
      maxDispatchesPerSecond: 50,
      maxBurstSize: 10,
      maxConcurrentDispatches: 1000,
    });
    expect(updated.retryConfig?.maxAttempts).toBe(5);
    expect(updated.state).toBe('RUNNING');

    const [camel] = await client.updateQueue({
      queue: { name: queueName('upd'), retryConfig: { maxAttempts: 7 } },
      updateMask: { paths: ['retryConfig.maxAttempts'] },
    });
    expect(camel.retryConfig?.maxAttempts).toBe(7);
    expect(camel.rateLimits?.maxDispatchesPerSecond).toBe(50);
  });

  test('UpdateQueue with an empty mask replaces every field, unset ones with the defaults', async () => {
    await createQueue('upd-all', { rateLimits: { maxDispatchesPerSecond: 1 }, retryConfig: { maxAttempts: 3 } });
    const [updated] = await client.updateQueue({
      queue: { name: queueName('upd-all'), retryConfig: { maxAttempts: 4 } },
    });
    expect(updated.rateLimits?.maxDispatchesPerSecond).toBe(500);
    expect(updated.retryConfig?.maxAttempts).toBe(4);
  });

  test('UpdateQueue creates a missing queue, validates, and refuses unknown mask paths', async () => {
    const [created] = await client.updateQueue({
      queue: { name: queueName('upsert'), rateLimits: { maxConcurrentDispatches: 7 } },
    });
    expect(created).toMatchObject({ state: 'RUNNING', rateLimits: { maxConcurrentDispatches: 7 } });
    const [got] = await client.getQueue({ name: queueName('upsert') });
    expect(got.rateLimits?.maxConcurrentDispatches).toBe(7);

    const tooFast = await grpcError(
      client.updateQueue({
        queue: { name: queueName('upsert'), rateLimits: { maxDispatchesPerSecond: 501 } },
        updateMask: { paths: ['rate_limits'] },
      }),
    );
    expect(tooFast.code).toBe(status.INVALID_ARGUMENT);
    const badPath = await grpcError(
      client.updateQueue({ queue: { name: queueName('upsert') }, updateMask: { paths: ['pull_target'] } }),
    );
    expect(badPath.code).toBe(status.INVALID_ARGUMENT);
    expect(badPath.details).toMatch(/update_mask path "pull_target" is not a Queue field/);
  });

  test('PauseQueue and ResumeQueue switch the state; tasks can still be added while paused', async () => {
    await createQueue('pausable');
    const [paused] = await client.pauseQueue({ name: queueName('pausable') });
    expect(paused.state).toBe('PAUSED');
    expect((await client.getQueue({ name: queueName('pausable') }))[0].state).toBe('PAUSED');
    await createTask('pausable', httpTask());
    const [resumed] = await client.resumeQueue({ name: queueName('pausable') });
    expect(resumed.state).toBe('RUNNING');
  });

  test('PurgeQueue deletes every task, sets purge_time, and keeps the purged names reserved', async () => {
    await createQueue('purge');
    await createTask('purge', { name: taskName('purge', 'a'), ...httpTask() });
    await createTask('purge', { name: taskName('purge', 'b'), ...httpTask() });
    const [purged] = await client.purgeQueue({ name: queueName('purge') });
    expect(seconds(purged.purgeTime)).toBe(Math.floor(clock.now() / 1000));
    expect((await client.listTasks({ parent: queueName('purge') }))[0]).toEqual([]);
    const err = await grpcError(createTask('purge', { name: taskName('purge', 'a'), ...httpTask() }));
    expect(err.code).toBe(status.ALREADY_EXISTS);
  });

  test('DeleteQueue removes the queue and its tasks; the name cannot be re-created for 3 days (FAILED_PRECONDITION)', async () => {
    await createQueue('deleted');
    await createTask('deleted', { name: taskName('deleted', 't1'), ...httpTask() });
    await client.deleteQueue({ name: queueName('deleted') });

    expect((await grpcError(client.getQueue({ name: queueName('deleted') }))).code).toBe(status.NOT_FOUND);
    expect((await grpcError(client.getTask({ name: taskName('deleted', 't1') }))).code).toBe(status.NOT_FOUND);
    expect((await grpcError(createTask('deleted', httpTask()))).code).toBe(status.NOT_FOUND);
    const again = await grpcError(createQueue('deleted'));
    expect(again.code).toBe(status.FAILED_PRECONDITION);
    expect(again.details).toMatch(
      /^The queue cannot be created because a queue with this name existed too recently\..*up to 3 days/,
    );
    const viaUpdate = await grpcError(client.updateQueue({ queue: { name: queueName('deleted') } }));
    expect(viaUpdate.code).toBe(status.FAILED_PRECONDITION);

    clock.advance(3 * DAY_MS - 60_000);
    expect((await grpcError(createQueue('deleted'))).code).toBe(status.FAILED_PRECONDITION);
    clock.advance(60_000 + 1000);
    expect((await createQueue('deleted')).state).toBe('RUNNING');
  });
});

describe('tasks', () => {
  beforeAll(async () => {
    await createQueue('work');
    await createQueue('other');
  });

  test('CreateTask fills in schedule_time, create_time, dispatch_deadline and counters; BASIC omits the body', async () => {
    const now = clock.now();
    const task = await createTask('work', {
      name: taskName('work', 'named-1'),
      httpRequest: {
        url: 'https://worker.example.com/run',
        headers: { 'Content-Type': 'application/json' },
        body: Buffer.from('{"n":1}'),
      },
    });
    expect(task).toMatchObject({
      name: taskName('work', 'named-1'),
      dispatchCount: 0,
      responseCount: 0,
      firstAttempt: null,
      lastAttempt: null,
      view: 'BASIC',
      httpRequest: {
        url: 'https://worker.example.com/run',
        httpMethod: 'POST',
        headers: { 'Content-Type': 'application/json' },
      },
    });
    expect(task.httpRequest?.body?.length ?? 0).toBe(0);
    expect(seconds(task.scheduleTime) * 1000 + (task.scheduleTime?.nanos ?? 0) / 1e6).toBe(now);
    expect(seconds(task.createTime)).toBe(Math.floor(now / 1000));
    expect(task.createTime?.nanos ?? 0).toBe(0);
    expect(seconds(task.dispatchDeadline)).toBe(600);

    const full = await createTask(
      'work',
      { name: taskName('work', 'named-2'), httpRequest: { url: 'http://127.0.0.1:8080/', body: Buffer.from('hi') } },
      'FULL',
    );
    expect(full.view).toBe('FULL');
    expect(Buffer.from(full.httpRequest!.body!).toString()).toBe('hi');
  });

  test('GetTask returns the body only in the FULL view', async () => {
    await createTask('work', {
      name: taskName('work', 'viewed'),
      httpRequest: { url: 'http://127.0.0.1:8080/', body: Buffer.from('secret payload'), headers: { 'X-Trace': '1' } },
    });
    const [basic] = await client.getTask({ name: taskName('work', 'viewed') });
    expect(basic.view).toBe('BASIC');
    expect(basic.httpRequest?.body?.length ?? 0).toBe(0);
    // The service stores its User-Agent with the task's headers.
    expect(basic.httpRequest?.headers).toEqual({ 'X-Trace': '1', 'User-Agent': 'Google-Cloud-Tasks' });
    const [full] = await client.getTask({ name: taskName('work', 'viewed'), responseView: 'FULL' });
    expect(full.view).toBe('FULL');
    expect(Buffer.from(full.httpRequest!.body!).toString()).toBe('secret payload');
  });

  test('an unnamed task gets a generated numeric id in its queue', async () => {
    const a = await createTask('work', httpTask());
    const b = await createTask('work', httpTask());
    expect(a.name).toMatch(new RegExp(`^${queueName('work')}/tasks/\\d{5,20}$`));
    expect(a.name).not.toBe(b.name);
  });

  test('keeps schedule_time in the future, resets a past one to now, and takes method, headers, deadline and OIDC token', async () => {
    const inAnHour = clock.now() + 3_600_000;
    const task = await createTask('work', {
      httpRequest: {
        url: 'https://worker.example.com/x',
        httpMethod: 'PUT',
        body: Buffer.from('b'),
        oidcToken: {
          serviceAccountEmail: 'invoker@demo-project.iam.gserviceaccount.com',
          audience: 'https://worker.example.com',
        },
      },
      scheduleTime: { seconds: Math.floor(inAnHour / 1000) },
      dispatchDeadline: { seconds: 900 },
    });
    expect(seconds(task.scheduleTime)).toBe(Math.floor(inAnHour / 1000));
    expect(seconds(task.dispatchDeadline)).toBe(900);
    expect(task.httpRequest).toMatchObject({
      httpMethod: 'PUT',
      oidcToken: {
        serviceAccountEmail: 'invoker@demo-project.iam.gserviceaccount.com',
        audience: 'https://worker.example.com',
      },
    });

    const past = await createTask('work', { ...httpTask(), scheduleTime: { seconds: 1000 } });
    expect(seconds(past.scheduleTime)).toBe(Math.floor(clock.now() / 1000));
  });

  test('a named task that exists is ALREADY_EXISTS; so is its name after DeleteTask, until the 1-hour window ends', async () => {
    const name = taskName('work', 'dedup');
    await createTask('work', { name, ...httpTask() });
    const dup = await grpcError(createTask('work', { name, ...httpTask() }));
    expect(dup.code).toBe(status.ALREADY_EXISTS);

    await client.deleteTask({ name });
    const gone = await grpcError(client.getTask({ name }));
    expect(gone.code).toBe(status.NOT_FOUND);
    expect(gone.details).toMatch(/existed recently/);
    const reused = await grpcError(createTask('work', { name, ...httpTask() }));
    expect(reused.code).toBe(status.ALREADY_EXISTS);
    expect(reused.details).toMatch(/deleted or ran recently.*1 hour/);

    clock.advance(3_600_000 + 1000);
    expect((await createTask('work', { name, ...httpTask() })).name).toBe(name);
  });

  test('a task name that ran recently is reserved too (dispatcher hook completeTask)', async () => {
    const name = taskName('work', 'ran');
    await createTask('work', { name, ...httpTask() });
    emulator.state.completeTask(name, 'succeeded');
    expect((await grpcError(createTask('work', { name, ...httpTask() }))).code).toBe(status.ALREADY_EXISTS);
  });

  test('DeleteTask, GetTask and RunTask of a missing task are NOT_FOUND; CreateTask in a missing queue is NOT_FOUND', async () => {
    const name = taskName('work', 'never-created');
    for (const call of [client.deleteTask({ name }), client.getTask({ name }), client.runTask({ name })]) {
      const err = await grpcError(call);
      expect(err.code).toBe(status.NOT_FOUND);
      expect(err.details).toMatch(/not found.*never-created/);
    }
    const err = await grpcError(client.createTask({ parent: queueName('no-such-queue'), task: httpTask() }));
    expect(err.code).toBe(status.NOT_FOUND);
    expect(err.details).toMatch(/Queue does not exist.*no-such-queue/);
  });

  const big = Buffer.alloc(1024 * 1024 + 1, 'a');
  test.each([
    [
      'a name in another queue',
      { name: taskName('other', 't'), ...httpTask() },
      /the queue name from request \('.*queues\/work'\) must be the same as the queue name in the named task \('.*queues\/other'\)/,
    ],
    [
      'a task id with a dot',
      { name: taskName('work', 'bad.id'), ...httpTask() },
      /TASK_ID = "bad.id".*letters, digits, hyphens and underscores/,
    ],
    ['a malformed task name', { name: `${queueName('work')}/t/x`, ...httpTask() }, /task.name = .*must be formatted/],
    ['no HTTP request', {}, /task.httpRequest is required/],
    ['no URL', { httpRequest: { body: Buffer.from('x') } }, /task.httpRequest.url = "": is required/],
    ['an ftp URL', httpTask('ftp://example.com/file'), /url = "ftp:\/\/example.com\/file": .*http:\/\/ or https:\/\//],
    [
      'a URL over 2,083 characters',
      httpTask(`https://example.com/${'p'.repeat(2100)}`),
      /Cloud Tasks URLs are at most 2083/,
    ],
    [
      'a body with GET',
      { httpRequest: { url: 'http://127.0.0.1/', httpMethod: 'GET', body: Buffer.from('x') } },
      /task.httpRequest.body = "1 bytes": a body is not allowed with GET/,
    ],
    [
      'a task over 1 MB',
      { httpRequest: { url: 'http://127.0.0.1/', body: big } },
      /task = "1,04\d,\d\d\d bytes": the task is 1,04\d,\d\d\d bytes as stored \(name, times, URL, headers, body\); Cloud Tasks' limit for a task is 1,048,569 bytes/,
    ],
    [
      'headers of 80 KB',
      { httpRequest: { url: 'http://127.0.0.1/', headers: { 'X-Big': 'v'.repeat(80 * 1024) } } },
      /headers total 81,925 bytes; Cloud Tasks requires under 80 KB/,
    ],
    [
      'a schedule time 31 days ahead',
      { ...httpTask(), scheduleTime: { seconds: Math.floor(Date.UTC(2030, 1, 15) / 1000) } },
      /task.scheduleTime = .*days ahead; Cloud Tasks schedules at most 30 days in the future/,
    ],
    [
      'a dispatch deadline of 10 s',
      { ...httpTask(), dispatchDeadline: { seconds: 10 } },
      /task.dispatchDeadline = 10: 10s is outside Cloud Tasks' range for HTTP dispatch deadlines, 15s to 1800s/,
    ],
    [
      'a dispatch deadline of 31 min',
      { ...httpTask(), dispatchDeadline: { seconds: 31 * 60 } },
      /dispatchDeadline = 1860/,
    ],
    [
      'an OIDC token without a service account',
      { httpRequest: { url: 'https://a.example.com/', oidcToken: { audience: 'x' } } },
      /task.httpRequest.oidcToken.serviceAccountEmail = "": is required/,
    ],
  ])('CreateTask with %s is INVALID_ARGUMENT', async (_what, task, message) => {
    const err = await grpcError(
      client.createTask({ parent: queueName('work'), task: task as protos.google.cloud.tasks.v2.ITask }),
    );
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toMatch(message);
  });

  test('CreateTask with an App Engine request is UNIMPLEMENTED', async () => {
    const err = await grpcError(
      client.createTask({ parent: queueName('work'), task: { appEngineHttpRequest: { relativeUri: '/x' } } }),
    );
    expect(err.code).toBe(status.UNIMPLEMENTED);
    expect(err.details).toMatch(/App Engine tasks are not emulated/);
  });

  test('a malformed parent is INVALID_ARGUMENT', async () => {
    const err = await grpcError(client.createTask({ parent: 'queues/work', task: httpTask() }));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/parent = "queues\/work": must be formatted/);
  });

  test('RunTask records a dispatch, even on a paused queue, and hands the task to the dispatcher hook', async () => {
    await createQueue('run');
    await client.pauseQueue({ name: queueName('run') });
    const name = taskName('run', 'r1');
    await createTask('run', { name, ...httpTask() });
    const events: EmulatorEvent[] = [];
    const off = emulator.state.onEvent((e) => events.push(e));

    const [ran] = await client.runTask({ name });
    off();
    expect(ran).toMatchObject({ name, dispatchCount: 1, responseCount: 0 });
    expect(seconds(ran.firstAttempt?.dispatchTime)).toBe(Math.floor(clock.now() / 1000));
    expect(ran.firstAttempt?.scheduleTime).toBeNull();
    expect(seconds(ran.lastAttempt?.dispatchTime)).toBe(Math.floor(clock.now() / 1000));
    expect(seconds(ran.lastAttempt?.scheduleTime)).toBeGreaterThan(0);
    expect(events.map((e) => e.type)).toEqual(['task-run']);

    const [again] = await client.runTask({ name });
    expect(again.dispatchCount).toBe(2);
  });

  test('ListTasks pages in creation order, stable while tasks are added, with BASIC and FULL views', async () => {
    await createQueue('list');
    const first = [];
    for (let i = 0; i < 25; i++)
      first.push(
        (await createTask('list', { httpRequest: { url: 'http://127.0.0.1/', body: Buffer.from(`b${i}`) } })).name,
      );

    const seen: string[] = [];
    let pageToken: string | undefined;
    let added = 0;
    do {
      const [tasks, , response] = await client.listTasks(
        { parent: queueName('list'), pageSize: 10, pageToken },
        { autoPaginate: false },
      );
      seen.push(...tasks.map((t) => t.name!));
      expect(tasks.every((t) => t.view === 'BASIC' && (t.httpRequest?.body?.length ?? 0) === 0)).toBe(true);
      // Tasks created mid-listing come after the ones already listed: no duplicates, nothing skipped.
      if (added < 2) {
        first.push((await createTask('list', httpTask())).name);
        added++;
      }
      pageToken = response?.nextPageToken || undefined;
    } while (pageToken);
    expect(seen).toEqual(first);

    const [full] = await client.listTasks(
      { parent: queueName('list'), responseView: 'FULL', pageSize: 3 },
      { autoPaginate: false },
    );
    expect(full.map((t) => Buffer.from(t.httpRequest!.body!).toString())).toEqual(['b0', 'b1', 'b2']);

    const missing = await grpcError(client.listTasks({ parent: queueName('nope') }));
    expect(missing.code).toBe(status.NOT_FOUND);
    const badToken = await grpcError(
      client.listTasks({ parent: queueName('list'), pageToken: 'eyJ4IjoxfQ' }, { autoPaginate: false }),
    );
    expect(badToken.code).toBe(status.INVALID_ARGUMENT);
  });
});

describe('IAM', () => {
  test('GIVEN a queue WHEN SetIamPolicy stores bindings THEN GetIamPolicy returns them with the new etag, and a stale etag is ABORTED', async () => {
    await createQueue('iam');
    const resource = queueName('iam');
    const [empty] = await client.getIamPolicy({ resource });
    expect(empty.bindings).toEqual([]);
    const binding = { role: 'roles/cloudtasks.enqueuer', members: ['serviceAccount:seeder@p.iam.gserviceaccount.com'] };
    const [set] = await client.setIamPolicy({ resource, policy: { bindings: [binding], etag: empty.etag } });
    expect(set.bindings).toEqual([{ ...binding, condition: null }]);
    expect(Buffer.from(set.etag!).equals(Buffer.from(empty.etag!))).toBe(false);
    const [got] = await client.getIamPolicy({ resource });
    expect(got).toEqual(set);

    const stale = await grpcError(client.setIamPolicy({ resource, policy: { bindings: [], etag: empty.etag } }));
    expect(stale.code).toBe(status.ABORTED);
    const badRole = await grpcError(
      client.setIamPolicy({ resource, policy: { bindings: [{ role: 'enqueuer', members: ['user:a@b.c'] }] } }),
    );
    expect(badRole.code).toBe(status.INVALID_ARGUMENT);
    const [tested] = await client.testIamPermissions({
      resource,
      permissions: ['cloudtasks.tasks.create', 'storage.objects.get'],
    });
    expect(tested.permissions).toEqual(['cloudtasks.tasks.create']);
    expect((await grpcError(client.getIamPolicy({ resource: queueName('no-such-queue') }))).code).toBe(
      status.NOT_FOUND,
    );
  });
});

describe('fail rate', () => {
  test('fails that fraction of CreateTask calls with UNAVAILABLE before any change, so a retry succeeds', async () => {
    const failing = await startEmulator({ failRate: 0.3, random: seededRandom(42) });
    const c = officialClient(failing.port);
    try {
      // Queue calls never fail; only CreateTask does, decided by the seeded generator in call order.
      await c.createQueue({ parent: PARENT, queue: { name: queueName('flaky') } });
      const expected = seededRandom(42);
      let failures = 0;
      for (let i = 0; i < 40; i++) {
        const name = taskName('flaky', `t${i}`);
        for (;;) {
          const shouldFail = expected() < 0.3;
          const outcome = await c.createTask({ parent: queueName('flaky'), task: { name, ...httpTask() } }).then(
            () => 'ok',
            (err: { code: number; details: string }) => {
              expect(err.details).toMatch(/injected failure \(fail rate 0.3\): nothing was stored/);
              return err.code;
            },
          );
          expect(outcome).toBe(shouldFail ? status.UNAVAILABLE : 'ok');
          if (!shouldFail) break;
          failures++;
          // Nothing was stored, so retrying the same name is safe: it is created, never ALREADY_EXISTS.
          expect(failing.state.tasksOf(queueName('flaky')).some((t) => t.name === name)).toBe(false);
        }
      }
      expect(failures).toBeGreaterThan(5);
      expect(failing.state.tasksOf(queueName('flaky'))).toHaveLength(40);
    } finally {
      await c.close();
      await failing.stop();
    }
  });
});
