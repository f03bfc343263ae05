/**
 * The example worker (what `npm run local` serves) on the worker SDK, end to end through the Cloud Tasks emulator
 * and Google's Firestore emulator: a payload with `shards` fans out, each shard records its artifact, the join gets
 * every parent message once per run, and a simulated failure is retried by the queue.
 */
import { buildRoutes } from '../../lib/core/routes';
import { exampleStepFunctions } from '../../lib/worker/example-worker';
import {
  FIRESTORE_READY_MS,
  PROJECT,
  REGION,
  startHarness,
  step,
  tasksCreatedIn,
  type Harness,
} from '../ledger/helpers';

const STEPS = [
  step('split', ['a', 'b']),
  step('a', ['merge']),
  step('b', ['merge']),
  step('merge', [], { dispatchDeadlineSeconds: 1800 }),
];
/** The step functions read only the graph of the routes, so routes built apart from the harness's will do. */
const GRAPH = buildRoutes({
  project: PROJECT,
  region: REGION,
  environment: 'test',
  pipeline: { name: 'example', steps: STEPS },
});

let h: Harness;
/** The example worker's draws: the first attempt of every step fails, the retries pass. */
let draws = 0;
/** The dispatch deadline of every task created, by step: what the worker SDK set on the tasks it enqueued. */
const deadlines = new Map<string, Set<number>>();
beforeAll(async () => {
  h = await startHarness({
    pipeline: 'example',
    steps: STEPS,
    onDispatch: (e, task, self) => {
      if (e.event !== 'created') return;
      const step = Object.keys(self.routes.steps).find((s) => self.routes.steps[s].queue === task.queueName)!;
      deadlines.set(step, new Set([...(deadlines.get(step) ?? []), task.dispatchDeadlineSeconds]));
    },
    handlers: exampleStepFunctions({
      routes: GRAPH,
      workMs: 1,
      failureRate: 0.5,
      random: () => (draws++ === 0 ? 0 : 1),
    }),
  });
}, FIRESTORE_READY_MS);
afterAll(() => h?.close());

test('GIVEN shards: 3 THEN each parent runs 3 shards, merge runs once with all 6 messages, every shard records its artifact', async () => {
  const { runId } = await h.ledger.startRun({ step: 'split', payload: { dataset: 'gs://acme-raw/x/', shards: 3 } });
  const run = await h.waitForRun(runId);
  expect(run.status).toBe('succeeded');
  const uri = (s: string, shard: string) => `gs://local-artifacts/example/${runId}/${s}/${shard}`;

  // The first attempt of split failed (the simulated failure) and the queue retried it.
  expect(run.steps[0]).toMatchObject({ step: 'split', succeeded: 1, attempts: 2 });
  expect(run.steps[0].outputs).toEqual([{ shard: '0', name: 'artifact', uri: uri('split', '0') }]);
  expect(h.callsOf('a', runId).map((c) => c.payload)).toEqual(
    expect.arrayContaining([0, 1, 2].map((part) => ({ input: uri('split', '0'), part, of: 3 }))),
  );
  const merge = h.callsOf('merge', runId);
  expect(merge).toHaveLength(1);
  expect(merge[0].payload).toEqual({
    a: ['0.0', '0.1', '0.2'].map((shard) => ({ input: uri('a', shard) })),
    b: ['0.0', '0.1', '0.2'].map((shard) => ({ input: uri('b', shard) })),
  });
  expect(tasksCreatedIn(h, 'merge')).toHaveLength(1);
  // Each task the worker enqueued carries its step's deadline from the routes (merge: 30 minutes, not the default 10).
  expect(deadlines).toEqual(
    new Map([
      ['split', new Set([60])],
      ['a', new Set([60])],
      ['b', new Set([60])],
      ['merge', new Set([1800])],
    ]),
  );
  expect(run.steps.find((s) => s.step === 'merge')!.outputs).toEqual([
    { shard: 'all', name: 'artifact', uri: uri('merge', 'all') },
  ]);
});

test('GIVEN a payload without shards THEN no split: the return value goes to every next step once', async () => {
  const { runId } = await h.ledger.startRun({ step: 'split', payload: { dataset: 'gs://acme-raw/y/' } });
  const run = await h.waitForRun(runId);
  expect(run.status).toBe('succeeded');
  expect(run.steps.map((s) => [s.step, s.succeeded])).toEqual([
    ['split', 1],
    ['a', 1],
    ['b', 1],
    ['merge', 1],
  ]);
  expect(h.callsOf('a', runId)[0].payload).toEqual({
    input: `gs://local-artifacts/example/${runId}/split/0`,
  });
});
