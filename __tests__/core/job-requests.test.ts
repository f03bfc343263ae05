/**
 * Job steps in lib/core: the routes of a job step, the one builder of the RunJobRequest / CustomJob bodies and its
 * reader, the container environment (reader and writer), shard ids, the default join after a job, stall budgets.
 */
import { buildRoutes, defaultJoinAfter, parseRoutes, type RoutesStepInput } from '../../lib/core/routes';
import { jobRequest, jobShardsOf, readJobRequest, runIdOfTaskBody } from '../../lib/core/job-requests';
import { jobShardId, jobRunBudgetSeconds, messageShardOf, shardLeaseSeconds } from '../../lib/core/job-route';
import { jobTaskEnv, readJobTaskEnv } from '../../lib/core/job-env';
import { envelopeJson } from '../../lib/core/ledger-layout';
import { stallBudgetSeconds } from '../../lib/ledger/stall';
import { maxTaskLifetimeSeconds } from '../../lib/core/rules/cloud-tasks';

const retry = { maxAttempts: 3, minBackoffSeconds: 10, maxBackoffSeconds: 10, maxDoublings: 0 };
const service = (name: string, next: string[] = []): RoutesStepInput => ({
  name,
  next,
  dispatchDeadlineSeconds: 60,
  retry,
  target: { url: `https://${name}-abc-uc.a.run.app/tasks`, auth: 'oidc' },
});
const runJob = (name: string, next: string[], taskCount: number): RoutesStepInput => ({
  name,
  next,
  dispatchDeadlineSeconds: 60,
  retry,
  target: {
    url: `https://run.googleapis.com/v2/projects/acme/locations/us-central1/jobs/${name}-job:run`,
    auth: 'oauth',
    cloudRunJob: {
      job: `${name}-job`,
      region: 'us-central1',
      taskCount,
      parallelism: 2,
      maxRetries: 1,
      timeoutSeconds: 3600,
    },
  },
});
const vertex = (name: string, replicaCount: number): RoutesStepInput => ({
  name,
  next: [],
  dispatchDeadlineSeconds: 60,
  retry,
  target: {
    url: 'https://europe-west4-aiplatform.googleapis.com/v1/projects/acme/locations/europe-west4/customJobs',
    auth: 'oauth',
    vertexAI: {
      region: 'europe-west4',
      customJob: {
        machineType: 'a2-highgpu-1g',
        acceleratorType: 'NVIDIA_TESLA_A100',
        acceleratorCount: 1,
        replicaCount,
        imageUri: 'us-docker.pkg.dev/acme/training/train:1',
        args: ['--epochs', '3'],
        serviceAccount: 'trainer@acme.iam.gserviceaccount.com',
        timeoutSeconds: 86_400,
      },
    },
  },
});
const routesOf = (steps: RoutesStepInput[]) =>
  buildRoutes({ project: 'acme', region: 'us-central1', environment: 'dev', pipeline: { name: 'recsys', steps } });

describe('GIVEN a pipeline prep -> train (a Cloud Run job of 3 tasks) -> score, and a Vertex step', () => {
  const routes = routesOf([
    service('prep', ['train']),
    runJob('train', ['score'], 3),
    service('score'),
    vertex('fit', 3),
  ]);

  test('THEN the routes carry each job, and the step after a multi-task job joins its shards by default', () => {
    expect(routes.steps.train).toMatchObject({
      kind: 'cloudRunJob',
      auth: { kind: 'oauth', scope: 'https://www.googleapis.com/auth/cloud-platform' },
      job: {
        kind: 'cloudRunJob',
        name: 'projects/acme/locations/us-central1/jobs/train-job',
        taskCount: 3,
        parallelism: 2,
        maxRetries: 1,
        timeoutSeconds: 3600,
      },
    });
    expect(routes.steps.fit).toMatchObject({
      kind: 'vertexAI',
      job: { parent: 'projects/acme/locations/europe-west4' },
    });
    expect(routes.steps.prep.job).toBeUndefined();
    expect(routes.steps.train.join).toBe('each');
    expect(routes.steps.score.join).toBe('all');
    expect(defaultJoinAfter([{ job: routes.steps.fit.job }])).toBe('all');
    expect(defaultJoinAfter([{}])).toBe('each');
    // And the routes read back from JSON validate (what a job's container reads from its environment).
    expect(parseRoutes(JSON.stringify(routes), 'test').steps.train.job).toEqual(routes.steps.train.job);
  });

  test('THEN a job shard is <message shard>#<index>, its lease one task attempt, its stall budget the whole job', () => {
    expect(jobShardId('0.3', 2)).toBe('0.3#2');
    expect(messageShardOf('0.3#2')).toBe('0.3');
    expect(messageShardOf('0.3')).toBe('0.3');
    expect(jobShardsOf('all', 3)).toEqual(['all#0', 'all#1', 'all#2']);
    expect(shardLeaseSeconds(routes.steps.train)).toBe(3600 + 60);
    expect(shardLeaseSeconds(routes.steps.prep)).toBe(60);
    // 3 tasks, 2 at a time: 2 waves of up to 2 attempts of 1 h, plus 10 min to start; after the API call's budget.
    expect(jobRunBudgetSeconds(routes.steps.train.job!)).toBe(2 * 2 * 3600 + 600);
    expect(stallBudgetSeconds(routes.steps.train)).toBe(
      maxTaskLifetimeSeconds(routes.steps.train.retry, 60) + 2 * 2 * 3600 + 600,
    );
    expect(jobRunBudgetSeconds(routes.steps.fit.job!)).toBe(86_400 + 3600);
  });

  test('THEN the RunJobRequest carries the envelope, the routes, taskCount and the timeout, and reads back', () => {
    const envelope = envelopeJson({ runId: 'r1', step: 'train', shard: '0.0', generation: 0, payloadJson: '{"a":1}' });
    const request = jobRequest(routes, 'train', { runId: 'r1', shard: '0.0', envelopeJson: envelope });
    expect(request.problems).toEqual([]);
    expect(request.routesIncluded).toBe(true);
    const body = JSON.parse(request.body);
    expect(body).toEqual({
      overrides: {
        containerOverrides: [
          {
            env: [
              { name: 'PIPELINE_MESSAGE', value: envelope },
              { name: 'CLOUD_TASKS_PIPELINE_ROUTES', value: JSON.stringify(routes) },
            ],
          },
        ],
        taskCount: 3,
        timeout: '3600s',
      },
    });
    expect(readJobRequest('cloudRunJob', request.body)).toEqual({
      env: { PIPELINE_MESSAGE: envelope, CLOUD_TASKS_PIPELINE_ROUTES: JSON.stringify(routes) },
      count: 3,
      timeoutSeconds: 3600,
      args: [],
    });
    expect(runIdOfTaskBody(request.body)).toBe('r1');
    expect(runIdOfTaskBody(envelope)).toBe('r1');
    expect(runIdOfTaskBody('{"dataset":"gs://x"}')).toBeUndefined();
  });

  test('THEN the CustomJob has a primary pool of 1 and a worker pool of the rest, labelled with the run', () => {
    const envelope = envelopeJson({ runId: 'Nightly.7', step: 'fit', shard: '0', generation: 0, payloadJson: 'null' });
    const body = JSON.parse(jobRequest(routes, 'fit', { runId: 'Nightly.7', shard: '0', envelopeJson: envelope }).body);
    expect(body.displayName).toBe('recsys-dev-fit-Nightly.7-0');
    expect(body.labels).toEqual({
      'managed-by': 'cloud-tasks-pipelines',
      pipeline: 'recsys',
      stack: 'recsys-dev',
      step: 'fit',
      'run-id': expect.stringMatching(/^nightly-7-[0-9a-f]{8}$/),
    });
    expect(body.jobSpec.workerPoolSpecs.map((p: { replicaCount: number }) => p.replicaCount)).toEqual([1, 2]);
    expect(body.jobSpec.workerPoolSpecs[0]).toMatchObject({
      machineSpec: { machineType: 'a2-highgpu-1g', acceleratorType: 'NVIDIA_TESLA_A100', acceleratorCount: 1 },
      containerSpec: { imageUri: 'us-docker.pkg.dev/acme/training/train:1', args: ['--epochs', '3'] },
    });
    expect(body.jobSpec.scheduling).toEqual({ timeout: '86400s' });
    expect(body.jobSpec.serviceAccount).toBe('trainer@acme.iam.gserviceaccount.com');
    const launch = readJobRequest('vertexAI', JSON.stringify(body));
    expect(launch).toMatchObject({ count: 3, args: ['--epochs', '3'], timeoutSeconds: 86_400 });
    expect(launch.env.PIPELINE_MESSAGE).toBe(envelope);
  });

  test('THEN a message over the environment variable limit is a problem that says to pass a URI', () => {
    const big = envelopeJson({
      step: 'train',
      shard: '0',
      generation: 0,
      payloadJson: JSON.stringify('x'.repeat(40_000)),
    });
    const [p] = jobRequest(routes, 'train', { shard: '0', envelopeJson: big }).problems;
    expect(p.message).toMatch(
      /^makes PIPELINE_MESSAGE 40,\d{3} bytes; a Cloud Run environment variable holds at most 32,768 bytes/,
    );
    // Vertex takes up to 131,072 bytes per environment string.
    expect(jobRequest(routes, 'fit', { shard: '0', envelopeJson: big }).problems).toEqual([]);
  });

  test('THEN routes too large for one variable stay out of the request (the job reads its own)', () => {
    const many = routesOf([runJob('train', [], 1), ...Array.from({ length: 100 }, (_, i) => service(`s${i}`))]);
    const request = jobRequest(many, 'train', { shard: '0', envelopeJson: '{}' });
    expect(request.routesIncluded).toBe(false);
    expect(Object.keys(readJobRequest('cloudRunJob', request.body).env)).toEqual(['PIPELINE_MESSAGE']);
  });

  test('THEN bodies Google would refuse are explained field by field', () => {
    expect(() => readJobRequest('cloudRunJob', 'nope')).toThrow(/^the request body is not JSON/);
    expect(() => readJobRequest('cloudRunJob', '{"overrides":{"taskCount":0}}')).toThrow(
      'overrides.taskCount must be a whole number of at least 1',
    );
    expect(() => readJobRequest('cloudRunJob', '{"overrides":{"timeout":"1h"}}')).toThrow(
      'overrides.timeout must be a duration such as "3600s"',
    );
    expect(() =>
      readJobRequest('vertexAI', '{"displayName":"x","jobSpec":{"workerPoolSpecs":[{"replicaCount":2}]}}'),
    ).toThrow('jobSpec.workerPoolSpecs[0].replicaCount must be 1 (the primary replica)');
    expect(() => readJobRequest('vertexAI', '{"jobSpec":{"workerPoolSpecs":[{}]}}')).toThrow('displayName is required');
    expect(() => jobRequest(routes, 'prep', { shard: '0', envelopeJson: '{}' })).toThrow(/not a job step/);
  });
});

describe('the job container environment', () => {
  test('GIVEN what Cloud Run sets THEN the task is read back as written', () => {
    const env = jobTaskEnv({ platform: 'cloudRunJob', job: 'train' }, 'train-x7k2p', 2, 3, 1);
    expect(env).toEqual({
      CLOUD_RUN_JOB: 'train',
      CLOUD_RUN_EXECUTION: 'train-x7k2p',
      CLOUD_RUN_TASK_INDEX: '2',
      CLOUD_RUN_TASK_COUNT: '3',
      CLOUD_RUN_TASK_ATTEMPT: '1',
    });
    expect(readJobTaskEnv(env)).toEqual({
      platform: 'cloudRunJob',
      execution: 'train-x7k2p',
      index: 2,
      count: 3,
      attempt: 1,
    });
  });

  test('GIVEN what Vertex AI sets THEN a replica is numbered over the worker pools (primary first)', () => {
    const ids = [0, 1, 2, 3].map((i) =>
      readJobTaskEnv(jobTaskEnv({ platform: 'vertexAI', replicaCount: 4 }, '8812', i, 4, 0)),
    );
    expect(ids.map((t) => [t.platform, t.execution, t.index, t.count, t.attempt])).toEqual([
      ['vertexAI', '8812', 0, 4, 0],
      ['vertexAI', '8812', 1, 4, 0],
      ['vertexAI', '8812', 2, 4, 0],
      ['vertexAI', '8812', 3, 4, 0],
    ]);
    const spec = JSON.parse(jobTaskEnv({ platform: 'vertexAI', replicaCount: 4 }, '8812', 2, 4, 0).CLUSTER_SPEC);
    expect(spec.task).toEqual({ type: 'workerpool1', index: 1 });
    expect(spec.cluster.workerpool1).toHaveLength(3);
  });

  test('GIVEN neither THEN the error names the variables', () => {
    expect(() => readJobTaskEnv({})).toThrow(
      /not a Cloud Run job task \(CLOUD_RUN_TASK_INDEX and CLOUD_RUN_EXECUTION are not set\)/,
    );
    expect(() =>
      readJobTaskEnv({
        CLOUD_RUN_EXECUTION: 'e',
        CLOUD_RUN_TASK_INDEX: 'x',
        CLOUD_RUN_TASK_COUNT: '1',
        CLOUD_RUN_TASK_ATTEMPT: '0',
      }),
    ).toThrow('CLOUD_RUN_TASK_INDEX="x" is not a whole number of at least 0 (Cloud Run sets it)');
    expect(() => readJobTaskEnv({ CLUSTER_SPEC: '{}', CLOUD_ML_JOB_ID: '1' })).toThrow(/has no task/);
  });
});
