/**
 * QueueAlerts: Cloud Monitoring alert policies for a pipeline's queues, and the Monitoring API they need.
 *
 * Two alerts per queue, each with per-preset defaults (ALERT_DEFAULTS) that the spec's `monitoring` block overrides:
 * - queue depth: `cloudtasks.googleapis.com/queue/depth` (GAUGE, tasks in the queue) above a threshold for a while,
 *   i.e. workers are not keeping up or the queue is stuck;
 * - failed attempts: `cloudtasks.googleapis.com/queue/task_attempt_count` (DELTA, one series per `response_code`)
 *   with a response code other than OK, summed over 5 minutes, above a threshold.
 * Both metrics are on the `cloud_tasks_queue` monitored resource (labels project_id, location, queue_id).
 */
import { Construct } from 'constructs';
import type { ITerraformDependable } from '../cdktf/core';
import { MonitoringAlertPolicy, ProjectService } from '../cdktf/google';
import type { AlertSettings, MonitoringSpec, StepPreset } from '../spec/types';
import type { Problem } from '../core/problem';
import { keepStringsLiteral } from './literal-strings';
import { throwIfProblems } from './validation';

export const MONITORING_API = 'monitoring.googleapis.com';

export const METRICS = {
  queueDepth: 'cloudtasks.googleapis.com/queue/depth',
  taskAttemptCount: 'cloudtasks.googleapis.com/queue/task_attempt_count',
} as const;

/**
 * The `response_code` label value of a successful attempt. Public alerting configs use "ok" (most, and the metric
 * values they describe) and "OK" (some); Cloud Monitoring compares label values exactly. We use "ok"; if your
 * project's Metrics Explorer shows "OK", change it here (docs/monitoring.md, "Known limits").
 */
export const OK_RESPONSE_CODE = 'ok';

/** Failed attempts are counted per window of this length. */
export const FAILED_ATTEMPTS_WINDOW_SECONDS = 300;

/** AlertPolicy.Condition.MetricThreshold.duration: "only values that are a multiple of a minute ... are supported". */
export const ALERT_DURATION_STEP_SECONDS = 60;

export interface AlertThreshold {
  /** Alert when the value is above this. */
  readonly threshold: number;
  /** For this long (seconds, a multiple of 60). */
  readonly durationSeconds: number;
}

export interface QueueAlertDefaults {
  readonly queueDepth: AlertThreshold;
  readonly failedAttempts: AlertThreshold;
}

/**
 * Defaults by step preset (documented in docs/monitoring.md; keep the table there in step).
 * - preprocess: bursts of many small tasks (one per shard) are normal; a backlog that outlives half an hour is not.
 * - train: few, long, expensive tasks behind low concurrency; every failed attempt burns accelerator time, so the
 *   first one alerts, and ten runs waiting for an hour means the pipeline is stuck.
 * - infer: high rate and short deadlines; users wait on it, so a backlog alerts within 10 minutes and failures are
 *   judged in volume.
 * - none: no preset, moderate values.
 */
export const ALERT_DEFAULTS: Readonly<Record<StepPreset | 'none', QueueAlertDefaults>> = {
  preprocess: {
    queueDepth: { threshold: 5000, durationSeconds: 1800 },
    failedAttempts: { threshold: 50, durationSeconds: 600 },
  },
  train: { queueDepth: { threshold: 10, durationSeconds: 3600 }, failedAttempts: { threshold: 0, durationSeconds: 0 } },
  infer: {
    queueDepth: { threshold: 1000, durationSeconds: 600 },
    failedAttempts: { threshold: 100, durationSeconds: 600 },
  },
  none: {
    queueDepth: { threshold: 1000, durationSeconds: 900 },
    failedAttempts: { threshold: 10, durationSeconds: 300 },
  },
};

export interface QueueAlertTarget {
  /** Step name (display names, documentation). */
  readonly step: string;
  /** Cloud Tasks queue id (the metric's `queue_id` label). */
  readonly queueId: string;
  /**
   * Preset whose default thresholds apply.
   * @default - the `none` defaults
   */
  readonly preset?: StepPreset;
}

export interface QueueAlertsProps {
  readonly project: string;
  /** Location of the queues (the metric's `location` label). */
  readonly location: string;
  readonly queues: readonly QueueAlertTarget[];
  /**
   * Notification channels (`projects/<project>/notificationChannels/<id>`).
   * @default - none: incidents open in the console only
   */
  readonly notificationChannels?: readonly string[];
  /**
   * Overrides of the queue depth alert for every queue.
   * @default - per-preset defaults (ALERT_DEFAULTS)
   */
  readonly queueDepth?: AlertSettings;
  /**
   * Overrides of the failed attempts alert for every queue.
   * @default - per-preset defaults (ALERT_DEFAULTS)
   */
  readonly failedAttempts?: AlertSettings;
  /**
   * `user_labels` on every policy.
   * @default - none
   */
  readonly labels?: Readonly<Record<string, string>>;
  /**
   * Resources the policies wait for (e.g. the queues, so an alert never names a queue that does not exist yet).
   * @default - none
   */
  readonly dependsOn?: ITerraformDependable[];
}

export interface QueueAlertPolicies {
  readonly queueDepth?: MonitoringAlertPolicy;
  readonly failedAttempts?: MonitoringAlertPolicy;
}

/**
 * Checks the `monitoring` block's alert settings, with spec paths (`monitoring.queueDepth.duration`); the notification
 * channel format is checked by the spec validator.
 */
export function monitoringProblems(monitoring: Pick<MonitoringSpec, 'queueDepth' | 'failedAttempts'>): Problem[] {
  const out: Problem[] = [];
  for (const kind of ['queueDepth', 'failedAttempts'] as const) {
    const s = monitoring[kind];
    if (!s) continue;
    if (s.threshold !== undefined && !(Number.isFinite(s.threshold) && s.threshold >= 0))
      out.push({
        path: ['monitoring', kind, 'threshold'],
        value: s.threshold,
        message: `${s.threshold} must be a number of at least 0`,
      });
    if (
      s.durationSeconds !== undefined &&
      !(
        Number.isInteger(s.durationSeconds) &&
        s.durationSeconds >= 0 &&
        s.durationSeconds % ALERT_DURATION_STEP_SECONDS === 0
      )
    )
      out.push({
        path: ['monitoring', kind, 'duration'],
        value: `${s.durationSeconds}s`,
        message: `${s.durationSeconds}s is not a whole number of minutes; Cloud Monitoring only accepts alert durations that are multiples of 60s (e.g. 0s, 5m, 1h)`,
      });
  }
  return out;
}

/** The thresholds a queue gets: the spec's settings over the preset's defaults. */
export function effectiveAlerts(
  preset: StepPreset | undefined,
  overrides: Pick<QueueAlertsProps, 'queueDepth' | 'failedAttempts'>,
): Partial<QueueAlertDefaults> {
  const d = ALERT_DEFAULTS[preset ?? 'none'];
  const merge = (base: AlertThreshold, o: AlertSettings | undefined): AlertThreshold | undefined =>
    o?.enabled === false
      ? undefined
      : { threshold: o?.threshold ?? base.threshold, durationSeconds: o?.durationSeconds ?? base.durationSeconds };
  return {
    queueDepth: merge(d.queueDepth, overrides.queueDepth),
    failedAttempts: merge(d.failedAttempts, overrides.failedAttempts),
  };
}

function human(seconds: number): string {
  if (seconds === 0) return 'at once';
  if (seconds % 3600 === 0) return `for ${seconds / 3600}h`;
  return `for ${seconds / 60}m`;
}

export class QueueAlerts extends Construct {
  /** The Monitoring API service; absent when every alert is disabled. */
  public readonly apiService?: ProjectService;
  /** Alert policies by step. */
  public readonly policies: Readonly<Record<string, QueueAlertPolicies>>;

  constructor(scope: Construct, id: string, props: QueueAlertsProps) {
    super(scope, id);
    throwIfProblems(this, 'QueueAlerts', monitoringProblems(props));
    keepStringsLiteral(this);

    const plans = props.queues.map((q) => ({ q, alerts: effectiveAlerts(q.preset, props) }));
    const any = plans.some((p) => p.alerts.queueDepth || p.alerts.failedAttempts);
    // Never disabled on destroy: other alerting in the project depends on the API.
    this.apiService = any
      ? new ProjectService(this, 'api-monitoring', {
          project: props.project,
          service: MONITORING_API,
          disableOnDestroy: false,
          disableDependentServices: false,
        })
      : undefined;

    const policies: Record<string, QueueAlertPolicies> = {};
    for (const { q, alerts } of plans) {
      const resource = [
        'resource.type = "cloud_tasks_queue"',
        `resource.label.project_id = "${props.project}"`,
        `resource.label.location = "${props.location}"`,
        `resource.label.queue_id = "${q.queueId}"`,
      ].join(' AND ');
      const common = {
        project: props.project,
        combiner: 'OR',
        notificationChannels: [...(props.notificationChannels ?? [])],
        alertStrategy: { autoClose: '1800s' },
        userLabels: props.labels && Object.keys(props.labels).length ? { ...props.labels } : undefined,
        dependsOn: [this.apiService!, ...(props.dependsOn ?? [])],
      };
      const out: { queueDepth?: MonitoringAlertPolicy; failedAttempts?: MonitoringAlertPolicy } = {};
      if (alerts.queueDepth) {
        const { threshold, durationSeconds } = alerts.queueDepth;
        out.queueDepth = new MonitoringAlertPolicy(this, `${q.step}-queue-depth`, {
          ...common,
          displayName: `Cloud Tasks ${q.queueId}: more than ${threshold} tasks waiting ${human(durationSeconds)}`,
          severity: 'WARNING',
          documentation: {
            mimeType: 'text/markdown',
            subject: `Cloud Tasks queue ${q.queueId} is backing up`,
            content:
              `Queue \`${q.queueId}\` (step \`${q.step}\`) has had more than ${threshold} tasks waiting ${human(durationSeconds)}.\n\n` +
              'Workers are not keeping up, or the queue is paused or rate-limited. Check the worker (errors, scaling, ' +
              `concurrency) and the queue: \`gcloud tasks queues describe ${q.queueId} --location=${props.location} --project=${props.project}\`. ` +
              'Thresholds: `monitoring.queueDepth` in the pipeline spec (docs/monitoring.md).',
          },
          conditions: [
            {
              displayName: `${q.queueId} queue depth > ${threshold}`,
              conditionThreshold: {
                filter: `${resource} AND metric.type = "${METRICS.queueDepth}"`,
                comparison: 'COMPARISON_GT',
                thresholdValue: threshold,
                duration: `${durationSeconds}s`,
                aggregations: [{ alignmentPeriod: '60s', perSeriesAligner: 'ALIGN_MEAN' }],
                trigger: { count: 1 },
              },
            },
          ],
        });
      }
      if (alerts.failedAttempts) {
        const { threshold, durationSeconds } = alerts.failedAttempts;
        out.failedAttempts = new MonitoringAlertPolicy(this, `${q.step}-failed-attempts`, {
          ...common,
          displayName: `Cloud Tasks ${q.queueId}: more than ${threshold} failed attempts per 5m ${human(durationSeconds)}`,
          severity: 'ERROR',
          documentation: {
            mimeType: 'text/markdown',
            subject: `Cloud Tasks queue ${q.queueId}: tasks are failing`,
            content:
              `Queue \`${q.queueId}\` (step \`${q.step}\`) had more than ${threshold} attempts with a response other than OK in 5 minutes ${human(durationSeconds)}.\n\n` +
              'Each failure is retried under the queue retry config. Look at the worker logs and at the ' +
              '`response_code` label of `cloudtasks.googleapis.com/queue/task_attempt_count` in Metrics Explorer ' +
              '(permission errors mean the invoker lost roles/run.invoker; deadline errors mean the dispatch deadline is too short). ' +
              'Thresholds: `monitoring.failedAttempts` in the pipeline spec (docs/monitoring.md).',
          },
          conditions: [
            {
              displayName: `${q.queueId} failed attempts > ${threshold} per 5m`,
              conditionThreshold: {
                filter: `${resource} AND metric.type = "${METRICS.taskAttemptCount}" AND metric.label.response_code != "${OK_RESPONSE_CODE}"`,
                comparison: 'COMPARISON_GT',
                thresholdValue: threshold,
                duration: `${durationSeconds}s`,
                // One series per response code: sum them per queue over the window.
                aggregations: [
                  {
                    alignmentPeriod: `${FAILED_ATTEMPTS_WINDOW_SECONDS}s`,
                    perSeriesAligner: 'ALIGN_SUM',
                    crossSeriesReducer: 'REDUCE_SUM',
                    groupByFields: ['resource.label.queue_id'],
                  },
                ],
                trigger: { count: 1 },
              },
            },
          ],
        });
      }
      policies[q.step] = out;
    }
    this.policies = policies;
  }
}
