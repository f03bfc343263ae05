/**
 * The JSON Schema of a raw pipeline spec (what users write in YAML or JSON), and its compiled validator.
 *
 * The schema has two jobs:
 * - shape (types, required fields, enums, no unknown keys anywhere): the loader reports these errors itself;
 * - editor hints (ranges, patterns, lengths, all taken from lib/core/rules/cloud-tasks.ts and ./formats.ts): these
 *   keywords are ADVISORY. The loader ignores ajv's errors for them, because validate.ts checks the same rules on
 *   the normalized model (for TypeScript users too) with messages that name the Cloud Tasks rule. See
 *   ADVISORY_KEYWORDS and docs/decisions/spec-validation.md.
 *
 * pipelines/pipeline.schema.json is this object written out, and lib/spec/schema-validator.generated.js its
 * precompiled validator (both by `npm run spec:schema`); tests keep them current.
 */
import { createHash } from 'node:crypto';
import type { ErrorObject, Options as AjvOptions, ValidateFunction } from 'ajv';
import { HTTP_METHODS, LIMITS } from '../core/rules/cloud-tasks';
import { CLOUD_RUN_JOB_LIMITS } from '../core/rules/cloud-run';
import { VERTEX_AI_LIMITS } from '../core/rules/vertex-ai';
import { DURATION_FORMAT_HINT, DURATION_PATTERN } from '../core/duration';
import { IAM_MEMBER_FORMAT_HINT, IAM_MEMBER_PATTERN } from '../core/rules/iam';
import { PROJECT_ID_PATTERN } from '../core/rules/resource-manager';
import { GCS_BUCKET_PATTERN, MAX_LABELS, NAME_PATTERN, NOTIFICATION_CHANNEL_PATTERN } from './formats';
import { DEFAULT_LOG_SAMPLING_RATIO, STEP_PRESET_NAMES } from './presets';
import { SCHEDULER_DEFAULTS, SCHEDULER_LIMITS } from '../core/rules/scheduler';
import { JOIN_MODES } from '../core/routes';
import { FIRESTORE_LIMITS } from '../core/rules/firestore';

/** Keywords that only guide editors; the semantic validator owns these rules (see the file comment). */
export const ADVISORY_KEYWORDS: ReadonlySet<string> = new Set([
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'pattern',
  'minLength',
  'maxLength',
  'minItems',
  'maxItems',
  'uniqueItems',
  'maxProperties',
]);

type Schema = Record<string, unknown>;

/** An object schema: unknown keys are errors everywhere (a typo must never be silently ignored). */
function object(description: string, properties: Record<string, Schema>, required: string[] = []): Schema {
  return {
    type: 'object',
    description,
    ...(required.length ? { required } : {}),
    properties,
    additionalProperties: false,
  };
}

function text(description: string, extra: Schema = {}): Schema {
  return { type: 'string', description, ...extra };
}

/** Durations are inlined rather than a $ref: draft-07 ignores keywords next to $ref, and each use has its own description. */
const duration = (description: string): Schema => ({
  type: 'string',
  pattern: DURATION_PATTERN.source,
  description: `${description} A duration: ${DURATION_FORMAT_HINT}.`,
});

/** True for the schema of a duration field (the loader words type errors for these with the duration hint). */
export function isDurationSchema(schema: unknown): boolean {
  return typeof schema === 'object' && schema !== null && (schema as Schema).pattern === DURATION_PATTERN.source;
}

/** delivery: one queue alert (docs/monitoring.md); unset fields take the step preset's default. */
const alert = (description: string, threshold: string): Schema =>
  object(description, {
    enabled: { type: 'boolean', default: true, description: 'Create this alert for every queue.' },
    threshold: {
      type: 'number',
      minimum: 0,
      description: `${threshold} Default: per step preset (docs/monitoring.md).`,
    },
    duration: duration(
      'How long the value must stay above the threshold; a multiple of 60s. Default: per step preset.',
    ),
  });

const https = (description: string): Schema =>
  text(description, { pattern: '^https://', maxLength: LIMITS.maxUrlLength });

const target = object(
  "Where Cloud Tasks sends this step's tasks (an HTTP target).",
  {
    url: https(
      `https URL of the step's worker endpoint (at most ${LIMITS.maxUrlLength} characters). Required unless the step is a cloudRunJob or vertexAI.`,
    ),
    auth: {
      type: 'string',
      enum: ['oidc', 'oauth', 'none'],
      default: 'oidc',
      description:
        'Token Cloud Tasks attaches to each request: oidc (Cloud Run, Cloud Functions, your own endpoints), oauth (only *.googleapis.com), none.',
    },
    audience: https('OIDC audience. Default: the url without query string or fragment.'),
    headers: {
      type: 'object',
      description:
        'Extra HTTP headers on every task. Host, Content-Length, User-Agent, Authorization, X-Google-*, X-AppEngine-* and X-CloudTasks-* are refused.',
      additionalProperties: { type: 'string' },
      default: {},
    },
    method: {
      type: 'string',
      enum: [...HTTP_METHODS],
      default: 'POST',
      description: 'HTTP method. A payload needs POST, PUT or PATCH.',
    },
    serviceAccount: text(
      "E-mail of the worker's runtime service account; it may enqueue into the `next` steps' queues.",
    ),
    cloudRun: object(
      'The Cloud Run service behind the url; the pipeline invoker gets roles/run.invoker on it.',
      {
        service: text('Cloud Run service name.'),
        region: text('Cloud Run region. Default: the spec region.', { pattern: LIMITS.locationPattern.source }),
      },
      ['service'],
    ),
    scope: https('OAuth scope (auth: oauth only). Default: https://www.googleapis.com/auth/cloud-platform.'),
    // delivery: job steps (docs/jobs.md): exactly one of url, cloudRunJob, vertexAI (checked by the job target rules).
    cloudRunJob: object(
      'Instead of url: start an execution of this existing Cloud Run job per message (jobs/{job}:run); each task is one shard (docs/jobs.md).',
      {
        job: text('Name of the existing Cloud Run job.', { pattern: CLOUD_RUN_JOB_LIMITS.jobNamePattern.source }),
        region: text("The job's region. Default: the spec region.", { pattern: LIMITS.locationPattern.source }),
        taskCount: {
          type: 'integer',
          minimum: 1,
          maximum: CLOUD_RUN_JOB_LIMITS.maxTaskCount,
          default: CLOUD_RUN_JOB_LIMITS.defaultTaskCount,
          description: `Tasks per execution (overrides.taskCount), 1 to ${CLOUD_RUN_JOB_LIMITS.maxTaskCount}: the step's shards per message.`,
        },
        parallelism: {
          type: 'integer',
          minimum: 1,
          description:
            "The job's own parallelism (not overridable per execution); npm run local runs this many tasks at once. Default: as many as Cloud Run allows.",
        },
        timeout: duration(
          'Task timeout of every execution (overrides.timeout), at most 168h (1h with gpu). Default: 10m.',
        ),
        maxRetries: {
          type: 'integer',
          minimum: 0,
          maximum: CLOUD_RUN_JOB_LIMITS.maxMaxRetries,
          default: CLOUD_RUN_JOB_LIMITS.defaultMaxRetries,
          description: "The job's own retries per task (not overridable per execution), 0 to 10. Default: 3.",
        },
        gpu: {
          type: 'boolean',
          default: false,
          description: 'The job uses GPUs: Cloud Run caps its task timeout at 1h.',
        },
      },
      ['job'],
    ),
    vertexAI: object(
      'Instead of url: create a Vertex AI custom training job per message (customJobs.create); each replica is one shard (docs/jobs.md).',
      {
        region: text('Where the jobs run. Default: the spec region.', { pattern: LIMITS.locationPattern.source }),
        customJob: object(
          'The CustomJob: one worker pool of identical replicas (replica 0 is the primary).',
          {
            machineType: text('Machine type, e.g. n1-standard-8, a2-highgpu-1g.', {
              pattern: VERTEX_AI_LIMITS.machineTypePattern.source,
            }),
            acceleratorType: text('Accelerator, e.g. NVIDIA_TESLA_T4, NVIDIA_L4, NVIDIA_TESLA_A100.', {
              pattern: VERTEX_AI_LIMITS.acceleratorTypePattern.source,
            }),
            acceleratorCount: { type: 'integer', minimum: 1, description: 'Accelerators per replica.' },
            replicaCount: {
              type: 'integer',
              minimum: 1,
              default: 1,
              description: 'Replicas (1 primary, the rest workers).',
            },
            imageUri: text('Training container image, e.g. us-docker.pkg.dev/p/repo/train:1.0.'),
            args: {
              type: 'array',
              items: { type: 'string' },
              default: [],
              description: 'Arguments to the entrypoint.',
            },
            serviceAccount: text('E-mail of the service account the job runs as.'),
            timeout: duration('Longest the job may run (scheduling.timeout). Default: 168h (7 days).'),
          },
          ['machineType', 'imageUri'],
        ),
      },
      ['customJob'],
    ),
  },
  [],
);

const step = object(
  'One step of the pipeline: a Cloud Tasks queue and the worker it dispatches to.',
  {
    name: text('Unique step name; the queue id is <pipeline>-<environment>-<step>.', { pattern: NAME_PATTERN.source }),
    preset: {
      type: 'string',
      enum: STEP_PRESET_NAMES,
      description: 'Per-kind defaults (docs/spec.md#presets); spec values override them field by field.',
    },
    target,
    rateLimits: object('Queue rate limits. Default: the preset, else the Cloud Tasks service defaults.', {
      maxDispatchesPerSecond: {
        type: 'number',
        exclusiveMinimum: 0,
        maximum: LIMITS.maxDispatchesPerSecond,
        description: `Dispatches per second, > 0 and at most ${LIMITS.maxDispatchesPerSecond}.`,
      },
      maxConcurrentDispatches: {
        type: 'integer',
        minimum: 1,
        maximum: LIMITS.maxConcurrentDispatches,
        description: `Tasks in flight at once, 1 to ${LIMITS.maxConcurrentDispatches}.`,
      },
    }),
    retry: object('Retry config. Default: the preset, else the Cloud Tasks service defaults.', {
      maxAttempts: {
        type: 'integer',
        minimum: LIMITS.minMaxAttempts,
        description: 'Attempts per task including the first; -1 for unlimited. 0 is not allowed.',
      },
      minBackoff: duration('Wait before the first retry.'),
      maxBackoff: duration('Longest wait between retries; at least minBackoff.'),
      maxDoublings: {
        type: 'integer',
        minimum: 0,
        description: 'How many times the wait doubles before it grows linearly.',
      },
      maxRetryDuration: duration(
        'Time limit for retrying a task; 0s for none. Retrying stops when both this and maxAttempts are spent.',
      ),
    }),
    dispatchDeadline: duration(
      `How long Cloud Tasks waits for the worker's response, ${LIMITS.minDispatchDeadlineSeconds}s to ${LIMITS.maxDispatchDeadlineSeconds / 60}m. Default: the preset, else 10m.`,
    ),
    logSamplingRatio: {
      type: 'number',
      minimum: LIMITS.minSamplingRatio,
      maximum: LIMITS.maxSamplingRatio,
      description: `Fraction of dispatches logged to Cloud Logging, 0 to 1. Default: the preset, else ${DEFAULT_LOG_SAMPLING_RATIO}.`,
    },
    next: {
      type: 'array',
      items: { type: 'string' },
      uniqueItems: true,
      default: [],
      description: "Steps this step's worker enqueues into; the steps must form a DAG.",
    },
    local: object(
      '`npm run local`: serve this step from url (a service step) or run its tasks as command (a job step), instead of the built-in example worker or job.',
      {
        url: text('http(s) URL on 127.0.0.1, ::1 or localhost (service steps).', { pattern: '^https?://' }),
        command: {
          type: 'array',
          items: { type: 'string' },
          minItems: 1,
          description:
            'argv of one task of a job step, run without a shell, e.g. ["node", "--require", "tsx/cjs", "jobs/train.ts"].',
        },
      },
    ),
    join: {
      type: 'string',
      enum: [...JOIN_MODES],
      description:
        "How this step receives its parents' messages in a run: all (ONE task per run, once every parent completed, with all their messages) or each (one task per message a parent sends). Default: all for a step with two or more parents, each for one. Only on a step that another step names in next.",
    },
  },
  ['name', 'target'],
);

const seedTask = object(
  'A task created at deploy time, starting the pipeline.',
  {
    step: text('Name of the step whose queue receives the task.'),
    id: text('Unique per step; letters, digits, hyphens, underscores. The task id is a hash prefix plus this id.', {
      pattern: LIMITS.taskIdPattern.source,
    }),
    payload: { description: 'Any JSON value; sent JSON-encoded as the task body. Omit for no body.' },
    scheduleTime: text(
      'RFC 3339 time to dispatch at, at most 30 days ahead (e.g. 2026-12-01T00:00:00Z). Default: now.',
    ),
  },
  ['step', 'id'],
);

const schedule = object(
  'A recurring run: a Cloud Scheduler job that starts a run at `step` on `cron` (docs/schedules.md).',
  {
    name: text('Unique schedule name; the Cloud Scheduler job id is <pipeline>-<environment>-<name>.', {
      pattern: NAME_PATTERN.source,
    }),
    step: text('The step each firing starts a run at.'),
    cron: text(
      'unix-cron, as Cloud Scheduler reads it: minute hour day-of-month month day-of-week, e.g. "0 3 * * *". No seconds field, no @daily, no L, W, # or ?.',
    ),
    timeZone: text(
      'tz database time zone the cron is read in, e.g. Europe/Berlin. Daylight saving changes can skip or repeat a firing in the hours they move (docs/schedules.md).',
      { default: SCHEDULER_DEFAULTS.timeZone },
    ),
    payload: { description: "The run's input: any JSON value, sent as the first task's payload. Default: null." },
    paused: { type: 'boolean', default: false, description: 'Create the job paused: it does not fire until resumed.' },
    retry: object(
      "Cloud Scheduler's retries of a firing whose Cloud Tasks call failed. Default: Cloud Scheduler's (no retry).",
      {
        retryCount: {
          type: 'integer',
          minimum: 0,
          maximum: SCHEDULER_LIMITS.maxRetryCount,
          description: `Retries of a failed firing, 0 to ${SCHEDULER_LIMITS.maxRetryCount}. A retry after a call that created the task but lost its answer starts a second run.`,
        },
        minBackoff: duration('Wait before the first retry. Default 5s.'),
        maxBackoff: duration('Longest wait between retries; at least minBackoff. Default 1h.'),
        maxDoublings: {
          type: 'integer',
          minimum: 0,
          description: 'How many times the wait doubles before it grows linearly. Default 5.',
        },
        maxRetryDuration: duration('Time limit for retrying a firing; 0s for none (the default).'),
      },
    ),
    attemptDeadline: duration(
      `How long Cloud Scheduler waits for the Cloud Tasks API's answer, ${SCHEDULER_LIMITS.minAttemptDeadlineSeconds}s to ${SCHEDULER_LIMITS.maxAttemptDeadlineSeconds / 60}m. Default: 3m.`,
    ),
  },
  ['name', 'step', 'cron'],
);

export const PIPELINE_SCHEMA: Schema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'Cloud Tasks pipeline spec',
  description:
    'A pipeline of Cloud Tasks queues (one per step) and the seed tasks that start it. Reference: docs/spec.md.',
  type: 'object',
  required: ['project', 'region', 'environment', 'pipeline'],
  properties: {
    $schema: text('Path or URL of this schema, for editors (JSON specs).'),
    project: text('Google Cloud project id.', { pattern: PROJECT_ID_PATTERN.source }),
    region: text('Cloud Tasks location, e.g. us-central1.', { pattern: LIMITS.locationPattern.source }),
    environment: text('Environment name (dev, prod, ...): part of the stack name and every queue id.', {
      pattern: NAME_PATTERN.source,
    }),
    labels: {
      type: 'object',
      description: 'Google Cloud labels for every resource that takes labels.',
      additionalProperties: { type: 'string' },
      maxProperties: MAX_LABELS,
      default: {},
    },
    backend: object(
      'Terraform state backend. Default: local state (terraform.<stack>.tfstate).',
      {
        gcs: object(
          'Cloud Storage backend.',
          {
            bucket: text('Bucket name.', { pattern: GCS_BUCKET_PATTERN.source }),
            prefix: text('Object prefix for the state.'),
          },
          ['bucket'],
        ),
      },
      ['gcs'],
    ),
    deployer: {
      type: 'array',
      items: text(`An IAM member: ${IAM_MEMBER_FORMAT_HINT}`, {
        pattern: IAM_MEMBER_PATTERN.source,
      }),
      uniqueItems: true,
      default: [],
      description:
        "Identities that run `cdktf deploy` for this spec. Each gets roles/iam.serviceAccountUser on the pipeline's invoker account only, before the queues are created, so the first deploy needs no manual grant (docs/ci-cd.md).",
    },
    monitoring: object('Alerting (docs/monitoring.md).', {
      notificationChannels: {
        type: 'array',
        items: text('projects/<project>/notificationChannels/<id>', { pattern: NOTIFICATION_CHANNEL_PATTERN.source }),
        default: [],
        description: 'Notification channels for alerts (full resource names).',
      },
      // delivery: alert thresholds (docs/monitoring.md).
      queueDepth: alert(
        'Alert on tasks waiting in each queue (cloudtasks.googleapis.com/queue/depth).',
        'Alert when more tasks than this are waiting.',
      ),
      failedAttempts: alert(
        'Alert on task attempts that did not succeed (cloudtasks.googleapis.com/queue/task_attempt_count, response code not OK).',
        'Alert when more attempts than this fail within 5 minutes.',
      ),
    }),
    ledger: object(
      'The run ledger (docs/runs.md): a Firestore (Native mode) database. Default: one the stack creates in the project, named <pipeline>-<environment>-runs, at the region.',
      {
        database: text(
          'An existing database to keep the runs in: "(default)" or its id. The stack then creates none.',
          {
            pattern: `^(\\(default\\)|${FIRESTORE_LIMITS.databaseIdPattern.source.slice(1, -1)})$`,
          },
        ),
        project: text('Project of that existing database (only with database). Default: the spec project.', {
          pattern: PROJECT_ID_PATTERN.source,
        }),
        location: text(
          'Location of the database the stack creates (a region such as us-central1, or nam5, eur3); not with database. Default: the region.',
          { pattern: FIRESTORE_LIMITS.locationIdPattern.source },
        ),
      },
    ),
    policy: object('Policy pack settings (docs/policy.md).', {
      suppress: {
        type: 'array',
        default: [],
        description: 'Policy rules not applied to this spec, each with the reason.',
        items: object(
          'A suppressed policy rule.',
          { rule: text('Rule id, e.g. CTP001.'), reason: text('Why it does not apply here.') },
          ['rule', 'reason'],
        ),
      },
      // delivery: labels this pipeline must carry, on top of the organisation's (docs/policy.md).
      requiredLabels: {
        type: 'array',
        items: text('A label key.'),
        default: [],
        description: 'Label keys this pipeline must carry (policy rule CTP006).',
      },
    }),
    pipeline: object(
      'The pipeline: its steps and seed tasks.',
      {
        name: text('Pipeline name: lower-case letters, digits, hyphens.', { pattern: NAME_PATTERN.source }),
        steps: { type: 'array', minItems: 1, items: step, description: 'The steps, each one Cloud Tasks queue.' },
        seedTasks: { type: 'array', items: seedTask, default: [], description: 'Tasks created at deploy time.' },
        schedules: {
          type: 'array',
          items: schedule,
          default: [],
          description: 'Recurring runs through Cloud Scheduler (docs/schedules.md).',
        },
      },
      ['name', 'steps'],
    ),
  },
  additionalProperties: false,
};

/** The schema file's text: what `npm run spec:schema` writes to pipelines/pipeline.schema.json. */
export function pipelineSchemaJson(): string {
  return `${JSON.stringify(PIPELINE_SCHEMA, null, 2)}\n`;
}

/** verbose: errors carry the schema they came from, so messages can list the allowed keys and descriptions. */
const AJV_OPTIONS: AjvOptions = { allErrors: true, verbose: true, strict: true };

/** Identifies the schema a precompiled validator was generated from. */
export function pipelineSchemaHash(): string {
  return createHash('sha256').update(pipelineSchemaJson()).digest('hex').slice(0, 16);
}

/**
 * Source of lib/spec/schema-validator.generated.js: the validator compiled ahead of time (ajv standalone code).
 * Compiling the schema costs ~120-180 ms of CPU on every `npm run synth`; loading the generated code ~10 ms.
 */
export function standaloneValidatorSource(): string {
  // Loaded here only: generating is a build step (`npm run spec:schema`), not part of loading a spec.
  const Ajv = (require('ajv') as typeof import('ajv')).default;
  const standaloneCode = (require('ajv/dist/standalone') as typeof import('ajv/dist/standalone')).default;
  const ajv = new Ajv({ ...AJV_OPTIONS, code: { source: true } });
  return [
    '// Generated by `npm run spec:schema` from lib/spec/schema.ts (ajv standalone code). Do not edit.',
    standaloneCode(ajv, ajv.compile(PIPELINE_SCHEMA)),
    `module.exports.schemaHash = ${JSON.stringify(pipelineSchemaHash())};`,
    '',
  ].join('\n');
}

let compiled: ValidateFunction | undefined;
/** 'precompiled' or 'compiled': which validator is in use (tests check the generated file is current). */
export let validatorSource: 'precompiled' | 'compiled' | undefined;

function validator(): ValidateFunction {
  if (compiled) return compiled;
  try {
    const generated = require('./schema-validator.generated.js') as ValidateFunction & { schemaHash?: string };
    // A stale file (schema.ts edited, generator not re-run) is ignored: slower, never wrong.
    if (generated.schemaHash === pipelineSchemaHash()) [compiled, validatorSource] = [generated, 'precompiled'];
  } catch {
    // No generated file: compile below.
  }
  if (!compiled) {
    const Ajv = (require('ajv') as typeof import('ajv')).default;
    [compiled, validatorSource] = [new Ajv(AJV_OPTIONS).compile(PIPELINE_SCHEMA), 'compiled'];
  }
  return compiled;
}

/** ajv's errors for a raw spec (empty when its shape is right); the validator is loaded or compiled once. */
export function rawSpecSchemaErrors(raw: unknown): ErrorObject[] {
  const validate = validator();
  return validate(raw) ? [] : [...(validate.errors ?? [])];
}
