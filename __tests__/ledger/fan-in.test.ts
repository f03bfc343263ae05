/**
 * Fan-out and fan-in through the ledger, end to end: the Cloud Tasks emulator dispatches to a real worker
 * (createStepHandler) which records in Google's Firestore emulator. Each scenario has its own pipeline and project.
 */
import { PermanentError } from '../../lib/ledger/errors';
import type { StepContext } from '../../lib/worker/delivery';
import { FIRESTORE_READY_MS, gate, startHarness, step, tasksCreatedIn, type Harness } from './helpers';

const harnesses: Harness[] = [];
afterAll(() => Promise.all(harnesses.map((h) => h.close())));
const harness = async (...args: Parameters<typeof startHarness>) => {
  const h = await startHarness(...args);
  harnesses.push(h);
  return h;
};

describe('fan-out 1 -> 50 -> join', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness({
      pipeline: 'fanout',
      steps: [step('split', ['work']), step('work', ['merge']), step('merge', [], { join: 'all' })],
      handlers: {
        split: (p: { files: number }, ctx: StepContext) => {
          const files = Array.from({ length: p.files }, (_, i) => ({ file: `gs://acme-raw/part-${i}` }));
          ctx.fanOut('work', files);
        },
        work: (p: { file: string }, ctx: StepContext) => {
          ctx.output('features', `${p.file}.features`);
          return { rows: Number(p.file.split('-').pop()) };
        },
        merge: (p: { work: Array<{ rows: number }> }, ctx: StepContext) => {
          ctx.output('table', 'gs://acme-ml/merged');
          return { total: p.work.reduce((n, m) => n + m.rows, 0), parts: p.work.length };
        },
      },
    });
  }, FIRESTORE_READY_MS);

  test('GIVEN a split emitting 50 messages WHEN the run ends THEN work ran 50 times and merge exactly once, with all 50 messages in shard order', async () => {
    const { runId } = await h.ledger.startRun({ payload: { files: 50 } });
    const run = await h.waitForRun(runId);

    expect(run.status).toBe('succeeded');
    expect(h.callsOf('split', runId)).toHaveLength(1);
    const work = h.callsOf('work', runId);
    expect(new Set(work.map((c) => c.shard)).size).toBe(50);
    expect(work).toHaveLength(50);
    const merge = h.callsOf('merge', runId);
    expect(merge).toHaveLength(1);
    const rows = (merge[0].payload as { work: Array<{ rows: number }> }).work.map((m) => m.rows);
    expect(rows).toEqual(Array.from({ length: 50 }, (_, i) => i)); // 0.0, 0.1, ..., 0.49: natural shard order
    expect(tasksCreatedIn(h, 'merge')).toHaveLength(1);

    const [split, workStep, mergeStep] = run.steps;
    expect(split).toMatchObject({ step: 'split', state: 'complete', expected: 1, succeeded: 1 });
    expect(workStep).toMatchObject({ step: 'work', state: 'complete', expected: 50, succeeded: 50, failed: 0 });
    expect(workStep.outputs).toHaveLength(50);
    expect(mergeStep).toMatchObject({ step: 'merge', state: 'complete', expected: 1, succeeded: 1 });
    expect(mergeStep.outputs).toEqual([{ shard: 'all', name: 'table', uri: 'gs://acme-ml/merged' }]);
  });

  test('no ledger document is written more than a few times in the run (no counter document)', () => {
    // The run, each step and each claim: at most 3 writes (created, completed, ...); each shard: claim + done.
    expect(h.writes.max((p) => p.includes('/shards/'))).toBe(2);
    expect(h.writes.max()).toBeLessThanOrEqual(3);
  });

  test('GIVEN a split that fans out over nothing WHEN the run ends THEN work and merge are skipped and the run succeeded', async () => {
    const { runId } = await h.ledger.startRun({ payload: { files: 0 } });
    const run = await h.waitForRun(runId);
    expect(run.status).toBe('succeeded');
    expect(run.steps.map((s) => [s.step, s.state])).toEqual([
      ['split', 'complete'],
      ['work', 'skipped'],
      ['merge', 'skipped'],
    ]);
    expect(h.callsOf('merge', runId)).toHaveLength(0);
  });
});

describe('diamond: ingest -> [featurize-a, featurize-b] -> train -> evaluate', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness({
      pipeline: 'diamond',
      steps: [
        step('ingest', ['featurize-a', 'featurize-b']),
        step('featurize-a', ['train']),
        step('featurize-b', ['train']),
        step('train', ['evaluate']), // two parents: join all by default
        step('evaluate'),
      ],
      handlers: {
        ingest: (p: { dataset: string }) => ({ rows: `${p.dataset}/rows` }),
        'featurize-a': (p: { rows: string }) => ({ features: `${p.rows}/a` }),
        'featurize-b': (p: { rows: string }) => ({ features: `${p.rows}/b` }),
        train: (p: Record<string, Array<{ features: string }>>, ctx: StepContext) => {
          ctx.output('model', `gs://acme-ml/models/${ctx.runId}`);
          return {
            model: `gs://acme-ml/models/${ctx.runId}`,
            inputs: [p['featurize-a'][0].features, p['featurize-b'][0].features],
          };
        },
        evaluate: (p: { model: string }) => ({ auc: 0.91, model: p.model }),
      },
    });
  }, FIRESTORE_READY_MS);

  test('GIVEN three concurrent runs THEN train and evaluate run exactly once per run, train with both parents’ messages', async () => {
    const runs = await Promise.all(
      ['d1', 'd2', 'd3'].map((runId) => h.ledger.startRun({ runId, payload: { dataset: `gs://acme-raw/${runId}` } })),
    );
    for (const { runId } of runs) {
      const run = await h.waitForRun(runId);
      expect(run.status).toBe('succeeded');
      for (const s of ['ingest', 'featurize-a', 'featurize-b', 'train', 'evaluate'])
        expect([s, h.callsOf(s, runId).length]).toEqual([s, 1]);
      expect(h.callsOf('train', runId)[0].payload).toEqual({
        'featurize-a': [{ features: `gs://acme-raw/${runId}/rows/a` }],
        'featurize-b': [{ features: `gs://acme-raw/${runId}/rows/b` }],
      });
      expect(run.steps.find((s) => s.step === 'train')).toMatchObject({ join: 'all', expected: 1, succeeded: 1 });
    }
    expect(tasksCreatedIn(h, 'train')).toHaveLength(3);
    expect(tasksCreatedIn(h, 'evaluate')).toHaveLength(3);
  });
});

describe('concurrent completion of the last two shards', () => {
  let h: Harness;
  const arrived = new Map<string, number>();
  const barriers = new Map<string, ReturnType<typeof gate>>();
  beforeAll(async () => {
    h = await harness({
      pipeline: 'lasttwo',
      steps: [step('split', ['work']), step('work', ['merge']), step('merge', [], { join: 'all' })],
      handlers: {
        split: (_p, ctx: StepContext) => {
          ctx.emit('work', { n: 1 });
          ctx.emit('work', { n: 2 });
        },
        // Both shards wait for each other, then finish in the same tick: their completions race.
        work: async (p: { n: number }, ctx: StepContext) => {
          const b = barriers.get(ctx.runId) ?? barriers.set(ctx.runId, gate()).get(ctx.runId)!;
          arrived.set(ctx.runId, (arrived.get(ctx.runId) ?? 0) + 1);
          if (arrived.get(ctx.runId) === 2) b.open();
          await b.promise;
          return p;
        },
        merge: (p: unknown) => p,
      },
    });
  }, FIRESTORE_READY_MS);

  test('GIVEN ten runs whose two shards finish at the same instant THEN each run gets exactly one join task', async () => {
    const ids = Array.from({ length: 10 }, (_, i) => `race-${i}`);
    await Promise.all(ids.map((runId) => h.ledger.startRun({ runId, payload: null })));
    for (const runId of ids) {
      expect((await h.waitForRun(runId)).status).toBe('succeeded');
      expect(h.callsOf('merge', runId)).toHaveLength(1);
      expect(h.callsOf('merge', runId)[0].payload).toEqual({ work: [{ n: 1 }, { n: 2 }] });
    }
    expect(tasksCreatedIn(h, 'merge')).toHaveLength(10);
    // Both completions saw 2 of 2 shards done at least sometimes; the claim let one of them through each time.
    const joins = h.events.filter((e) => e.type === 'join-task-created');
    expect(joins).toHaveLength(10);
  });
});

describe('a join:all step too large for one task', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness({
      pipeline: 'toolarge',
      steps: [step('split', ['work']), step('work', ['merge']), step('merge', [], { join: 'all' })],
      handlers: {
        split: (_p, ctx: StepContext) => {
          for (let i = 0; i < 3; i++) ctx.emit('work', { i });
        },
        work: () => ({ blob: 'x'.repeat(400_000) }),
        merge: () => {
          throw new PermanentError('never called');
        },
      },
    });
  }, FIRESTORE_READY_MS);

  test('THEN the run fails at the join with the size and the advice to emit URIs', async () => {
    const { runId } = await h.ledger.startRun({ payload: null });
    const run = await h.waitForRun(runId);
    expect(run.status).toBe('failed');
    expect(run.failure).toMatchObject({ step: 'merge', kind: 'message-too-large' });
    expect(run.failure?.reason).toMatch(/a Cloud Tasks task holds at most 1 MB .*Emit URIs/);
    expect(h.callsOf('merge')).toHaveLength(0);
  });
});

describe('a shard whose message and results do not fit in one ledger document together', () => {
  let h: Harness;
  const big = (c: string) => ({ blob: c.repeat(600_000) });
  beforeAll(async () => {
    h = await harness({
      pipeline: 'bigmsg',
      steps: [step('a', ['b']), step('b', ['c']), step('c')],
      handlers: { a: () => big('a'), b: () => big('b'), c: (p: { blob: string }) => ({ size: p.blob.length }) },
    });
  }, FIRESTORE_READY_MS);

  test('THEN the done shard drops the message it received (its parent keeps it) and the run goes on', async () => {
    const { runId } = await h.ledger.startRun({ payload: null });
    const run = await h.waitForRun(runId);
    expect(run.status).toBe('succeeded');
    const b = await h.ledger.engine.store.getShard(runId, 'b', '0.0');
    expect(b).toMatchObject({ state: 'done', messageNote: expect.stringMatching(/^dropped when the shard completed/) });
    expect(b!.message).toBeUndefined();
    expect(h.callsOf('c', runId)).toHaveLength(1);
  });
});
