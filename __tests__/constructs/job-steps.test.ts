/**
 * Job steps in the stack: the step's queue calls the Run or Vertex API with the invoker's OAuth token; the invoker
 * gets exactly the grants starting the job needs (JobStepAccess); the APIs are on and never disabled; a failed-job
 * alert per job step with `monitoring`; seeded tasks carry the API request; the review's graph shows the kind.
 */
import { Testing } from '../../lib/cdktf/core';
import { PipelineStack } from '../../lib/constructs/pipeline-stack';
import { buildSeedManifest } from '../../lib/constructs/build-manifest';
import { customJobCreatorRoleId } from '../../lib/constructs/job-step-access';
import { jobApiUrl } from '../../lib/core/job-route';
import { mermaidFlowchart, pipelineGraphOf } from '../../lib/apps/review/graph';
import type { CloudRunJobTarget, PipelineSpec, StepSpec, VertexAITarget } from '../../lib/spec/types';
import { NOW, fakeSeeder, pipelineSpec, step } from './fixtures';

type Json = Record<string, any>;
const PROJECT = 'ml-platform-dev';
const INVOKER = 'serviceAccount:${google_service_account.invoker_E76DF632.email}';

const cloudRunJob: CloudRunJobTarget = {
  job: 'recsys-train',
  region: 'us-central1',
  taskCount: 3,
  parallelism: 3,
  timeoutSeconds: 3600,
  maxRetries: 1,
};
const vertexAI: VertexAITarget = {
  region: 'us-central1',
  customJob: {
    machineType: 'a2-highgpu-1g',
    acceleratorType: 'NVIDIA_TESLA_A100',
    acceleratorCount: 1,
    replicaCount: 2,
    imageUri: 'us-docker.pkg.dev/ml-platform-dev/training/train:1',
    args: [],
    serviceAccount: 'trainer@ml-platform-dev.iam.gserviceaccount.com',
    timeoutSeconds: 86_400,
  },
};

/** A job step as normalize makes it: the API URL, OAuth, no headers, a short dispatch deadline. */
function jobStep(
  name: string,
  job: { cloudRunJob?: CloudRunJobTarget; vertexAI?: VertexAITarget },
  next: string[] = [],
): StepSpec {
  return step(name, {
    next,
    dispatchDeadlineSeconds: 60,
    target: {
      url: jobApiUrl(PROJECT, job)!,
      auth: 'oauth',
      headers: {},
      method: 'POST',
      serviceAccount: job.vertexAI?.customJob.serviceAccount ?? 'recsys-train@ml-platform-dev.iam.gserviceaccount.com',
      ...job,
    },
  });
}

function specWith(train: StepSpec, extra: Partial<PipelineSpec> = {}): PipelineSpec {
  const base = pipelineSpec();
  return {
    ...base,
    ...extra,
    pipeline: {
      name: 'recsys',
      steps: [step('preprocess', { next: ['train'] }), train, step('infer', {})],
      seedTasks: [
        { step: 'preprocess', id: 'nightly-1', payload: { dataset: 'gs://acme-raw/2026-01-14/' } },
        { step: 'train', id: 'retrain-1', payload: { dataset: 'gs://acme-raw/2026-01-01/' } },
      ],
    },
  };
}

function synth(spec: PipelineSpec): { json: Json; stack: PipelineStack } {
  const stack = new PipelineStack(Testing.app(), 'recsys-dev', { spec, now: NOW, seeder: fakeSeeder() });
  return { json: JSON.parse(Testing.synth(stack)), stack };
}
const values = (o: Json | undefined): Json[] => Object.values(o ?? {});

describe('GIVEN train is a Cloud Run job of 3 tasks', () => {
  const spec = specWith(jobStep('train', { cloudRunJob }, ['infer']), {
    monitoring: { notificationChannels: ['projects/ml-platform-dev/notificationChannels/7'] },
  });
  const { json, stack } = synth(spec);

  test('snapshot', () => {
    expect(Testing.synth(stack)).toMatchSnapshot();
  });

  test('THEN its queue calls jobs/recsys-train:run with the invoker OAuth token, and nothing else', () => {
    const queue = values(json.resource.google_cloud_tasks_queue).find((q) => q.name === 'recsys-dev-train')!;
    expect(queue.http_target).toEqual({
      http_method: 'POST',
      uri_override: {
        scheme: 'HTTPS',
        host: 'run.googleapis.com',
        path_override: { path: `/v2/projects/${PROJECT}/locations/us-central1/jobs/recsys-train:run` },
        uri_override_enforce_mode: 'ALWAYS',
      },
      oauth_token: {
        service_account_email: `recsys-dev@${PROJECT}.iam.gserviceaccount.com`,
        scope: 'https://www.googleapis.com/auth/cloud-platform',
      },
    });
  });

  test('THEN the invoker gets roles/run.jobsExecutorWithOverrides on that job only, before any seed dispatches', () => {
    const bindings = values(json.resource.google_cloud_run_v2_job_iam_member);
    expect(bindings).toEqual([
      {
        project: PROJECT,
        location: 'us-central1',
        name: 'recsys-train',
        role: 'roles/run.jobsExecutorWithOverrides',
        member: INVOKER,
        depends_on: ['google_project_service.api-run'],
      },
    ]);
    // On the project only the run ledger's bindings (roles/datastore.user conditioned on its database), none for jobs.
    expect(
      values(json.resource.google_project_iam_member).filter(
        (b) => b.role !== 'roles/datastore.user' || !String(b.condition?.expression).includes('/databases/'),
      ),
    ).toEqual([]);
    expect(json.resource.google_project_iam_custom_role).toBeUndefined();
    expect(json.resource.google_project_service['api-run']).toMatchObject({
      service: 'run.googleapis.com',
      disable_on_destroy: false,
    });
    const seeding = values(json.resource.terraform_data)[0];
    expect(seeding.depends_on).toContain(
      `google_cloud_run_v2_job_iam_member.${Object.keys(json.resource.google_cloud_run_v2_job_iam_member)[0]}`,
    );
  });

  test('THEN the job runtime identity may enqueue into infer, as any worker', () => {
    const enqueue = values(json.resource.google_cloud_tasks_queue_iam_member).map((b) => b.member);
    expect(enqueue).toContain('serviceAccount:recsys-train@ml-platform-dev.iam.gserviceaccount.com');
  });

  test('THEN an alert on failed executions of the job', () => {
    const policy = values(json.resource.google_monitoring_alert_policy).find((p) =>
      String(p.display_name).startsWith('Cloud Run job recsys-train'),
    )!;
    expect(policy.conditions[0].condition_threshold.filter).toBe(
      `resource.type = "cloud_run_job" AND resource.label.project_id = "${PROJECT}" AND resource.label.location = "us-central1" AND resource.label.job_name = "recsys-train" AND metric.type = "run.googleapis.com/job/completed_execution_count" AND metric.label.result = "failed"`,
    );
    expect(policy.notification_channels).toEqual(['projects/ml-platform-dev/notificationChannels/7']);
    // One Monitoring API service for queue and job alerts.
    expect(
      values(json.resource.google_project_service).filter((s) => s.service === 'monitoring.googleapis.com'),
    ).toHaveLength(1);
  });

  test('THEN the seed task of train is the RunJobRequest: its run in PIPELINE_MESSAGE, 3 tasks, the timeout', () => {
    const task = buildSeedManifest(spec).tasks.find((t) => t.step === 'train')!;
    expect(task.httpRequest).toMatchObject({
      url: `https://run.googleapis.com/v2/projects/${PROJECT}/locations/us-central1/jobs/recsys-train:run`,
      httpMethod: 'POST',
      headers: { 'Content-Type': 'application/json' },
      oauthToken: { serviceAccountEmail: `recsys-dev@${PROJECT}.iam.gserviceaccount.com` },
    });
    expect(task.dispatchDeadlineSeconds).toBe(60);
    const body = JSON.parse(task.httpRequest.body!);
    expect(body.overrides).toMatchObject({ taskCount: 3, timeout: '3600s' });
    const env = Object.fromEntries(body.overrides.containerOverrides[0].env.map((e: Json) => [e.name, e.value]));
    expect(JSON.parse(env.PIPELINE_MESSAGE)).toEqual({
      envelope: 'cloud-tasks-pipelines/run-v1',
      runId: 'retrain-1',
      step: 'train',
      shard: '0',
      generation: 0,
      source: { kind: 'seed', name: 'retrain-1' },
      payload: { dataset: 'gs://acme-raw/2026-01-01/' },
    });
    expect(JSON.parse(env.CLOUD_TASKS_PIPELINE_ROUTES).steps.train.job.taskCount).toBe(3);
    // The seeder opens the run's train step expecting the job's 3 shards (the ledger's start step document).
    expect(buildSeedManifest(spec).ledger?.startShards).toEqual({ train: 3 });
    // A service step's seed is unchanged: its payload as the body.
    const prep = buildSeedManifest(spec).tasks.find((t) => t.step === 'preprocess')!;
    expect(JSON.parse(prep.httpRequest.body!)).toEqual({ dataset: 'gs://acme-raw/2026-01-14/' });
  });

  test('THEN the review graph draws train as a Cloud Run job of 3 tasks, and says what it was', () => {
    const graph = pipelineGraphOf(json)!;
    expect(graph.steps[1]).toEqual({
      name: 'train',
      queueId: 'recsys-dev-train',
      next: ['infer'],
      kind: 'cloudRunJob',
      job: 'recsys-train',
      tasks: 3,
    });
    const base = pipelineGraphOf(synth(pipelineSpec()).json)!;
    const chart = mermaidFlowchart(graph, base);
    expect(chart).toContain(
      '  step_train[["train<br/>recsys-dev-train<br/>Cloud Run job recsys-train, 3 tasks<br/>was a service"]]',
    );
    expect(mermaidFlowchart(graph)).toContain('  step_preprocess["preprocess<br/>recsys-dev-preprocess"]');
  });
});

describe('GIVEN train is a Vertex AI custom job of 2 replicas', () => {
  const spec = specWith(jobStep('train', { vertexAI }, ['infer']), {
    monitoring: { notificationChannels: [], queueDepth: { enabled: false }, failedAttempts: { enabled: false } },
  });
  const { json, stack } = synth(spec);

  test('snapshot', () => {
    expect(Testing.synth(stack)).toMatchSnapshot();
  });

  test('THEN its queue creates custom jobs in the region with the invoker OAuth token', () => {
    const queue = values(json.resource.google_cloud_tasks_queue).find((q) => q.name === 'recsys-dev-train')!;
    expect(queue.http_target.uri_override).toMatchObject({
      host: 'us-central1-aiplatform.googleapis.com',
      path_override: { path: `/v1/projects/${PROJECT}/locations/us-central1/customJobs` },
    });
    expect(queue.http_target.oauth_token).toBeDefined();
    expect(queue.http_target.oidc_token).toBeUndefined();
  });

  test('THEN a one-permission custom role on the project and actAs on the training account only', () => {
    expect(values(json.resource.google_project_iam_custom_role)).toEqual([
      expect.objectContaining({
        project: PROJECT,
        role_id: 'ctp_recsys_dev_customJobCreator',
        permissions: ['aiplatform.customJobs.create'],
        depends_on: ['google_project_service.api-aiplatform'],
      }),
    ]);
    expect(values(json.resource.google_project_iam_member).filter((b) => b.role !== 'roles/datastore.user')).toEqual([
      {
        project: PROJECT,
        role: '${google_project_iam_custom_role.job-access_custom-job-creator-role_9FD2F5C8.name}',
        member: INVOKER,
      },
    ]);
    expect(values(json.resource.google_service_account_iam_member)).toContainEqual({
      service_account_id: 'projects/-/serviceAccounts/trainer@ml-platform-dev.iam.gserviceaccount.com',
      role: 'roles/iam.serviceAccountUser',
      member: INVOKER,
    });
    expect(json.resource.google_project_service['api-aiplatform']).toMatchObject({
      service: 'aiplatform.googleapis.com',
      disable_on_destroy: false,
      disable_dependent_services: false,
    });
    expect(json.resource.google_cloud_run_v2_job_iam_member).toBeUndefined();
  });

  test('THEN an alert on the SDK line of a final failure, with its own Monitoring API when the queue alerts are off', () => {
    const policies = values(json.resource.google_monitoring_alert_policy);
    expect(policies).toHaveLength(1);
    expect(policies[0].conditions[0].condition_matched_log.filter).toBe(
      'jsonPayload.event = "work-failed" AND jsonPayload.final = true AND labels.pipeline = "recsys" AND labels.step = "train"',
    );
    expect(policies[0].alert_strategy.notification_rate_limit).toEqual({ period: '300s' });
    expect(values(json.resource.google_project_service).map((s) => s.service)).toContain('monitoring.googleapis.com');
  });

  test('THEN the seeded CustomJob has a primary and a worker pool, and the run id as a label', () => {
    const body = JSON.parse(buildSeedManifest(spec).tasks.find((t) => t.step === 'train')!.httpRequest.body!);
    expect(body.labels['run-id']).toBe('retrain-1');
    expect(body.jobSpec.workerPoolSpecs.map((p: Json) => p.replicaCount)).toEqual([1, 1]);
    expect(body.jobSpec.serviceAccount).toBe('trainer@ml-platform-dev.iam.gserviceaccount.com');
  });
});

test('the custom role id fits IAM (3-64 letters, digits, _ and .) for any stack name', () => {
  expect(customJobCreatorRoleId('recsys-prod')).toBe('ctp_recsys_prod_customJobCreator');
  const long = customJobCreatorRoleId(`${'very-long-pipeline-name-'.repeat(4)}prod`);
  expect(long).toMatch(/^[A-Za-z0-9_.]{3,64}$/);
  expect(long).not.toBe(customJobCreatorRoleId(`${'very-long-pipeline-name-'.repeat(4)}dev`));
});
