/**
 * At-least-once delivery against the ledger: duplicates of every task, a retry after the work was done (the 2xx was
 * lost), and a worker that dies mid-work and is replaced by a new instance. In each, every shard's work runs once
 * (or, for the dead worker, once more only for the attempt that never finished) and every hand-off happens once.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { StepContext } from '../../lib/worker/delivery';
import {
  FIRESTORE_READY_MS,
  OffsetClock,
  eventually,
  gate,
  startHarness,
  step,
  tasksCreatedIn,
  type Harness,
} from './helpers';

const harnesses: Harness[] = [];
afterAll(() => Promise.all(harnesses.map((h) => h.close())));

const diamond = [
  step('ingest', ['featurize-a', 'featurize-b']),
  step('featurize-a', ['train']),
  step('featurize-b', ['train']),
  step('train', ['evaluate']),
  step('evaluate'),
];
const diamondHandlers = {
  ingest: (p: unknown) => p,
  'featurize-a': () => ({ features: 'gs://f/a' }),
  'featurize-b': () => ({ features: 'gs://f/b' }),
  train: (p: unknown) => p,
  evaluate: () => ({ auc: 0.9 }),
};

describe('duplicate deliveries injected at every step', () => {
  let h: Harness;
  const copied = new Set<string>();
  beforeAll(async () => {
    h = await startHarness({
      pipeline: 'dups',
      steps: diamond,
      handlers: diamondHandlers,
      // Every task gets a twin once it succeeded: the same request in the same queue, under another name (Cloud
      // Tasks' at-least-once delivery, made certain). A twin that overlaps its original is the next describe's.
      onDispatch: (e, task, self) => {
        if (e.event !== 'succeeded' || task.taskId.startsWith('dup-') || copied.has(task.name)) return;
        copied.add(task.name);
        self.emulator.state.createTask(task.queueName, {
          name: `${task.queueName}/tasks/dup-${task.taskId}`,
          httpRequest: { url: task.httpRequest.url, headers: task.httpRequest.headers, body: task.httpRequest.body },
          dispatchDeadlineSeconds: task.dispatchDeadlineSeconds,
        });
      },
    });
    harnesses.push(h);
  }, FIRESTORE_READY_MS);

  test('GIVEN every task delivered twice THEN each step runs once per run and train gets exactly one task', async () => {
    const { runId } = await h.ledger.startRun({ runId: 'dup-run', payload: { dataset: 'gs://d' } });
    const run = await h.waitForRun(runId);
    const twinsDone = () => h.dispatches.filter((d) => d.e.task.startsWith('dup-') && d.e.event === 'succeeded');
    await eventually(() => twinsDone().length === 5, 'every twin answered');

    expect(run.status).toBe('succeeded');
    for (const s of Object.keys(diamondHandlers)) expect([s, h.callsOf(s, runId).length]).toEqual([s, 1]);
    expect(copied.size).toBe(5); // one twin per step's task
    // Every twin was answered 2xx at once, as a duplicate (its shard is done), and did no work.
    expect(h.dispatches.filter((d) => d.e.task.startsWith('dup-') && d.e.event === 'failed')).toHaveLength(0);
    const duplicates = h.logLines.map((l) => JSON.parse(l)).filter((l) => l.event === 'delivery-duplicate');
    expect(duplicates).toHaveLength(5);
    expect(tasksCreatedIn(h, 'train').filter((t) => !t.startsWith('dup-'))).toHaveLength(1);
    expect(run.steps.map((s) => s.attempts)).toEqual([1, 1, 1, 1, 1]);
  });
});

describe('a duplicate that arrives while the original still runs', () => {
  let h: Harness;
  const clock = new OffsetClock();
  const running = gate();
  const release = gate();
  beforeAll(async () => {
    h = await startHarness({
      pipeline: 'overlap',
      clock,
      steps: [step('train', [], { dispatchDeadlineSeconds: 15 })],
      handlers: {
        train: async () => {
          running.open();
          await release.promise;
          return { model: 'gs://m' };
        },
      },
    });
    harnesses.push(h);
  }, FIRESTORE_READY_MS);

  test('THEN it is answered 503 with Retry-After until the lease ends, then as a duplicate; the work ran once', async () => {
    const { runId } = await h.ledger.startRun({ payload: {} });
    await running.promise;
    // 14 of the lease's 15 s have passed: the twin is told to come back in 1 s.
    clock.advance(14_000);
    const queue = h.routes.steps.train.queue;
    const [original] = h.emulator.state.tasksOf(queue);
    h.emulator.state.createTask(queue, {
      name: `${queue}/tasks/twin`,
      httpRequest: {
        url: original.httpRequest.url,
        headers: original.httpRequest.headers,
        body: original.httpRequest.body,
      },
    });
    const twin = (event: string) => h.dispatches.find((d) => d.e.task === 'twin' && d.e.event === event);
    await eventually(() => twin('failed') !== undefined, 'the twin refused');
    expect(twin('failed')!.e.status).toBe(503);
    const busy = h.logLines.map((l) => JSON.parse(l)).find((l) => l.event === 'delivery-busy');
    expect(busy.message).toMatch(
      /^busy: another delivery \(.+\) holds this shard until .*; Cloud Tasks retries in 1 s$/,
    );

    release.open();
    await eventually(() => twin('succeeded') !== undefined, 'the twin answered');
    expect((await h.waitForRun(runId)).status).toBe('succeeded');
    expect(h.callsOf('train', runId)).toHaveLength(1);
  });
});

describe('a shard retried after its work completed (the 2xx was lost)', () => {
  let h: Harness;
  let dropped = 0;
  beforeAll(async () => {
    h = await startHarness({
      pipeline: 'lost2xx',
      steps: [step('prep', ['train']), step('train', ['infer']), step('infer')],
      handlers: { prep: (p: unknown) => p, train: () => ({ model: 'gs://m' }), infer: () => ({ ok: true }) },
      // The first answer to train's task never reaches Cloud Tasks: the connection is cut after the worker finished.
      wrap: (handler) => (req: IncomingMessage, res: ServerResponse) => {
        if (req.headers['x-cloudtasks-queuename'] === 'lost2xx-test-train' && dropped === 0) {
          dropped++;
          res.end = ((..._args: unknown[]) => {
            res.socket?.destroy();
            return res;
          }) as typeof res.end;
        }
        handler(req, res);
      },
    });
    harnesses.push(h);
  }, FIRESTORE_READY_MS);

  test('THEN the retry is answered as a duplicate: train ran once, infer got one task', async () => {
    const { runId } = await h.ledger.startRun({ payload: {} });
    const run = await h.waitForRun(runId);
    expect(run.status).toBe('succeeded');
    expect(dropped).toBe(1);
    const trainQueue = h.routes.steps.train.queue;
    const trainDispatches = () => h.dispatches.filter((d) => d.e.queue === trainQueue && d.e.event === 'dispatched');
    await eventually(() => trainDispatches().length === 2, 'the retry of train'); // the lost answer, then the retry
    await eventually(() => h.emulator.state.tasksOf(trainQueue).length === 0, 'the retry answered');
    expect(h.callsOf('train', runId)).toHaveLength(1);
    expect(h.callsOf('infer', runId)).toHaveLength(1);
    expect(tasksCreatedIn(h, 'infer')).toHaveLength(1);
    expect(run.steps.find((s) => s.step === 'train')!.attempts).toBe(1);
  });
});

describe('worker restart mid-run', () => {
  let h: Harness;
  const clock = new OffsetClock();
  const trainStarted = gate();
  const neverEnds = gate();
  let trainRuns = 0;
  beforeAll(async () => {
    h = await startHarness({
      pipeline: 'restart',
      clock,
      steps: [step('prep', ['train']), step('train', ['infer'], { dispatchDeadlineSeconds: 15 }), step('infer')],
      handlers: {
        prep: (p: unknown) => p,
        // The first worker's train never finishes (its process dies); the second worker's does.
        train: async (_p, ctx: StepContext) => {
          trainRuns++;
          if (ctx.attempt === 1) {
            trainStarted.open();
            await neverEnds.promise;
          }
          return { model: `gs://m/${ctx.attempt}` };
        },
        infer: (p: unknown) => p,
      },
    });
    harnesses.push(h);
  }, FIRESTORE_READY_MS);

  test('GIVEN the worker dies during train WHEN a new worker instance takes over THEN the run completes and infer runs once', async () => {
    const { runId } = await h.ledger.startRun({ payload: {} });
    await trainStarted.promise;
    // Past the dispatch deadline: the dead attempt's lease has expired when Cloud Tasks retries.
    clock.advance(16_000);
    // The process "dies": its server and connections go; a new instance (new Firestore client) starts on the port.
    await h.restartWorker();
    const run = await h.waitForRun(runId);
    expect(run.status).toBe('succeeded');
    expect(trainRuns).toBe(2);
    const train = run.steps.find((s) => s.step === 'train')!;
    expect(train).toMatchObject({ succeeded: 1, attempts: 2 });
    expect(train.shards[0].outputs).toEqual({});
    expect(h.callsOf('infer', runId)).toHaveLength(1);
    expect(h.callsOf('infer', runId)[0].payload).toEqual({ model: 'gs://m/2' });

    // The dead attempt's late completion (if its process had lived on) changes nothing: the first result stands.
    neverEnds.open();
    await new Promise((r) => setTimeout(r, 300));
    expect(h.callsOf('infer', runId)).toHaveLength(1);
    expect(tasksCreatedIn(h, 'infer')).toHaveLength(1);
  });
});
