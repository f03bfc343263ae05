/**
 * Stall detection and the readers, on a clock moved by hand: a run whose task Cloud Tasks lost is reported (and
 * recorded once) as `failed: stalled at <step>` once its retry budget has passed; a run scheduled for later is not.
 */
import type { Firestore } from '@google-cloud/firestore';
import { createLedger, type Ledger } from '../../lib/ledger/index';
import type { LedgerTasksClient } from '../../lib/ledger/tasks';
import { ManualClock } from '../../lib/emulator/clock';
import { FIRESTORE_READY_MS, WriteCounter, routesFor, step, testFirestore } from './helpers';

/** Accepts every task and sends none: Cloud Tasks dropping them after their last attempt, without a word. */
class LosingTasksClient implements LedgerTasksClient {
  readonly created: Array<{ parent: string; task: Record<string, unknown> }> = [];
  async createTask(request: { parent: string; task: Record<string, unknown> }) {
    this.created.push(request);
    return [request.task];
  }
  async deleteTask() {
    return [{}];
  }
}

// 3 attempts of at most 15 s, 10 s apart: Cloud Tasks gives up 15 + 10 + 15 + 10 + 15 = 65 s after the first.
const retry = { maxAttempts: 3, minBackoffSeconds: 10, maxBackoffSeconds: 10, maxDoublings: 0 };

let firestore: Firestore;
let ledger: Ledger;
// Time stands still unless moved: the budget's edges are tested to the second.
const clock = new ManualClock(Date.UTC(2030, 0, 1));
const tasks = new LosingTasksClient();
const writes = new WriteCounter();
beforeAll(async () => {
  const fs = await testFirestore('stall');
  firestore = fs.firestore;
  const routes = routesFor(
    'stalling',
    [step('extract', ['load'], { retry, dispatchDeadlineSeconds: 15 }), step('load', [], { retry })],
    fs.project,
  );
  ledger = createLedger({ routes, firestore, tasks, clock, onWrite: writes.onWrite });
}, FIRESTORE_READY_MS);
afterAll(() => firestore?.terminate());

test('GIVEN a run whose first task was lost THEN it is running until its budget has passed, then failed: stalled at extract', async () => {
  const { runId } = await ledger.startRun({ runId: 'lost-1', payload: { day: '2030-01-01' } });
  expect((await ledger.getRun(runId))!.status).toBe('running');

  clock.advance(64_000);
  expect((await ledger.getRun(runId))!.status).toBe('running');
  expect((await ledger.listRuns())[0]).toMatchObject({ runId, status: 'running' });

  clock.advance(2_000);
  const run = (await ledger.getRun(runId))!;
  expect(run.status).toBe('failed');
  expect(run.failure).toMatchObject({ step: 'extract', kind: 'stalled' });
  expect(run.failure!.reason).toMatch(
    /^stalled at extract: no progress since .* \(66 s\), longer than Cloud Tasks keeps retrying a task of this step \(65 s: retry budget plus dispatch deadline\)/,
  );
  expect(run.steps[0]).toMatchObject({ step: 'extract', state: 'failed' });
});

test('the stall is recorded once: later readers report it without writing again', async () => {
  const runPath = [...writes.counts.keys()].find((p) => p.endsWith('/runs/lost-1'))!;
  expect(writes.counts.get(runPath)).toBe(2); // created, then failed
  clock.advance(60_000);
  const [listed] = await ledger.listRuns({ status: 'failed' });
  expect(listed).toMatchObject({ runId: 'lost-1', status: 'failed', failure: { kind: 'stalled' } });
  await ledger.getRun('lost-1');
  expect(writes.counts.get(runPath)).toBe(2);
});

test('listRuns finds a stalled run itself, so a dead run is never listed as running', async () => {
  await ledger.startRun({ runId: 'lost-2', payload: {} });
  clock.advance(70_000);
  expect(await ledger.listRuns({ status: 'running' })).toEqual([]);
  const [latest] = await ledger.listRuns({ limit: 1 });
  expect(latest).toMatchObject({ runId: 'lost-2', status: 'failed', failure: { step: 'extract', kind: 'stalled' } });
});

test('GIVEN a run whose first task is scheduled an hour ahead THEN it is not stalled before that hour and its budget', async () => {
  const at = new Date(clock.now() + 3_600_000);
  const { runId } = await ledger.startRun({ runId: 'scheduled', payload: {}, scheduleTime: at });
  const sent = tasks.created.at(-1)!.task as { scheduleTime: { seconds: number } };
  expect(sent.scheduleTime.seconds).toBe(Math.floor(at.getTime() / 1000));
  clock.advance(3_600_000);
  expect((await ledger.getRun(runId))!.status).toBe('running');
  clock.advance(66_000);
  expect((await ledger.getRun(runId))!.status).toBe('failed');
});

test('WHEN a stalled run is re-driven THEN its lost task is sent again under a new generation’s name', async () => {
  const before = tasks.created.length;
  const result = await ledger.retryRun('lost-1');
  expect(result).toEqual({ runId: 'lost-1', generation: 1, requeued: [{ step: 'extract', shard: '0' }] });
  const [again] = tasks.created.slice(before);
  const body = JSON.parse(Buffer.from((again.task.httpRequest as { body: Buffer }).body).toString());
  expect(body).toMatchObject({
    runId: 'lost-1',
    step: 'extract',
    shard: '0',
    generation: 1,
    payload: { day: '2030-01-01' },
  });
  expect(again.task.name).not.toBe(tasks.created[0].task.name);
  const run = (await ledger.getRun('lost-1'))!;
  expect(run).toMatchObject({ status: 'running', redrives: 1 });
  expect(run.failure).toBeUndefined();
});
