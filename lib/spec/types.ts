/**
 * The normalized pipeline model: what a spec file (or a TypeScript caller) describes, after parsing, defaulting and
 * validation. Durations are seconds; every default (presets, auth, method) is already applied. The constructs,
 * the seed manifest builder, the policy pack and `npm run local` all read this model, never the raw YAML.
 */
import type { HttpMethod } from '../core/rules/cloud-tasks';
import type { JoinMode } from '../core/routes';

export type StepPreset = 'preprocess' | 'train' | 'infer';
export type TargetAuth = 'oidc' | 'oauth' | 'none';

export interface CloudRunService {
  /** Cloud Run service name the step's worker runs as. */
  readonly service: string;
  /** Its region; defaults to the pipeline's region. */
  readonly region: string;
}

/**
 * `target.cloudRunJob`: the step's queue starts an execution of an existing Cloud Run job (`jobs/{job}:run`, with the
 * message in PIPELINE_MESSAGE); each of its tasks is one shard of the step (docs/jobs.md).
 */
export interface CloudRunJobTarget {
  /** Name of the existing Cloud Run job (the stack does not build images or jobs). */
  readonly job: string;
  /** The job's region. @default - the pipeline's region */
  readonly region: string;
  /** Tasks per execution, sent as `overrides.taskCount` (1 to 10,000). @default 1 */
  readonly taskCount: number;
  /**
   * The job's own parallelism (an execution cannot override it): used by `npm run local` and stall detection.
   * @default - as many tasks at once as Cloud Run allows
   */
  readonly parallelism?: number;
  /** Task timeout, seconds, sent as `overrides.timeout` (at most 168 h; 1 h with `gpu`). @default 600 */
  readonly timeoutSeconds: number;
  /** The job's own retries per task (0 to 10; an execution cannot override them). @default 3 */
  readonly maxRetries: number;
  /** The job's containers use GPUs: Cloud Run caps their task timeout at 1 h. @default false */
  readonly gpu?: boolean;
}

/** `target.vertexAI.customJob`: one Vertex AI CustomJob per message (`customJobs.create`). */
export interface VertexCustomJobSpec {
  /** Compute Engine machine type of every replica, e.g. `a2-highgpu-1g`. */
  readonly machineType: string;
  /** e.g. `NVIDIA_TESLA_A100`. @default - no accelerator */
  readonly acceleratorType?: string;
  /** Accelerators per replica. @default - none (required with acceleratorType) */
  readonly acceleratorCount?: number;
  /** Replicas: 1 primary, the rest workers; each is one shard of the step. @default 1 */
  readonly replicaCount: number;
  /** The training container image. */
  readonly imageUri: string;
  /** Arguments to the image's entrypoint. @default [] */
  readonly args: readonly string[];
  /** The identity the job runs as (it records into the ledger and enqueues next steps). @default - Vertex AI's custom code service agent */
  readonly serviceAccount?: string;
  /** `scheduling.timeout`, seconds. @default 604800 (7 days) */
  readonly timeoutSeconds: number;
}

export interface VertexAITarget {
  /** Where the custom jobs run (`{region}-aiplatform.googleapis.com`). @default - the pipeline's region */
  readonly region: string;
  readonly customJob: VertexCustomJobSpec;
}

export interface StepTarget {
  /**
   * https URL of the worker endpoint; for a job step, the API URL its queue calls (normalize derives it from
   * `cloudRunJob` or `vertexAI`, lib/core/job-route.ts jobApiUrl).
   */
  readonly url: string;
  readonly auth: TargetAuth;
  /** OIDC audience; defaults to the URL without query string (Cloud Tasks' own default is the full URL). */
  readonly audience?: string;
  /** OAuth scope; defaults to https://www.googleapis.com/auth/cloud-platform. */
  readonly scope?: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly method: HttpMethod;
  /** The worker's runtime identity (e-mail); gets enqueue rights on the `next` queues. */
  readonly serviceAccount?: string;
  /** When set, the invoker gets roles/run.invoker on this Cloud Run service. */
  readonly cloudRun?: CloudRunService;
  /** The step is a Cloud Run job (exactly one of url, cloudRunJob, vertexAI). @default - an HTTP service at `url` */
  readonly cloudRunJob?: CloudRunJobTarget;
  /** The step is a Vertex AI custom job. @default - an HTTP service at `url` */
  readonly vertexAI?: VertexAITarget;
}

export interface StepRateLimits {
  readonly maxDispatchesPerSecond?: number;
  readonly maxConcurrentDispatches?: number;
}

export interface StepRetry {
  readonly maxAttempts?: number;
  readonly minBackoffSeconds?: number;
  readonly maxBackoffSeconds?: number;
  readonly maxDoublings?: number;
  readonly maxRetryDurationSeconds?: number;
}

export interface StepSpec {
  /** Unique within the pipeline; the queue id is `<pipeline>-<environment>-<step>`. */
  readonly name: string;
  readonly preset?: StepPreset;
  readonly target: StepTarget;
  /** Preset values merged under the spec's own; a field still unset takes the Cloud Tasks service default. */
  readonly rateLimits: StepRateLimits;
  readonly retry: StepRetry;
  /** Per-task dispatch deadline in seconds (15..1800). */
  readonly dispatchDeadlineSeconds: number;
  /** Stackdriver logging sampling ratio, 0..1. */
  readonly logSamplingRatio: number;
  /** Steps whose queues this step's worker enqueues into. */
  readonly next: readonly string[];
  /**
   * `npm run local`: serve a service step from `url` instead of the built-in example worker; run a job step's tasks
   * as `command` (an argv array, no shell) instead of the built-in example job.
   * @default - the built-in example worker or example job
   */
  readonly local?: { readonly url?: string; readonly command?: readonly string[] };
  /**
   * How the step receives its parents' messages in a run (docs/runs.md, "Joins"): `all`, ONE task per run once every
   * parent completed, carrying all their messages (fan-in); `each`, one task per message a parent sends.
   * @default - defaultJoin(parents) in lib/core/routes.ts: `all` for two or more parents, `each` for one
   */
  readonly join?: JoinMode;
}

export interface SeedTaskSpec {
  readonly step: string;
  /** Unique per step; letters, digits, hyphens, underscores. */
  readonly id: string;
  /** Any JSON value; sent as the task body (JSON-encoded). */
  readonly payload: unknown;
  /** RFC 3339; at most 30 days ahead. */
  readonly scheduleTime?: string;
}

/** Cloud Scheduler's own retry settings for a firing whose Cloud Tasks call failed (durations in seconds). */
export interface ScheduleRetry {
  /** 0 to 5; Cloud Scheduler's default is 0 (a failed firing waits for the next scheduled time). */
  readonly retryCount?: number;
  readonly minBackoffSeconds?: number;
  readonly maxBackoffSeconds?: number;
  readonly maxDoublings?: number;
  readonly maxRetryDurationSeconds?: number;
}

/**
 * A recurring run (docs/schedules.md): a Cloud Scheduler job that, on `cron` in `timeZone`, creates the first task
 * of a new run in `step`'s queue through the Cloud Tasks API.
 */
export interface ScheduleSpec {
  /** Unique within the pipeline; the job id is `<pipeline>-<environment>-<name>`. */
  readonly name: string;
  /** The step each firing starts a run at. */
  readonly step: string;
  /** unix-cron, five fields, as Cloud Scheduler reads it. */
  readonly cron: string;
  /**
   * tz database name the cron is read in.
   * @default 'Etc/UTC'
   */
  readonly timeZone: string;
  /**
   * The run's input (any JSON value).
   * @default - null
   */
  readonly payload?: unknown;
  /** @default false */
  readonly paused: boolean;
  /** Unset fields take Cloud Scheduler's defaults. */
  readonly retry: ScheduleRetry;
  /**
   * How long Cloud Scheduler waits for the Cloud Tasks API's answer, 15 to 1,800 seconds.
   * @default - Cloud Scheduler's 3 minutes
   */
  readonly attemptDeadlineSeconds?: number;
}

export interface GcsBackend {
  readonly bucket: string;
  readonly prefix?: string;
}

export interface PolicySuppression {
  readonly rule: string;
  readonly reason: string;
}

/**
 * One alert of a queue (docs/monitoring.md). Unset fields take the step preset's default
 * (lib/constructs/queue-alerts.ts ALERT_DEFAULTS).
 */
export interface AlertSettings {
  /** @default true */
  readonly enabled?: boolean;
  /** Alert when the value is above this (tasks waiting; failed attempts per 5 minutes). */
  readonly threshold?: number;
  /** For how long the value must stay above the threshold, in seconds (a multiple of 60). */
  readonly durationSeconds?: number;
}

export interface MonitoringSpec {
  /** Full names, `projects/<project>/notificationChannels/<id>`. */
  readonly notificationChannels: readonly string[];
  /** Tasks waiting in a queue (`cloudtasks.googleapis.com/queue/depth`). */
  readonly queueDepth?: AlertSettings;
  /** Attempts that did not succeed (`cloudtasks.googleapis.com/queue/task_attempt_count`, response code not OK). */
  readonly failedAttempts?: AlertSettings;
}

/**
 * Where the run ledger lives (docs/runs.md, "Where the ledger lives"): a Firestore (Native mode) database.
 * Without `database`, the stack creates one; with it, the runs go to that existing database and the stack creates none.
 */
export interface LedgerSpec {
  /**
   * An existing database: `(default)` or its id.
   * @default - a database the stack creates, ledgerDatabaseIdFor(spec): `<pipeline>-<environment>-runs`
   */
  readonly database?: string;
  /**
   * The project of that existing database (only with `database`).
   * @default - the spec's project
   */
  readonly project?: string;
  /**
   * Location of the database the stack creates (a region such as `us-central1`, or the multi-regions `nam5`, `eur3`);
   * not with `database`.
   * @default - the spec's region
   */
  readonly location?: string;
}

export interface PipelineSpec {
  readonly project: string;
  readonly region: string;
  readonly environment: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly backend?: { readonly gcs: GcsBackend };
  /**
   * IAM members (`serviceAccount:<email>`, `user:<email>`, `group:<email>`, `domain:<domain>`, `principal://...`,
   * `principalSet://...`) that run `cdktf deploy` for this spec. Each gets `roles/iam.serviceAccountUser` on the
   * pipeline's invoker account only, and the queues and the seeding wait for those bindings, so the first deploy
   * succeeds without a manual grant (docs/ci-cd.md).
   * @default - no binding: the deploy identity needs actAs on the invoker from elsewhere
   */
  readonly deployer?: readonly string[];
  readonly monitoring?: MonitoringSpec;
  /** @default - a database the stack creates (LedgerSpec) */
  readonly ledger?: LedgerSpec;
  readonly policy?: {
    readonly suppress: readonly PolicySuppression[];
    /** Label keys this pipeline must carry, on top of the organisation's (docs/policy.md). */
    readonly requiredLabels?: readonly string[];
  };
  readonly pipeline: {
    readonly name: string;
    readonly steps: readonly StepSpec[];
    readonly seedTasks: readonly SeedTaskSpec[];
    /**
     * Recurring runs through Cloud Scheduler (docs/schedules.md).
     * @default - none
     */
    readonly schedules?: readonly ScheduleSpec[];
  };
}

/** Where a spec came from, for error messages and for locating field paths in the source. */
export interface SpecSource {
  /** Path as the user wrote it (relative to the working directory when possible). */
  readonly file: string;
}
