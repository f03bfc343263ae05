/**
 * Schedules (`pipeline.schedules`): each has a unique name that makes a valid Cloud Scheduler job id, names a step
 * whose method carries a body, has a unix-cron Cloud Scheduler accepts and a tz database zone, Scheduler's retry and
 * attempt-deadline ranges, and a payload that fits both the task it creates (Cloud Tasks, 1 MB) and the job that
 * carries it (Cloud Scheduler, 1 MB). The rules live in lib/core/rules/scheduler.ts and cloud-tasks.ts; this file
 * maps the model to them with spec paths.
 */
import { under, type FieldPath, type Problem } from '../../core/problem';
import {
  HTTP_METHODS,
  METHODS_WITH_BODY,
  LIMITS,
  storedTaskSizeBytes,
  taskSizeProblems,
} from '../../core/rules/cloud-tasks';
import {
  attemptDeadlineProblems,
  cronProblems,
  dstHits,
  jobIdProblems,
  jobSizeProblems,
  schedulerJobSizeBytes,
  schedulerRetryProblems,
  timeZoneProblems,
} from '../../core/rules/scheduler';
import { queueIdFor, queueNameFor, schedulerJobIdFor, schedulerJobNameFor } from '../../core/naming';
import { scheduledEnvelope, scheduledTaskRequest } from '../../core/schedule-request';
import type { ScheduleSpec } from '../types';
import { problemAt, stepPath, type RuleContext } from './context';
import { nameProblems } from './top-level';

export const SCHEDULES_PATH: FieldPath = ['pipeline', 'schedules'];

/** The model field names (seconds) -> the spec field names (durations) users write. */
const RETRY_FIELDS: Readonly<Record<string, string>> = {
  retryCount: 'retryCount',
  minBackoffSeconds: 'minBackoff',
  maxBackoffSeconds: 'maxBackoff',
  maxDoublings: 'maxDoublings',
  maxRetryDurationSeconds: 'maxRetryDuration',
};

export function schedulesProblems(ctx: RuleContext): Problem[] {
  const schedules = ctx.spec.pipeline.schedules ?? [];
  const first = new Map<string, number>();
  return schedules.flatMap((s, k) => {
    const earlier = first.get(s.name);
    if (earlier === undefined) first.set(s.name, k);
    return scheduleProblems(ctx, s, [...SCHEDULES_PATH, k], earlier);
  });
}

/**
 * A warning (synth goes on) when the cron fires inside an hour the zone's clocks skip or repeat in the coming year:
 * Cloud Scheduler "may observe execution anomalies" then (docs/schedules.md, "Daylight saving time").
 */
function daylightSavingWarnings(ctx: RuleContext, s: ScheduleSpec, path: FieldPath): Problem[] {
  const hits = dstHits(s.cron, s.timeZone, ctx.now);
  if (hits.length === 0) return [];
  const days = hits.map((h) => `${h.kind} on ${h.date} (${h.times.join(', ')} in ${h.window})`).join('; ');
  return [
    {
      path: [...path, 'cron'],
      value: s.cron,
      message: `fires inside a daylight saving time change of ${s.timeZone}: ${days}. Cloud Scheduler may skip, delay or repeat those firings; use Etc/UTC or a time outside the changed hour if every run matters`,
      inputs: [[...path, 'timeZone']],
      severity: 'warning',
    },
  ];
}

function scheduleProblems(ctx: RuleContext, s: ScheduleSpec, path: FieldPath, sameNameAt?: number): Problem[] {
  const { spec } = ctx;
  const out: Problem[] = [...nameProblems([...path, 'name'], s.name, 'schedule name')];
  if (sameNameAt !== undefined)
    out.push(
      problemAt(
        [...path, 'name'],
        s.name,
        `${JSON.stringify(s.name)} is already the name of pipeline.schedules[${sameNameAt}]; schedule names must be unique (each names a Cloud Scheduler job)`,
      ),
    );
  else if (out.length === 0) {
    const jobId = schedulerJobIdFor(spec, s.name);
    for (const p of jobIdProblems(jobId))
      out.push(
        problemAt(
          [...path, 'name'],
          s.name,
          `the Cloud Scheduler job id ${p.message}: shorten pipeline.name, environment or this schedule name`,
          [['pipeline', 'name'], ['environment']],
        ),
      );
  }
  const cronAndZone = [
    ...cronProblems(s.cron, [...path, 'cron']),
    ...timeZoneProblems(s.timeZone, [...path, 'timeZone']),
  ];
  out.push(...cronAndZone);
  if (cronAndZone.length === 0) out.push(...daylightSavingWarnings(ctx, s, path));
  out.push(
    ...under(
      [...path, 'retry'],
      schedulerRetryProblems(s.retry).map((p) => ({ ...p, path: p.path.map((x) => RETRY_FIELDS[x] ?? x) })),
    ),
  );
  if (s.attemptDeadlineSeconds !== undefined)
    out.push(...attemptDeadlineProblems(s.attemptDeadlineSeconds, [...path, 'attemptDeadline']));

  const i = ctx.stepIndex.get(s.step);
  if (i === undefined) {
    out.push(problemAt([...path, 'step'], s.step, ctx.unknownStep(s.step), ctx.allStepNames));
    return out;
  }
  const step = spec.pipeline.steps[i];
  const stepInputs: FieldPath[] = [
    [...path, 'step'],
    [...stepPath(i), 'name'],
  ];
  // The run's first message is always a body (the envelope), whatever the payload.
  if (HTTP_METHODS.includes(step.target.method) && !METHODS_WITH_BODY.includes(step.target.method)) {
    out.push(
      problemAt(
        [...path, 'step'],
        s.step,
        `step ${JSON.stringify(step.name)} uses method ${step.target.method}, and a run's first task carries its message as a body, which Cloud Tasks sends only with ${METHODS_WITH_BODY.join(', ')}: change target.method`,
        [...stepInputs, [...stepPath(i), 'target', 'method']],
      ),
    );
    return out;
  }

  const payloadPath = [...path, 'payload'];
  let envelope: string;
  try {
    envelope = JSON.stringify(scheduledEnvelope({ step: s.step, scheduleName: s.name, payload: s.payload }));
  } catch (e) {
    out.push(problemAt(payloadPath, '(not JSON)', `is not JSON-serializable: ${(e as Error).message}`));
    return out;
  }
  // The task the firing creates, as stored (URL, the step's headers, the envelope body, the token).
  const sizeInputs = [...stepInputs, [...stepPath(i), 'target', 'url'], [...stepPath(i), 'target', 'headers']];
  const taskSize = storedTaskSizeBytes({
    url: step.target.url,
    headers: { ...step.target.headers, 'Content-Type': 'application/json' },
    body: envelope,
  });
  for (const p of taskSizeProblems(taskSize)) out.push({ ...p, path: payloadPath, inputs: sizeInputs });
  if (taskSize > LIMITS.maxTaskSizeBytes) return out;
  // The job that carries it: the CreateTask request (the envelope base64-encoded inside it) and the job's other fields.
  const queueName = queueNameFor(spec.project, spec.region, queueIdFor(spec, step.name));
  const request = scheduledTaskRequest({
    queueName,
    url: step.target.url,
    dispatchDeadlineSeconds: step.dispatchDeadlineSeconds,
    step: s.step,
    scheduleName: s.name,
    payload: s.payload,
  });
  const jobSize = schedulerJobSizeBytes([
    schedulerJobNameFor(spec.project, spec.region, schedulerJobIdFor(spec, s.name)),
    s.cron,
    s.timeZone,
    request.uri,
    ...Object.entries(request.headers).flat(),
    request.body,
  ]);
  for (const p of jobSizeProblems(jobSize)) out.push({ ...p, path: payloadPath, inputs: sizeInputs });
  return out;
}
