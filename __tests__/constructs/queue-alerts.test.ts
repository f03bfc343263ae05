/**
 * Monitoring: alert policies per queue from the spec's `monitoring` block. Snapshots pin the synthesized JSON;
 * behaviour tests pin defaults, overrides, the API service and validation.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { TerraformStack, Testing } from '../../lib/cdktf/core';
import { GoogleProvider } from '../../lib/cdktf/google';
import { ALERT_DEFAULTS, effectiveAlerts, QueueAlerts } from '../../lib/constructs/queue-alerts';
import { PipelineStack } from '../../lib/constructs/pipeline-stack';
import { parse as parseYaml } from 'yaml';
import { parsePipelineSpec } from '../../lib/spec/load';
import { SpecError } from '../../lib/spec/errors';
import type { MonitoringSpec, PipelineSpec } from '../../lib/spec/types';
import { fakeSeeder, NOW, spec, step } from '../policy/fixtures';

const CHANNEL = 'projects/acme-ml-dev/notificationChannels/42';

function presetSpec(monitoring?: MonitoringSpec): PipelineSpec {
  return spec({ monitoring }, [
    step('preprocess', { preset: 'preprocess', next: ['train'] }),
    step('train', { preset: 'train', next: ['infer'] }),
    step('infer', { preset: 'infer', next: ['report'] }),
    step('report'),
  ]);
}

function synthJson(s: PipelineSpec): { resource: Record<string, Record<string, Record<string, any>>> } {
  const stack = new PipelineStack(Testing.app(), 'recsys-dev', { spec: s, now: NOW, seeder: fakeSeeder() });
  return JSON.parse(Testing.synth(stack));
}

const alertPolicies = (j: ReturnType<typeof synthJson>) => j.resource.google_monitoring_alert_policy ?? {};
const byName = (j: ReturnType<typeof synthJson>, part: string) =>
  Object.entries(alertPolicies(j)).find(([k]) => k.includes(part))![1];

test('snapshot: one queue-depth and one failed-attempts policy per queue, plus the Monitoring API', () => {
  const j = synthJson(presetSpec({ notificationChannels: [CHANNEL] }));
  expect({
    alerts: alertPolicies(j),
    api: j.resource.google_project_service['monitoring_api-monitoring_2ACD1973'],
  }).toMatchSnapshot();
});

test('without a monitoring block: no alert policies and no Monitoring API', () => {
  const j = synthJson(presetSpec());
  expect(j.resource.google_monitoring_alert_policy).toBeUndefined();
  expect(Object.values(j.resource.google_project_service).map((s) => s.service)).not.toContain(
    'monitoring.googleapis.com',
  );
});

test('each preset gets its default thresholds (ALERT_DEFAULTS); a step without preset gets `none`', () => {
  const j = synthJson(presetSpec({ notificationChannels: [] }));
  for (const [stepName, preset] of [
    ['preprocess', 'preprocess'],
    ['train', 'train'],
    ['infer', 'infer'],
    ['report', 'none'],
  ] as const) {
    const depth = byName(j, `${stepName}-queue-depth`).conditions[0].condition_threshold;
    const failed = byName(j, `${stepName}-failed-attempts`).conditions[0].condition_threshold;
    expect([depth.threshold_value, depth.duration]).toEqual([
      ALERT_DEFAULTS[preset].queueDepth.threshold,
      `${ALERT_DEFAULTS[preset].queueDepth.durationSeconds}s`,
    ]);
    expect([failed.threshold_value, failed.duration]).toEqual([
      ALERT_DEFAULTS[preset].failedAttempts.threshold,
      `${ALERT_DEFAULTS[preset].failedAttempts.durationSeconds}s`,
    ]);
  }
});

test('filters select the queue on the cloud_tasks_queue resource; failed attempts exclude OK and sum over response codes', () => {
  const j = synthJson(presetSpec({ notificationChannels: [CHANNEL] }));
  const failed = byName(j, 'train-failed-attempts');
  expect(failed.conditions[0].condition_threshold.filter).toBe(
    'resource.type = "cloud_tasks_queue" AND resource.label.project_id = "acme-ml-dev" AND resource.label.location = "us-central1" AND resource.label.queue_id = "recsys-dev-train" AND metric.type = "cloudtasks.googleapis.com/queue/task_attempt_count" AND metric.label.response_code != "ok"',
  );
  expect(failed.conditions[0].condition_threshold.aggregations).toEqual([
    {
      alignment_period: '300s',
      per_series_aligner: 'ALIGN_SUM',
      cross_series_reducer: 'REDUCE_SUM',
      group_by_fields: ['resource.label.queue_id'],
    },
  ]);
  expect(failed.notification_channels).toEqual([CHANNEL]);
  expect(failed.depends_on).toEqual(
    expect.arrayContaining([
      expect.stringMatching(/^google_project_service\.monitoring_api-monitoring/),
      expect.stringMatching(/^google_cloud_tasks_queue\.queue-train/),
    ]),
  );
  expect(byName(j, 'infer-queue-depth').conditions[0].condition_threshold.filter).toMatch(
    /queue_id = "recsys-dev-infer" AND metric\.type = "cloudtasks\.googleapis\.com\/queue\/depth"$/,
  );
  expect(failed.user_labels).toMatchObject({
    team: 'ml',
    'cost-center': 'cc-42',
    pipeline: 'recsys',
    environment: 'dev',
  });
});

test('spec settings override every queue; enabled: false removes that alert; all disabled removes the API too', () => {
  const j = synthJson(
    presetSpec({
      notificationChannels: [],
      queueDepth: { threshold: 7, durationSeconds: 120 },
      failedAttempts: { enabled: false },
    }),
  );
  const names = Object.keys(alertPolicies(j));
  expect(names.filter((n) => n.includes('failed-attempts'))).toEqual([]);
  expect(names.filter((n) => n.includes('queue-depth'))).toHaveLength(4);
  expect(byName(j, 'train-queue-depth').conditions[0].condition_threshold).toMatchObject({
    threshold_value: 7,
    duration: '120s',
  });
  expect(byName(j, 'train-queue-depth').display_name).toBe(
    'Cloud Tasks recsys-dev-train: more than 7 tasks waiting for 2m',
  );

  const none = synthJson(
    presetSpec({ notificationChannels: [], queueDepth: { enabled: false }, failedAttempts: { enabled: false } }),
  );
  expect(none.resource.google_monitoring_alert_policy).toBeUndefined();
  expect(Object.values(none.resource.google_project_service).map((s) => s.service)).not.toContain(
    'monitoring.googleapis.com',
  );
});

test('a duration that is not whole minutes, or a negative threshold, is a SpecError naming file, path, value and rule', () => {
  const bad = presetSpec({
    notificationChannels: [],
    queueDepth: { durationSeconds: 90 },
    failedAttempts: { threshold: -1 },
  });
  let error: unknown;
  try {
    new PipelineStack(Testing.app(), 'recsys-dev', {
      spec: bad,
      source: 'pipelines/recsys-dev.yaml',
      now: NOW,
      seeder: fakeSeeder(),
    });
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(SpecError);
  expect((error as SpecError).message).toBe(
    [
      '2 problems in pipeline spec in pipelines/recsys-dev.yaml:',
      'pipelines/recsys-dev.yaml: monitoring.queueDepth.duration: 90s is not a whole number of minutes; Cloud Monitoring only accepts alert durations that are multiples of 60s (e.g. 0s, 5m, 1h)',
      'pipelines/recsys-dev.yaml: monitoring.failedAttempts.threshold: -1 must be a number of at least 0',
    ].join('\n'),
  );
});

test('QueueAlerts on its own, from TypeScript', () => {
  const stack = new TerraformStack(Testing.app(), 'custom');
  new GoogleProvider(stack, 'google', { project: 'acme-ml-dev' });
  const alerts = new QueueAlerts(stack, 'alerts', {
    project: 'acme-ml-dev',
    location: 'europe-west1',
    queues: [{ step: 'ingest', queueId: 'ingest-q' }],
  });
  expect(Object.keys(alerts.policies)).toEqual(['ingest']);
  expect(alerts.policies.ingest?.queueDepth).toBeDefined();
  expect(
    () =>
      new QueueAlerts(stack, 'bad', { project: 'p', location: 'l', queues: [], queueDepth: { durationSeconds: 30 } }),
  ).toThrow(
    'QueueAlerts at custom/bad is invalid:\n  - monitoring.queueDepth.duration = "30s": 30s is not a whole number of minutes',
  );
  expect(effectiveAlerts('train', { failedAttempts: { threshold: 3 } })).toEqual({
    queueDepth: ALERT_DEFAULTS.train.queueDepth,
    failedAttempts: { threshold: 3, durationSeconds: ALERT_DEFAULTS.train.failedAttempts.durationSeconds },
  });
});

test('docs/monitoring.md documents the defaults table exactly as ALERT_DEFAULTS', () => {
  const doc = readFileSync(resolve(__dirname, '..', '..', 'docs', 'monitoring.md'), 'utf8');
  const fmt = (s: number) => (s === 0 ? '0s' : s % 3600 === 0 ? `${s / 3600}h` : `${s / 60}m`);
  for (const [preset, d] of Object.entries(ALERT_DEFAULTS))
    expect(doc).toContain(
      `| ${preset === 'none' ? '(no preset)' : preset} | ${d.queueDepth.threshold} | ${fmt(d.queueDepth.durationSeconds)} | ${d.failedAttempts.threshold} | ${fmt(d.failedAttempts.durationSeconds)} |`,
    );
});

test('from YAML: durations in the monitoring block reach the alert policies in seconds', () => {
  const root = resolve(__dirname, '..', '..');
  const text = readFileSync(resolve(root, 'pipelines', 'recsys-prod.yaml'), 'utf8');
  const from = 'monitoring:\n  notificationChannels:';
  expect(text).toContain(from);
  const yaml = text.replace(
    from,
    'monitoring:\n  queueDepth: { threshold: 2000, duration: 15m }\n  failedAttempts: { enabled: false }\n  notificationChannels:',
  );
  const parsed = parsePipelineSpec(parseYaml(yaml), { file: 'pipelines/recsys-prod.yaml' }, { now: NOW });
  const j = synthJson(parsed);
  const depth = Object.entries(alertPolicies(j)).filter(([k]) => k.includes('queue-depth'));
  expect(depth).toHaveLength(parsed.pipeline.steps.length);
  for (const [, p] of depth)
    expect(p.conditions[0].condition_threshold).toMatchObject({ threshold_value: 2000, duration: '900s' });
  expect(Object.keys(alertPolicies(j)).some((k) => k.includes('failed-attempts'))).toBe(false);
});
