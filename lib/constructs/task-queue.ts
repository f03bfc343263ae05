/**
 * TaskQueue: one Cloud Tasks queue whose tasks all go to one HTTPS endpoint (a pipeline step's worker).
 *
 * The queue carries the target (`http_target` with `uri_override` enforced ALWAYS, the token and the headers), so a
 * worker that enqueues the next step only sends a body: routing, identity and headers come from the queue. Limits
 * are checked with lib/core/rules/cloud-tasks.ts, the single source of truth, before anything is synthesized.
 */
import { Construct } from 'constructs';
import {
  HTTP_METHODS,
  LIMITS,
  type HttpMethod,
  type RateLimits,
  type RetryConfig,
  dispatchDeadlineProblems,
  headerProblems,
  isGoogleApisHost,
  queueIdProblems,
  rateLimitProblems,
  retryConfigProblems,
  samplingRatioProblems,
  targetUrlProblems,
} from '../core/rules/cloud-tasks';
import { isAtOrUnder, under, type Problem } from '../core/problem';
import { projectIdProblems } from '../core/rules/resource-manager';
import type { ITerraformDependable } from '../cdktf/core';
import { CloudTasksQueue, CloudTasksQueueIamMember, type CloudTasksQueueConfig } from '../cdktf/google';
import { toTerraformDuration } from '../core/duration';
import type { TargetAuth } from '../spec/types';
import { oauthScopeFor, oidcAudienceFor, queueNameFor } from '../core/naming';
import { keepStringsLiteral } from './literal-strings';
import { checkIamMember, isUnresolved, throwIfProblems } from './validation';

/** Where every task of the queue is sent, and with which identity. */
export interface TaskQueueHttpTarget {
  /** https URL of the worker (at most 2,083 characters). Must be known at synth time. */
  readonly url: string;
  /**
   * HTTP method of every task.
   * @default 'POST'
   */
  readonly method?: HttpMethod;
  /**
   * Headers set on every task (`header_overrides`). Host, Content-Length, User-Agent, Authorization, X-Google-*,
   * X-AppEngine-* and X-CloudTasks-* are reserved by Cloud Tasks and refused.
   * @default - no header overrides
   */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * Token Cloud Tasks attaches: `oidc` (Cloud Run, Cloud Functions, your own endpoints), `oauth` (only
   * *.googleapis.com), or `none`.
   * @default 'oidc'
   */
  readonly auth?: TargetAuth;
  /**
   * OIDC audience.
   * @default - the URL without query string
   */
  readonly audience?: string;
  /**
   * OAuth scope.
   * @default 'https://www.googleapis.com/auth/cloud-platform'
   */
  readonly scope?: string;
  /** Service account the token is minted for; required unless `auth` is `none`. */
  readonly serviceAccountEmail?: string;
}

export interface TaskQueueProps {
  /** Queue id: letters, digits, hyphens, 1-100 characters. */
  readonly queueId: string;
  /** Project id of the queue. */
  readonly project: string;
  /** Cloud Tasks location (a region such as `us-central1`). */
  readonly location: string;
  /**
   * `max_dispatches_per_second` (> 0, at most 500) and `max_concurrent_dispatches` (at most 5,000).
   * @default - the service defaults (500 per second, 1,000 concurrent)
   */
  readonly rateLimits?: RateLimits;
  /**
   * Retry policy, durations in seconds.
   * @default - the service defaults (100 attempts, backoff 0.1 s to 3,600 s, 16 doublings, no duration limit)
   */
  readonly retry?: RetryConfig;
  /**
   * Dispatch deadline of tasks created for this queue, in seconds (15 to 1,800). Cloud Tasks sets it per task, not
   * per queue, so it is not part of the queue resource; the seed manifest and workers read it from here.
   * @default 600
   */
  readonly dispatchDeadlineSeconds?: number;
  /**
   * Fraction of task operations logged to Cloud Logging (0.0 to 1.0).
   * @default - no `stackdriver_logging_config` (nothing is logged)
   */
  readonly logSamplingRatio?: number;
  readonly httpTarget: TaskQueueHttpTarget;
  /**
   * Resources the queue waits for (e.g. the `cloudtasks.googleapis.com` API service).
   * @default - none
   */
  readonly dependsOn?: ITerraformDependable[];
}

export class TaskQueue extends Construct {
  /** The `google_cloud_tasks_queue` resource. */
  public readonly resource: CloudTasksQueue;
  /** Short queue id, e.g. `recsys-dev-train`. */
  public readonly queueId: string;
  /** Full name, `projects/{project}/locations/{location}/queues/{queueId}`. */
  public readonly queueName: string;
  public readonly project: string;
  public readonly location: string;
  public readonly dispatchDeadlineSeconds: number;
  private readonly enqueuers = new Map<string, CloudTasksQueueIamMember>();

  constructor(scope: Construct, id: string, props: TaskQueueProps) {
    super(scope, id);
    const target = props.httpTarget;
    const method = target.method ?? 'POST';
    const auth = target.auth ?? 'oidc';
    const dispatchDeadlineSeconds = props.dispatchDeadlineSeconds ?? LIMITS.defaultDispatchDeadlineSeconds;
    throwIfProblems(this, 'TaskQueue', validate(props, method, auth, dispatchDeadlineSeconds));
    keepStringsLiteral(this);

    this.queueId = props.queueId;
    this.project = props.project;
    this.location = props.location;
    this.queueName = queueNameFor(props.project, props.location, props.queueId);
    this.dispatchDeadlineSeconds = dispatchDeadlineSeconds;

    this.resource = new CloudTasksQueue(this, 'Resource', {
      name: props.queueId,
      project: props.project,
      location: props.location,
      rateLimits: rateLimitsConfig(props.rateLimits),
      retryConfig: retryConfig(props.retry),
      stackdriverLoggingConfig:
        props.logSamplingRatio === undefined ? undefined : { samplingRatio: props.logSamplingRatio },
      httpTarget: httpTargetConfig(target, method, auth),
      dependsOn: props.dependsOn,
    });
  }

  /**
   * Lets `member` (IAM member syntax, e.g. `serviceAccount:worker@p.iam.gserviceaccount.com`) create tasks in this
   * queue: `roles/cloudtasks.enqueuer` (`cloudtasks.tasks.create`) on this queue only, never project-wide. Granting
   * the same member twice returns the first binding.
   */
  public grantEnqueue(member: string): CloudTasksQueueIamMember {
    checkIamMember(this, 'TaskQueue', 'grantEnqueue', member);
    const existing = this.enqueuers.get(member);
    if (existing) return existing;
    const binding = new CloudTasksQueueIamMember(this, `Enqueuer-${member.replace(/\//g, '_')}`, {
      project: this.project,
      location: this.location,
      // A reference (not the literal id) so Terraform creates the queue before the binding.
      name: this.resource.name,
      role: 'roles/cloudtasks.enqueuer',
      member,
    });
    this.enqueuers.set(member, binding);
    return binding;
  }

  /** Every IAM binding this queue made (for `depends_on` lists). */
  public get iamBindings(): CloudTasksQueueIamMember[] {
    return [...this.enqueuers.values()];
  }
}

function validate(props: TaskQueueProps, method: string, auth: string, dispatchDeadlineSeconds: number): Problem[] {
  const t = props.httpTarget;
  const problems: Problem[] = [...queueIdProblems(props.queueId)];
  if (!isUnresolved(props.project)) problems.push(...projectIdProblems(props.project));
  if (!isUnresolved(props.location) && !LIMITS.locationPattern.test(props.location))
    problems.push({
      path: ['location'],
      value: props.location,
      message: 'is not a Cloud Tasks location; use a region such as us-central1',
    });
  problems.push(...under('rateLimits', rateLimitProblems(resolvedOnly(props.rateLimits ?? {}))));
  problems.push(...under('retry', retryConfigProblems(resolvedOnly(props.retry ?? {}))));
  if (!isUnresolved(dispatchDeadlineSeconds))
    problems.push(...dispatchDeadlineProblems(dispatchDeadlineSeconds, ['dispatchDeadlineSeconds']));
  if (props.logSamplingRatio !== undefined && !isUnresolved(props.logSamplingRatio))
    problems.push(...samplingRatioProblems(props.logSamplingRatio));

  if (isUnresolved(t.url)) {
    problems.push({
      path: ['httpTarget', 'url'],
      value: t.url,
      message: 'must be known at synth time: the queue-level uri_override is built from its parts',
    });
  } else {
    problems.push(...under('httpTarget', targetUrlProblems(t.url)));
  }
  if (!(HTTP_METHODS as readonly string[]).includes(method))
    problems.push({
      path: ['httpTarget', 'method'],
      value: method,
      message: `is not an HTTP method Cloud Tasks supports (${HTTP_METHODS.join(', ')})`,
    });
  problems.push(...under('httpTarget', headerProblems(t.headers ?? {})));
  if (!['oidc', 'oauth', 'none'].includes(auth))
    problems.push({ path: ['httpTarget', 'auth'], value: auth, message: 'must be oidc, oauth or none' });
  if (auth !== 'none' && !t.serviceAccountEmail)
    problems.push({
      path: ['httpTarget', 'serviceAccountEmail'],
      value: t.serviceAccountEmail,
      message: `is required with auth ${auth}: the token is minted for this account`,
    });
  if (
    auth === 'oauth' &&
    !problems.some((p) => isAtOrUnder(p.path, ['httpTarget', 'url'])) &&
    !isGoogleApisHost(new URL(t.url).hostname)
  )
    problems.push({
      path: ['httpTarget', 'auth'],
      value: auth,
      message: `OAuth tokens are only for *.googleapis.com targets (target.proto OAuthToken), not ${new URL(t.url).hostname}; use oidc`,
    });
  return problems;
}

/** Drops fields holding tokens: their value is only known to Terraform. */
function resolvedOnly<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => !isUnresolved(v))) as T;
}

/** Only the fields the spec sets: an omitted field keeps the Cloud Tasks service default. */
function rateLimitsConfig(r: RateLimits | undefined): CloudTasksQueueConfig['rateLimits'] {
  if (!r || (r.maxDispatchesPerSecond === undefined && r.maxConcurrentDispatches === undefined)) return undefined;
  return { maxDispatchesPerSecond: r.maxDispatchesPerSecond, maxConcurrentDispatches: r.maxConcurrentDispatches };
}

function retryConfig(r: RetryConfig | undefined): CloudTasksQueueConfig['retryConfig'] {
  if (!r) return undefined;
  const duration = (s: number | undefined) => (s === undefined ? undefined : toTerraformDuration(s));
  const config = {
    maxAttempts: r.maxAttempts,
    minBackoff: duration(r.minBackoffSeconds),
    maxBackoff: duration(r.maxBackoffSeconds),
    maxDoublings: r.maxDoublings,
    maxRetryDuration: duration(r.maxRetryDurationSeconds),
  };
  return Object.values(config).every((v) => v === undefined) ? undefined : config;
}

function httpTargetConfig(
  t: TaskQueueHttpTarget,
  method: HttpMethod,
  auth: TargetAuth,
): CloudTasksQueueConfig['httpTarget'] {
  const url = new URL(t.url);
  const headers = Object.entries(t.headers ?? {});
  return {
    httpMethod: method,
    uriOverride: {
      scheme: 'HTTPS',
      host: url.hostname,
      // URL.port is '' for the scheme's default port: then the field is omitted and the default applies.
      port: url.port || undefined,
      pathOverride: { path: url.pathname },
      queryOverride: url.search ? { queryParams: url.search.slice(1) } : undefined,
      // ALWAYS: whatever URL a worker puts on a task, the queue sends it to this step's endpoint.
      uriOverrideEnforceMode: 'ALWAYS',
    },
    headerOverrides: headers.length ? headers.map(([key, value]) => ({ header: { key, value } })) : undefined,
    oidcToken:
      auth === 'oidc'
        ? { serviceAccountEmail: t.serviceAccountEmail as string, audience: oidcAudienceFor(t) }
        : undefined,
    oauthToken:
      auth === 'oauth' ? { serviceAccountEmail: t.serviceAccountEmail as string, scope: oauthScopeFor(t) } : undefined,
  };
}
