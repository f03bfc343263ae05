/**
 * The local stand-in for the Run and Vertex APIs (lib/apps/local/job-stand-in.ts), reached through the Cloud Tasks
 * emulator's routing exactly as `npm run local` sets it up (localHttpTarget: the synthesized uri_override with this
 * machine's host), with the run ledger on Google's Firestore emulator:
 *   - a job whose task 1 crashes once: Cloud Run's retry (a real child process) does it, each shard's work happens once;
 *   - the :run call delivered twice: two executions, exactly one does each shard's work;
 *   - a 10-task job at most 4 at a time, followed by a join that runs once with the 10 messages;
 *   - what the stand-in answers when Google would refuse the call.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { CloudTasksClient } from '@google-cloud/tasks';
import type { Firestore } from '@google-cloud/firestore';
import { localHttpTarget } from '../../../lib/apps/local/run';
import { startJobStandIn, type RunningJobStandIn, type TaskRunner } from '../../../lib/apps/local/job-stand-in';
import { EMULATOR_HOST_ENV, EMULATOR_ISSUER_ENV, FIRESTORE_EMULATOR_HOST_ENV } from '../../../lib/core/env';
import type { PipelineRoutes, RoutesStepInput } from '../../../lib/core/routes';
import type { QueueHttpTarget } from '../../../lib/emulator/model';
import { startEmulator, type RunningEmulator } from '../../../lib/emulator/server';
import { emulatorOAuthToken } from '../../../lib/emulator/dispatch/oidc';
import type { CloudRunJobRoute } from '../../../lib/core/job-route';
import { createLedger, type Ledger, type RunView } from '../../../lib/ledger/index';
import type { LedgerTasksClient } from '../../../lib/ledger/tasks';
import type { StepFunction } from '../../../lib/worker/delivery';
import { runJobStep } from '../../../lib/worker/job-step';
import { createStepHandler, type StepHandler } from '../../../lib/worker/step-handler';
import { FIRESTORE_READY_MS, eventually, routesFor, step, testFirestore } from '../../ledger/helpers';
import { cloudRunJobStep, vertexStep } from '../../worker/job-helpers';

/** Google's REST error body. */
type ApiErrorBody = { error: { code: number; message: string; status: string } };

const FIXTURE = path.join(__dirname, 'fixtures', 'flaky-job.ts');
const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

interface Local {
  readonly routes: PipelineRoutes;
  readonly emulator: RunningEmulator;
  readonly standIn: RunningJobStandIn;
  readonly ledger: Ledger;
  readonly lines: string[];
  /** Payloads the service step `merge` received. */
  readonly merged: unknown[];
  waitForRun(runId: string): Promise<RunView>;
}

/** A pipeline `train` (a Cloud Run job) -> `merge` (a service on the SDK), routed as npm run local routes it. */
async function local(
  name: string,
  train: RoutesStepInput,
  o: {
    commands?: readonly string[];
    runTask?: (ledger: Ledger) => TaskRunner;
    duplicateRate?: number;
    env?: Record<string, string>;
  },
): Promise<Local> {
  const { firestore, project } = await testFirestore(name);
  cleanups.push(() => firestore.terminate());
  const routes = routesFor(name, [train, step('merge')], project);
  const emulator = await startEmulator({ dispatch: true, duplicateRate: o.duplicateRate ?? 0, random: () => 0 });
  cleanups.push(() => emulator.stop());
  const tasks = new CloudTasksClient({
    servicePath: '127.0.0.1',
    port: emulator.port,
    sslCreds: grpc.credentials.createInsecure(),
    universeDomain: 'googleapis.com',
  });
  cleanups.push(() => tasks.close());
  const env = {
    [FIRESTORE_EMULATOR_HOST_ENV]: process.env[FIRESTORE_EMULATOR_HOST_ENV]!,
    [EMULATOR_HOST_ENV]: emulator.address,
    [EMULATOR_ISSUER_ENV]: emulator.tokens!.issuer,
  };
  const ledgerOf = (fs: Firestore) =>
    createLedger({ routes, firestore: fs, tasks: tasks as unknown as LedgerTasksClient, env });
  const ledger = ledgerOf(firestore);
  const merged: unknown[] = [];
  const handler: StepHandler = createStepHandler({
    routes,
    handlers: { merge: ((payload: unknown) => void merged.push(payload)) as StepFunction },
    ledger,
    env,
    log: () => undefined,
  });
  const server: Server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise((r) => server.close(r)));
  const lines: string[] = [];
  const standIn = await startJobStandIn({
    routes,
    commands: { train: o.commands ?? [] },
    env: { ...env, ...(o.env ?? {}) },
    log: (l) => lines.push(l),
    ...(o.runTask ? { runTask: o.runTask(ledger) } : {}),
  });
  cleanups.push(() => standIn.stop());
  // The queues as the stack synthesizes them, then run.ts's routing rule: this machine's host, the synthesized path.
  for (const [stepName, r] of Object.entries(routes.steps)) {
    const url = new URL(r.url);
    const synthesized: QueueHttpTarget = {
      uriOverride: {
        scheme: 'HTTPS',
        host: url.hostname,
        pathOverride: { path: url.pathname },
        uriOverrideEnforceMode: 'ALWAYS',
      },
      ...(r.auth.kind === 'oauth'
        ? { oauthToken: { serviceAccountEmail: r.auth.serviceAccountEmail, scope: r.auth.scope } }
        : {}),
      ...(r.auth.kind === 'oidc'
        ? { oidcToken: { serviceAccountEmail: r.auth.serviceAccountEmail, audience: r.auth.audience } }
        : {}),
    };
    const workerUrl =
      stepName === 'merge' ? `http://127.0.0.1:${(server.address() as { port: number }).port}` : standIn.url;
    emulator.state.createQueue(r.queue.slice(0, r.queue.indexOf('/queues/')), { name: r.queue, retryConfig: r.retry });
    emulator.state.setQueueHttpTarget(
      r.queue,
      localHttpTarget({ httpTarget: synthesized }, { url: workerUrl, own: false }),
    );
  }
  return {
    routes,
    emulator,
    standIn,
    ledger,
    lines,
    merged,
    async waitForRun(runId) {
      let view: RunView | undefined;
      await eventually(
        async () => ['succeeded', 'failed'].includes((view = await ledger.getRun(runId))?.status ?? ''),
        `run ${runId} to finish`,
        60_000,
      );
      return view!;
    },
  };
}

/** Tasks in process (the stand-in's spawn replaced): one shared ledger client, the same env the child would get. */
function inProcess(fn: StepFunction, onStart?: () => () => void): (ledger: Ledger) => TaskRunner {
  return (ledger) => async (t) => {
    const done = onStart?.();
    try {
      const r = await runJobStep(fn, { env: t.env, ledger, log: (l) => t.onLine(l, 'stdout'), setExitCode: false });
      return r.exitCode;
    } finally {
      done?.();
    }
  };
}

describe('GIVEN a 3-task job whose task 1 crashes on its first attempt (real child processes)', () => {
  let l: Local;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'stand-in-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    l = await local('standin-retry', cloudRunJobStep('train', ['merge'], { taskCount: 3, maxRetries: 1 }), {
      commands: ['node', '--require', 'tsx/cjs', FIXTURE],
      env: { JOB_TEST_DIR: dir },
    });
  }, FIRESTORE_READY_MS);

  test('THEN Cloud Run retries it, each shard works once, and merge runs once after the last', async () => {
    await l.ledger.startRun({ step: 'train', runId: 'a1', payload: { dataset: 'gs://acme/a1/' } });
    const run = await l.waitForRun('a1');
    expect(run.status).toBe('succeeded');
    const work = readFileSync(path.join(dir, 'work.log'), 'utf8').trim().split('\n').sort();
    expect(work).toEqual(['a1 0#0 0', 'a1 0#1 1', 'a1 0#2 0']);
    expect(l.standIn.executions).toHaveLength(1);
    expect(l.standIn.executions[0].tasks.map((t) => t.exitCodes)).toEqual([[0], [1, 0], [0]]);
    expect(l.lines).toContainEqual(
      expect.stringMatching(/^\[train 0#1\] WARNING failed: simulated crash of task 1; Cloud Run retries the task/),
    );
    expect(l.lines).toContain('[train 0#1] exited with 1; retrying (maxRetries 1)');
    expect(l.lines).toContainEqual(expect.stringMatching(/^\[train 0#1 attempt 2\] INFO started \(attempt 2\)/));
    expect(l.merged).toEqual([{ train: [{ part: 0 }, { part: 1 }, { part: 2 }] }]);
    expect(run.steps.find((s) => s.step === 'train')!.shards.map((s) => [s.shard, s.attempts])).toEqual([
      ['0#0', 1],
      ['0#1', 2],
      ['0#2', 1],
    ]);
  }, 120_000);

  test('THEN the execution reads back as Cloud Run reports it, and calls Google would refuse are refused', async () => {
    const exec = l.standIn.executions[0];
    const get = await fetch(`${l.standIn.url}/v2/${exec.name}`);
    expect(await get.json()).toMatchObject({ taskCount: 3, succeededCount: 3, failedCount: 0, retriedCount: 1 });
    const job = l.routes.steps.train.job as CloudRunJobRoute;
    const run = `${l.standIn.url}/v2/${job.name}:run`;
    const anonymous = await fetch(run, { method: 'POST', body: '{}' });
    expect(anonymous.status).toBe(401);
    expect(((await anonymous.json()) as ApiErrorBody).error.status).toBe('UNAUTHENTICATED');
    const stranger = await fetch(run, {
      method: 'POST',
      body: '{}',
      headers: { authorization: 'Bearer ya29.someone-else' },
    });
    expect(stranger.status).toBe(403);
    const invoker = l.routes.steps.train.auth as { serviceAccountEmail: string; scope: string };
    const auth = { authorization: `Bearer ${emulatorOAuthToken(invoker.serviceAccountEmail, invoker.scope)}` };
    const unknown = await fetch(run.replace('train-job:run', 'nope:run'), {
      method: 'POST',
      body: '{}',
      headers: auth,
    });
    expect(unknown.status).toBe(404);
    const bad = await fetch(run, { method: 'POST', body: '{"overrides":{"taskCount":0}}', headers: auth });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as ApiErrorBody).error.message).toBe(
      'Invalid RunJobRequest: overrides.taskCount must be a whole number of at least 1',
    );
  });
});

describe('GIVEN the :run call is delivered twice (the emulator repeats every delivery)', () => {
  let l: Local;
  const work: string[] = [];
  beforeAll(async () => {
    l = await local('standin-dup', cloudRunJobStep('train', ['merge'], { taskCount: 3 }), {
      duplicateRate: 1,
      runTask: inProcess(((_p: unknown, ctx) => {
        work.push(`${ctx.job!.execution} ${ctx.shard}`);
        return { part: ctx.job!.index };
      }) as StepFunction),
    });
  }, FIRESTORE_READY_MS);

  test('THEN two executions start, and each shard is worked on by exactly one of them', async () => {
    await l.ledger.startRun({ step: 'train', runId: 'b1', payload: {} });
    const run = await l.waitForRun('b1');
    expect(run.status).toBe('succeeded');
    await eventually(() => l.standIn.executions.length === 2 && !l.standIn.busy(), 'the second execution to finish');
    expect(work.map((w) => w.split(' ')[1]).sort()).toEqual(['0#0', '0#1', '0#2']);
    expect(l.merged).toHaveLength(1);
  }, 60_000);
});

describe('GIVEN a 10-task job, 4 at a time, followed by a join', () => {
  let l: Local;
  let running = 0;
  let most = 0;
  beforeAll(async () => {
    l = await local('standin-ten', cloudRunJobStep('train', ['merge'], { taskCount: 10, parallelism: 4 }), {
      runTask: inProcess(
        (async (_p: unknown, ctx) => {
          await new Promise((r) => setTimeout(r, 50));
          return { part: ctx.job!.index };
        }) as StepFunction,
        () => {
          most = Math.max(most, ++running);
          return () => running--;
        },
      ),
    });
  }, FIRESTORE_READY_MS);

  test('THEN at most 4 tasks run at once, and merge runs once with the 10 messages in shard order', async () => {
    await l.ledger.startRun({ step: 'train', runId: 'c1', payload: {} });
    const run = await l.waitForRun('c1');
    expect(run.status).toBe('succeeded');
    expect(most).toBe(4);
    expect(l.merged).toEqual([{ train: Array.from({ length: 10 }, (_, i) => ({ part: i })) }]);
    expect(run.steps.find((s) => s.step === 'merge')).toMatchObject({ join: 'all', expected: 1, succeeded: 1 });
  }, 60_000);
});

describe('GIVEN a Vertex AI step of 2 replicas', () => {
  let l: Local;
  const replicas: unknown[] = [];
  beforeAll(async () => {
    l = await local('standin-vertex', vertexStep('train', ['merge'], 2), {
      runTask: inProcess(((_p: unknown, ctx) => {
        replicas.push(ctx.job);
        return { replica: ctx.job!.index };
      }) as StepFunction),
    });
  }, FIRESTORE_READY_MS);

  test('THEN customJobs.create starts both replicas, each a shard, and the custom job reads back succeeded', async () => {
    await l.ledger.startRun({ step: 'train', runId: 'v1', payload: { lr: 0.01 } });
    const run = await l.waitForRun('v1');
    expect(run.status).toBe('succeeded');
    expect(replicas).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ platform: 'vertexAI', index: 0, count: 2, attempt: 0 }),
        expect.objectContaining({ platform: 'vertexAI', index: 1, count: 2, attempt: 0 }),
      ]),
    );
    await eventually(() => !l.standIn.busy(), 'the custom job to finish');
    const job = l.standIn.executions[0];
    expect(job.name).toMatch(/^projects\/acme-ml-dev\/locations\/us-central1\/customJobs\/\d+$/);
    const read = (await (await fetch(`${l.standIn.url}/v1/${job.name}`)).json()) as { state: string; labels: object };
    expect(read).toMatchObject({ state: 'JOB_STATE_SUCCEEDED', labels: { step: 'train', 'run-id': 'v1' } });
    expect(l.merged).toEqual([{ train: [{ replica: 0 }, { replica: 1 }] }]);
  }, 60_000);
});
