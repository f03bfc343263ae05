/**
 * Normalized pipeline specs written in TypeScript, for construct tests that must not depend on the YAML loader.
 * `pipelineSpec()` is a three-step pipeline with every feature the constructs map (cloud run, oidc, oauth, none,
 * a port and a query string, headers, seed tasks); tests override parts of it.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PipelineSpec, StepSpec } from '../../lib/spec/types';
import type { SeederBundle } from '../../lib/constructs/seed-tasks';

/** Fixed clock, so schedule-time rules and snapshots do not depend on the day the suite runs. */
export const NOW = new Date('2026-01-15T00:00:00.000Z');

export function step(name: string, overrides: Partial<StepSpec> = {}): StepSpec {
  return {
    name,
    target: {
      url: `https://${name}-worker-abc123-uc.a.run.app/tasks/${name}`,
      auth: 'oidc',
      headers: {},
      method: 'POST',
      serviceAccount: `${name}-worker@ml-platform-dev.iam.gserviceaccount.com`,
    },
    rateLimits: { maxDispatchesPerSecond: 10, maxConcurrentDispatches: 20 },
    retry: {
      maxAttempts: 5,
      minBackoffSeconds: 10,
      maxBackoffSeconds: 300,
      maxDoublings: 3,
      maxRetryDurationSeconds: 3600,
    },
    dispatchDeadlineSeconds: 600,
    logSamplingRatio: 1,
    next: [],
    ...overrides,
  };
}

export function pipelineSpec(overrides: Partial<PipelineSpec> = {}): PipelineSpec {
  return {
    project: 'ml-platform-dev',
    region: 'us-central1',
    environment: 'dev',
    labels: { team: 'recsys' },
    pipeline: {
      name: 'recsys',
      steps: [
        step('preprocess', {
          preset: 'preprocess',
          next: ['train'],
          target: {
            url: 'https://preprocess-abc123-uc.a.run.app/tasks/preprocess',
            auth: 'oidc',
            headers: { 'X-Pipeline': 'recsys' },
            method: 'POST',
            serviceAccount: 'preprocess-worker@ml-platform-dev.iam.gserviceaccount.com',
            cloudRun: { service: 'preprocess', region: 'us-central1' },
          },
        }),
        step('train', {
          preset: 'train',
          next: ['infer'],
          dispatchDeadlineSeconds: 1800,
          target: {
            url: 'https://trainer.example.com:8443/v1/train?mode=full&shard=all',
            auth: 'oidc',
            audience: 'https://trainer.example.com',
            headers: {},
            method: 'PUT',
            serviceAccount: 'train-worker@ml-platform-dev.iam.gserviceaccount.com',
          },
        }),
        step('infer', {
          preset: 'infer',
          retry: { maxAttempts: -1 },
          rateLimits: {},
          target: {
            url: 'https://aiplatform.googleapis.com/v1/projects/ml-platform-dev/locations/us-central1/endpoints/42:predict',
            auth: 'oauth',
            headers: {},
            method: 'POST',
          },
        }),
      ],
      seedTasks: [
        { step: 'preprocess', id: 'daily-2026-01-15', payload: { dataset: 'gs://recsys/raw/2026-01-15', shards: 4 } },
        {
          step: 'preprocess',
          id: 'backfill',
          payload: { dataset: 'gs://recsys/raw/backfill' },
          scheduleTime: '2026-01-20T06:00:00+01:00',
        },
      ],
    },
    ...overrides,
  };
}

/** A stand-in seeder file (the real bundle is tested by the seeder's own suite); content-addressed like the real one. */
export function fakeSeeder(): SeederBundle {
  const text = '// test seeder\nconsole.log(process.argv[2]);\n';
  const sha256 = createHash('sha256').update(text).digest('hex');
  const dir = join(tmpdir(), `cloud-tasks-pipelines-test-${process.getuid?.() ?? 'user'}`, sha256);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'seeder.cjs');
  writeFileSync(path, text);
  return { path, sha256 };
}
