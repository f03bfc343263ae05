/**
 * Scheduled runs through the ledger, end to end: the synthesized Cloud Scheduler job's request, sent to the Cloud
 * Tasks emulator's REST API, creates the run's first task; the worker SDK (createStepHandler) starts a run for it in
 * Google's Firestore emulator, recorded as started by the schedule, and the run completes. Each firing is a new run.
 */
import { Testing } from '../../lib/cdktf/core';
import { PipelineStack } from '../../lib/constructs/pipeline-stack';
import { fireSchedule } from '../../lib/apps/local/schedules';
import { synthesizedScheduleJobs, type SynthesizedScheduleJob } from '../../lib/core/schedule-request';
import { parsePipelineSpec } from '../../lib/spec/load';
import type { StepContext } from '../../lib/worker/delivery';
import { FIRESTORE_READY_MS, PROJECT, REGION, startHarness, step, url, type Harness } from './helpers';

let h: Harness;
let job: SynthesizedScheduleJob;

beforeAll(async () => {
  h = await startHarness({
    pipeline: 'sched',
    steps: [step('ingest', ['train']), step('train')],
    handlers: {
      ingest: (p: { dataset: string }, ctx: StepContext) => {
        ctx.output('snapshot', `${p.dataset}snapshot-${ctx.runId}`);
        return { rows: 3 };
      },
      train: (_p: { rows: number }, ctx: StepContext) => ctx.output('model', `gs://acme-ml/models/${ctx.runId}/`),
    },
  });
  // The same pipeline as a spec: what a user deploys, with the schedule. Its job is the request Cloud Scheduler makes.
  const spec = parsePipelineSpec({
    project: PROJECT,
    region: REGION,
    environment: 'test',
    pipeline: {
      name: 'sched',
      steps: [
        { name: 'ingest', target: { url: url('ingest') }, dispatchDeadline: '60s', next: ['train'] },
        { name: 'train', target: { url: url('train') }, dispatchDeadline: '60s' },
      ],
      schedules: [
        {
          name: 'nightly-retrain',
          step: 'ingest',
          cron: '0 3 * * *',
          timeZone: 'Europe/Berlin',
          payload: { dataset: 'gs://acme-raw/latest/' },
        },
      ],
    },
  });
  const config = JSON.parse(Testing.synth(new PipelineStack(Testing.app(), 'sched-test', { spec })));
  [job] = synthesizedScheduleJobs(config);
}, FIRESTORE_READY_MS);
afterAll(() => h?.close());

const taskId = (name: string) => name.slice(name.lastIndexOf('/') + 1);

test('GIVEN a firing THEN a run starts, recorded as started by the schedule, and completes', async () => {
  const firing = await fireSchedule(job, h.emulator.restUrl!, new Date());
  expect(firing.status).toBe(200);
  expect(firing.task!.startsWith(`${h.routes.steps.ingest.queue}/tasks/`)).toBe(true);

  // The run id is the id of the task the firing created: unique to the firing.
  const runId = taskId(firing.task!);
  const run = await h.waitForRun(runId);
  expect(run).toMatchObject({
    runId,
    status: 'succeeded',
    startStep: 'ingest',
    source: { kind: 'schedule', name: 'nightly-retrain' },
    input: { dataset: 'gs://acme-raw/latest/' },
  });
  expect(run.steps.map((s) => [s.step, s.state, s.succeeded])).toEqual([
    ['ingest', 'complete', 1],
    ['train', 'complete', 1],
  ]);
  expect(h.callsOf('ingest', runId)).toEqual([
    expect.objectContaining({ shard: '0', payload: { dataset: 'gs://acme-raw/latest/' } }),
  ]);
});

test('GIVEN two firings THEN two runs, each with its own id, both listed with their schedule as source', async () => {
  const [a, b] = await Promise.all([
    fireSchedule(job, h.emulator.restUrl!, new Date()),
    fireSchedule(job, h.emulator.restUrl!, new Date()),
  ]);
  const ids = [taskId(a.task!), taskId(b.task!)];
  expect(new Set(ids).size).toBe(2);
  const runs = await Promise.all(ids.map((id) => h.waitForRun(id)));
  expect(runs.map((r) => r.status)).toEqual(['succeeded', 'succeeded']);
  for (const id of ids) expect(h.callsOf('train', id)).toHaveLength(1);

  const listed = await h.ledger.listRuns({ limit: 10 });
  for (const id of ids)
    expect(listed.find((r) => r.runId === id)).toMatchObject({ source: { kind: 'schedule', name: 'nightly-retrain' } });
});
