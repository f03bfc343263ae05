/**
 * runJobStep (lib/worker/job-step.ts) against Google's Firestore emulator, in process: each task of an execution is a
 * shard of its step, claimed per run, step and index, so a duplicated execution or a retried task does the work once;
 * the last shard completes the step and starts what follows once; a task failing on its last retry fails the step and
 * the run with the execution's name; a job that never reports is stalled; a re-drive re-runs only what failed.
 */
import type { Firestore } from '@google-cloud/firestore';
import { createLedger, type Ledger } from '../../lib/ledger/index';
import { ledgerTaskName } from '../../lib/ledger/tasks';
import { ManualClock } from '../../lib/emulator/clock';
import { readJobRequest } from '../../lib/core/job-requests';
import { jobTaskEnv } from '../../lib/core/job-env';
import type { PipelineRoutes } from '../../lib/core/routes';
import { runJobStep, type JobStepResult } from '../../lib/worker/job-step';
import type { StepContext, StepFunction } from '../../lib/worker/delivery';
import { PermanentError } from '../../lib/ledger/errors';
import { FIRESTORE_READY_MS, routesFor, step, testFirestore } from '../ledger/helpers';
import { RecordingTasksClient, cloudRunJobStep, cloudRunTaskEnv, vertexStep } from './job-helpers';

let firestore: Firestore;
let routes: PipelineRoutes;
let ledger: Ledger;
const tasks = new RecordingTasksClient();
const clock = new ManualClock(Date.UTC(2030, 0, 1));
const logs: string[] = [];

beforeAll(async () => {
  const fs = await testFirestore('jobstep');
  firestore = fs.firestore;
  routes = routesFor(
    'jobs',
    [
      cloudRunJobStep('train', ['score'], { taskCount: 3, maxRetries: 1, timeoutSeconds: 600 }),
      step('score'),
      vertexStep('fit', [], 2),
    ],
    fs.project,
  );
  ledger = createLedger({ routes, firestore, tasks, clock });
}, FIRESTORE_READY_MS);
afterAll(() => firestore?.terminate());

/** The body of the job request the ledger created for the run's first task of `stepName`. */
function startBody(runId: string, stepName = 'train', generation = 0, shard = '0'): string {
  const name = ledgerTaskName(routes, runId, stepName, shard, generation);
  const task = tasks.tasks.find((t) => t.name === name);
  if (!task) throw new Error(`no task ${name}`);
  return task.body;
}

interface Call {
  readonly shard: string;
  readonly attempt: number;
  readonly job: StepContext['job'];
}

/** One task of an execution, in process. */
function runTask(body: string, execution: string, index: number, fn: StepFunction, attempt = 0, count?: number) {
  return runJobStep(fn, {
    env: cloudRunTaskEnv(body, execution, index, attempt, count),
    ledger,
    log: (l) => logs.push(l),
    setExitCode: false,
  });
}

function recording(calls: Call[], result: (ctx: StepContext) => unknown = (ctx) => ({ part: ctx.job!.index })) {
  return ((_payload: unknown, ctx: StepContext) => {
    calls.push({ shard: ctx.shard, attempt: ctx.attempt, job: ctx.job });
    return result(ctx);
  }) as StepFunction;
}

const exitCodes = (results: JobStepResult[]) => results.map((r) => r.exitCode);

test('GIVEN a run started at a 3-task job step THEN its task carries the RunJobRequest of that run', async () => {
  await ledger.startRun({ step: 'train', runId: 'r1', payload: { dataset: 'gs://acme/2030-01-01/' } });
  const launch = readJobRequest('cloudRunJob', startBody('r1'));
  expect(launch.count).toBe(3);
  expect(JSON.parse(launch.env.PIPELINE_MESSAGE)).toMatchObject({ runId: 'r1', step: 'train', shard: '0' });
  expect((await ledger.getRun('r1'))!.steps[0]).toMatchObject({ step: 'train', state: 'open', expected: 3 });
});

test('WHEN its 3 tasks run THEN each does its part once and score starts once, after the last, with all 3', async () => {
  const calls: Call[] = [];
  const results = await Promise.all(
    [0, 1, 2].map((i) => runTask(startBody('r1'), 'train-job-aaaaa', i, recording(calls))),
  );
  expect(exitCodes(results)).toEqual([0, 0, 0]);
  expect(calls.map((c) => c.shard).sort()).toEqual(['0#0', '0#1', '0#2']);
  expect(calls.map((c) => c.job)).toContainEqual({
    platform: 'cloudRunJob',
    execution: 'train-job-aaaaa',
    index: 1,
    count: 3,
    attempt: 0,
  });
  const score = tasks.in(routes.steps.score.queue);
  expect(score).toHaveLength(1);
  expect(JSON.parse(score[0].body)).toMatchObject({
    runId: 'r1',
    step: 'score',
    shard: 'all',
    payload: { train: [{ part: 0 }, { part: 1 }, { part: 2 }] },
  });
  const run = (await ledger.getRun('r1'))!;
  expect(run.steps[0]).toMatchObject({ state: 'complete', expected: 3, succeeded: 3 });
});

test('WHEN the :run was delivered twice (a second execution) THEN its tasks find their shards done and do no work', async () => {
  const calls: Call[] = [];
  const results = await Promise.all(
    [0, 1, 2].map((i) => runTask(startBody('r1'), 'train-job-bbbbb', i, recording(calls))),
  );
  expect(exitCodes(results)).toEqual([0, 0, 0]);
  expect(results.map((r) => r.outcome?.kind)).toEqual(['duplicate', 'duplicate', 'duplicate']);
  expect(calls).toEqual([]);
  expect(tasks.in(routes.steps.score.queue)).toHaveLength(1);
});

test('GIVEN a task that fails once WHEN Cloud Run retries it THEN the retry takes over and the shard is done once', async () => {
  await ledger.startRun({ step: 'train', runId: 'r2', payload: {} });
  const calls: Call[] = [];
  let failed = false;
  const flaky = recording(calls, (ctx) => {
    if (ctx.job!.index === 1 && !failed) {
      failed = true;
      throw new Error('CUDA out of memory');
    }
    return { part: ctx.job!.index };
  });
  const first = await Promise.all([0, 1, 2].map((i) => runTask(startBody('r2'), 'train-job-ccccc', i, flaky)));
  expect(exitCodes(first)).toEqual([0, 1, 0]);
  expect((await ledger.getRun('r2'))!.status).toBe('running');
  const retry = await runTask(startBody('r2'), 'train-job-ccccc', 1, flaky, 1);
  expect(retry.exitCode).toBe(0);
  expect(calls.filter((c) => c.shard === '0#1').map((c) => c.attempt)).toEqual([1, 2]);
  const run = (await ledger.getRun('r2'))!;
  expect(run.steps[0]).toMatchObject({ state: 'complete', succeeded: 3 });
});

test('GIVEN a task whose earlier attempt died holding its lease THEN its retry takes it over; another execution waits', async () => {
  await ledger.startRun({ step: 'train', runId: 'r3', payload: {} });
  // Attempt 0 of task 0 claimed its shard and its container was stopped before it reported.
  await ledger.engine.claimShard({
    runId: 'r3',
    step: 'train',
    shard: '0#0',
    generation: 0,
    messageJson: '{}',
    leaseOwner: 'train-job-ddddd/tasks/0/0',
  });
  const calls: Call[] = [];
  const other = await runTask(startBody('r3'), 'train-job-eeeee', 0, recording(calls));
  expect(other).toMatchObject({ exitCode: 0, outcome: { kind: 'busy' } });
  expect(calls).toEqual([]);
  const own = await runTask(startBody('r3'), 'train-job-ddddd', 0, recording(calls), 1);
  expect(own).toMatchObject({ exitCode: 0, outcome: { kind: 'done', attempt: 2 } });
});

test('GIVEN a task that fails on its last retry THEN the shard, step and run fail with the execution name; a re-drive re-runs it alone', async () => {
  await ledger.startRun({ step: 'train', runId: 'r4', payload: {} });
  const calls: Call[] = [];
  const broken = recording(calls, (ctx) => {
    if (ctx.job!.index === 0) throw new Error('loss is NaN');
    return { part: ctx.job!.index };
  });
  const attempt0 = await Promise.all([0, 1, 2].map((i) => runTask(startBody('r4'), 'train-job-fffff', i, broken)));
  expect(exitCodes(attempt0)).toEqual([1, 0, 0]);
  const last = await runTask(startBody('r4'), 'train-job-fffff', 0, broken, 1);
  expect(last.exitCode).toBe(1);
  const failed = (await ledger.getRun('r4'))!;
  expect(failed.status).toBe('failed');
  expect(failed.failure).toEqual({
    step: 'train',
    shard: '0#0',
    kind: 'attempts-exhausted',
    reason: "loss is NaN (execution train-job-fffff, task 0 of 3, attempt 2: the job's maxRetries (1) is spent)",
  });
  // Another retry of that task (Cloud Run would not send one) finds the shard failed: the execution fails too.
  expect((await runTask(startBody('r4'), 'train-job-fffff', 0, broken, 1)).exitCode).toBe(1);

  const redrive = await ledger.retryRun('r4');
  expect(redrive.requeued).toEqual([{ step: 'train', shard: '0#0' }]);
  const body = startBody('r4', 'train', 1);
  const fixed = recording(calls);
  const rerun = await Promise.all([0, 1, 2].map((i) => runTask(body, 'train-job-ggggg', i, fixed)));
  expect(rerun.map((r) => r.outcome?.kind)).toEqual(['done', 'duplicate', 'duplicate']);
  expect((await ledger.getRun('r4'))!.status).toBe('running'); // score's join task was created; the run goes on
  expect(tasks.in(routes.steps.score.queue).filter((t) => t.body.includes('"runId":"r4"'))).toHaveLength(1);
});

test('GIVEN an execution with another task count THEN the run fails at once with what to fix', async () => {
  await ledger.startRun({ step: 'train', runId: 'r5', payload: {} });
  const result = await runTask(startBody('r5'), 'train-job-hhhhh', 0, recording([]), 0, 5);
  expect(result.exitCode).toBe(1);
  expect((await ledger.getRun('r5'))!.failure?.reason).toMatch(
    /^the execution train-job-hhhhh runs 5 tasks but step train expects 3 \(its taskCount in the spec\)/,
  );
});

test('GIVEN a task without PIPELINE_MESSAGE or outside a job THEN it exits 1 saying how runs start', async () => {
  const env = {
    ...jobTaskEnv({ platform: 'cloudRunJob', job: 'train-job' }, 'x', 0, 3, 0),
    CLOUD_TASKS_PIPELINE_ROUTES: JSON.stringify(routes),
  };
  const noMessage = await runJobStep(recording([]), { env, ledger, log: () => undefined, setExitCode: false });
  expect(noMessage).toMatchObject({
    exitCode: 1,
    error: expect.stringMatching(/^PIPELINE_MESSAGE is not set: start runs through the step's queue/),
  });
  const plain = await runJobStep(recording([]), {
    env: { ...env, PIPELINE_MESSAGE: '{"dataset":"x"}' },
    ledger,
    log: () => undefined,
    setExitCode: false,
  });
  expect(plain.error).toMatch(/^PIPELINE_MESSAGE is not a task envelope/);
  const outside = await runJobStep(recording([]), {
    env: { PIPELINE_MESSAGE: '{}' },
    ledger,
    log: () => undefined,
    setExitCode: false,
  });
  expect(outside.error).toMatch(/not a Cloud Run job task .* nor a Vertex AI replica/);
});

test('GIVEN a Vertex step of 2 replicas THEN each replica is a shard, and a failure is final at once', async () => {
  await ledger.startRun({ step: 'fit', runId: 'v1', payload: { lr: 0.1 } });
  const launch = readJobRequest('vertexAI', startBody('v1', 'fit'));
  expect(launch.count).toBe(2);
  const calls: Call[] = [];
  const replica = (i: number, fn: StepFunction) =>
    runJobStep(fn, {
      env: { ...launch.env, ...jobTaskEnv({ platform: 'vertexAI', replicaCount: 2 }, '4242', i, 2, 0) },
      ledger,
      log: () => undefined,
      setExitCode: false,
    });
  const results = await Promise.all([
    replica(0, recording(calls)),
    replica(1, () => {
      throw new PermanentError('bad learning rate');
    }),
  ]);
  expect(exitCodes(results)).toEqual([0, 1]);
  expect((await ledger.getRun('v1'))!.failure).toMatchObject({
    shard: '0#1',
    kind: 'permanent',
    reason: 'bad learning rate (custom job 4242, task 1 of 2, attempt 1: Vertex AI does not retry a replica)',
  });
});

test('GIVEN a job that never reports THEN the run is stalled after the call budget, the longest execution and a margin', async () => {
  await ledger.startRun({ step: 'train', runId: 'r6', payload: {} });
  // The API call's retry budget, then 3 tasks at once of up to 2 attempts of 600 s, and 600 s to start.
  const { stallBudgetSeconds } = require('../../lib/ledger/stall') as typeof import('../../lib/ledger/stall');
  const budget = stallBudgetSeconds(routes.steps.train);
  clock.advance(budget * 1000);
  expect((await ledger.getRun('r6'))!.status).toBe('running');
  clock.advance(2000);
  const run = (await ledger.getRun('r6'))!;
  expect(run.status).toBe('failed');
  expect(run.failure!.reason).toMatch(
    /^stalled at train: .*longer than this step can take \(\d[\d,]* s: the API call's retry budget, the job's longest run and a start margin\); its job never reported/,
  );
});
