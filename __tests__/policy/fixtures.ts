/** Normalized specs for policy tests: a compliant two-step pipeline that tests break one field at a time. */
import type { PipelineSpec, StepSpec } from '../../lib/spec/types';

/** A value no output may ever contain: tests plant it as a secret and assert it never shows up. */
export const SECRET_MARKER = 'S3CR3T-MARKER-d41d8cd98f00b204';

export function step(name: string, overrides: Partial<StepSpec> = {}): StepSpec {
  return {
    name,
    target: {
      url: `https://${name}-abc123-uc.a.run.app/tasks`,
      auth: 'oidc',
      headers: { 'X-Pipeline': 'recsys' },
      method: 'POST',
      serviceAccount: `${name}-worker@acme-ml-dev.iam.gserviceaccount.com`,
    },
    rateLimits: { maxDispatchesPerSecond: 10 },
    retry: { maxAttempts: 5, minBackoffSeconds: 1, maxBackoffSeconds: 600, maxDoublings: 3 },
    dispatchDeadlineSeconds: 600,
    logSamplingRatio: 1,
    next: [],
    ...overrides,
  };
}

export function spec(overrides: Partial<PipelineSpec> = {}, steps?: StepSpec[]): PipelineSpec {
  return {
    project: 'acme-ml-dev',
    region: 'us-central1',
    environment: 'dev',
    labels: { team: 'ml', 'cost-center': 'cc-42' },
    pipeline: {
      name: 'recsys',
      steps: steps ?? [step('preprocess', { next: ['train'] }), step('train')],
      seedTasks: [
        {
          step: 'preprocess',
          id: 'ingest-1',
          payload: { dataset: 'gs://acme-raw/2026-11/', max_tokens: 512, pad_token: '[PAD]' },
        },
      ],
    },
    ...overrides,
  };
}

/** Replaces one step of the default spec. */
export function withStep(index: number, overrides: Partial<StepSpec>, base: PipelineSpec = spec()): PipelineSpec {
  const steps = base.pipeline.steps.map((s, i) => (i === index ? { ...s, ...overrides } : s));
  return { ...base, pipeline: { ...base.pipeline, steps } };
}

import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SeederBundle } from '../../lib/core/seeder-bundle';

/** Fixed clock for time-dependent spec rules. */
export const NOW = new Date('2026-11-20T00:00:00.000Z');

/** A stand-in seeder file: policy tests do not need the real bundle (the seeder suite tests it). */
export function fakeSeeder(): SeederBundle {
  const text = '// policy test seeder\n';
  const sha256 = createHash('sha256').update(text).digest('hex');
  const dir = join(tmpdir(), `ctp-policy-test-${process.getuid?.() ?? 'user'}`, sha256);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'seeder.cjs');
  writeFileSync(path, text);
  return { path, sha256 };
}
