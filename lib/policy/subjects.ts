/**
 * What the rules check, built from the two representations a stack has: the normalized spec (for PipelineStack, in
 * the user's words) and the synthesized Terraform blocks (for stacks built from constructs). A rule is written once
 * against these subjects (./types.ts); this file is the only place that knows both shapes.
 */
import type { FieldPath } from '../core/problem';
import { parseTerraformDuration } from '../core/duration';
import type { PipelineSpec, StepRetry } from '../spec/types';
import {
  isRecord,
  isUnresolved,
  type PolicySubject,
  type QueueSubject,
  type QueueTerms,
  type SubjectHeader,
  type SubjectString,
  type TerraformBlock,
} from './types';

const SPEC_TERMS: QueueTerms = {
  noToken: '"none"',
  addToken: 'use oidc',
  oidc: 'oidc',
  maxAttempts: 'maxAttempts',
  maxRetryDuration: 'maxRetryDuration',
};

const TERRAFORM_TERMS: QueueTerms = {
  noToken: 'http_target with neither oidc_token nor oauth_token',
  addToken: 'add oidc_token',
  oidc: 'oidc_token',
  maxAttempts: 'max_attempts',
  maxRetryDuration: 'max_retry_duration',
};

/** Every subject of a spec, in spec order: its steps' queues, its labels, its seed and schedule payloads. */
export function specSubjects(spec: PipelineSpec): PolicySubject[] {
  const queues = spec.pipeline.steps.map((step, i): QueueSubject => {
    const target: FieldPath = ['pipeline', 'steps', i, 'target'];
    return {
      kind: 'queue',
      source: 'spec',
      token: { kind: step.target.auth, path: [...target, 'auth'] },
      host: hostOf(step.target.url),
      headers: Object.entries(step.target.headers).map(([name, value]) => ({
        name,
        value,
        path: [...target, 'headers', name],
      })),
      targetStrings: (
        [
          ['url', step.target.url],
          ['audience', step.target.audience],
          ['scope', step.target.scope],
        ] as const
      ).flatMap(([field, value]) => (value === undefined ? [] : [{ field, value, path: [...target, field] }])),
      retry: { config: step.retry, maxAttemptsPath: ['pipeline', 'steps', i, 'retry', 'maxAttempts'] },
      terms: SPEC_TERMS,
    };
  });
  return [
    ...queues,
    { kind: 'labels', source: 'spec', labels: spec.labels, path: ['labels'], addWhere: 'under labels' },
    ...spec.pipeline.seedTasks.map((task, k): PolicySubject => ({
      kind: 'seed-payload',
      source: 'spec',
      payload: task.payload,
      path: ['pipeline', 'seedTasks', k, 'payload'],
    })),
    // A schedule's payload starts a run too: it is written into the Cloud Scheduler job and every task it creates.
    ...(spec.pipeline.schedules ?? []).map((schedule, k): PolicySubject => ({
      kind: 'seed-payload',
      source: 'spec',
      payload: schedule.payload,
      path: ['pipeline', 'schedules', k, 'payload'],
    })),
  ];
}

/** The subjects of one Terraform block: a queue for `google_cloud_tasks_queue`, labels for a google provider. */
export function blockSubjects(block: TerraformBlock): PolicySubject[] {
  const address = block.address.split('.');
  if (block.kind === 'provider' && block.type === 'google')
    return [
      {
        kind: 'labels',
        source: 'terraform',
        labels: isRecord(block.config.default_labels) ? block.config.default_labels : {},
        path: [...address, 'default_labels'],
        addWhere: "to the provider's defaultLabels",
      },
    ];
  if (block.kind !== 'resource' || block.type !== 'google_cloud_tasks_queue') return [];

  const target = block.config.http_target;
  const targetPath = [...address, 'http_target'];
  let queue: QueueSubject = {
    kind: 'queue',
    source: 'terraform',
    retry: retryOf(block, address),
    terms: TERRAFORM_TERMS,
  };
  // Without a queue-level http_target each task names its own target, token and headers: nothing to know at synth.
  if (!isRecord(target)) return [queue];
  const host = isRecord(target.uri_override) ? target.uri_override.host : undefined;
  const overrides = Array.isArray(target.header_overrides) ? target.header_overrides : [];
  const headers: SubjectHeader[] = [];
  overrides.forEach((o, i) => {
    const header = isRecord(o) && isRecord(o.header) ? o.header : undefined;
    if (header && typeof header.key === 'string' && typeof header.value === 'string')
      headers.push({
        name: header.key,
        value: header.value,
        path: [...targetPath, 'header_overrides', i, 'header', 'value'],
      });
  });
  queue = {
    ...queue,
    token:
      target.oidc_token !== undefined
        ? { kind: 'oidc', path: [...targetPath, 'oidc_token'] }
        : target.oauth_token !== undefined
          ? { kind: 'oauth', path: [...targetPath, 'oauth_token'] }
          : { kind: 'none', path: targetPath },
    host: typeof host === 'string' && !isUnresolved(host) ? host : undefined,
    headers,
    targetStrings: targetStringsOf(target, targetPath),
  };
  return [queue];
}

/** uri_override (rebuilt as one URL, so host, path and query are judged together), the audience and the scope. */
function targetStringsOf(target: Record<string, unknown>, targetPath: FieldPath): SubjectString[] {
  const out: SubjectString[] = [];
  const add = (field: SubjectString['field'], value: unknown, path: FieldPath) => {
    if (typeof value === 'string' && !isUnresolved(value)) out.push({ field, value, path });
  };
  add('url', overrideUrl(target.uri_override), [...targetPath, 'uri_override']);
  if (isRecord(target.oidc_token))
    add('audience', target.oidc_token.audience, [...targetPath, 'oidc_token', 'audience']);
  if (isRecord(target.oauth_token)) add('scope', target.oauth_token.scope, [...targetPath, 'oauth_token', 'scope']);
  return out;
}

/** The URL a queue's uri_override sends tasks to; undefined when it names none of host, path and query. */
function overrideUrl(o: unknown): string | undefined {
  if (!isRecord(o)) return undefined;
  const host = typeof o.host === 'string' ? o.host : '';
  const path = isRecord(o.path_override) && typeof o.path_override.path === 'string' ? o.path_override.path : '';
  const query =
    isRecord(o.query_override) && typeof o.query_override.query_params === 'string'
      ? o.query_override.query_params
      : '';
  if (host === '' && path === '' && query === '') return undefined;
  return `https://${host || 'host'}${path}${query ? `?${query}` : ''}`;
}

/** `retry_config` in seconds; undefined when a field is only known at apply time. */
function retryOf(block: TerraformBlock, address: FieldPath): QueueSubject['retry'] {
  const r = isRecord(block.config.retry_config) ? block.config.retry_config : {};
  if (Object.values(r).some(isUnresolved)) return undefined;
  const seconds = (v: unknown): number | undefined => (typeof v === 'string' ? parseTerraformDuration(v) : undefined);
  const count = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);
  const config: StepRetry = {
    maxAttempts: count(r.max_attempts),
    minBackoffSeconds: seconds(r.min_backoff),
    maxBackoffSeconds: seconds(r.max_backoff),
    maxDoublings: count(r.max_doublings),
    maxRetryDurationSeconds: seconds(r.max_retry_duration),
  };
  return { config, maxAttemptsPath: [...address, 'retry_config', 'max_attempts'] };
}

function hostOf(url: string): string | undefined {
  try {
    return new URL(url).hostname;
  } catch {
    return undefined;
  }
}
