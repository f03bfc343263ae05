/**
 * Job steps, locally: what starting a job step's work costs under `npm run local` (docs/jobs.md, "Locally").
 *
 * The pipeline train (a Cloud Run job of 3 tasks, 3 at a time) -> merge (a service on the worker SDK), routed as
 * `npm run local` routes it: the Cloud Tasks emulator dispatches train's `:run` to the stand-in
 * (lib/apps/local/job-stand-in.ts), which runs the example job (lib/worker/example-job.ts) as child processes; the
 * ledger is Google's Firestore emulator. Runs one at a time after a warm-up run. Per run, from the emulator's dispatch
 * of the `:run` task:
 *   - to the stand-in starting the execution (the HTTP call),
 *   - to the first task's process starting,
 *   - to the first shard claimed in the ledger (the step function about to run: node, tsx and the SDK's clients
 *     loaded, the run read, the shard claimed): the local overhead of a job step,
 * and from the last shard done to merge's dispatch (the hand-off out of the job).
 */
import path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { EMULATOR_HOST_ENV, EMULATOR_ISSUER_ENV, FIRESTORE_EMULATOR_HOST_ENV } from '../../lib/core/env';
import { buildRoutes, type RoutesStepInput } from '../../lib/core/routes';
import { runIdOfTaskBody } from '../../lib/core/job-requests';
import { exampleJobCommand } from '../../lib/apps/local/jobs';
import { startJobStandIn } from '../../lib/apps/local/job-stand-in';
import { startExampleWorker } from '../../lib/worker/example-worker';
import { localHttpTarget } from '../../lib/apps/local/run';
import { startEmulator } from '../../lib/emulator/server';
import { createLedger } from '../../lib/ledger/index';
import { ensureFirestoreEmulator } from '../../lib/ledger/firestore-emulator';
import type { BenchContext } from '../lib/context';
import { currentLoad } from '../lib/machine';
import { quantile } from '../lib/stats';
import type { LatencySummary } from './ledger';

export interface JobsResult {
  readonly measuredAt: string;
  readonly runs: number;
  readonly taskCount: number;
  /** The `:run` task dispatched -> the stand-in started the execution. */
  readonly dispatchToExecution: LatencySummary;
  /** -> the first task's process started. */
  readonly dispatchToFirstProcess: LatencySummary;
  /** -> the first shard claimed in the ledger (its step function starts). */
  readonly dispatchToFirstShard: LatencySummary;
  /** The last shard done -> the next step's task dispatched. */
  readonly lastShardToNext: LatencySummary;
  readonly load: readonly [number, number];
}

const TASKS = 3;

function summary(values: readonly number[]): LatencySummary {
  return {
    samples: values.length,
    p50Ms: quantile(values, 0.5),
    p95Ms: quantile(values, 0.95),
    maxMs: Math.max(...values),
  };
}

export async function jobsBench(ctx: BenchContext): Promise<JobsResult> {
  const load0 = currentLoad();
  const runs = ctx.quick ? 3 : 8;
  const firestore = await ensureFirestoreEmulator();
  const outputs = mkdtempSync(path.join(tmpdir(), 'bench-jobs-'));
  const cleanups: Array<() => Promise<unknown> | unknown> = [
    () => firestore.stop(),
    () => rmSync(outputs, { recursive: true, force: true }),
  ];
  try {
    await firestore.ready;
    const step = (name: string, next: string[], extra: Partial<RoutesStepInput> = {}): RoutesStepInput => ({
      name,
      next,
      dispatchDeadlineSeconds: 60,
      retry: { maxAttempts: 5, minBackoffSeconds: 0.1, maxBackoffSeconds: 1 },
      target: { url: `https://${name}-bench-uc.a.run.app/tasks`, auth: 'oidc' },
      ...extra,
    });
    const routes = buildRoutes({
      project: 'bench-jobs',
      region: 'us-central1',
      environment: 'bench',
      pipeline: {
        name: 'jobs',
        steps: [
          step('train', ['merge'], {
            target: {
              url: 'https://run.googleapis.com/v2/projects/bench-jobs/locations/us-central1/jobs/train:run',
              auth: 'oauth',
              cloudRunJob: {
                job: 'train',
                region: 'us-central1',
                taskCount: TASKS,
                parallelism: TASKS,
                maxRetries: 0,
                timeoutSeconds: 600,
              },
            },
          }),
          step('merge', []),
        ],
      },
      ledger: { project: `bench-jobs-${Date.now().toString(36)}`, database: '(default)' },
    });
    const dispatched: Array<{ step: string; runId?: string; at: number }> = [];
    const stepOfQueue = new Map(Object.entries(routes.steps).map(([n, r]) => [r.queue, n]));
    const emulator = await startEmulator({
      dispatch: true,
      dispatchListeners: [
        (e, task) => {
          if (e.event === 'dispatched')
            dispatched.push({
              step: stepOfQueue.get(e.queue) ?? '',
              runId: runIdOfTaskBody(task.httpRequest.body.toString()),
              at: Date.now(),
            });
        },
      ],
    });
    cleanups.push(() => emulator.stop());
    const env = {
      [FIRESTORE_EMULATOR_HOST_ENV]: firestore.host,
      [EMULATOR_HOST_ENV]: emulator.address,
      [EMULATOR_ISSUER_ENV]: emulator.tokens!.issuer,
    };
    const standIn = await startJobStandIn({
      routes,
      commands: { train: exampleJobCommand() },
      env: { ...env, PIPELINE_OUTPUT_DIR: outputs, METADATA_SERVER_DETECTION: 'none' },
      log: () => undefined,
    });
    cleanups.push(() => standIn.stop());
    const workers = await startExampleWorker({ routes, steps: ['merge'], env, workMs: 0, log: () => undefined });
    cleanups.push(() => workers.close());
    for (const [name, r] of Object.entries(routes.steps)) {
      const url = new URL(r.url);
      emulator.state.createQueue(r.queue.slice(0, r.queue.indexOf('/queues/')), {
        name: r.queue,
        retryConfig: r.retry,
      });
      emulator.state.setQueueHttpTarget(
        r.queue,
        localHttpTarget(
          {
            httpTarget: {
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
            },
          },
          { url: name === 'train' ? standIn.url : workers.url, own: false },
        ),
      );
    }
    const ledger = createLedger({ routes, env });
    cleanups.push(() => ledger.close());
    const runOnce = async (runId: string) => {
      await ledger.startRun({ step: 'train', runId, payload: { dataset: `gs://bench/${runId}/` } });
      const until = Date.now() + 300_000;
      for (;;) {
        const run = await ledger.engine.store.getRun(runId);
        if (run?.status === 'succeeded') break;
        if (run && run.status !== 'running') throw new Error(`job bench run ${runId} ended ${run.status}`);
        if (Date.now() > until) throw new Error(`job bench run ${runId} still running after 300 s`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    // One run first, not measured: the first processes fill the OS file cache and tsx's transform cache.
    await runOnce('warm-up');
    const toExecution: number[] = [];
    const toProcess: number[] = [];
    const toShard: number[] = [];
    const toNext: number[] = [];
    for (let i = 0; i < runs; i++) {
      const runId = `job-${i}`;
      await runOnce(runId);
      const at = dispatched.find((d) => d.step === 'train' && d.runId === runId)!.at;
      const exec = standIn.executions.find((e) => e.runId === runId)!;
      const view = (await ledger.getRun(runId))!;
      const shards = view.steps.find((s) => s.step === 'train')!.shards;
      const firstClaim = Math.min(...shards.map((s) => Date.parse(s.startedAt)));
      const lastDone = Math.max(...shards.map((s) => Date.parse(s.finishedAt!)));
      const next = dispatched.find((d) => d.step === 'merge' && d.runId === runId)!.at;
      toExecution.push(exec.receivedAt - at);
      toProcess.push(exec.firstTaskStartedAt! - at);
      toShard.push(firstClaim - at);
      toNext.push(next - lastDone);
    }
    ctx.log(
      `jobs: ${runs} runs of a ${TASKS}-task job: dispatch -> first shard p50 ${Math.round(quantile(toShard, 0.5))} ms`,
    );
    return {
      measuredAt: new Date().toISOString(),
      runs,
      taskCount: TASKS,
      dispatchToExecution: summary(toExecution),
      dispatchToFirstProcess: summary(toProcess),
      dispatchToFirstShard: summary(toShard),
      lastShardToNext: summary(toNext),
      load: [load0, currentLoad()],
    };
  } finally {
    for (const c of cleanups.reverse()) await c();
  }
}
