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
      // The first dispatch of every task gets a twin: the same request in the same queue, under another name, sent
      // while the original may still be running (Cloud Tasks' at-least-once delivery, made certain).
      onDispatch: (e, task, self) => {
        if (e.event !== 'dispatched' || e.attempt !== 1 || task.taskId.startsWith('dup-') || copied.has(task.name))
          return;
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
    const run = await h.waitForRun(runId, ['succeeded', 'failed'], 30_000);
    await eventually(
      () =>
        h.emulator.dispatcher!.inFlight === 0 &&
        h.emulator.state.queues().every((q) => h.emulator.state.tasksOf(q.name).length === 0),
      'every duplicate answered',
      30_000,
    );

    expect(run.status).toBe('succeeded');
    for (const s of Object.keys(diamondHandlers)) expect([s, h.callsOf(s, runId).length]).toEqual([s, 1]);
    expect(copied.size).toBe(5); // one twin per step's task
    // The twins were answered 2xx (duplicate) or 503 while the original held the lease, then 2xx.
    const twins = h.dispatches.filter((d) => d.e.task.startsWith('dup-') && d.e.event === 'succeeded');
    expect(twins).toHaveLength(5);
    expect(tasksCreatedIn(h, 'train').filter((t) => !t.startsWith('dup-'))).toHaveLength(1);
    expect(run.steps.map((s) => s.attempts)).toEqual([1, 1, 1, 1, 1]);
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
    const trainDispatches = h.dispatches.filter((d) => d.e.queue === trainQueue && d.e.event === 'dispatched');
    expect(trainDispatches.length).toBe(2); // the lost answer, then the retry
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
