/**
 * The steps: the list itself (not empty, within the queue quota, unique names) and each step's queue settings, which
 * come from lib/core/rules/cloud-tasks.ts. Paths use the names users write (`retry.minBackoff`), not the model's
 * (`minBackoffSeconds`).
 */
import { formatValue, under, type FieldPath, type Problem } from '../../core/problem';
import {
  LIMITS,
  SERVICE_DEFAULTS,
  dispatchDeadlineProblems,
  queueIdProblems,
  rateLimitProblems,
  retryConfigProblems,
  samplingRatioProblems,
} from '../../core/rules/cloud-tasks';
import { isLoopbackHost } from '../../core/loopback';
import { queueIdFor } from '../../core/naming';
import type { PipelineSpec, StepSpec } from '../types';
import { problemAt, STEPS_PATH, stepPath, type RuleContext } from './context';
import { cycleProblems, nextProblems } from './graph';
import { targetProblems } from './target';
import { jobTargetProblems } from './job-target';
import { nameProblems } from './top-level';

/** The model field names (seconds) -> the spec field names (durations) users write. */
const RETRY_FIELDS: Readonly<Record<string, string>> = {
  maxAttempts: 'maxAttempts',
  minBackoffSeconds: 'minBackoff',
  maxBackoffSeconds: 'maxBackoff',
  maxDoublings: 'maxDoublings',
  maxRetryDurationSeconds: 'maxRetryDuration',
};

export function stepsProblems(ctx: RuleContext): Problem[] {
  const { spec } = ctx;
  const steps = spec.pipeline.steps;
  const out: Problem[] = [];
  if (steps.length === 0) out.push(problemAt(STEPS_PATH, [], 'a pipeline needs at least one step'));
  if (steps.length > LIMITS.queuesPerRegion)
    out.push(
      problemAt(
        STEPS_PATH,
        `${steps.length} steps`,
        `${steps.length} steps need ${steps.length} queues; Cloud Tasks allows at most ${LIMITS.queuesPerRegion.toLocaleString('en-US')} queues per project per region`,
      ),
    );
  steps.forEach((step, i) => {
    const first = ctx.stepIndex.get(step.name);
    if (first !== i)
      out.push(
        problemAt(
          [...stepPath(i), 'name'],
          step.name,
          `${JSON.stringify(step.name)} is already the name of pipeline.steps[${first}]; step names must be unique (each names a queue)`,
        ),
      );
  });
  steps.forEach((step, i) => out.push(...stepProblems(ctx, step, i)));
  out.push(...cycleProblems(ctx));
  return out;
}

function stepProblems(ctx: RuleContext, step: StepSpec, i: number): Problem[] {
  const path = stepPath(i);
  return [
    ...nameProblems([...path, 'name'], step.name, 'step name'),
    ...queueIdLengthProblems(ctx.spec, step, path),
    ...targetProblems(step, [...path, 'target']),
    ...under([...path, 'rateLimits'], rateLimitProblems(step.rateLimits)),
    ...retryProblems(step, [...path, 'retry']),
    ...under(path, dispatchDeadlineProblems(step.dispatchDeadlineSeconds)),
    ...under(path, samplingRatioProblems(step.logSamplingRatio)),
    ...nextProblems(ctx, step, i),
    ...(step.local?.url !== undefined ? localUrlProblems(step.local.url, [...path, 'local', 'url']) : []),
    ...jobTargetProblems(ctx, step, i),
  ];
}

/** queue.proto: a queue id is at most 100 characters. Our names are a subset of its alphabet, so only length can fail. */
function queueIdLengthProblems(spec: PipelineSpec, step: StepSpec, path: FieldPath): Problem[] {
  const queueId = queueIdFor(spec, step.name);
  if (queueId.length <= LIMITS.queueIdMaxLength) return [];
  const over = queueId.length - LIMITS.queueIdMaxLength;
  return queueIdProblems(queueId).map((p) =>
    problemAt(
      [...path, 'name'],
      step.name,
      `queue id ${p.message}: shorten pipeline.name (${spec.pipeline.name.length} characters), environment (${spec.environment.length}) or this step name (${step.name.length}) by ${over} character${over === 1 ? '' : 's'} in total`,
      [['pipeline', 'name'], ['environment']],
    ),
  );
}

function retryProblems(step: StepSpec, path: FieldPath): Problem[] {
  const r = step.retry;
  const out = under(
    path,
    retryConfigProblems(r).map((p) => ({ ...p, path: p.path.map((s) => RETRY_FIELDS[s] ?? s) })),
  );
  // With only one of the backoffs set, the other is the service default: minBackoff 2h alone is still too long.
  const min = r.minBackoffSeconds;
  const max = r.maxBackoffSeconds;
  if ((min === undefined) === (max === undefined)) return out;
  const effective = {
    minBackoffSeconds: min ?? SERVICE_DEFAULTS.minBackoffSeconds,
    maxBackoffSeconds: max ?? SERVICE_DEFAULTS.maxBackoffSeconds,
  };
  const unset = min === undefined ? 'minBackoff' : 'maxBackoff';
  const set = min === undefined ? 'maxBackoff' : 'minBackoff';
  for (const p of retryConfigProblems(effective))
    out.push(
      problemAt(
        [...path, set],
        p.value,
        `${p.message} (${unset} is not set, so the Cloud Tasks default ${effective[`${unset}Seconds`]}s applies): set ${unset} too`,
      ),
    );
  return out;
}

/** `local.url`: `npm run local` sends tasks only to workers on this machine. */
function localUrlProblems(url: string, path: FieldPath): Problem[] {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (parsed && (parsed.protocol === 'http:' || parsed.protocol === 'https:') && isLoopbackHost(parsed.hostname))
    return [];
  return [
    problemAt(
      path,
      url,
      `${formatValue(url)} must be an http(s) URL on this machine (127.0.0.1, ::1 or localhost): npm run local sends tasks only to local workers`,
    ),
  ];
}
