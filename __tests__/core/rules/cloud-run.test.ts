/** The Cloud Run Jobs and Vertex AI rules (lib/core/rules/cloud-run.ts, vertex-ai.ts): each limit at its edges. */
import {
  CLOUD_RUN_JOB_LIMITS,
  cloudRunEnvValueProblems,
  cloudRunJobNameProblems,
  maxExecutionSeconds,
  maxRetriesProblems,
  parallelismProblems,
  taskCountProblems,
  taskTimeoutProblems,
} from '../../../lib/core/rules/cloud-run';
import {
  acceleratorProblems,
  imageUriProblems,
  machineTypeProblems,
  replicaCountProblems,
  vertexEndpointHost,
  vertexEnvValueProblems,
  vertexLabelValue,
} from '../../../lib/core/rules/vertex-ai';

describe('Cloud Run jobs', () => {
  test('job names: RFC 1035 labels of at most 63 characters', () => {
    expect(cloudRunJobNameProblems('recsys-train')).toEqual([]);
    expect(cloudRunJobNameProblems(`a${'b'.repeat(62)}`)).toEqual([]);
    for (const bad of [`a${'b'.repeat(63)}`, 'Train', '1train', 'train-', 'train_job', ''])
      expect(cloudRunJobNameProblems(bad)[0].message).toMatch(/is not a Cloud Run job name: at most 63 lower-case/);
  });

  test('taskCount 1 to 10,000; parallelism at least 1 and not above taskCount', () => {
    expect(taskCountProblems(1)).toEqual([]);
    expect(taskCountProblems(CLOUD_RUN_JOB_LIMITS.maxTaskCount)).toEqual([]);
    expect(taskCountProblems(10_001)[0].message).toBe(
      '10001 is not a task count Cloud Run runs: use a whole number from 1 to 10,000 (tasks per execution)',
    );
    expect(taskCountProblems(0)).toHaveLength(1);
    expect(taskCountProblems(2.5)).toHaveLength(1);
    expect(parallelismProblems(3, 3)).toEqual([]);
    expect(parallelismProblems(4, 3)[0].message).toMatch(/4 is more than taskCount \(3\)/);
    expect(parallelismProblems(0, 3)[0].message).toMatch(/leave it out to run as many tasks at once/);
  });

  test('task timeout: up to 168h, a warning above 24h, at most 1h with GPUs', () => {
    expect(taskTimeoutProblems(24 * 3600, false)).toEqual([]);
    const long = taskTimeoutProblems(48 * 3600, false);
    expect(long).toEqual([expect.objectContaining({ severity: 'warning', value: '48h' })]);
    expect(long[0].message).toMatch(/checkpoint the work so a retry \(maxRetries\) resumes it/);
    expect(taskTimeoutProblems(168 * 3600, false)[0].severity).toBe('warning');
    const [tooLong] = taskTimeoutProblems(169 * 3600, false);
    expect(tooLong.severity).toBeUndefined(); // an error
    expect(tooLong.message).toMatch(/longest task timeout, 168h \(7 days\); for longer training use a vertexAI target/);
    expect(taskTimeoutProblems(3600, true)).toEqual([]);
    expect(taskTimeoutProblems(2 * 3600, true)[0].message).toMatch(
      /longer than the 1h Cloud Run allows a task that uses GPUs/,
    );
    expect(taskTimeoutProblems(0, false)[0].message).toBe('0s is not a task timeout: use at least 1s');
  });

  test('maxRetries 0 to 10', () => {
    expect(maxRetriesProblems(0)).toEqual([]);
    expect(maxRetriesProblems(10)).toEqual([]);
    expect(maxRetriesProblems(11)).toHaveLength(1);
    expect(maxRetriesProblems(-1)).toHaveLength(1);
  });

  test('an environment variable value holds 32,768 bytes, counted in UTF-8', () => {
    expect(cloudRunEnvValueProblems('PIPELINE_MESSAGE', 'x'.repeat(32_768), [])).toEqual([]);
    const [p] = cloudRunEnvValueProblems('PIPELINE_MESSAGE', 'é'.repeat(16_385), ['payload']);
    expect(p).toMatchObject({ path: ['payload'], value: '32,770 bytes' });
    expect(p.message).toMatch(/pass its URI \(e\.g\. \{ "dataset": "gs:\/\/bucket\/path\/" \}\) instead$/);
  });

  test('the longest execution: waves of parallelism, each task up to maxRetries + 1 attempts', () => {
    expect(maxExecutionSeconds({ taskCount: 10, parallelism: 3, maxRetries: 1, timeoutSeconds: 600 })).toBe(
      4 * 2 * 600,
    );
    expect(maxExecutionSeconds({ taskCount: 10, maxRetries: 0, timeoutSeconds: 60 })).toBe(60);
  });
});

describe('Vertex AI custom jobs', () => {
  test('shape checks of machine and accelerator fields (the service checks the catalogue)', () => {
    for (const ok of ['n1-standard-8', 'a2-highgpu-1g', 'g2-standard-12', 'ct5lp-hightpu-4t'])
      expect(machineTypeProblems(ok)).toEqual([]);
    expect(machineTypeProblems('A2_HIGHGPU')).toHaveLength(1);
    expect(machineTypeProblems('n1')).toHaveLength(1);
    expect(acceleratorProblems('NVIDIA_TESLA_A100', 8)).toEqual([]);
    expect(acceleratorProblems(undefined, undefined)).toEqual([]);
    expect(acceleratorProblems('nvidia-a100', 1).map((p) => p.path)).toEqual([['acceleratorType']]);
    expect(acceleratorProblems('NVIDIA_L4', undefined)[0]).toMatchObject({
      path: ['acceleratorCount'],
      message: 'is required with acceleratorType NVIDIA_L4: how many per replica (e.g. 1)',
    });
    expect(acceleratorProblems(undefined, 2)[0].path).toEqual(['acceleratorType']);
    expect(acceleratorProblems('NVIDIA_L4', 0)[0].path).toEqual(['acceleratorCount']);
  });

  test('replicas, images, the endpoint', () => {
    expect(replicaCountProblems(1)).toEqual([]);
    expect(replicaCountProblems(0)).toHaveLength(1);
    expect(imageUriProblems('us-docker.pkg.dev/p/repo/train:1.4')).toEqual([]);
    expect(imageUriProblems('gcr.io/p/train@sha256:abc')).toEqual([]);
    expect(imageUriProblems('https://us-docker.pkg.dev/p/repo/train')).toHaveLength(1);
    expect(imageUriProblems('train')).toHaveLength(1);
    expect(vertexEndpointHost('europe-west4')).toBe('europe-west4-aiplatform.googleapis.com');
  });

  test('an environment string (NAME=value) holds 131,072 bytes', () => {
    expect(vertexEnvValueProblems('PIPELINE_MESSAGE', 'x'.repeat(131_072 - 17), [])).toEqual([]);
    expect(vertexEnvValueProblems('PIPELINE_MESSAGE', 'x'.repeat(131_072 - 16), [])).toHaveLength(1);
  });

  test('label values: lower-case, at most 64 characters, a hash when the text had to change', () => {
    const hash = (s: string) => `h${s.length}`.padEnd(8, '0');
    expect(vertexLabelValue('nightly-1', hash)).toBe('nightly-1');
    expect(vertexLabelValue('Nightly.1', hash)).toBe('nightly-1-h9000000');
    const long = vertexLabelValue('r'.repeat(80), hash);
    expect(long).toHaveLength(64);
    expect(long.endsWith('-h8000000')).toBe(true);
  });
});
