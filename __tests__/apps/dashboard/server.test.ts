/**
 * The dashboard's JSON API against the in-process emulator dispatching to a real worker (fixtures.ts): the pipeline
 * as the stack describes it, runs watched to their end with their timeline, the actions through the Cloud Tasks API
 * (so the emulator's rules and errors apply), the task page's redaction, paging through 10,000 tasks, coalesced live
 * updates, and the hardening of a server any web page could try to reach.
 */
import { request as httpRequest } from 'node:http';
import type {
  PipelineResponse,
  QueueView,
  QueuesResponse,
  RunDetail,
  RunsResponse,
  TaskDetail,
  TasksResponse,
} from '../../../lib/apps/dashboard/api-types';
import { queueOf, startFixture, waitFor, type Fixture } from './fixtures';

const json = async <T>(f: Fixture, path: string, init?: RequestInit): Promise<{ status: number; body: T }> => {
  const res = await fetch(`${f.base}${path}`, init);
  return { status: res.status, body: (await res.json()) as T };
};
const post = (body: unknown = {}) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});
const api = (name: string) => `/api/${name}`;

describe('with dispatching', () => {
  let f: Fixture;
  beforeAll(async () => {
    f = await startFixture({ routes: true, schedule: true, seeds: [{ step: 'ingest', seedId: 'nightly-1' }] });
  });
  afterAll(() => f.close());

  test('GET /api/pipeline: steps, kinds and joins from the routes output, edges, what seeds and schedules start', async () => {
    const { status, body } = await json<PipelineResponse>(f, '/api/pipeline');
    expect(status).toBe(200);
    expect(body).toMatchObject({ pipeline: 'dag', environment: 'dev', stack: 'dag-dev' });
    expect(body.steps.map((s) => [s.name, s.kind, s.join, s.next, s.parents, s.seeds, s.schedules])).toEqual([
      ['ingest', 'service', 'each', ['featurize-a', 'featurize-b'], [], ['nightly-1'], ['dag-dev-nightly-retrain']],
      ['featurize-a', 'service', 'each', ['train'], ['ingest'], [], []],
      ['featurize-b', 'service', 'each', ['train'], ['ingest'], [], []],
      ['train', 'cloudRunJob', 'all', [], ['featurize-a', 'featurize-b'], [], []],
    ]);
    expect(body.steps[0].queue).toBe(queueOf('ingest'));
  });

  test('a seeded run is watched to succeeded: the list, the run page, and a timeline with the retry and its backoff', async () => {
    const task = await f.seed('ingest', 'run-retried', { failFirst: 1 });
    const run = await waitFor(
      () => json<RunDetail>(f, '/api/runs/run-retried'),
      (r) => r.status === 200 && r.body.status === 'succeeded',
    );
    const r = run.body;
    expect(r).toMatchObject({
      runId: 'run-retried',
      source: { kind: 'seed', name: 'run-retried' },
      startStep: 'ingest',
      runsSource: 'tasks',
      currentSteps: ['train'],
    });
    expect(r.steps.map((s) => [s.step, s.state, s.counts.succeeded, s.attempts])).toEqual([
      ['ingest', 'complete', 1, 2],
      ['featurize-a', 'complete', 1, 1],
      ['featurize-b', 'complete', 1, 1],
      // Without a ledger each parent's delivery starts train once (join: each behaviour of these workers).
      ['train', 'complete', 2, 2],
    ]);
    const first = r.timeline.find((t) => t.task === task)!;
    expect(first.attempts.map((a) => [a.attempt, a.outcome, a.status])).toEqual([
      [1, 'failed', 503],
      [2, 'succeeded', 200],
    ]);
    // The backoff gap: the retry was scheduled after the failure, and dispatched no earlier.
    const [failed, retried] = first.attempts;
    expect(Date.parse(failed.nextAttemptAt!)).toBeGreaterThanOrEqual(Date.parse(failed.endedAt!));
    expect(Date.parse(retried.dispatchedAt)).toBeGreaterThanOrEqual(Date.parse(failed.nextAttemptAt!));
    expect(r.input).toMatchObject({ kind: 'json', redacted: [] });
    expect(JSON.parse(r.input!.text!)).toEqual({ failFirst: 1 });

    const list = await json<RunsResponse>(f, '/api/runs');
    expect(list.body.source).toBe('tasks');
    expect(list.body.runs.find((x) => x.runId === 'run-retried')).toMatchObject({ status: 'succeeded' });
    const counts = await json<PipelineResponse>(f, '/api/pipeline?run=run-retried');
    expect(counts.body.run).toBe('run-retried');
    expect(counts.body.steps.map((s) => s.counts.succeeded)).toEqual([1, 1, 1, 2]);
  });

  test('a task whose retries run out fails its run, with the reason', async () => {
    await f.seed('ingest', 'run-broken', { fail: true });
    const run = await waitFor(
      () => json<RunDetail>(f, '/api/runs/run-broken'),
      (r) => r.status === 200 && r.body.status === 'failed',
    );
    expect(run.body.failure).toMatchObject({ step: 'ingest', kind: 'attempts-exhausted' });
    expect(run.body.failure!.reason).toMatch(/given up after 3 attempt\(s\); the last one: HTTP 500$/);
    expect(run.body.steps[0]).toMatchObject({ step: 'ingest', state: 'failed', attempts: 3 });
    expect(run.body.steps[0].shards[0].error).toEqual({ message: 'HTTP 500', final: true, attempt: 3 });
  });

  test('POST /api/runs starts a run of a step with a payload; an unknown step is refused with the steps named', async () => {
    const started = await json<{ runId: string; task: string }>(
      f,
      '/api/runs',
      post({ step: 'featurize-a', payload: { shard: 7 } }),
    );
    expect(started.status).toBe(200);
    expect(started.body.task.startsWith(`${queueOf('featurize-a')}/tasks/`)).toBe(true);
    const run = await waitFor(
      () => json<RunDetail>(f, `/api/runs/${started.body.runId}`),
      (r) => r.status === 200 && r.body.status === 'succeeded',
    );
    expect(run.body).toMatchObject({ source: { kind: 'manual', name: 'dashboard' }, startStep: 'featurize-a' });
    expect(run.body.steps.map((s) => s.step)).toEqual(['featurize-a', 'train']);
    // The task carries the step's per-task settings from the routes' `task` (featurize-a: 60 s, not the 600 s default).
    expect(f.dashboard.activity.task(started.body.task)?.last.dispatchDeadlineSeconds).toBe(60);

    const bad = await json<{ error: { message: string } }>(f, '/api/runs', post({ step: 'evaluate' }));
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toBe(
      '"evaluate" is not a step of pipeline dag (steps: ingest, featurize-a, featurize-b, train)',
    );
  });

  test('pause, run now, delete, resume and purge go through the Cloud Tasks API, so the emulator rules apply', async () => {
    const queue = queueOf('featurize-b');
    const paused = await json<QueueView>(f, `${api(queue)}:pause`, post());
    expect(paused.body.state).toBe('PAUSED');
    expect(f.emulator.state.getQueue(queue).state).toBe('PAUSED');

    // A paused queue dispatches nothing; RunTask sends the task anyway (cloudtasks.proto).
    const held = await f.seed('featurize-b', 'held', {});
    const dropped = await f.seed('featurize-b', 'dropped', {});
    const page = await json<TasksResponse>(f, `${api(queue)}/tasks`);
    expect(page.body.tasks.map((t) => [t.name, t.phase])).toEqual([
      [held, 'pending'],
      [dropped, 'pending'],
    ]);
    expect((await json(f, `${api(held)}:run`, post())).status).toBe(200);
    await waitFor(
      () => json<TaskDetail>(f, api(held)),
      (t) => t.body.phase === 'succeeded',
    );
    const detail = await json<TaskDetail>(f, api(held));
    expect(detail.body).toMatchObject({ live: false, phase: 'succeeded' });
    expect(detail.body.attempts).toMatchObject([{ attempt: 1, outcome: 'succeeded', viaRunTask: true }]);

    expect((await json(f, api(dropped), { method: 'DELETE' })).status).toBe(200);
    const again = await json<{ error: { status: string; message: string } }>(f, api(dropped), { method: 'DELETE' });
    expect(again.status).toBe(404);
    expect(again.body.error.status).toBe('NOT_FOUND');
    expect(again.body.error.message).toMatch(/existed recently|not found/i);

    await f.seed('featurize-b', 'purged', {});
    const purged = await json<QueueView>(f, `${api(queue)}:purge`, post());
    expect(purged.body.depth).toBe(0);
    const resumed = await json<QueueView>(f, `${api(queue)}:resume`, post());
    expect(resumed.body.state).toBe('RUNNING');
    const view = (await json<QueuesResponse>(f, '/api/queues')).body.queues.find((q) => q.name === queue)!;
    expect(view).toMatchObject({
      queueId: 'dag-dev-featurize-b',
      step: 'featurize-b',
      state: 'RUNNING',
      maxConcurrentDispatches: 10,
      maxDispatchesPerSecond: 50,
      retry: { maxAttempts: 3, minBackoffSeconds: 0.05 },
      target: { uri: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/$/) },
    });
    expect(view.counts.deleted).toBe(2);
    expect(view.dispatchRate).toBeGreaterThan(0);
  });
});

describe('without dispatching', () => {
  let f: Fixture;
  beforeAll(async () => {
    f = await startFixture({ dispatch: false });
  });
  afterAll(() => f.close());

  test('the task page: no Authorization, secrets redacted, hostile keys returned as data', async () => {
    const queue = queueOf('ingest');
    const task = f.emulator.state.createTask(queue, {
      name: `${queue}/tasks/secretive`,
      httpRequest: {
        url: 'https://ingest.example.com/tasks?key=AIzaSyA1234567890abcdefghijklmnopqrstuv',
        headers: {
          Authorization: 'Bearer abc.def.ghi',
          'X-Api-Key': 'sk_live_4eC39HqLyjWDarjtT1zdp7dc',
          'X-Team': 'ml',
        },
        body: Buffer.from(
          JSON.stringify({ password: 'hunter2-but-longer', '<img src=x onerror=alert(1)>': 'v', nested: { n: 1 } }),
        ),
      },
    });
    const { body } = await json<TaskDetail>(f, api(task.name));
    expect(body.headers).toEqual({ 'User-Agent': 'Google-Cloud-Tasks', 'X-Api-Key': '<redacted>', 'X-Team': 'ml' });
    expect(body.url).not.toContain('AIza');
    expect(JSON.parse(body.body.text!)).toEqual({
      password: '<redacted>',
      '<img src=x onerror=alert(1)>': 'v',
      nested: { n: 1 },
    });
    expect(body.body.redacted).toEqual([{ path: 'password', reason: expect.stringMatching(/password/) }]);
    expect(JSON.stringify(body)).not.toMatch(/hunter2|sk_live|abc\.def/);
  });

  test('a body larger than the preview is cut and says so', async () => {
    const queue = queueOf('ingest');
    const big = f.emulator.state.createTask(queue, {
      name: `${queue}/tasks/big`,
      httpRequest: {
        url: 'https://ingest.example.com/tasks',
        body: Buffer.from(JSON.stringify({ a: 'x'.repeat(40_000) })),
      },
    });
    const { body } = await json<TaskDetail>(f, api(big.name));
    expect(body.body).toMatchObject({ kind: 'json', bytes: 40_008, truncated: true });
    expect(body.body.text!.length).toBe(16 * 1024);
  });

  test('10,000 tasks in a queue: pages of the size asked for, stable tokens, the total, bounded page sizes', async () => {
    const queue = queueOf('train');
    for (let i = 0; i < 10_000; i++)
      f.emulator.state.createTask(queue, {
        httpRequest: { url: 'https://train.example.com/tasks', body: Buffer.from('{}') },
      });
    const seen = new Set<string>();
    let token = '';
    for (let p = 0; p < 3; p++) {
      const { status, body } = await json<TasksResponse>(
        f,
        `${api(queue)}/tasks?pageSize=200${token ? `&pageToken=${encodeURIComponent(token)}` : ''}`,
      );
      expect(status).toBe(200);
      expect(body.total).toBe(10_000);
      expect(body.tasks).toHaveLength(200);
      for (const t of body.tasks) seen.add(t.name);
      token = body.nextPageToken;
      expect(token).not.toBe('');
    }
    expect(seen.size).toBe(600);
    expect((await json<QueuesResponse>(f, '/api/queues')).body.queues.find((q) => q.name === queue)?.depth).toBe(
      10_000,
    );
    const tooBig = await json<{ error: { message: string } }>(f, `${api(queue)}/tasks?pageSize=5000`);
    expect(tooBig.status).toBe(400);
    expect(tooBig.body.error.message).toBe('pageSize: use a whole number from 1 to 500');
  });

  test('live updates: a burst of 500 tasks is one change event naming the queue and the runs', async () => {
    const events: string[] = [];
    const controller = new AbortController();
    const res = await fetch(`${f.base}/api/events`, { signal: controller.signal });
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const reader = res.body!.getReader();
    const read = async (until: (text: string) => boolean) => {
      let text = '';
      while (!until(text)) text += new TextDecoder().decode((await reader.read()).value);
      return text;
    };
    const hello = await read((t) => t.includes('event: hello'));
    expect(hello).toContain('retry: 2000');
    const queue = queueOf('featurize-a');
    for (let i = 0; i < 500; i++)
      f.emulator.state.createTask(queue, {
        name: `${queue}/tasks/burst-${i}`,
        httpRequest: { url: 'https://featurize-a.example.com/tasks', body: Buffer.from('{}') },
      });
    const text = await read((t) => /event: change\ndata: .*\n\n/.test(t));
    events.push(...text.split('\n\n').filter((m) => m.startsWith('event: change')));
    expect(events).toHaveLength(1);
    // More runs than one message lists: it says every run view is stale instead of naming 500 ids.
    expect(JSON.parse(events[0].split('data: ')[1])).toEqual({
      queues: [queue],
      runs: [],
      allRuns: true,
      pipeline: true,
    });

    for (const id of ['a', 'b'])
      f.emulator.state.createTask(queue, {
        name: `${queue}/tasks/0123456789abcdef-seed-${id}`,
        httpRequest: { url: 'https://featurize-a.example.com/tasks', body: Buffer.from('{}') },
      });
    const next = await read((t) => /event: change\ndata: .*\n\n/.test(t));
    controller.abort();
    expect(JSON.parse(next.split('data: ')[1].split('\n')[0])).toEqual({
      queues: [queue],
      runs: ['seed-a', 'seed-b'],
      allRuns: false,
      pipeline: true,
    });
  });

  test('hardening: Host must be this server, actions only as JSON from this page, a CSP without inline code', async () => {
    const raw = (headers: Record<string, string>, method = 'GET', path = '/api/info') =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = httpRequest(`${f.base}${path}`, { method, headers }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode!, body }));
        });
        req.on('error', reject);
        req.end(method === 'POST' ? '{}' : undefined);
      });
    // DNS rebinding: a page on evil.example whose name now points at 127.0.0.1.
    const rebound = await raw({ host: `evil.example:${f.dashboard.port}` });
    expect(rebound.status).toBe(421);
    expect(JSON.parse(rebound.body).error.message).toContain(`only to http://127.0.0.1:${f.dashboard.port}/`);
    const pause = `${api(queueOf('ingest'))}:pause`;
    const crossSite = await raw({ origin: 'https://evil.example', 'content-type': 'application/json' }, 'POST', pause);
    expect(crossSite.status).toBe(403);
    const form = await raw({ 'content-type': 'application/x-www-form-urlencoded' }, 'POST', pause);
    expect(form.status).toBe(415);
    expect(f.emulator.state.getQueue(queueOf('ingest')).state).toBe('RUNNING');

    const page = await fetch(`${f.base}/`);
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await page.text()).not.toMatch(/<script>|<script(?![^>]*\bsrc=)[^>]*>/);

    const missing = await json<{ error: { code: number; status: string } }>(f, '/api/nope');
    expect(missing).toEqual({
      status: 404,
      body: { error: expect.objectContaining({ code: 404, status: 'NOT_FOUND' }) },
    });
    const noRun = await json<{ error: { message: string } }>(f, '/api/runs/never');
    expect(noRun.status).toBe(404);
    expect(noRun.body.error.message).toBe('no run "never" in this pipeline');
  });
});
