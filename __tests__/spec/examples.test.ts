import * as fs from 'node:fs';
import * as path from 'node:path';
import Ajv from 'ajv';
import { findSpecFiles, loadSpecFile, loadSpecs } from '../../lib/spec/load';
import { JOB_STEP_DISPATCH_DEADLINE_SECONDS } from '../../lib/core/job-route';
import { buildRoutes } from '../../lib/core/routes';
import { STEP_PRESETS } from '../../lib/spec/presets';
import * as schema from '../../lib/spec/schema';
import { pipelineSchemaJson, rawSpecSchemaErrors, standaloneValidatorSource } from '../../lib/spec/schema';

const ROOT = path.join(__dirname, '..', '..');
const PIPELINES = path.join(ROOT, 'pipelines');
const SCHEMA_FILE = path.join(PIPELINES, 'pipeline.schema.json');

describe('example specs in pipelines/', () => {
  test('there are the recsys dev and prod examples, and they all load cleanly together', () => {
    const files = findSpecFiles(PIPELINES).map((f) => path.basename(f));
    expect(files).toEqual(expect.arrayContaining(['recsys-dev.yaml', 'recsys-prod.yaml']));
    // No scheduleTime in the examples, so they stay valid whenever the suite runs: the real clock is used.
    const loaded = loadSpecs({ dir: PIPELINES });
    expect(loaded.map((l) => `${l.spec.pipeline.name}-${l.spec.environment}`)).toEqual(
      expect.arrayContaining(['recsys-dev', 'recsys-prod']),
    );
  });

  test.each(['recsys-dev.yaml', 'recsys-prod.yaml'])(
    '%s: the fan-in DAG ingest -> [user-features, item-features] -> train -> evaluate, train joining once per run',
    (name) => {
      const spec = loadSpecFile(path.join(PIPELINES, name));
      expect(spec.pipeline.steps.map((s) => [s.name, s.preset, s.next])).toEqual([
        ['ingest', 'preprocess', ['user-features', 'item-features']],
        ['user-features', 'preprocess', ['train']],
        ['item-features', 'preprocess', ['train']],
        ['train', 'train', ['evaluate']],
        ['evaluate', undefined, []],
      ]);
      const routes = buildRoutes(spec);
      expect(Object.fromEntries(Object.entries(routes.steps).map(([n, s]) => [n, s.join]))).toEqual({
        ingest: 'each',
        'user-features': 'each',
        'item-features': 'each',
        train: 'all',
        // After a job of several tasks (dev: 3) the next step joins its shards: evaluate runs once per run.
        evaluate: name === 'recsys-dev.yaml' ? 'all' : 'each',
      });
      // train is a job step: the queue's call only starts the job, with a short deadline (not the preset's 30 minutes).
      expect(routes.steps.train.task.dispatchDeadlineSeconds).toBe(JOB_STEP_DISPATCH_DEADLINE_SECONDS);
      for (const step of spec.pipeline.steps) {
        expect(step.target.serviceAccount).toMatch(/@acme-ml-(dev|prod)\.iam\.gserviceaccount\.com$/);
        if (step.name === 'train') continue; // a job step: below
        expect(step.target.url).toMatch(/^https:\/\/[a-z-]+-[a-z0-9]+-uc\.a\.run\.app\/tasks$/);
        expect(step.target.cloudRun?.service).toBe(step.name);
      }
      // train is a job (docs/jobs.md): its queue calls the Run API (dev, 3 tasks) or Vertex AI (prod).
      const train = spec.pipeline.steps.find((s) => s.name === 'train')!;
      expect(train.target.auth).toBe('oauth');
      expect(train.local?.command).toEqual(['node', '--require', 'tsx/cjs', 'lib/worker/example-job.ts']);
      if (name === 'recsys-dev.yaml') {
        expect(train.target.cloudRunJob).toMatchObject({ job: 'recsys-train', taskCount: 3 });
        expect(train.target.url).toBe(
          'https://run.googleapis.com/v2/projects/acme-ml-dev/locations/us-central1/jobs/recsys-train:run',
        );
      } else {
        expect(train.target.vertexAI?.customJob).toMatchObject({ machineType: 'a2-highgpu-1g', replicaCount: 1 });
        expect(train.target.url).toBe(
          'https://us-central1-aiplatform.googleapis.com/v1/projects/acme-ml-prod/locations/us-central1/customJobs',
        );
      }
      expect(spec.pipeline.seedTasks.length).toBeGreaterThanOrEqual(1);
      expect(spec.pipeline.seedTasks.every((t) => t.scheduleTime === undefined)).toBe(true);
    },
  );

  test('dev: smaller rates than prod and local state; prod: gcs backend and monitoring', () => {
    const dev = loadSpecFile(path.join(PIPELINES, 'recsys-dev.yaml'));
    const prod = loadSpecFile(path.join(PIPELINES, 'recsys-prod.yaml'));
    expect(dev.backend).toBeUndefined();
    expect(prod.backend).toEqual({ gcs: { bucket: 'acme-tf-state', prefix: 'recsys/prod' } });
    expect(prod.monitoring?.notificationChannels).toHaveLength(1);
    // prod names its CI deploy account (docs/ci-cd.md), so its first deploy needs no manual actAs grant.
    expect(prod.deployer).toEqual(['serviceAccount:pipelines-deployer@acme-ml-prod.iam.gserviceaccount.com']);
    expect(dev.deployer).toBeUndefined();
    dev.pipeline.steps.forEach((step, i) => {
      expect(step.rateLimits.maxDispatchesPerSecond!).toBeLessThanOrEqual(
        prod.pipeline.steps[i].rateLimits.maxDispatchesPerSecond!,
      );
      expect(step.rateLimits.maxConcurrentDispatches!).toBeLessThanOrEqual(
        prod.pipeline.steps[i].rateLimits.maxConcurrentDispatches!,
      );
    });
  });

  test.each(fs.readdirSync(PIPELINES).filter((f) => /\.ya?ml$/.test(f)))(
    '%s starts with the yaml-language-server schema comment',
    (name) => {
      expect(fs.readFileSync(path.join(PIPELINES, name), 'utf8').split('\n')[0]).toBe(
        '# yaml-language-server: $schema=./pipeline.schema.json',
      );
    },
  );
});

describe('pipelines/pipeline.schema.json', () => {
  test('is up to date with lib/spec/schema.ts (run `npm run spec:schema` after changing the schema)', () => {
    expect(fs.readFileSync(SCHEMA_FILE, 'utf8')).toBe(pipelineSchemaJson());
  });

  test('the precompiled validator is up to date and is the one in use (run `npm run spec:schema` after changing the schema)', () => {
    expect(fs.readFileSync(path.join(ROOT, 'lib', 'spec', 'schema-validator.generated.js'), 'utf8')).toBe(
      standaloneValidatorSource(),
    );
    rawSpecSchemaErrors({});
    expect(schema.validatorSource).toBe('precompiled');
  });

  test('a stale precompiled validator is ignored: the schema is compiled at run time instead', () => {
    jest.isolateModules(() => {
      jest.doMock('../../lib/spec/schema-validator.generated.js', () =>
        Object.assign(() => true, { schemaHash: 'stale' }),
      );
      const fresh = require('../../lib/spec/schema') as typeof schema;
      expect(fresh.rawSpecSchemaErrors({ project: 1 }).map((e) => `${e.instancePath} ${e.keyword}`)).toEqual(
        expect.arrayContaining(['/project type', ' required']),
      );
      expect(fresh.validatorSource).toBe('compiled');
    });
  });

  test('an editor using the file accepts the examples and flags an out-of-range value', () => {
    // What yaml-language-server does with the file: plain JSON Schema validation, range hints included.
    const validate = new Ajv({ allErrors: true, strict: false }).compile(
      JSON.parse(fs.readFileSync(SCHEMA_FILE, 'utf8')),
    );
    const YAML = require('yaml') as typeof import('yaml');
    for (const name of ['recsys-dev.yaml', 'recsys-prod.yaml']) {
      const raw = YAML.parse(fs.readFileSync(path.join(PIPELINES, name), 'utf8'));
      expect(validate(raw) ? [] : validate.errors).toEqual([]);
      raw.pipeline.steps[0].rateLimits = { maxDispatchesPerSecond: 900 };
      expect(validate(raw)).toBe(false);
      expect(validate.errors?.map((e) => `${e.instancePath} ${e.keyword}`)).toEqual([
        '/pipeline/steps/0/rateLimits/maxDispatchesPerSecond maximum',
      ]);
    }
  });
});

describe('docs/spec.md', () => {
  test('the preset table matches lib/spec/presets.ts', () => {
    const doc = fs.readFileSync(path.join(ROOT, 'docs', 'spec.md'), 'utf8');
    const d = (s: number | undefined): string =>
      s === undefined ? '-' : s % 3600 === 0 ? `${s / 3600}h` : s % 60 === 0 ? `${s / 60}m` : `${s}s`;
    for (const [name, p] of Object.entries(STEP_PRESETS)) {
      const row = [
        name,
        p.rateLimits.maxDispatchesPerSecond,
        p.rateLimits.maxConcurrentDispatches,
        p.retry.maxAttempts,
        d(p.retry.minBackoffSeconds),
        d(p.retry.maxBackoffSeconds),
        p.retry.maxDoublings,
        d(p.retry.maxRetryDurationSeconds),
        d(p.dispatchDeadlineSeconds),
        p.logSamplingRatio,
      ];
      expect(doc).toContain(`| ${row.map(String).join(' | ')} |`);
    }
  });
});
