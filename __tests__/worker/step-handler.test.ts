/**
 * createStepHandler as a worker sees it: plain http and Express-style requests (body parsed by a middleware), tasks
 * without an envelope (seeds) that start their run, requests that are not ours, and the log lines it writes.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { taskIdFor } from '../../lib/core/naming';
import { ROUTES_ENV } from '../../lib/core/routes';
import { createStepHandler } from '../../lib/worker/step-handler';
import type { StepContext } from '../../lib/worker/delivery';
import { FIRESTORE_READY_MS, eventually, routesFor, startHarness, step, type Harness } from '../ledger/helpers';

const harnesses: Harness[] = [];
afterAll(() => Promise.all(harnesses.map((h) => h.close())));

/** What express.json() does before a route handler runs: the body read and parsed into req.body. */
const expressJson =
  (next: (req: IncomingMessage & { body?: unknown }, res: ServerResponse) => void) =>
  (req: IncomingMessage & { body?: unknown }, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      req.body = JSON.parse(Buffer.concat(chunks).toString() || 'null');
      next(req, res);
    });
  };

describe('behind an Express-style body parser, started by seed tasks', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      pipeline: 'seeded',
      steps: [step('preprocess', ['train']), step('train')],
      handlers: {
        preprocess: (p: { dataset: string }, ctx: StepContext) => {
          ctx.log.info('preprocessing', { dataset: p.dataset });
          return { rows: `${p.dataset}/rows` };
        },
        train: (p: { rows: string }, ctx: StepContext) => {
          ctx.output('model', `${p.rows}/model`);
        },
      },
      wrap: (handler) => expressJson(handler),
    });
    harnesses.push(h);
  }, FIRESTORE_READY_MS);

  const seedTask = (prefix: string | undefined, seedId: string, payload: unknown) => {
    const queue = h.routes.steps.preprocess.queue;
    const id = prefix ? `${prefix}-${seedId}` : taskIdFor(queue, seedId);
    return h.emulator.state.createTask(queue, {
      name: `${queue}/tasks/${id}`,
      httpRequest: {
        url: h.routes.steps.preprocess.url,
        headers: {
          'Content-Type': 'application/json',
          'X-Cloud-Trace-Context': '105445aa7843bc8bf206b12000100000/1;o=1',
        },
        body: Buffer.from(JSON.stringify(payload)),
      },
    });
  };

  test('GIVEN a seed task (a plain payload, the seeder’s task id) THEN its run is created with the seed id and completes', async () => {
    seedTask(undefined, 'nightly-1', { dataset: 'gs://acme-raw/2030-01-01' });
    const run = await h.waitForRun('nightly-1');
    expect(run).toMatchObject({
      status: 'succeeded',
      source: { kind: 'seed', name: 'nightly-1' },
      startStep: 'preprocess',
    });
    expect(run.input).toEqual({ dataset: 'gs://acme-raw/2030-01-01' });
    expect(run.steps[1].outputs).toEqual([{ shard: '0.0', name: 'model', uri: 'gs://acme-raw/2030-01-01/rows/model' }]);
  });

  test('GIVEN the same seed dispatched again (e.g. after the dedup hour) THEN the existing run is not started again', async () => {
    seedTask('0000000000000000', 'nightly-1', { dataset: 'gs://acme-raw/2030-01-01' });
    await eventually(
      () => h.emulator.state.tasksOf(h.routes.steps.preprocess.queue).length === 0,
      'the second seed answered',
    );
    expect(h.callsOf('preprocess', 'nightly-1')).toHaveLength(1);
    expect(h.callsOf('train', 'nightly-1')).toHaveLength(1);
  });

  test('every log line is Cloud Logging JSON with the run, step, shard and attempt as labels and the trace', () => {
    const lines = h.logLines.map((l) => JSON.parse(l));
    const mine = lines.find((l) => l.message === 'preprocessing');
    expect(mine).toMatchObject({
      severity: 'INFO',
      dataset: 'gs://acme-raw/2030-01-01',
      'logging.googleapis.com/labels': {
        pipeline: 'seeded',
        runId: 'nightly-1',
        step: 'preprocess',
        shard: '0',
        attempt: '1',
      },
      'logging.googleapis.com/trace': 'projects/acme-ml-dev/traces/105445aa7843bc8bf206b12000100000',
      'logging.googleapis.com/spanId': '0000000000000001',
      'logging.googleapis.com/trace_sampled': true,
    });
    expect(lines.filter((l) => l['logging.googleapis.com/labels'].runId === 'nightly-1').map((l) => l.event)).toEqual(
      expect.arrayContaining(['work-started', 'work-done', 'delivery-duplicate']),
    );
  });
});

describe('behind a body parser that skipped the request (another content type)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      pipeline: 'skipped',
      steps: [step('a')],
      handlers: { a: (p: unknown, ctx: StepContext) => ctx.output('echo', JSON.stringify(p)) },
      // What body-parser does for a content type it does not handle: `{}` on req.body, the stream left unread.
      wrap: (handler) => (req: IncomingMessage & { body?: unknown }, res: ServerResponse) => {
        req.body = {};
        handler(req, res);
      },
    });
    harnesses.push(h);
  }, FIRESTORE_READY_MS);

  test('THEN the body is read from the stream, not taken as {}', async () => {
    const { runId } = await h.ledger.startRun({ payload: { n: 42 } });
    const run = await h.waitForRun(runId);
    expect(run.steps[0].outputs).toEqual([{ shard: '0', name: 'echo', uri: '{"n":42}' }]);
  });
});

describe('requests that are not ours', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      pipeline: 'strict',
      steps: [step('a', ['b']), step('b')],
      handlers: { a: (p: unknown) => p },
    });
    harnesses.push(h);
  }, FIRESTORE_READY_MS);

  const headers = (queue: string) => ({
    'content-type': 'application/json',
    'x-cloudtasks-queuename': queue,
    'x-cloudtasks-taskname': 'abc',
    'x-cloudtasks-taskretrycount': '0',
    'x-cloudtasks-taskexecutioncount': '0',
    'x-cloudtasks-tasketa': '1900000000',
  });

  test('no token on an OIDC step: 401, before the body is read or the ledger touched', async () => {
    const res = await fetch(h.workerUrl, { method: 'POST', headers: headers('strict-test-a'), body: '{}' });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: expect.stringMatching(/^missing Authorization: Bearer <OIDC token>/) });
  });

  test('a queue of another pipeline: 400 naming it', async () => {
    const res = await fetch(h.workerUrl, { method: 'POST', headers: headers('other-prod-a'), body: '{}' });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe(
      'queue other-prod-a is not a queue of pipeline strict (stack strict-test)',
    );
  });

  test('a step this worker does not serve: 404, so Cloud Tasks retries until the right worker is deployed', async () => {
    await h.ledger.startRun({ runId: 'to-b', payload: 1 });
    await eventually(
      () => h.dispatches.some((d) => d.e.queue === h.routes.steps.b.queue && d.e.status === 404),
      'the 404 from step b',
    );
    expect(h.logLines.some((l) => JSON.parse(l).message === 'this worker does not serve step b (it serves a)')).toBe(
      true,
    );
  });

  test('handlers for steps that are not in the routes, or no routes at all, fail at construction', async () => {
    expect(() => createStepHandler({ routes: h.routes, handlers: { trian: () => 1 } })).toThrow(
      'createStepHandler: handlers.trian: "trian" is not a step of pipeline strict (steps: a, b)',
    );
    expect(() => createStepHandler({ handlers: {}, env: {} })).toThrow(new RegExp(`^${ROUTES_ENV}: `));
    const routes = routesFor('other', [step('x')], 'p');
    const fromEnv = createStepHandler({ handlers: {}, env: { [ROUTES_ENV]: JSON.stringify(routes) } });
    expect(fromEnv.ledger.routes.pipeline).toBe('other');
    await fromEnv.close();
  });
});
