/**
 * CTP004: retries end. With `maxAttempts: -1` and no `maxRetryDuration` a failing task is retried until Cloud Tasks
 * drops it at its 31-day retention limit (queue.proto RetryConfig; quotas page). That is a legitimate setting for
 * cheap, idempotent work, so it is a warning: for GPU training or paid APIs it is usually a bill, not a retry policy.
 */
import { backoffSeconds, LIMITS, SERVICE_DEFAULTS } from '../../core/rules/cloud-tasks';
import type { StepRetry } from '../../spec/types';
import { policyRule } from '../rule';
import { checkResult, NOT_APPLICABLE, type QueueTerms } from '../types';

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

function message(retry: StepRetry, terms: QueueTerms): string {
  const attempts = attemptsWithinRetention(retry);
  const maxBackoff = retry.maxBackoffSeconds ?? SERVICE_DEFAULTS.maxBackoffSeconds;
  const cost =
    attempts === undefined
      ? 'without pause'
      : `about ${attempts.toLocaleString('en-US')} attempts, one every ${maxBackoff}s at most`;
  return (
    `-1 with no ${terms.maxRetryDuration} retries a failing task until Cloud Tasks drops it after 31 days (${cost}); ` +
    `set ${terms.maxRetryDuration} (e.g. 24h) or a finite ${terms.maxAttempts}, or suppress with a reason`
  );
}

export const CTP004 = policyRule({
  id: 'CTP004',
  name: 'unbounded-retries',
  level: 'warning',
  description: 'A queue with unlimited attempts should bound retries by time (maxRetryDuration).',
  check: (s) => {
    if (s.kind !== 'queue' || !s.retry) return NOT_APPLICABLE;
    const r = s.retry.config;
    if (r.maxAttempts !== -1 || (r.maxRetryDurationSeconds ?? 0) > 0) return checkResult([]);
    return checkResult([{ path: s.retry.maxAttemptsPath, message: message(r, s.terms) }]);
  },
});
