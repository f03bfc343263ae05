/**
 * CTP004: retries end. With `maxAttempts: -1` and no `maxRetryDuration` a failing task is retried until Cloud Tasks
 * drops it at its 31-day retention limit (queue.proto RetryConfig; quotas page). That is a legitimate setting for
 * cheap, idempotent work, so it is a warning: for GPU training or paid APIs it is usually a bill, not a retry policy.
 */
import { backoffSeconds, LIMITS, SERVICE_DEFAULTS } from '../../core/rules/cloud-tasks';
import type { StepRetry } from '../../spec/types';
import { checkResult, isRecord, isUnresolved, NOT_APPLICABLE, type PolicyRule, type Violation } from '../types';

/**
 * Attempts a permanently failing task gets before the 31-day retention limit drops it, under the queue's backoff
 * (unset fields take the Cloud Tasks defaults). Undefined when the backoff is zero (no meaningful bound).
 */
export function attemptsWithinRetention(retry: StepRetry): number | undefined {
  const r = {
    minBackoffSeconds: retry.minBackoffSeconds ?? SERVICE_DEFAULTS.minBackoffSeconds,
    maxBackoffSeconds: retry.maxBackoffSeconds ?? SERVICE_DEFAULTS.maxBackoffSeconds,
    maxDoublings: retry.maxDoublings ?? SERVICE_DEFAULTS.maxDoublings,
  };
  if (!(r.maxBackoffSeconds > 0) || !(r.minBackoffSeconds > 0)) return undefined;
  let elapsed = 0;
  let attempts = 1;
  // Bounded: once the interval reaches maxBackoff the rest is arithmetic.
  for (let retryIndex = 0; elapsed <= LIMITS.maxTaskRetentionSeconds; retryIndex++) {
    const interval = backoffSeconds(r, retryIndex);
    if (interval >= r.maxBackoffSeconds) {
      attempts += Math.floor((LIMITS.maxTaskRetentionSeconds - elapsed) / r.maxBackoffSeconds);
      break;
    }
    elapsed += interval;
    if (elapsed > LIMITS.maxTaskRetentionSeconds) break;
    attempts++;
  }
  return attempts;
}

function message(retry: StepRetry, field: string): string {
  const attempts = attemptsWithinRetention(retry);
  const maxBackoff = retry.maxBackoffSeconds ?? SERVICE_DEFAULTS.maxBackoffSeconds;
  const cost =
    attempts === undefined
      ? 'without pause'
      : `about ${attempts.toLocaleString('en-US')} attempts, one every ${maxBackoff}s at most`;
  return (
    `-1 with no ${field} retries a failing task until Cloud Tasks drops it after 31 days (${cost}); ` +
    `set ${field} (e.g. 24h) or a finite maxAttempts, or suppress with a reason`
  );
}

/** `"86400s"` -> 86400; undefined when absent or unresolved. */
function durationSeconds(v: unknown): number | undefined {
  if (typeof v !== 'string' || isUnresolved(v)) return undefined;
  const m = /^(\d+(?:\.\d+)?)s$/.exec(v);
  return m ? Number(m[1]) : undefined;
}

export const CTP004: PolicyRule = {
  id: 'CTP004',
  name: 'unbounded-retries',
  level: 'warning',
  description: 'A queue with unlimited attempts should bound retries by time (maxRetryDuration).',
  checkSpec: ({ spec }) => {
    if (spec.pipeline.steps.length === 0) return NOT_APPLICABLE;
    const violations: Violation[] = [];
    spec.pipeline.steps.forEach((step, i) => {
      if (step.retry.maxAttempts === -1 && !((step.retry.maxRetryDurationSeconds ?? 0) > 0))
        violations.push({
          path: `pipeline.steps[${i}].retry.maxAttempts`,
          message: message(step.retry, 'maxRetryDuration'),
        });
    });
    return checkResult(violations);
  },
  checkBlock: ({ block }) => {
    if (block.type !== 'google_cloud_tasks_queue') return NOT_APPLICABLE;
    const retry = block.config.retry_config;
    if (!isRecord(retry) || retry.max_attempts !== -1) return checkResult([]);
    if (isUnresolved(retry.max_retry_duration)) return NOT_APPLICABLE;
    if ((durationSeconds(retry.max_retry_duration) ?? 0) > 0) return checkResult([]);
    const asRetry: StepRetry = {
      minBackoffSeconds: durationSeconds(retry.min_backoff),
      maxBackoffSeconds: durationSeconds(retry.max_backoff),
      maxDoublings: typeof retry.max_doublings === 'number' ? retry.max_doublings : undefined,
    };
    return checkResult([
      { path: `${block.address}.retry_config.max_attempts`, message: message(asRetry, 'max_retry_duration') },
    ]);
  },
};
