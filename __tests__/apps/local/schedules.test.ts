/**
 * Schedules locally: a firing sends exactly the synthesized job's request (compared byte for byte with its
 * `http_target`), the emulator's REST API turns it into the run's first task, `npm run local -- --fire` runs the
 * pipeline from it, and the `--schedules` loop fires on each cron time in its zone (in virtual time).
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Testing } from '../../../lib/cdktf/core';
import { PipelineStack } from '../../../lib/constructs/pipeline-stack';
import { startEmulator, type RunningEmulator } from '../../../lib/emulator/server';
import { localStackOf } from '../../../lib/apps/local/terraform';
import { createStackQueues } from '../../../lib/apps/local/terraform';
import { runLocal } from '../../../lib/apps/local/run';
import {
  LOCAL_SCHEDULER_TOKEN,
  ScheduleNotFoundError,
  fireSchedule,
  firingRequest,
  runSchedules,
  scheduleJobsToRun,
  type Firing,
  type ScheduleClock,
} from '../../../lib/apps/local/schedules';
import { synthesizedScheduleJobs, type SynthesizedScheduleJob } from '../../../lib/core/schedule-request';
import { parsePipelineSpec } from '../../../lib/spec/load';

type Json = Record<string, any>;

const SPEC_TEXT = (extra = '') => ({
  project: 'demo-sched-1',
  region: 'us-central1',
  environment: 'test',
  pipeline: {
    name: 'recsys',
    steps: [
      {
        name: 'preprocess',
        preset: 'preprocess',
        target: { url: 'https://preprocess.example.com/tasks' },
        next: ['train'],
      },
      { name: 'train', preset: 'train', target: { url: 'https://train.example.com/tasks' } },
    ],
    schedules: [
      {
        name: 'nightly-retrain',
        step: 'preprocess',
        cron: '0 3 * * *',
        timeZone: 'Europe/Berlin',
        payload: { dataset: `gs://acme-raw/latest/${extra}` },
      },
      { name: 'hourly-train', step: 'train', cron: '0 * * * *', paused: true },
    ],
  },
});

function synthConfig(): Json {
  const spec = parsePipelineSpec(SPEC_TEXT());
  return JSON.parse(Testing.synth(new PipelineStack(Testing.app(), 'recsys-test', { spec })));
}

const config = synthConfig();
const jobs = synthesizedScheduleJobs(config);
const nightly = jobs.find((j) => j.schedule === 'nightly-retrain')!;
const tfJob = Object.values(config.resource.google_cloud_scheduler_job as Json).find(
  (j) => j.name === 'recsys-test-nightly-retrain',
)!;

describe('the synthesized jobs, read back', () => {
  test('GIVEN the stack JSON THEN each job with its schedule name, step, cron, zone, paused state and request', () => {
    expect(jobs.map((j) => [j.schedule, j.step, j.jobId, j.cron, j.timeZone, j.paused])).toEqual([
      ['hourly-train', 'train', 'recsys-test-hourly-train', '0 * * * *', 'Etc/UTC', true],
      ['nightly-retrain', 'preprocess', 'recsys-test-nightly-retrain', '0 3 * * *', 'Europe/Berlin', false],
    ]);
    expect(nightly.request.oauthServiceAccount).toBe('recsys-test-scheduler@demo-sched-1.iam.gserviceaccount.com');
  });
});

describe('a firing sends exactly the synthesized request', () => {
  let server: ReturnType<typeof createServer>;
  let url: string;
  const received: Array<{ method?: string; url?: string; headers: IncomingHttpHeaders; body: Buffer }> = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks) });
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end('{"name":"projects/p/locations/l/queues/q/tasks/1"}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  test('GIVEN the job WHEN fired THEN method, URL path, headers and body bytes are the http_target, plus Cloud Scheduler headers', async () => {
    const at = new Date('2031-03-30T01:00:00Z');
    const firing = await fireSchedule(nightly, url, at);
    expect(firing).toEqual({
      schedule: 'nightly-retrain',
      jobId: 'recsys-test-nightly-retrain',
      scheduleTime: '2031-03-30T01:00:00.000Z',
      status: 200,
      task: 'projects/p/locations/l/queues/q/tasks/1',
    });
    const [r] = received;
    expect(r.method).toBe(tfJob.http_target.http_method);
    expect(r.url).toBe(new URL(tfJob.http_target.uri).pathname);
    expect(r.url).toBe('/v2/projects/demo-sched-1/locations/us-central1/queues/recsys-test-preprocess/tasks');
    // Byte for byte: what Terraform gives Cloud Scheduler (base64) is what reached the API.
    expect(r.body.equals(Buffer.from(tfJob.http_target.body, 'base64'))).toBe(true);
    for (const [k, v] of Object.entries(tfJob.http_target.headers as Record<string, string>))
      expect(r.headers[k.toLowerCase()]).toBe(v);
    expect(r.headers).toMatchObject({
      'user-agent': 'Google-Cloud-Scheduler',
      'x-cloudscheduler': 'true',
      'x-cloudscheduler-jobname': 'projects/demo-sched-1/locations/us-central1/jobs/recsys-test-nightly-retrain',
      'x-cloudscheduler-scheduletime': '2031-03-30T01:00:00.000Z',
      authorization: `Bearer ${LOCAL_SCHEDULER_TOKEN}`,
    });
    // The same request, built without sending.
    const built = firingRequest(nightly, url, at);
    expect(built.body.equals(r.body)).toBe(true);
    expect(built.url).toBe(`${url.slice(0, -1)}${r.url}`);
  });

  test('GIVEN an API that refuses THEN the firing reports the status and the API error message', async () => {
    const refusing = createServer((_req, res) =>
      res
        .writeHead(403, { 'content-type': 'application/json' })
        .end('{"error":{"code":403,"message":"lacks cloudtasks.tasks.create","status":"PERMISSION_DENIED"}}'),
    );
    await new Promise<void>((r) => refusing.listen(0, '127.0.0.1', r));
    try {
      const f = await fireSchedule(
        nightly,
        `http://127.0.0.1:${(refusing.address() as { port: number }).port}/`,
        new Date(),
      );
      expect(f).toMatchObject({ status: 403, error: 'lacks cloudtasks.tasks.create' });
      expect(f.task).toBeUndefined();
    } finally {
      refusing.close();
    }
  });
});

describe("the emulator's REST API turns a firing into the run's first task", () => {
  let emulator: RunningEmulator;
  beforeAll(async () => {
    emulator = await startEmulator({ dispatch: false });
    const stack = localStackOf({ name: 'recsys-test', dir: '.', file: 'cdk.tf.json', config, policySuppressions: [] });
    createStackQueues(emulator.state, stack.queues);
  });
  afterAll(() => emulator.stop());

  test('GIVEN two firings THEN two tasks with their own ids, each carrying the envelope and the step deadline', async () => {
    const first = await fireSchedule(nightly, emulator.restUrl!, new Date());
    const second = await fireSchedule(nightly, emulator.restUrl!, new Date());
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(first.task).not.toBe(second.task);
    const queue = 'projects/demo-sched-1/locations/us-central1/queues/recsys-test-preprocess';
    const tasks = emulator.state.tasksOf(queue);
    expect(tasks.map((t) => t.name).sort()).toEqual([first.task, second.task].sort());
    for (const t of tasks) {
      expect(t.dispatchDeadlineSeconds).toBe(300); // the preprocess preset's
      expect(JSON.parse(Buffer.from(t.httpRequest.body!).toString())).toEqual({
        envelope: 'cloud-tasks-pipelines/run-v1',
        step: 'preprocess',
        shard: '0',
        generation: 0,
        source: { kind: 'schedule', name: 'nightly-retrain' },
        payload: { dataset: 'gs://acme-raw/latest/' },
      });
      expect(t.httpRequest.headers['Content-Type']).toBe('application/json');
    }
  });
});

describe('npm run local -- --fire', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'local-fire-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('GIVEN --fire nightly-retrain THEN its request starts the pipeline (no seeding), which runs to idle', async () => {
    const spec = path.join(dir, 'p.json');
    writeFileSync(spec, JSON.stringify(SPEC_TEXT()));
    const { report } = await runLocal({
      specPath: spec,
      fire: 'nightly-retrain',
      workMs: 1,
      timeoutMs: 30_000,
      workDir: dir,
      log: () => undefined,
    });
    expect(report).toMatchObject({
      ok: true,
      tasks: 2,
      steps: { preprocess: { succeeded: 1, tasks: 1 }, train: { succeeded: 1, tasks: 1 } },
      firings: [{ schedule: 'nightly-retrain', status: 200 }],
    });
    expect(report.firings![0].task).toMatch(/queues\/recsys-test-preprocess\/tasks\/\d+$/);
  });

  test('GIVEN --fire with a name the spec does not have THEN ScheduleNotFoundError lists the schedules', () => {
    const stackDir = path.join(dir, 'stack');
    require('node:fs').mkdirSync(stackDir, { recursive: true });
    writeFileSync(path.join(stackDir, 'cdk.tf.json'), JSON.stringify(config));
    expect(() => scheduleJobsToRun(stackDir, 'nightly')).toThrow(ScheduleNotFoundError);
    expect(() => scheduleJobsToRun(stackDir, 'nightly')).toThrow(
      '--fire "nightly": no such schedule; schedules: hourly-train, nightly-retrain',
    );
    expect(scheduleJobsToRun(stackDir, undefined)).toHaveLength(2);
  });

  test('the CLI refuses --for without --schedules, and --fire with --schedules, with exit code 2', async () => {
    const { main } = await import('../../../lib/apps/local/cli');
    let stderr = '';
    const io = { stdout: { write: () => true }, stderr: { write: (s: string) => ((stderr += s), true) }, env: {} };
    expect(await main(['node', 'local', '--for', '3m'], io)).toBe(2);
    expect(stderr).toContain('--for is the window of --schedules: add --schedules');
    expect(await main(['node', 'local', '--fire', 'x', '--schedules'], io)).toBe(2);
    expect(stderr).toContain('--fire and --schedules: give one');
  });
});

/** Time that passes only when the loop sleeps. */
class VirtualClock implements ScheduleClock {
  constructor(public t: number) {}
  now() {
    return this.t;
  }
  async sleep(ms: number) {
    this.t += Math.max(0, ms);
  }
}

describe('--schedules: every unpaused job on its cron, in its zone, for the window', () => {
  const job = (o: Partial<SynthesizedScheduleJob>): SynthesizedScheduleJob => ({ ...nightly, ...o });
  const run = async (list: SynthesizedScheduleJob[], startIso: string, forMs: number) => {
    const clock = new VirtualClock(Date.parse(startIso));
    const fired: Array<[string, string, number]> = [];
    const log: string[] = [];
    const firings = await runSchedules(list, {
      forMs,
      clock,
      log: (l) => log.push(l),
      fire: async (j, at): Promise<Firing> => {
        fired.push([j.schedule, at.toISOString(), clock.now()]);
        return {
          schedule: j.schedule,
          jobId: j.jobId,
          scheduleTime: at.toISOString(),
          status: 200,
          task: `t-${fired.length}`,
        };
      },
    });
    return { firings, fired, log, end: clock.now() };
  };

  test('GIVEN */1 for 3m from 12:00:30 THEN it fires at 12:01, 12:02 and 12:03, each when due, and runs to the end of the window', async () => {
    const { fired, firings, end } = await run(
      [job({ schedule: 'demo', cron: '*/1 * * * *', timeZone: 'Etc/UTC' })],
      '2031-01-01T12:00:30Z',
      180_000,
    );
    expect(fired).toEqual([
      ['demo', '2031-01-01T12:01:00.000Z', Date.parse('2031-01-01T12:01:00Z')],
      ['demo', '2031-01-01T12:02:00.000Z', Date.parse('2031-01-01T12:02:00Z')],
      ['demo', '2031-01-01T12:03:00.000Z', Date.parse('2031-01-01T12:03:00Z')],
    ]);
    expect(firings.map((f) => f.task)).toEqual(['t-1', 't-2', 't-3']);
    expect(end).toBe(Date.parse('2031-01-01T12:03:30Z'));
  });

  test('GIVEN 03:00 Europe/Berlin over three days across the spring change THEN 02:00Z, then 01:00Z', async () => {
    const { fired } = await run([nightly], '2031-03-28T12:00:00Z', 3 * 86_400_000);
    expect(fired.map(([, at]) => at)).toEqual([
      '2031-03-29T02:00:00.000Z',
      '2031-03-30T01:00:00.000Z',
      '2031-03-31T01:00:00.000Z',
    ]);
  });

  test('GIVEN two jobs due the same minute and a paused one THEN both fire together, the paused one never (and says so)', async () => {
    const a = job({ schedule: 'a', cron: '*/2 * * * *', timeZone: 'Etc/UTC' });
    const b = job({ schedule: 'b', cron: '*/3 * * * *', timeZone: 'Etc/UTC' });
    const p = job({ schedule: 'p', cron: '* * * * *', timeZone: 'Etc/UTC', paused: true });
    const { fired, log } = await run([a, b, p], '2031-01-01T00:00:00Z', 6 * 60_000 + 1);
    expect(fired.map(([s, at]) => `${s}@${at.slice(11, 16)}`)).toEqual([
      'a@00:02',
      'b@00:03',
      'a@00:04',
      'a@00:06',
      'b@00:06',
    ]);
    expect(log[0]).toBe('schedule p: paused in the spec, not fired (use --fire p to fire it once)');
  });

  test('GIVEN a cron whose next time is after the window THEN nothing fires and the log says when it would', async () => {
    const { fired, log } = await run([nightly], '2031-01-01T12:00:00Z', 60_000);
    expect(fired).toEqual([]);
    expect(log).toEqual([
      'schedule nightly-retrain (0 3 * * *, Europe/Berlin): next fires at 2031-01-02T02:00:00.000Z, after the window ends',
    ]);
  });
});
