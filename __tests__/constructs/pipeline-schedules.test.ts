/**
 * Schedules in the stack: one Cloud Scheduler job per schedule calling the Cloud Tasks API for its step's queue, with
 * a dedicated scheduler account granted only what it needs, the API enabled and kept on destroy, outputs, alerts.
 */
import { Testing } from '../../lib/cdktf/core';
import { PipelineStack } from '../../lib/constructs/pipeline-stack';
import { PipelineSchedules } from '../../lib/constructs/pipeline-schedules';
import { PipelineInvoker } from '../../lib/constructs/pipeline-invoker';
import { TaskQueue } from '../../lib/constructs/task-queue';
import { ConstructError } from '../../lib/constructs/validation';
import { readScheduledTask } from '../../lib/core/schedule-request';
import { enforcePolicy } from '../../lib/policy';
import type { PipelineSpec, ScheduleSpec } from '../../lib/spec/types';
import { NOW, fakeSeeder, pipelineSpec } from './fixtures';

type Json = Record<string, any>;

const NIGHTLY: ScheduleSpec = {
  name: 'nightly-retrain',
  step: 'preprocess',
  cron: '0 3 * * *',
  timeZone: 'Europe/Berlin',
  payload: { dataset: 'gs://recsys/raw/latest/' },
  paused: false,
  retry: { retryCount: 3, minBackoffSeconds: 30, maxBackoffSeconds: 600, maxRetryDurationSeconds: 3600 },
};
const HOURLY: ScheduleSpec = {
  name: 'hourly-train',
  step: 'train',
  cron: '0 * * * *',
  timeZone: 'Etc/UTC',
  paused: true,
  retry: {},
  attemptDeadlineSeconds: 60,
};

function withSchedules(schedules: ScheduleSpec[], extra: Partial<PipelineSpec> = {}): PipelineSpec {
  const spec = pipelineSpec(extra);
  return { ...spec, pipeline: { ...spec.pipeline, schedules } };
}

function synth(spec: PipelineSpec): { json: Json; stack: PipelineStack } {
  const stack = new PipelineStack(Testing.app(), 'recsys-dev', { spec, now: NOW, seeder: fakeSeeder() });
  return { json: JSON.parse(Testing.synth(stack)), stack };
}

const values = (o: Json | undefined): Json[] => Object.values(o ?? {});
const SCHEDULER = 'recsys-dev-scheduler@ml-platform-dev.iam.gserviceaccount.com';

describe('GIVEN a spec with schedules', () => {
  const { json, stack } = synth(withSchedules([NIGHTLY, HOURLY]));
  const byName = (name: string) => values(json.resource.google_cloud_scheduler_job).find((j) => j.name === name)!;
  const jobs = [byName('recsys-dev-nightly-retrain'), byName('recsys-dev-hourly-train')];

  test('THEN the scheduler jobs, their account and its grants match the snapshot', () => {
    const r = json.resource;
    expect({
      google_cloud_scheduler_job: r.google_cloud_scheduler_job,
      scheduler_account: values(r.google_service_account).filter((a) => a.account_id === 'recsys-dev-scheduler'),
      grants: [...values(r.google_cloud_tasks_queue_iam_member), ...values(r.google_service_account_iam_member)].filter(
        (b) => b.member === `serviceAccount:${SCHEDULER}`,
      ),
      api: values(r.google_project_service).filter((s) => s.service === 'cloudscheduler.googleapis.com'),
      outputs: {
        schedules: json.output.schedules,
        scheduler_service_account_email: json.output.scheduler_service_account_email,
      },
    }).toMatchSnapshot();
  });

  test('THEN one job per schedule calls CreateTask on its step queue with an OAuth token of the scheduler account', () => {
    expect(jobs.map((j) => [j.name, j.http_target.uri, j.http_target.http_method])).toEqual([
      [
        'recsys-dev-nightly-retrain',
        'https://cloudtasks.googleapis.com/v2/projects/ml-platform-dev/locations/us-central1/queues/recsys-dev-preprocess/tasks',
        'POST',
      ],
      [
        'recsys-dev-hourly-train',
        'https://cloudtasks.googleapis.com/v2/projects/ml-platform-dev/locations/us-central1/queues/recsys-dev-train/tasks',
        'POST',
      ],
    ]);
    for (const j of jobs) {
      expect(j.http_target.oauth_token).toEqual({
        service_account_email: SCHEDULER,
        scope: 'https://www.googleapis.com/auth/cloud-platform',
      });
      expect(j.http_target.headers).toEqual({ 'Content-Type': 'application/json' });
      expect(j.region).toBe('us-central1');
    }
    expect(jobs.map((j) => [j.schedule, j.time_zone, j.paused, j.attempt_deadline])).toEqual([
      ['0 3 * * *', 'Europe/Berlin', false, undefined],
      ['0 * * * *', 'Etc/UTC', true, '60s'],
    ]);
    expect(jobs[0].retry_config).toEqual({
      retry_count: 3,
      min_backoff_duration: '30s',
      max_backoff_duration: '600s',
      max_retry_duration: '3600s',
    });
    expect(jobs[1].retry_config).toBeUndefined();
  });

  test("THEN the body is the run's first message: the step's task with its dispatch deadline, the payload, source schedule, no run id", () => {
    const body = Buffer.from(jobs[0].http_target.body, 'base64').toString();
    const task = readScheduledTask(body)!;
    expect(JSON.parse(body).task.httpRequest).toMatchObject({
      url: 'https://preprocess-abc123-uc.a.run.app/tasks/preprocess',
      httpMethod: 'POST',
      headers: { 'Content-Type': 'application/json' },
    });
    expect(task.dispatchDeadline).toBe('600s'); // the step's
    expect(task.envelope).toEqual({
      envelope: 'cloud-tasks-pipelines/run-v1',
      step: 'preprocess',
      shard: '0',
      generation: 0,
      source: { kind: 'schedule', name: 'nightly-retrain' },
      payload: { dataset: 'gs://recsys/raw/latest/' },
    });
    expect(task.envelope).not.toHaveProperty('runId');
    // train: 30 minutes, which a BufferTask request could not carry (its tasks get Cloud Tasks' 10-minute default).
    expect(readScheduledTask(Buffer.from(jobs[1].http_target.body, 'base64').toString())!).toMatchObject({
      dispatchDeadline: '1800s',
      envelope: { step: 'train', payload: null },
    });
  });

  test('THEN least privilege: enqueuer on the scheduled queues only, actAs on the invoker only, nothing project-wide', () => {
    const r = json.resource;
    const enqueue = values(r.google_cloud_tasks_queue_iam_member).filter(
      (b) => b.member === `serviceAccount:${SCHEDULER}`,
    );
    expect(enqueue.map((b) => [b.role, b.name])).toEqual([
      ['roles/cloudtasks.enqueuer', '${google_cloud_tasks_queue.queue-preprocess_CA73D5E1.name}'],
      ['roles/cloudtasks.enqueuer', '${google_cloud_tasks_queue.queue-train_74420F46.name}'],
    ]);
    const actAs = values(r.google_service_account_iam_member).filter((b) => b.member === `serviceAccount:${SCHEDULER}`);
    expect(actAs.map((b) => [b.role, b.service_account_id])).toEqual([
      [
        'roles/iam.serviceAccountUser',
        expect.stringMatching(/^\$\{google_service_account\.invoker_[0-9A-F]+\.name\}$/),
      ],
    ]);
    // The scheduler's account holds nothing above its queues (the project-level bindings are the run ledger's, for the
    // workers and deployers, conditioned on its database).
    const wide = Object.keys(r).filter((t) => /project_iam|organization_iam|folder_iam/.test(t));
    expect(wide.flatMap((t) => values(r[t]).filter((b) => b.member === `serviceAccount:${SCHEDULER}`))).toEqual([]);
    expect(stack.schedules!.iamBindings).toHaveLength(3);
  });

  test('THEN cloudscheduler.googleapis.com is enabled and never disabled on destroy; the jobs wait for it and the grants', () => {
    const api = values(json.resource.google_project_service).find((s) => s.service === 'cloudscheduler.googleapis.com');
    expect(api).toMatchObject({ disable_on_destroy: false, disable_dependent_services: false });
    expect(jobs[0].depends_on).toEqual(
      expect.arrayContaining([
        'google_project_service.api-cloudscheduler',
        expect.stringMatching(/^google_service_account\.scheduler_ServiceAccount_/),
        expect.stringMatching(/^google_service_account_iam_member\.invoker_ActAs-/),
        expect.stringMatching(/^google_cloud_tasks_queue_iam_member\.queue-preprocess_Enqueuer-/),
      ]),
    );
  });

  test('THEN the outputs list the schedules and the scheduler account', () => {
    expect(json.output.schedules.value).toEqual({
      'nightly-retrain': {
        step: 'preprocess',
        cron: '0 3 * * *',
        timeZone: 'Europe/Berlin',
        paused: false,
        job: 'projects/ml-platform-dev/locations/us-central1/jobs/recsys-dev-nightly-retrain',
      },
      'hourly-train': {
        step: 'train',
        cron: '0 * * * *',
        timeZone: 'Etc/UTC',
        paused: true,
        job: 'projects/ml-platform-dev/locations/us-central1/jobs/recsys-dev-hourly-train',
      },
    });
    expect(json.output.scheduler_service_account_email.value).toBe(SCHEDULER);
  });
});

describe('GIVEN deployers and monitoring', () => {
  const { json } = synth(
    withSchedules([NIGHTLY], {
      deployer: ['serviceAccount:ci@ml-platform-dev.iam.gserviceaccount.com'],
      monitoring: { notificationChannels: ['projects/ml-platform-dev/notificationChannels/7'] },
    }),
  );

  test('THEN each deployer gets actAs on the scheduler account, before the jobs', () => {
    const bindings = values(json.resource.google_service_account_iam_member).filter(
      (b) => b.member === 'serviceAccount:ci@ml-platform-dev.iam.gserviceaccount.com',
    );
    expect(bindings.map((b) => b.service_account_id)).toEqual([
      expect.stringMatching(/^\$\{google_service_account\.invoker_[0-9A-F]+\.name\}$/),
      expect.stringMatching(/^\$\{google_service_account\.scheduler_ServiceAccount_[0-9A-F]+\.name\}$/),
    ]);
    const job = values(json.resource.google_cloud_scheduler_job)[0];
    expect(job.depends_on).toEqual(expect.arrayContaining([expect.stringMatching(/scheduler_ActAs-serviceAccountci/)]));
  });

  test('THEN an alert fires on a failed Cloud Scheduler attempt of each job, to the channels, rate-limited', () => {
    const alerts = values(json.resource.google_monitoring_alert_policy).filter((p) =>
      /Cloud Scheduler/.test(p.display_name),
    );
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({
      display_name: 'Cloud Scheduler recsys-dev-nightly-retrain: a firing failed',
      severity: 'ERROR',
      notification_channels: ['projects/ml-platform-dev/notificationChannels/7'],
      alert_strategy: { auto_close: '1800s', notification_rate_limit: { period: '300s' } },
      conditions: [
        {
          condition_matched_log: {
            filter:
              'resource.type="cloud_scheduler_job" AND resource.labels.project_id="ml-platform-dev" AND resource.labels.location="us-central1" AND resource.labels.job_id="recsys-dev-nightly-retrain" AND severity>=ERROR',
          },
        },
      ],
    });
    expect(alerts[0].depends_on).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^google_cloud_scheduler_job\./),
        expect.stringMatching(/^google_project_service\.monitoring_api-monitoring_/),
      ]),
    );
  });
});

describe('GIVEN no schedules', () => {
  test('THEN no job, no scheduler account, no Cloud Scheduler API, no schedules output', () => {
    const { json } = synth(pipelineSpec());
    expect(json.resource.google_cloud_scheduler_job).toBeUndefined();
    expect(values(json.resource.google_project_service).map((s) => s.service)).not.toContain(
      'cloudscheduler.googleapis.com',
    );
    expect(json.output.schedules).toBeUndefined();
    expect(json.output.scheduler_service_account_email).toBeUndefined();
  });
});

describe('GIVEN a secret in a schedule payload', () => {
  test('THEN the policy pack (CTP003) stops synth at the schedule payload, without printing the value', () => {
    const secret = 'S3CR3T-MARKER-d41d8cd98f00b204';
    const app = Testing.app();
    new PipelineStack(app, 'recsys-dev', {
      spec: withSchedules([{ ...NIGHTLY, payload: { creds: { password: secret } } }]),
      now: NOW,
      seeder: fakeSeeder(),
      source: 'pipelines/recsys-dev.yaml',
    });
    const lines: string[] = [];
    expect(enforcePolicy(app, (l) => lines.push(l))).toBe(false);
    expect(lines.filter((l) => l.startsWith('error:')).map((l) => l.replace(/: [^:]*$/, ''))).toEqual([
      'error: pipelines/recsys-dev.yaml: [CTP003] pipeline.schedules[0].payload.creds.password',
    ]);
    expect(lines.join('\n')).not.toContain(secret);
  });
});

describe('PipelineSchedules from TypeScript', () => {
  test('GIVEN a bad cron, zone, retry and deadline THEN a ConstructError lists them all under the construct path', () => {
    const app = Testing.app();
    const s = new PipelineStack(app, 'ts', { spec: pipelineSpec(), now: NOW, seeder: fakeSeeder() });
    const invoker = s.invoker as PipelineInvoker;
    const queue = s.queues.preprocess as TaskQueue;
    let error: unknown;
    try {
      new PipelineSchedules(s, 'extra', {
        project: 'ml-platform-dev',
        region: 'us-central1',
        pipeline: 'recsys',
        environment: 'dev',
        invoker,
        schedules: [
          {
            name: 'bad',
            step: 'preprocess',
            queue,
            url: 'https://preprocess-abc123-uc.a.run.app/tasks/preprocess',
            cron: '0 0 3 * * *',
            timeZone: 'Europe/Berln',
            retry: { retryCount: 9 },
            attemptDeadlineSeconds: 5,
          },
        ],
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConstructError);
    expect((error as ConstructError).message.split('\n')).toEqual([
      'PipelineSchedules at ts/extra is invalid:',
      expect.stringMatching(/^ {2}- schedules\[0\]\.cron = "0 0 3 \* \* \*": .* has 6 fields/),
      expect.stringMatching(/^ {2}- schedules\[0\]\.timeZone = "Europe\/Berln": .*did you mean "Europe\/Berlin"/),
      expect.stringMatching(/^ {2}- schedules\[0\]\.retry\.retryCount = 9: /),
      expect.stringMatching(/^ {2}- schedules\[0\]\.attemptDeadlineSeconds = "5s": /),
    ]);
  });
});
