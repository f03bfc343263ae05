/**
 * The dashboard on the run ledger (workers on the worker SDK, Google's Firestore emulator through the ledger test
 * harness): runs started from the API go through the ledger's startRun, and a run's page tells the ledger's story
 * (status, per-step state, shards, outputs, the failure and its reason) with the timeline of its task attempts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { RunDetail, RunsResponse, StartRunResponse } from '../../../lib/apps/dashboard/api-types';
import { startDashboard, type RunningDashboard } from '../../../lib/apps/dashboard/server';
import type { SynthesizedStack } from '../../../lib/core/synthesized-stack';
import { PermanentError } from '../../../lib/ledger/errors';
import { startHarness, step, type Harness } from '../../ledger/helpers';

let h: Harness;
let dashboard: RunningDashboard;
let dir: string;

beforeAll(async () => {
  h = await startHarness({
    pipeline: 'dash',
    steps: [step('prep', ['train']), step('train')],
    handlers: {
      prep: (payload: { rows?: number }, ctx) => {
        if (payload.rows === 0) throw new PermanentError('no rows to prepare');
        ctx.output('features', `gs://acme/features/${ctx.runId}/`);
        return payload;
      },
      train: (_payload, ctx) => {
        ctx.output('model', `gs://acme/models/${ctx.runId}/`);
      },
    },
  });
  dir = mkdtempSync(path.join(tmpdir(), 'dashboard-ledger-'));
  // What a synthesized stack publishes: its graph and its routes.
  const stack: SynthesizedStack = {
    name: h.routes.stack,
    dir,
    file: path.join(dir, 'cdk.tf.json'),
    config: {
      output: {
        pipeline_graph: {
          value: {
            pipeline: 'dash',
            environment: 'test',
            steps: Object.entries(h.routes.steps).map(([name, s]) => ({
              name,
              queueId: s.queue.slice(s.queue.lastIndexOf('/') + 1),
              next: s.next,
            })),
          },
        },
        routes: { value: h.routes },
      },
    },
    policySuppressions: [],
  };
  dashboard = await startDashboard({ emulator: h.emulator, tasks: h.tasks, stack, ledger: h.ledger, flushMs: 20 });
});

afterAll(async () => {
  await dashboard?.close();
  await h?.close();
  rmSync(dir, { recursive: true, force: true });
});

const get = async <T>(p: string): Promise<T> => (await (await fetch(`${dashboard.url}${p}`)).json()) as T;
const start = async (body: unknown): Promise<StartRunResponse> =>
  (await (
    await fetch(`${dashboard.url}api/runs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
  ).json()) as StartRunResponse;

test('a run started from the dashboard goes through the ledger; its page shows the ledger progress and outputs', async () => {
  const { runId, task } = await start({ step: 'prep', payload: { rows: 3 } });
  expect(task).toContain('/queues/dash-test-prep/tasks/');
  await h.waitForRun(runId, ['succeeded']);
  const run = await get<RunDetail>(`api/runs/${runId}`);
  expect(run).toMatchObject({
    runId,
    status: 'succeeded',
    runsSource: 'ledger',
    source: { kind: 'manual', name: 'dashboard' },
    startStep: 'prep',
  });
  expect(run.steps.map((s) => [s.step, s.state, s.counts.succeeded, s.shards.map((x) => x.shard)])).toEqual([
    ['prep', 'complete', 1, ['0']],
    ['train', 'complete', 1, ['0.0']],
  ]);
  expect(run.steps.flatMap((s) => s.outputs.map((o) => o.uri))).toEqual([
    `gs://acme/features/${runId}/`,
    `gs://acme/models/${runId}/`,
  ]);
  expect(run.timeline.map((t) => [t.step, t.attempts.map((a) => a.outcome)])).toEqual([
    ['prep', ['succeeded']],
    ['train', ['succeeded']],
  ]);
  expect(JSON.parse(run.input!.text!)).toEqual({ rows: 3 });
  const list = await get<RunsResponse>('api/runs');
  expect(list.source).toBe('ledger');
  expect(list.runs.find((r) => r.runId === runId)).toMatchObject({ status: 'succeeded', currentSteps: ['train'] });
});

test('a permanent failure: the run page gives the failed step and the reason the worker reported', async () => {
  const { runId } = await start({ step: 'prep', payload: { rows: 0 } });
  await h.waitForRun(runId, ['failed']);
  const run = await get<RunDetail>(`api/runs/${runId}`);
  expect(run.status).toBe('failed');
  expect(run.failure).toMatchObject({
    step: 'prep',
    kind: 'permanent',
    reason: expect.stringContaining('no rows to prepare'),
  });
  expect(run.steps[0]).toMatchObject({ step: 'prep', state: 'failed' });
  expect(run.steps[0].shards[0].error).toMatchObject({ final: true, message: expect.stringContaining('no rows') });
});
