/**
 * Failures and steering: a permanent failure stops its run (the other branch is not started afterwards), a spent
 * retry budget fails it the same way, a re-drive finishes a failed run without redoing completed work, and a cancel
 * stops a running one and deletes its waiting tasks.
 */
import { PermanentError } from '../../lib/ledger/errors';
import { RunSteeringError } from '../../lib/ledger/steering';
import type { StepContext } from '../../lib/worker/delivery';
import { FIRESTORE_READY_MS, eventually, gate, startHarness, step, tasksCreatedIn, type Harness } from './helpers';

const harnesses: Harness[] = [];
afterAll(() => Promise.all(harnesses.map((h) => h.close())));

const diamond = [
  step('ingest', ['featurize-a', 'featurize-b']),
  step('featurize-a', ['train']),
  step('featurize-b', ['train']),
  step('train', ['evaluate']),
  step('evaluate'),
];

describe('a failed step stops its run', () => {
  let h: Harness;
  const slowB = gate();
  let failA = true;
  beforeAll(async () => {
    h = await startHarness({
      pipeline: 'failing',
      steps: diamond,
      handlers: {
        ingest: (p: unknown) => p,
        'featurize-a': (p: { dataset: string }) => {
          if (failA) throw new PermanentError(`no rows in ${p.dataset}`);
          return { features: 'gs://f/a' };
        },
        // featurize-b finishes only after featurize-a failed: its completion must not start train.
        'featurize-b': async () => {
          await slowB.promise;
          return { features: 'gs://f/b' };
        },
        train: (p: unknown) => p,
        evaluate: () => ({ auc: 0.9 }),
      },
    });
    harnesses.push(h);
  }, FIRESTORE_READY_MS);

  test('GIVEN featurize-a throws PermanentError THEN the run fails with its reason and train never starts', async () => {
    const { runId } = await h.ledger.startRun({ runId: 'bad-input', payload: { dataset: 'gs://acme-raw/empty' } });
    const failed = await h.waitForRun(runId, ['failed']);
    expect(failed.failure).toEqual({
      step: 'featurize-a',
      shard: '0.0',
      kind: 'permanent',
      reason: 'no rows in gs://acme-raw/empty',
    });
    slowB.open();
    await eventually(async () => (await h.ledger.getRun(runId))!.steps[2].succeeded === 1, 'featurize-b done');
    await new Promise((r) => setTimeout(r, 300));

    const run = (await h.ledger.getRun(runId))!;
    expect(run.status).toBe('failed');
    expect(run.steps.map((s) => [s.step, s.state])).toEqual([
      ['ingest', 'complete'],
      ['featurize-a', 'failed'],
      ['featurize-b', 'open'], // its shard is done; the step is not completed while the run is failed
      ['train', 'pending'],
      ['evaluate', 'pending'],
    ]);
    expect(h.callsOf('featurize-a', runId)).toHaveLength(1); // a PermanentError is not retried
    expect(h.callsOf('train', runId)).toHaveLength(0);
    expect(tasksCreatedIn(h, 'train')).toHaveLength(0);
    // The permanent failure was answered 2xx, so Cloud Tasks stopped.
    const aQueue = h.routes.steps['featurize-a'].queue;
    expect(h.dispatches.filter((d) => d.e.queue === aQueue).map((d) => [d.e.event, d.e.status])).toContainEqual([
      'succeeded',
      200,
    ]);
  });

  test('WHEN the failed run is re-driven THEN featurize-a runs again, train and evaluate once, done work is not redone', async () => {
    failA = false;
    const result = await h.ledger.retryRun('bad-input');
    expect(result).toEqual({ runId: 'bad-input', generation: 1, requeued: [{ step: 'featurize-a', shard: '0.0' }] });
    const run = await h.waitForRun('bad-input', ['succeeded', 'failed']);

    expect(run.status).toBe('succeeded');
    expect(run.redrives).toBe(1);
    expect(h.callsOf('ingest', 'bad-input')).toHaveLength(1);
    expect(h.callsOf('featurize-a', 'bad-input')).toHaveLength(2);
    expect(h.callsOf('featurize-b', 'bad-input')).toHaveLength(1);
    expect(h.callsOf('train', 'bad-input')).toHaveLength(1);
    expect(h.callsOf('evaluate', 'bad-input')).toHaveLength(1);
    const a = run.steps.find((s) => s.step === 'featurize-a')!;
    expect(a.shards[0]).toMatchObject({ state: 'done', attempts: 2, generation: 1 });
  });

  test('a run that is not failed cannot be re-driven, and a finished one cannot be cancelled', async () => {
    await expect(h.ledger.retryRun('bad-input')).rejects.toThrow(
      new RunSteeringError('run bad-input is succeeded; only a failed run can be re-driven'),
    );
    await expect(h.ledger.cancelRun('bad-input')).rejects.toThrow(/is succeeded; only a running run can be cancelled/);
    await expect(h.ledger.retryRun('no-such-run')).rejects.toThrow(
      /run no-such-run does not exist in stack failing-test/,
    );
  });
});

describe('a spent retry budget fails the run', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      pipeline: 'exhausted',
      steps: [
        step('prep', ['train']),
        step('train', [], {
          retry: { maxAttempts: 3, minBackoffSeconds: 0.05, maxBackoffSeconds: 0.05, maxDoublings: 0 },
        }),
      ],
      handlers: {
        prep: (p: unknown) => p,
        train: () => {
          throw new Error('CUDA out of memory');
        },
      },
    });
    harnesses.push(h);
  }, FIRESTORE_READY_MS);

  test('GIVEN train fails on each of its 3 attempts THEN the third failure fails the run, with the attempts in the ledger', async () => {
    const { runId } = await h.ledger.startRun({ payload: {} });
    const run = await h.waitForRun(runId, ['failed']);
    expect(h.callsOf('train', runId).map((c) => c.attempt)).toEqual([1, 2, 3]);
    expect(run.failure).toMatchObject({ step: 'train', shard: '0.0', kind: 'attempts-exhausted' });
    expect(run.failure!.reason).toBe("CUDA out of memory (attempt 3: the queue's retry budget is spent)");
    const train = run.steps.find((s) => s.step === 'train')!;
    expect(train).toMatchObject({ state: 'failed', failed: 1, attempts: 3 });
    expect(train.shards[0].error).toEqual({
      message: "CUDA out of memory (attempt 3: the queue's retry budget is spent)",
      final: true,
      attempt: 3,
    });
    await eventually(
      () => h.dispatches.some((d) => d.e.event === 'gave-up' && d.e.queue === h.routes.steps.train.queue),
      'Cloud Tasks giving up too',
    );
  });
});

describe('cancel of a running run', () => {
  let h: Harness;
  const release = gate();
  const first = gate();
  beforeAll(async () => {
    h = await startHarness({
      pipeline: 'cancelling',
      steps: [step('split', ['work']), step('work', ['merge']), step('merge', [], { join: 'all' })],
      rateLimits: { work: { maxConcurrentDispatches: 1 } },
      handlers: {
        split: (_p, ctx: StepContext) => ctx.fanOut('work', [1, 2, 3, 4, 5]),
        work: async (n: number) => {
          first.open();
          await release.promise;
          return n;
        },
        merge: (p: unknown) => p,
      },
    });
    harnesses.push(h);
  }, FIRESTORE_READY_MS);

  test('GIVEN one work shard in flight and four waiting WHEN the run is cancelled THEN its tasks are deleted and nothing follows', async () => {
    const { runId } = await h.ledger.startRun({ payload: null });
    await first.promise;
    await eventually(() => tasksCreatedIn(h, 'work').length === 5, 'the five work tasks');

    const result = await h.ledger.cancelRun(runId);
    // The four waiting tasks and the one being dispatched (Cloud Tasks deletes a task that is dispatched, too).
    expect(result.deleted).toBe(5);
    expect(h.emulator.state.tasksOf(h.routes.steps.work.queue)).toHaveLength(0);
    // The attempt in flight finishes its work; the run being cancelled, nothing is started after it.
    release.open();
    await eventually(async () => (await h.ledger.getRun(runId))!.steps[1].succeeded === 1, 'the in-flight shard done');
    await new Promise((r) => setTimeout(r, 300));

    const run = (await h.ledger.getRun(runId))!;
    expect(run.status).toBe('cancelled');
    expect(h.callsOf('work', runId)).toHaveLength(1);
    expect(h.callsOf('merge', runId)).toHaveLength(0);
    expect(tasksCreatedIn(h, 'merge')).toHaveLength(0);
  });

  test('GIVEN a cancelled run WHEN one of its tasks still arrives THEN the worker skips it with 2xx', async () => {
    const [run] = await h.ledger.listRuns({ status: 'cancelled' });
    const late = await fetch(h.workerUrl, { method: 'POST' }).catch(() => undefined);
    expect(late?.status).toBe(400); // not a Cloud Tasks request: no X-CloudTasks-* headers
    // A real late delivery: a task of the cancelled run, created again after the cancel.
    const { createStepTask } = await import('../../lib/ledger/tasks');
    await createStepTask(h.tasks as never, h.routes, {
      runId: run.runId,
      step: 'work',
      shard: '0.4',
      generation: 7,
      payloadJson: '5',
    });
    await eventually(() => h.emulator.state.tasksOf(h.routes.steps.work.queue).length === 0, 'the late task answered');
    expect(h.callsOf('work', run.runId)).toHaveLength(1);
    const skipped = h.logLines.map((l) => JSON.parse(l)).filter((l) => l.event === 'delivery-skipped');
    expect(skipped.at(-1)).toMatchObject({ message: `skipped: run ${run.runId} is cancelled; no work done` });
  });
});
