/**
 * The dashboard's JSON API (`/api/...`, docs/dashboard.md): the shapes the server sends and the page reads. Types
 * only, shared by the server (lib/apps/dashboard) and the page (lib/apps/dashboard/ui), so the two cannot drift.
 * Times are ISO 8601 strings (the emulator's clock), durations seconds, names full Cloud Tasks resource names.
 */

/** What a task is doing, as Cloud Tasks sees it. */
export type TaskPhase = 'pending' | 'running' | 'retrying' | 'succeeded' | 'failed' | 'deleted';

/** Tasks of a step (or a queue) by phase. `deleted`: removed by DeleteTask or PurgeQueue before they finished. */
export type PhaseCounts = Readonly<Record<TaskPhase, number>>;

export type RunStatus = 'running' | 'succeeded' | 'failed' | 'cancelled';

/** Where run data comes from: the run ledger (the worker SDK's Firestore documents), or derived from the tasks. */
export type RunsSourceKind = 'ledger' | 'tasks';

export interface DashboardInfo {
  /** `<pipeline>-<environment>`, when a pipeline is loaded. */
  readonly stack?: string;
  /** gRPC `host:port` of the emulator (CLOUD_TASKS_EMULATOR_HOST). */
  readonly emulator: string;
  /** The emulator's REST URL, when it serves REST. */
  readonly restUrl?: string;
  readonly dispatching: boolean;
  readonly runs?: RunsSourceKind;
  /** The server's clock. */
  readonly now: string;
}

// ------------------------------------------------------------------ pipeline

export interface PipelineStepView {
  readonly name: string;
  /** Full queue name. */
  readonly queue: string;
  readonly queueId: string;
  /** `service` (an HTTP worker), `cloudRunJob`, `vertexAI`, ... as the stack's routes say. */
  readonly kind: string;
  /** How a step with parents receives their messages (`all`: once per run; `each`: once per message). */
  readonly join?: 'all' | 'each';
  readonly next: readonly string[];
  readonly parents: readonly string[];
  /** Seed ids (`seedTasks`) whose task starts a run at this step. */
  readonly seeds: readonly string[];
  /** Names of the schedules (Cloud Scheduler jobs) that enqueue into this step. */
  readonly schedules: readonly string[];
  /** Tasks of this step for the selected run, or of every run. */
  readonly counts: PhaseCounts;
}

export interface PipelineResponse {
  readonly pipeline: string;
  readonly environment: string;
  readonly stack: string;
  /** In spec order. */
  readonly steps: readonly PipelineStepView[];
  /** The run the counts are for; absent: every run. */
  readonly run?: string;
}

// ------------------------------------------------------------------ runs

export interface RunSourceView {
  readonly kind: 'seed' | 'schedule' | 'manual';
  /** The seed id, the schedule name, or who started it. */
  readonly name?: string;
}

export interface RunFailureView {
  readonly step: string;
  readonly shard?: string;
  readonly kind?: string;
  readonly reason: string;
}

export interface RunListItem {
  readonly runId: string;
  readonly status: RunStatus;
  readonly source: RunSourceView;
  readonly startStep: string;
  readonly createdAt: string;
  readonly finishedAt?: string;
  readonly durationSeconds: number;
  /** Steps with tasks waiting or in flight (parents first); the last step that ran, once finished. */
  readonly currentSteps: readonly string[];
  readonly failure?: RunFailureView;
}

export interface RunsResponse {
  readonly source: RunsSourceKind;
  /** Newest first. */
  readonly runs: readonly RunListItem[];
}

export interface ShardSummary {
  readonly shard: string;
  readonly state: string;
  readonly attempts: number;
  readonly startedAt?: string;
  readonly finishedAt?: string;
  readonly durationSeconds?: number;
  readonly outputs: Readonly<Record<string, string>>;
  readonly error?: { readonly message: string; readonly final: boolean; readonly attempt: number };
}

export interface RunStepView {
  readonly step: string;
  /** pending, open, complete, skipped, failed (ledger); or the phase of its tasks (tasks). */
  readonly state: string;
  readonly expected?: number;
  readonly counts: PhaseCounts;
  readonly attempts: number;
  readonly durationSeconds?: number;
  readonly outputs: ReadonlyArray<{ readonly shard: string; readonly name: string; readonly uri: string }>;
  readonly shards: readonly ShardSummary[];
}

/** One dispatch attempt of a task. */
export interface AttemptView {
  /** 1 for the first. */
  readonly attempt: number;
  readonly dispatchedAt: string;
  readonly endedAt?: string;
  readonly outcome: 'in-flight' | 'succeeded' | 'failed';
  /** HTTP status of the response. */
  readonly status?: number;
  readonly latencyMs?: number;
  /** Why it failed without a status (deadline, refused), or RunTask. */
  readonly reason?: string;
  /** When the queue retries it (backoff), after a failure. */
  readonly nextAttemptAt?: string;
  /** Sent by RunTask (run now), ignoring pause and rate limits. */
  readonly viaRunTask?: boolean;
}

export interface TimelineTask {
  /** Full task name. */
  readonly task: string;
  readonly taskId: string;
  readonly step: string;
  readonly phase: TaskPhase;
  readonly createdAt: string;
  readonly attempts: readonly AttemptView[];
}

export interface RunDetail extends RunListItem {
  readonly source: RunSourceView;
  readonly runsSource: RunsSourceKind;
  /** The run's input payload, secrets redacted (see BodyPreview). */
  readonly input?: BodyPreview;
  /** Parents first. */
  readonly steps: readonly RunStepView[];
  /** Every task attempt of the run, tasks in creation order. */
  readonly timeline: readonly TimelineTask[];
}

export interface StartRunRequest {
  readonly step: string;
  /** Any JSON value: the run's input. @default null */
  readonly payload?: unknown;
}

export interface StartRunResponse {
  readonly runId: string;
  /** The first task's full name. */
  readonly task: string;
}

// ------------------------------------------------------------------ queues and tasks

export interface QueueView {
  /** Full queue name. */
  readonly name: string;
  readonly queueId: string;
  /** The pipeline step the queue belongs to. */
  readonly step?: string;
  readonly state: 'RUNNING' | 'PAUSED';
  /** Tasks in the queue (waiting, scheduled for a retry or in flight). */
  readonly depth: number;
  readonly inFlight: number;
  readonly maxConcurrentDispatches: number;
  /** Dispatches per second over the last 10 seconds. */
  readonly dispatchRate: number;
  readonly maxDispatchesPerSecond: number;
  readonly maxBurstSize: number;
  readonly retry: {
    readonly maxAttempts: number;
    readonly minBackoffSeconds: number;
    readonly maxBackoffSeconds: number;
    readonly maxDoublings: number;
    readonly maxRetryDurationSeconds: number;
  };
  /** The queue-level HTTP target: where its tasks go, credentials redacted. */
  readonly target?: {
    readonly uri?: string;
    readonly method?: string;
    /** `oidc <service account>` or `oauth <service account>`. */
    readonly token?: string;
    readonly headers: readonly string[];
  };
  /** Tasks by phase, over the dashboard's history (finished ones included). */
  readonly counts: PhaseCounts;
}

export interface QueuesResponse {
  readonly queues: readonly QueueView[];
}

export interface TaskListItem {
  readonly name: string;
  readonly taskId: string;
  readonly phase: TaskPhase;
  readonly runId?: string;
  readonly scheduleTime: string;
  readonly createTime: string;
  /** Attempts dispatched. */
  readonly dispatchCount: number;
  readonly responseCount: number;
  /** The last attempt's response: HTTP status or the reason it got none. */
  readonly lastResponse?: string;
}

export interface TasksResponse {
  readonly queue: string;
  /** Tasks in the queue; finished ones are in the dispatch history only. */
  readonly total: number;
  readonly tasks: readonly TaskListItem[];
  /** Pass as `pageToken` for the next page; empty at the end. */
  readonly nextPageToken: string;
}

/** A body as the page may show it: secrets replaced, size-limited. */
export interface BodyPreview {
  readonly kind: 'empty' | 'json' | 'text' | 'binary';
  readonly bytes: number;
  /** Pretty-printed JSON or text (at most the preview limit); absent for binary bodies and hidden text. */
  readonly text?: string;
  readonly truncated: boolean;
  /** Values (or keys) replaced by `<redacted>`, each with the detector's reason. */
  readonly redacted: ReadonlyArray<{ readonly path: string; readonly reason: string }>;
  /** Why the body is not shown at all. */
  readonly hidden?: string;
}

export interface TaskDetail extends TaskListItem {
  readonly queue: string;
  readonly step?: string;
  /** Still in its queue (false: it finished or was deleted; this is the dashboard's record). */
  readonly live: boolean;
  readonly url: string;
  readonly httpMethod: string;
  /** Never `Authorization`; values the secret detector flags are `<redacted>`. */
  readonly headers: Readonly<Record<string, string>>;
  /** OIDC or OAuth token the dispatch carries (the account; tokens are minted per attempt and never shown). */
  readonly token?: string;
  readonly dispatchDeadlineSeconds: number;
  readonly body: BodyPreview;
  readonly attempts: readonly AttemptView[];
}

// ------------------------------------------------------------------ live updates

/** `event: change` on /api/events: what changed since the last message (at most a few per second). */
export interface ChangeEvent {
  /** Full names of queues whose state, tasks or counts changed. */
  readonly queues: readonly string[];
  /** Run ids whose tasks changed (at most MAX_CHANGED_RUNS; see allRuns). */
  readonly runs: readonly string[];
  /** More runs changed than one message lists: every run view is stale (`runs` is then empty). */
  readonly allRuns: boolean;
  /** Step counts changed. */
  readonly pipeline: boolean;
}

export interface ApiError {
  readonly error: { readonly code: number; readonly status: string; readonly message: string };
}
