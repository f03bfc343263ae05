/**
 * PipelineSchedules: recurring runs of one pipeline through Cloud Scheduler (docs/schedules.md).
 *
 * Per schedule, one `google_cloud_scheduler_job` whose HTTP target is the Cloud Tasks API: a CreateTask request for
 * the schedule's step queue (lib/core/schedule-request.ts), carrying the run's first message. The queue's own
 * http_target routes the task and attaches the invoker's token, so the schedule only enqueues; rate limits, retries
 * and identity stay the queue's.
 *
 * Identity and least privilege: one dedicated service account per pipeline is on the jobs' OAuth tokens. It gets
 * `roles/cloudtasks.enqueuer` on the scheduled steps' queues only, and `roles/iam.serviceAccountUser` on the invoker
 * only (the tasks it creates carry the invoker's token; see grant notes below). Whoever deploys a job that uses the
 * account needs actAs on it (Cloud Scheduler, "Use authentication with HTTP targets"): `grantActAs`.
 */
import { Construct } from 'constructs';
import type { ITerraformDependable } from '../cdktf/core';
import {
  CloudSchedulerJob,
  MonitoringAlertPolicy,
  ServiceAccount,
  ServiceAccountIamMember,
  type CloudSchedulerJobConfig,
} from '../cdktf/google';
import { toTerraformDuration } from '../core/duration';
import { under, type Problem } from '../core/problem';
import {
  attemptDeadlineProblems,
  cronProblems,
  jobIdProblems,
  schedulerRetryProblems,
  timeZoneProblems,
  SCHEDULER_DEFAULTS,
  type SchedulerRetryConfig,
} from '../core/rules/scheduler';
import {
  MANAGED_BY,
  schedulerAccountIdFor,
  schedulerJobIdFor,
  schedulerJobNameFor,
  serviceAccountEmailFor,
  serviceAccountMember,
} from '../core/naming';
import { scheduledTaskRequest, SCHEDULER_TOKEN_SCOPE } from '../core/schedule-request';
import type { PipelineInvoker } from './pipeline-invoker';
import type { TaskQueue } from './task-queue';
import { checkIamMember, throwIfProblems } from './validation';

export interface PipelineScheduleProps {
  /** Unique per pipeline; the job id is `<pipeline>-<environment>-<name>`. */
  readonly name: string;
  /** The step each firing starts a run at (its name, for the envelope and the outputs). */
  readonly step: string;
  /** The step's queue: the job creates the task there. */
  readonly queue: TaskQueue;
  /** The step's target URL (set on the task; the queue's http_target routes it). */
  readonly url: string;
  /** unix-cron, five fields. */
  readonly cron: string;
  /**
   * tz database name the cron is read in.
   * @default 'Etc/UTC'
   */
  readonly timeZone?: string;
  /**
   * The run's input (any JSON value).
   * @default - null
   */
  readonly payload?: unknown;
  /** @default false */
  readonly paused?: boolean;
  /**
   * Cloud Scheduler's retries of a failed firing, durations in seconds.
   * @default - Cloud Scheduler's defaults (no retry)
   */
  readonly retry?: SchedulerRetryConfig;
  /**
   * How long Cloud Scheduler waits for the Cloud Tasks API, 15 to 1,800 seconds.
   * @default - Cloud Scheduler's 3 minutes
   */
  readonly attemptDeadlineSeconds?: number;
}

export interface PipelineSchedulesProps {
  readonly project: string;
  /** The jobs' Cloud Scheduler location (the queues' region). */
  readonly region: string;
  readonly pipeline: string;
  readonly environment: string;
  readonly schedules: readonly PipelineScheduleProps[];
  /** The pipeline's invoker: the tasks the jobs create carry its token, so the scheduler account gets actAs on it. */
  readonly invoker: PipelineInvoker;
  /**
   * IAM members that deploy the jobs (the spec's `deployer`): each gets actAs on the scheduler account before the jobs.
   * @default - none: the deploy identity needs actAs on the account from elsewhere
   */
  readonly deployers?: readonly string[];
  /**
   * Alert on failed Cloud Scheduler attempts, one policy per schedule.
   * @default - no alerts
   */
  readonly alerts?: {
    /** @default - none: incidents open in the console only */
    readonly notificationChannels?: readonly string[];
    /** @default - none */
    readonly labels?: Readonly<Record<string, string>>;
    /** The Monitoring API service the policies wait for. @default - none */
    readonly dependsOn?: ITerraformDependable[];
  };
  /**
   * Resources the jobs wait for (e.g. the `cloudscheduler.googleapis.com` API service, deployers' bindings).
   * @default - none
   */
  readonly dependsOn?: ITerraformDependable[];
}

/** How often a failed-attempt alert may notify: at most once per this period (log-match conditions require one). */
export const SCHEDULE_ALERT_RATE_LIMIT_SECONDS = 300;

export class PipelineSchedules extends Construct {
  /** The scheduler service account: the identity on every job's OAuth token. */
  public readonly serviceAccount: ServiceAccount;
  /** `<accountId>@<project>.iam.gserviceaccount.com`, as a plain string. */
  public readonly email: string;
  /** `serviceAccount:<email>`. */
  public readonly member: string;
  /** The jobs, by schedule name. */
  public readonly jobs: Readonly<Record<string, CloudSchedulerJob>>;
  /** Failed-attempt alert policies, by schedule name (empty without `alerts`). */
  public readonly alerts: Readonly<Record<string, MonitoringAlertPolicy>>;
  private readonly actAs = new Map<string, ServiceAccountIamMember>();
  private readonly grants = new Set<ITerraformDependable>();
  private readonly props: PipelineSchedulesProps;

  constructor(scope: Construct, id: string, props: PipelineSchedulesProps) {
    super(scope, id);
    this.props = props;
    throwIfProblems(this, 'PipelineSchedules', validate(props));

    const identity = { pipeline: { name: props.pipeline }, environment: props.environment };
    const accountId = schedulerAccountIdFor(identity);
    this.email = serviceAccountEmailFor(accountId, props.project);
    this.member = serviceAccountMember(this.email);
    this.serviceAccount = new ServiceAccount(this, 'ServiceAccount', {
      project: props.project,
      accountId,
      displayName: `${props.pipeline} ${props.environment} scheduler`,
      description: `Identity on the OAuth tokens of the Cloud Scheduler jobs of pipeline ${props.pipeline} (${props.environment}): creates the first task of each scheduled run. Managed by ${MANAGED_BY}.`,
      dependsOn: props.dependsOn,
    });

    // Least privilege: enqueue into the scheduled steps' queues only (roles/cloudtasks.enqueuer is
    // cloudtasks.tasks.create on that queue), and actAs on the invoker only: Cloud Tasks requires
    // iam.serviceAccounts.actAs of whoever creates a task carrying a token of that account, and the queue's
    // http_target attaches the invoker's token to every task (the stack grants workers that enqueue the same).
    this.grants.add(props.invoker.grantActAs(this.member));
    for (const s of props.schedules) this.grants.add(s.queue.grantEnqueue(this.member));
    for (const member of props.deployers ?? []) this.grantActAs(member);

    const jobs: Record<string, CloudSchedulerJob> = {};
    for (const s of props.schedules) jobs[s.name] = this.job(s);
    this.jobs = jobs;
    const alerts: Record<string, MonitoringAlertPolicy> = {};
    if (props.alerts) for (const s of props.schedules) alerts[s.name] = this.alert(s, jobs[s.name]);
    this.alerts = alerts;
  }

  /**
   * Lets `member` deploy jobs whose token is the scheduler account: `roles/iam.serviceAccountUser`
   * (`iam.serviceAccounts.actAs`) on this account only. Granting the same member twice returns the first binding.
   */
  public grantActAs(member: string): ServiceAccountIamMember {
    checkIamMember(this, 'PipelineSchedules', 'grantActAs', member);
    const existing = this.actAs.get(member);
    if (existing) return existing;
    const binding = new ServiceAccountIamMember(this, `ActAs-${member.replace(/\//g, '_')}`, {
      serviceAccountId: this.serviceAccount.name,
      role: 'roles/iam.serviceAccountUser',
      member,
    });
    this.actAs.set(member, binding);
    return binding;
  }

  /** Every IAM binding this construct made: the grants to the scheduler account and the actAs bindings on it. */
  public get iamBindings(): ITerraformDependable[] {
    return [...this.grants, ...this.actAs.values()];
  }

  private job(s: PipelineScheduleProps): CloudSchedulerJob {
    const p = this.props;
    const jobId = schedulerJobIdFor({ pipeline: { name: p.pipeline }, environment: p.environment }, s.name);
    const request = scheduledTaskRequest({
      queueName: s.queue.queueName,
      url: s.url,
      dispatchDeadlineSeconds: s.queue.dispatchDeadlineSeconds,
      step: s.step,
      scheduleName: s.name,
      payload: s.payload,
    });
    const r = s.retry ?? {};
    const duration = (v: number | undefined) => (v === undefined ? undefined : toTerraformDuration(v));
    const retryConfig: CloudSchedulerJobConfig['retryConfig'] = {
      retryCount: r.retryCount,
      minBackoffDuration: duration(r.minBackoffSeconds),
      maxBackoffDuration: duration(r.maxBackoffSeconds),
      maxDoublings: r.maxDoublings,
      maxRetryDuration: duration(r.maxRetryDurationSeconds),
    };
    return new CloudSchedulerJob(this, s.name, {
      name: jobId,
      project: p.project,
      region: p.region,
      description:
        `Schedule ${s.name} of pipeline ${p.pipeline} (${p.environment}): starts a run at step ${s.step}. Managed by ${MANAGED_BY}.`.slice(
          0,
          500,
        ),
      schedule: s.cron,
      timeZone: s.timeZone ?? SCHEDULER_DEFAULTS.timeZone,
      paused: s.paused ?? false,
      attemptDeadline: duration(s.attemptDeadlineSeconds),
      retryConfig: Object.values(retryConfig).some((v) => v !== undefined) ? retryConfig : undefined,
      httpTarget: {
        uri: request.uri,
        httpMethod: request.httpMethod,
        headers: { ...request.headers },
        body: Buffer.from(request.body).toString('base64'),
        oauthToken: { serviceAccountEmail: this.email, scope: SCHEDULER_TOKEN_SCOPE },
      },
      // The account and its grants exist before the first firing; deployers' actAs on it before the job.
      dependsOn: [this.serviceAccount, ...this.grants, ...this.actAs.values(), ...(p.dependsOn ?? [])],
    });
  }

  private alert(s: PipelineScheduleProps, job: CloudSchedulerJob): MonitoringAlertPolicy {
    const p = this.props;
    const a = p.alerts!;
    const jobId = schedulerJobIdFor({ pipeline: { name: p.pipeline }, environment: p.environment }, s.name);
    const jobName = schedulerJobNameFor(p.project, p.region, jobId);
    return new MonitoringAlertPolicy(this, `${s.name}-failed-firings`, {
      project: p.project,
      displayName: `Cloud Scheduler ${jobId}: a firing failed`,
      combiner: 'OR',
      severity: 'ERROR',
      notificationChannels: [...(a.notificationChannels ?? [])],
      alertStrategy: {
        autoClose: '1800s',
        notificationRateLimit: { period: `${SCHEDULE_ALERT_RATE_LIMIT_SECONDS}s` },
      },
      userLabels: a.labels && Object.keys(a.labels).length ? { ...a.labels } : undefined,
      documentation: {
        mimeType: 'text/markdown',
        subject: `Cloud Scheduler job ${jobId} failed to start a run`,
        content:
          `An attempt of schedule \`${s.name}\` (job \`${jobName}\`, step \`${s.step}\`) failed: the Cloud Tasks API did not create the run's first task, ` +
          `so no run started for that firing unless a retry succeeded. Look at the attempt's log entry (its status says why: PERMISSION_DENIED means the scheduler account lost ` +
          `roles/cloudtasks.enqueuer on the queue or actAs on the invoker; NOT_FOUND that the queue is gone). ` +
          `Fire it again with \`gcloud scheduler jobs run ${jobId} --location=${p.region} --project=${p.project}\`. docs/schedules.md.`,
      },
      conditions: [
        {
          displayName: `${jobId} attempt failed`,
          conditionMatchedLog: {
            // Cloud Scheduler logs every attempt on the cloud_scheduler_job resource; a failed one at ERROR.
            filter: [
              'resource.type="cloud_scheduler_job"',
              `resource.labels.project_id="${p.project}"`,
              `resource.labels.location="${p.region}"`,
              `resource.labels.job_id="${jobId}"`,
              'severity>=ERROR',
            ].join(' AND '),
          },
        },
      ],
      dependsOn: [job, ...(a.dependsOn ?? [])],
    });
  }
}

function validate(props: PipelineSchedulesProps): Problem[] {
  const out: Problem[] = [];
  const names = new Set<string>();
  props.schedules.forEach((s, i) => {
    const at = ['schedules', i] as const;
    if (names.has(s.name))
      out.push({ path: [...at, 'name'], value: s.name, message: 'is used by another schedule: names must be unique' });
    names.add(s.name);
    const jobId = schedulerJobIdFor({ pipeline: { name: props.pipeline }, environment: props.environment }, s.name);
    out.push(...jobIdProblems(jobId, [...at, 'name']));
    out.push(...cronProblems(s.cron, [...at, 'cron']));
    out.push(...timeZoneProblems(s.timeZone ?? SCHEDULER_DEFAULTS.timeZone, [...at, 'timeZone']));
    out.push(...under([...at, 'retry'], schedulerRetryProblems(s.retry ?? {})));
    if (s.attemptDeadlineSeconds !== undefined)
      out.push(...attemptDeadlineProblems(s.attemptDeadlineSeconds, [...at, 'attemptDeadlineSeconds']));
  });
  return out;
}
