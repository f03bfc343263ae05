/**
 * JobAlerts: one Cloud Monitoring alert policy per job step, when the spec has a `monitoring` block (docs/monitoring.md):
 *
 * - a Cloud Run job step: failed executions, `run.googleapis.com/job/completed_execution_count` with
 *   `result = "failed"` on the job's `cloud_run_job` resource, any in 5 minutes (an execution fails once a task has
 *   spent the job's maxRetries);
 * - a Vertex AI step: Vertex has no metric of failed custom jobs, so the alert matches the worker SDK's own log line
 *   for a shard's final failure (`runJobStep`: `jsonPayload.event = "work-failed"`, `final = true`, labelled with the
 *   pipeline and step), which names the custom job. A container that dies before the SDK starts logs nothing of the
 *   kind: the ledger's stall detection reports that run.
 *
 * The queue of a job step keeps its own queue alerts (the API call's failed attempts, e.g. a missing grant).
 */
import { Construct } from 'constructs';
import type { ITerraformDependable } from '../cdktf/core';
import { MonitoringAlertPolicy, ProjectService } from '../cdktf/google';
import { MONITORING_API } from './queue-alerts';

export const JOB_METRICS = {
  completedExecutions: 'run.googleapis.com/job/completed_execution_count',
} as const;

/** How often a log-matched alert may notify (Cloud Monitoring requires a rate limit on log-based alerts). */
export const LOG_ALERT_NOTIFY_PERIOD_SECONDS = 300;

export interface JobAlertTarget {
  readonly step: string;
  readonly kind: 'cloudRunJob' | 'vertexAI';
  /** Cloud Run: the job's name and region. */
  readonly job?: string;
  readonly region?: string;
}

export interface JobAlertsProps {
  readonly project: string;
  /** Pipeline name: the SDK's log label `pipeline`. */
  readonly pipeline: string;
  readonly steps: readonly JobAlertTarget[];
  /** @default - none: incidents open in the console only */
  readonly notificationChannels?: readonly string[];
  /** @default - none */
  readonly labels?: Readonly<Record<string, string>>;
  /**
   * The Monitoring API service when the stack has one already (the queue alerts').
   * @default - one is created here
   */
  readonly monitoringApi?: ProjectService;
  /** @default - none */
  readonly dependsOn?: ITerraformDependable[];
}

export class JobAlerts extends Construct {
  public readonly monitoringApi: ProjectService;
  /** The failed-job alert of each job step, by step. */
  public readonly policies: Readonly<Record<string, MonitoringAlertPolicy>>;

  constructor(scope: Construct, id: string, props: JobAlertsProps) {
    super(scope, id);
    this.monitoringApi =
      props.monitoringApi ??
      new ProjectService(this, 'api-monitoring', {
        project: props.project,
        service: MONITORING_API,
        disableOnDestroy: false,
        disableDependentServices: false,
      });
    const common = {
      project: props.project,
      combiner: 'OR',
      severity: 'ERROR',
      notificationChannels: [...(props.notificationChannels ?? [])],
      userLabels: props.labels && Object.keys(props.labels).length ? { ...props.labels } : undefined,
      dependsOn: [this.monitoringApi, ...(props.dependsOn ?? [])],
    };
    const policies: Record<string, MonitoringAlertPolicy> = {};
    for (const s of props.steps) {
      if (s.kind === 'cloudRunJob') {
        const filter = [
          'resource.type = "cloud_run_job"',
          `resource.label.project_id = "${props.project}"`,
          `resource.label.location = "${s.region}"`,
          `resource.label.job_name = "${s.job}"`,
          `metric.type = "${JOB_METRICS.completedExecutions}"`,
          'metric.label.result = "failed"',
        ].join(' AND ');
        policies[s.step] = new MonitoringAlertPolicy(this, `${s.step}-failed-executions`, {
          ...common,
          displayName: `Cloud Run job ${s.job} (step ${s.step}): an execution failed`,
          alertStrategy: { autoClose: '1800s' },
          documentation: {
            mimeType: 'text/markdown',
            subject: `Step ${s.step}: a Cloud Run job execution failed`,
            content:
              `An execution of Cloud Run job \`${s.job}\` (step \`${s.step}\` of pipeline \`${props.pipeline}\`) failed: a task spent the job's maxRetries.\n\n` +
              "The run it belonged to is failed in the run ledger with the execution's name (`npm run runs -- list --status failed`). " +
              `Logs: \`gcloud run jobs executions list --job=${s.job} --region=${s.region} --project=${props.project}\`. ` +
              'Re-drive the run once fixed: `npm run runs -- retry <runId>` (docs/jobs.md).',
          },
          conditions: [
            {
              displayName: `${s.job} failed executions`,
              conditionThreshold: {
                filter,
                comparison: 'COMPARISON_GT',
                thresholdValue: 0,
                duration: '0s',
                aggregations: [{ alignmentPeriod: '300s', perSeriesAligner: 'ALIGN_SUM' }],
                trigger: { count: 1 },
              },
            },
          ],
        });
      } else {
        policies[s.step] = new MonitoringAlertPolicy(this, `${s.step}-failed-custom-jobs`, {
          ...common,
          displayName: `Vertex AI step ${s.step}: a custom job failed`,
          alertStrategy: {
            autoClose: '1800s',
            notificationRateLimit: { period: `${LOG_ALERT_NOTIFY_PERIOD_SECONDS}s` },
          },
          documentation: {
            mimeType: 'text/markdown',
            subject: `Step ${s.step}: a Vertex AI custom job failed`,
            content:
              `A replica of a Vertex AI custom job of step \`${s.step}\` (pipeline \`${props.pipeline}\`) failed for good; the log line names the custom job.\n\n` +
              'The run is failed in the run ledger (`npm run runs -- show <runId>`). Re-drive it once fixed: `npm run runs -- retry <runId>` (docs/jobs.md).',
          },
          conditions: [
            {
              displayName: `${s.step} final job failures`,
              conditionMatchedLog: {
                filter: [
                  'jsonPayload.event = "work-failed"',
                  'jsonPayload.final = true',
                  `labels.pipeline = "${props.pipeline}"`,
                  `labels.step = "${s.step}"`,
                ].join(' AND '),
              },
            },
          ],
        });
      }
    }
    this.policies = policies;
  }
}
