/**
 * What a schedule's Cloud Scheduler job sends: a Cloud Tasks API CreateTask request for the schedule's step queue,
 * whose task body is the run's first message (a TaskEnvelope with `source: { kind: "schedule", name }` and no run id,
 * so every firing starts a new run, named after the task the firing creates). A plain data contract, in one place: the
 * PipelineSchedules construct writes it into `google_cloud_scheduler_job.http_target`, `npm run local -- --fire`
 * reads it back from the synthesized JSON and sends it to the emulator's REST API, the review summarizes it.
 *
 * CreateTask (`POST https://cloudtasks.googleapis.com/v2/{queue}/tasks`, REST reference
 * projects.locations.queues.tasks.create), not BufferTask: BufferTask takes only a body, so the task would get Cloud
 * Tasks' default 10-minute dispatch deadline whatever the step needs; CreateTask carries the step's dispatch
 * deadline like every task the ledger creates (docs/decisions/schedules.md).
 */
import { ENVELOPE_FORMAT, START_SHARD, isTaskEnvelope, type TaskEnvelope } from './ledger-layout';
import { schedulerJobNameFor, DEFAULT_OAUTH_SCOPE } from './naming';
import { SCHEDULER_USER_AGENT } from './rules/scheduler';

/** The Cloud Tasks REST API the jobs call; locally the path is sent to the emulator's REST URL instead. */
export const CLOUD_TASKS_API_ORIGIN = 'https://cloudtasks.googleapis.com';
/** The scope of the jobs' OAuth tokens (the Cloud Tasks API accepts cloud-platform). */
export const SCHEDULER_TOKEN_SCOPE = DEFAULT_OAUTH_SCOPE;
/** The headers the job sets (Cloud Scheduler adds its own: schedulerHeaders). */
export const SCHEDULED_REQUEST_HEADERS: Readonly<Record<string, string>> = { 'Content-Type': 'application/json' };
/** The headers of the task the request creates: the ledger's (lib/ledger/tasks.ts). */
const TASK_HEADERS = { 'Content-Type': 'application/json' } as const;

export interface ScheduledTaskInput {
  /** The step's full queue name, `projects/P/locations/L/queues/Q`. */
  readonly queueName: string;
  /** The step's target URL (the queue's http_target routes the task; the API still requires a URL). */
  readonly url: string;
  readonly dispatchDeadlineSeconds: number;
  readonly step: string;
  readonly scheduleName: string;
  /** The run's input; undefined sends `null`. */
  readonly payload?: unknown;
}

/** The HTTP request a job makes, as `google_cloud_scheduler_job.http_target` holds it (the body as text). */
export interface ScheduledRequest {
  readonly uri: string;
  readonly httpMethod: 'POST';
  readonly headers: Readonly<Record<string, string>>;
  /** The CreateTask request, JSON text (Terraform gets it base64-encoded). */
  readonly body: string;
}

/** The first message of a scheduled run: the step's start shard, no run id, the schedule as its source. */
export function scheduledEnvelope(i: Pick<ScheduledTaskInput, 'step' | 'scheduleName' | 'payload'>): TaskEnvelope {
  // The ledger's field order (lib/ledger/tasks.ts envelopeJson), payload last.
  return {
    envelope: ENVELOPE_FORMAT,
    step: i.step,
    shard: START_SHARD,
    generation: 0,
    source: { kind: 'schedule', name: i.scheduleName },
    payload: i.payload === undefined ? null : i.payload,
  };
}

export function scheduledTaskRequest(i: ScheduledTaskInput): ScheduledRequest {
  const envelope = JSON.stringify(scheduledEnvelope(i));
  const createTask = {
    task: {
      httpRequest: {
        url: i.url,
        httpMethod: 'POST',
        headers: { ...TASK_HEADERS },
        body: Buffer.from(envelope).toString('base64'),
      },
      dispatchDeadline: `${i.dispatchDeadlineSeconds}s`,
    },
  };
  return {
    uri: `${CLOUD_TASKS_API_ORIGIN}/v2/${i.queueName}/tasks`,
    httpMethod: 'POST',
    headers: { ...SCHEDULED_REQUEST_HEADERS },
    body: JSON.stringify(createTask),
  };
}

/** The task a scheduled request creates, read back from its body (the review, local runs); undefined when it is not one. */
export interface ScheduledTask {
  readonly envelope: TaskEnvelope;
  /** The envelope as sent (the task's body). */
  readonly envelopeJson: string;
  readonly url?: string;
  readonly dispatchDeadline?: string;
}

export function readScheduledTask(body: string): ScheduledTask | undefined {
  let request: { task?: { httpRequest?: { body?: unknown; url?: unknown }; dispatchDeadline?: unknown } };
  try {
    request = JSON.parse(body) as typeof request;
  } catch {
    return undefined;
  }
  const encoded = request?.task?.httpRequest?.body;
  if (typeof encoded !== 'string') return undefined;
  const envelopeJson = Buffer.from(encoded, 'base64').toString('utf8');
  let envelope: unknown;
  try {
    envelope = JSON.parse(envelopeJson);
  } catch {
    return undefined;
  }
  if (!isTaskEnvelope(envelope)) return undefined;
  const url = request.task?.httpRequest?.url;
  const deadline = request.task?.dispatchDeadline;
  return {
    envelope: envelope as TaskEnvelope,
    envelopeJson,
    ...(typeof url === 'string' ? { url } : {}),
    ...(typeof deadline === 'string' ? { dispatchDeadline: deadline } : {}),
  };
}

/**
 * The headers Cloud Scheduler adds to a job's request (HttpTarget.headers, REST reference): its User-Agent,
 * `X-CloudScheduler`, the job's full name and, for unix-cron jobs, the scheduled time in RFC 3339. `Authorization`
 * (the OAuth token) is added by the caller: locally a placeholder, since the emulator checks no credentials.
 */
export function schedulerHeaders(
  job: { readonly project: string; readonly location: string; readonly jobId: string },
  scheduleTime: Date,
): Record<string, string> {
  return {
    'User-Agent': SCHEDULER_USER_AGENT,
    'X-CloudScheduler': 'true',
    'X-CloudScheduler-JobName': schedulerJobNameFor(job.project, job.location, job.jobId),
    'X-CloudScheduler-ScheduleTime': scheduleTime.toISOString(),
  };
}

// ------------------------------------------------------------------ reading the synthesized jobs

/** One `google_cloud_scheduler_job` of a synthesized stack, with its schedule's name from the `schedules` output. */
export interface SynthesizedScheduleJob {
  /** The resource's address, e.g. `google_cloud_scheduler_job.schedules_nightly-retrain_1A2B3C4D`. */
  readonly address: string;
  /** The schedule's name in the spec. */
  readonly schedule: string;
  /** The step each firing starts a run at (from the `schedules` output). */
  readonly step?: string;
  readonly jobId: string;
  readonly project: string;
  readonly location: string;
  readonly cron: string;
  readonly timeZone: string;
  readonly paused: boolean;
  readonly request: {
    readonly uri: string;
    readonly httpMethod: string;
    readonly headers: Readonly<Record<string, string>>;
    /** The body bytes (http_target.body decoded from base64). */
    readonly body: Buffer;
    readonly oauthServiceAccount?: string;
  };
}

/** The `schedules` output: by schedule name, what a reader needs without parsing the jobs. */
export interface SchedulesOutput {
  readonly [schedule: string]: {
    readonly step: string;
    readonly cron: string;
    readonly timeZone: string;
    readonly paused: boolean;
    /** Full job name. */
    readonly job: string;
  };
}

interface TfJob {
  name?: unknown;
  project?: unknown;
  region?: unknown;
  schedule?: unknown;
  time_zone?: unknown;
  paused?: unknown;
  http_target?: {
    uri?: unknown;
    http_method?: unknown;
    headers?: Record<string, unknown>;
    body?: unknown;
    oauth_token?: { service_account_email?: unknown };
  };
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** The `schedules` output of a synthesized stack's JSON; empty when the stack has no schedules. */
export function schedulesOutputOf(config: Readonly<Record<string, unknown>>): SchedulesOutput {
  const outputs = config.output as Record<string, { value?: unknown }> | undefined;
  const v = outputs?.schedules?.value;
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as SchedulesOutput) : {};
}

/**
 * The scheduler jobs of a synthesized stack's JSON, with literal values only (a job whose fields are Terraform
 * references is skipped: it cannot be fired before apply). Names come from the `schedules` output, else the job id.
 */
export function synthesizedScheduleJobs(config: Readonly<Record<string, unknown>>): SynthesizedScheduleJob[] {
  const resources = (config.resource ?? {}) as Record<string, Record<string, unknown>>;
  const byJob = new Map(
    Object.entries(schedulesOutputOf(config)).map(([name, s]) => [s.job?.split('/').pop(), { name, step: s.step }]),
  );
  const out: SynthesizedScheduleJob[] = [];
  for (const [id, raw] of Object.entries(resources.google_cloud_scheduler_job ?? {})) {
    const r = raw as TfJob;
    const t = r.http_target;
    const jobId = str(r.name);
    const project = str(r.project);
    const location = str(r.region);
    const cron = str(r.schedule);
    const uri = str(t?.uri);
    if (
      !jobId ||
      !project ||
      !location ||
      !cron ||
      !uri ||
      [jobId, project, location, uri].some((s) => s.includes('${'))
    )
      continue;
    const named = byJob.get(jobId);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(t?.headers ?? {})) if (typeof v === 'string') headers[k] = v;
    const sa = str(t?.oauth_token?.service_account_email);
    out.push({
      address: `google_cloud_scheduler_job.${id}`,
      schedule: named?.name ?? jobId,
      ...(named?.step ? { step: named.step } : {}),
      jobId,
      project,
      location,
      cron,
      timeZone: str(r.time_zone) ?? 'Etc/UTC',
      paused: r.paused === true,
      request: {
        uri,
        httpMethod: str(t?.http_method) ?? 'POST',
        headers,
        body: Buffer.from(str(t?.body) ?? '', 'base64'),
        ...(sa ? { oauthServiceAccount: sa } : {}),
      },
    });
  }
  return out;
}
