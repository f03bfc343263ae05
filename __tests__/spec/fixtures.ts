import type { PipelineSpec, StepSpec } from '../../lib/spec/types';

/** A fixed clock, so scheduleTime rules never depend on when the tests run. */
export const NOW = new Date('2026-11-20T12:00:00Z');

/** A valid normalized spec (what parsePipelineSpec returns), for tests of the semantic rules. */
export function validSpec(): PipelineSpec {
  const step = (name: string, next: string[]): StepSpec => ({
    name,
    target: {
      url: `https://${name}-abc123-uc.a.run.app/tasks`,
      auth: 'oidc',
      headers: { 'X-Pipeline': 'recsys' },
      method: 'POST',
      serviceAccount: `recsys-${name}@acme-ml-prod.iam.gserviceaccount.com`,
      cloudRun: { service: name, region: 'us-central1' },
    },
    rateLimits: { maxDispatchesPerSecond: 10, maxConcurrentDispatches: 50 },
    retry: {
      maxAttempts: 5,
      minBackoffSeconds: 1,
      maxBackoffSeconds: 600,
      maxDoublings: 3,
      maxRetryDurationSeconds: 7200,
    },
    dispatchDeadlineSeconds: 600,
    logSamplingRatio: 1,
    next,
  });
  return {
    project: 'acme-ml-prod',
    region: 'us-central1',
    environment: 'prod',
    labels: { team: 'ml' },
    backend: { gcs: { bucket: 'acme-tf-state', prefix: 'recsys/prod' } },
    monitoring: { notificationChannels: ['projects/acme-ml-prod/notificationChannels/123'] },
    pipeline: {
      name: 'recsys',
      steps: [step('preprocess', ['train']), step('train', ['infer']), step('infer', [])],
      seedTasks: [{ step: 'preprocess', id: 'ingest-2026-11', payload: { dataset: 'gs://acme-raw/2026-11/' } }],
    },
  };
}

/** A deep, mutable copy to break in one place. */
export type Mutable<T> = unknown extends T ? T : T extends object ? { -readonly [K in keyof T]: Mutable<T[K]> } : T;
export function mutableSpec(): Mutable<PipelineSpec> {
  return structuredClone(validSpec()) as Mutable<PipelineSpec>;
}

/** A valid raw spec (the YAML shape). */
export function validRaw(): Record<string, any> {
  return {
    project: 'acme-ml-prod',
    region: 'us-central1',
    environment: 'prod',
    pipeline: {
      name: 'recsys',
      steps: [
        { name: 'preprocess', target: { url: 'https://preprocess-abc123-uc.a.run.app/tasks' }, next: ['train'] },
        { name: 'train', target: { url: 'https://train-abc123-uc.a.run.app/tasks' } },
      ],
      seedTasks: [{ step: 'preprocess', id: 'ingest-2026-11', payload: { dataset: 'gs://acme-raw/2026-11/' } }],
    },
  };
}
