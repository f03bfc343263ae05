/**
 * Job steps in the spec (lib/spec/rules/job-target.ts): a target is exactly one of url, cloudRunJob and vertexAI;
 * auth is implied (OAuth) and oidc is refused with why; the job limits of lib/core/rules/cloud-run.ts and
 * vertex-ai.ts at spec paths; local.command for job steps; seed payloads that fit PIPELINE_MESSAGE.
 */
import { formatPath } from '../../lib/core/problem';
import { SpecError, parsePipelineSpec } from '../../lib/spec/load';
import { pipelineProblems } from '../../lib/spec/validate';
import { NOW } from './fixtures';

const base = (train: Record<string, unknown>, seeds: unknown[] = []) => ({
  project: 'acme-ml-dev',
  region: 'us-central1',
  environment: 'dev',
  pipeline: {
    name: 'recsys',
    steps: [
      { name: 'prep', target: { url: 'https://prep-abc123-uc.a.run.app/tasks' }, next: ['train'] },
      { name: 'train', preset: 'train', next: ['score'], ...train },
      { name: 'score', target: { url: 'https://score-abc123-uc.a.run.app/tasks' } },
    ],
    seedTasks: seeds,
  },
});

/** `path: message` of every problem, [] when the spec loads. */
function problems(raw: unknown): string[] {
  try {
    parsePipelineSpec(raw, {}, { now: NOW });
    return [];
  } catch (e) {
    if (!(e instanceof SpecError)) throw e;
    return e.problems.map((p) => `${formatPath(p.path)}: ${p.message}`);
  }
}

describe('GIVEN a train step that is a Cloud Run job', () => {
  test('THEN the target calls the Run API with OAuth, the job defaults apply, and the dispatch deadline is short', () => {
    const spec = parsePipelineSpec(base({ target: { cloudRunJob: { job: 'recsys-train' } } }), {}, { now: NOW });
    const train = spec.pipeline.steps[1];
    expect(train.target).toEqual({
      url: 'https://run.googleapis.com/v2/projects/acme-ml-dev/locations/us-central1/jobs/recsys-train:run',
      auth: 'oauth',
      headers: {},
      method: 'POST',
      cloudRunJob: { job: 'recsys-train', region: 'us-central1', taskCount: 1, timeoutSeconds: 600, maxRetries: 3 },
    });
    // The train preset's 30m is for a worker that trains in the request; the API call answers at once.
    expect(train.dispatchDeadlineSeconds).toBe(60);
  });

  test('THEN auth: oidc is refused with why, and url, headers, method and cloudRun do not belong', () => {
    const raw = base({
      target: {
        url: 'https://train-abc123-uc.a.run.app/tasks',
        auth: 'oidc',
        headers: { 'X-Pipeline': 'recsys' },
        method: 'PUT',
        cloudRun: { service: 'train' },
        cloudRunJob: { job: 'recsys-train' },
      },
    });
    expect(problems(raw)).toEqual([
      'pipeline.steps[1].target.url: a target is exactly one of url (an HTTP endpoint), cloudRunJob or vertexAI: remove url (a Cloud Run job target calls https://run.googleapis.com/v2/projects/acme-ml-dev/locations/us-central1/jobs/recsys-train:run)',
      'pipeline.steps[1].target.auth: a Cloud Run job step is started through a Google API (run.googleapis.com), which takes OAuth tokens only: remove auth (oauth with the cloud-platform scope is implied)',
      'pipeline.steps[1].target.headers: headers go to the Google API that starts the job, not to your job: remove them and pass what the job needs in the payload',
      'pipeline.steps[1].target.method: a Cloud Run job is started with POST: remove method',
      'pipeline.steps[1].target.cloudRun: cloudRun names the Cloud Run service of an HTTP target; a Cloud Run job step names its job in cloudRunJob.job: remove cloudRun',
    ]);
  });

  test('THEN the Cloud Run limits are reported at the fields users write', () => {
    const raw = base({
      target: {
        cloudRunJob: {
          job: 'Train',
          region: 'mars',
          taskCount: 10_001,
          parallelism: 0,
          timeout: '2h',
          maxRetries: 11,
          gpu: true,
        },
      },
    });
    expect(problems(raw)).toEqual([
      expect.stringMatching(/^pipeline\.steps\[1\]\.target\.cloudRunJob\.job: "Train" is not a Cloud Run job name/),
      'pipeline.steps[1].target.cloudRunJob.region: "mars" is not a region name such as us-central1',
      'pipeline.steps[1].target.cloudRunJob.taskCount: 10001 is not a task count Cloud Run runs: use a whole number from 1 to 10,000 (tasks per execution)',
      expect.stringMatching(/^pipeline\.steps\[1\]\.target\.cloudRunJob\.parallelism: 0 is not a parallelism/),
      expect.stringMatching(
        /^pipeline\.steps\[1\]\.target\.cloudRunJob\.timeout: 2h is longer than the 1h Cloud Run allows a task that uses GPUs/,
      ),
      expect.stringMatching(/^pipeline\.steps\[1\]\.target\.cloudRunJob\.maxRetries: 11 is not a Cloud Run maxRetries/),
    ]);
  });

  test('THEN a task timeout over 24h is a warning, not an error', () => {
    const spec = parsePipelineSpec(base({ target: { cloudRunJob: { job: 'recsys-train' } } }), {}, { now: NOW });
    const long = structuredClone(spec) as any;
    long.pipeline.steps[1].target.cloudRunJob.timeoutSeconds = 48 * 3600;
    const found = pipelineProblems(long, { now: NOW });
    expect(found).toEqual([
      expect.objectContaining({
        path: ['pipeline', 'steps', 1, 'target', 'cloudRunJob', 'timeout'],
        severity: 'warning',
        value: '48h',
      }),
    ]);
  });

  test('THEN a step after a job of several tasks joins its shards by default (the routes say join: all)', () => {
    const spec = parsePipelineSpec(
      base({ target: { cloudRunJob: { job: 'recsys-train', taskCount: 3 } } }),
      {},
      { now: NOW },
    );
    const { buildRoutes } = require('../../lib/core/routes') as typeof import('../../lib/core/routes');
    expect(buildRoutes(spec).steps.score.join).toBe('all');
  });
});

describe('GIVEN a train step that is a Vertex AI custom job', () => {
  const customJob = {
    machineType: 'a2-highgpu-1g',
    acceleratorType: 'NVIDIA_TESLA_A100',
    acceleratorCount: 1,
    imageUri: 'us-docker.pkg.dev/acme-ml-dev/training/train:1',
    serviceAccount: 'trainer@acme-ml-dev.iam.gserviceaccount.com',
  };

  test('THEN it calls the regional aiplatform endpoint and the job runs as its own account', () => {
    const spec = parsePipelineSpec(
      base({ target: { vertexAI: { region: 'europe-west4', customJob } } }),
      {},
      { now: NOW },
    );
    expect(spec.pipeline.steps[1].target).toEqual({
      url: 'https://europe-west4-aiplatform.googleapis.com/v1/projects/acme-ml-dev/locations/europe-west4/customJobs',
      auth: 'oauth',
      headers: {},
      method: 'POST',
      // The job's identity enqueues the next steps: the stack grants it as any worker's.
      serviceAccount: 'trainer@acme-ml-dev.iam.gserviceaccount.com',
      vertexAI: {
        region: 'europe-west4',
        customJob: { ...customJob, replicaCount: 1, args: [], timeoutSeconds: 7 * 24 * 3600 },
      },
    });
  });

  test('THEN machine, accelerator, replica, image and account fields get shape checks', () => {
    const raw = base({
      target: {
        serviceAccount: 'other@acme-ml-dev.iam.gserviceaccount.com',
        vertexAI: {
          customJob: {
            ...customJob,
            machineType: 'A2',
            acceleratorCount: 0,
            replicaCount: 0,
            imageUri: 'https://x/y',
            args: [''],
          },
        },
      },
    });
    expect(problems(raw)).toEqual([
      expect.stringMatching(
        /^pipeline\.steps\[1\]\.target\.vertexAI\.customJob\.machineType: "A2" is not a Vertex AI machine type/,
      ),
      expect.stringMatching(
        /^pipeline\.steps\[1\]\.target\.vertexAI\.customJob\.acceleratorCount: 0 is not an accelerator count/,
      ),
      expect.stringMatching(
        /^pipeline\.steps\[1\]\.target\.vertexAI\.customJob\.replicaCount: 0 is not a replica count/,
      ),
      expect.stringMatching(
        /^pipeline\.steps\[1\]\.target\.vertexAI\.customJob\.imageUri: "https:\/\/x\/y" is not a container image/,
      ),
      'pipeline.steps[1].target.vertexAI.customJob.args[0]: must be a non-empty string (an argument of the entrypoint)',
      'pipeline.steps[1].target.serviceAccount: a Vertex AI job runs as vertexAI.customJob.serviceAccount (trainer@acme-ml-dev.iam.gserviceaccount.com): remove target.serviceAccount or make them the same',
    ]);
  });

  test('THEN a job without its own service account is a warning (the loader prints it, synth goes on)', () => {
    const spec = parsePipelineSpec(base({ target: { vertexAI: { customJob } } }), {}, { now: NOW }) as any;
    delete spec.pipeline.steps[1].target.vertexAI.customJob.serviceAccount;
    delete spec.pipeline.steps[1].target.serviceAccount;
    expect(pipelineProblems(spec, { now: NOW })).toEqual([
      expect.objectContaining({
        path: ['pipeline', 'steps', 1, 'target', 'vertexAI', 'customJob', 'serviceAccount'],
        severity: 'warning',
        message: expect.stringMatching(/^is not set: the job runs as Vertex AI's custom code service agent/),
      }),
    ]);
  });

  test('THEN a target with both kinds is refused', () => {
    expect(problems(base({ target: { cloudRunJob: { job: 'recsys-train' }, vertexAI: { customJob } } }))).toContain(
      'pipeline.steps[1].target.vertexAI: a target is exactly one of url (an HTTP endpoint), cloudRunJob or vertexAI, and this one has both cloudRunJob and vertexAI: keep one',
    );
  });
});

describe('local and seeds of job steps', () => {
  test('GIVEN local.url on a job step, local.command on a service THEN each is told what fits', () => {
    const raw = base({ target: { cloudRunJob: { job: 'recsys-train' } }, local: { url: 'http://127.0.0.1:8080' } });
    (raw.pipeline.steps[2] as any).local = { command: ['node', 'score.js'] };
    expect(problems(raw)).toEqual([
      'pipeline.steps[1].local.url: a job step has no worker URL: npm run local runs its tasks as processes; use local.command (an argv array) instead',
      'pipeline.steps[2].local.command: local.command runs the tasks of a job step (cloudRunJob, vertexAI); this step is an HTTP service: use local.url',
    ]);
  });

  test('GIVEN a command with an empty argument THEN it says there is no shell', () => {
    const raw = base({ target: { cloudRunJob: { job: 'recsys-train' } }, local: { command: ['node', ''] } });
    expect(problems(raw)).toEqual([
      'pipeline.steps[1].local.command[1]: must be a non-empty string: each item is one argument, passed as it is (no shell: no quoting, globs or variables)',
    ]);
    const ok = parsePipelineSpec(
      base({
        target: { cloudRunJob: { job: 'recsys-train' } },
        local: { command: ['node', 'jobs/train.js', '--fast'] },
      }),
      {},
      { now: NOW },
    );
    expect(ok.pipeline.steps[1].local).toEqual({ command: ['node', 'jobs/train.js', '--fast'] });
  });

  test('GIVEN a seed of a job step larger than an environment variable THEN it says to pass a URI', () => {
    const raw = base({ target: { cloudRunJob: { job: 'recsys-train' } } }, [
      { step: 'train', id: 'big', payload: { rows: 'x'.repeat(33_000) } },
      { step: 'train', id: 'small', payload: { dataset: 'gs://acme/2026-11/' } },
    ]);
    expect(problems(raw)).toEqual([
      expect.stringMatching(
        /^pipeline\.seedTasks\[0\]\.payload: the payload of seed "big" \(task [0-9a-f]{16}-big\) for a Cloud Run job step "train" makes PIPELINE_MESSAGE 33,1\d\d bytes; a Cloud Run environment variable holds at most 32,768 bytes\. Put the data in Cloud Storage and pass its URI/,
      ),
    ]);
  });
});
