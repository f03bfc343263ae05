/**
 * Schedule changes between two synthesized stacks (docs/schedules.md), by schedule name: step, cron, time zone,
 * paused and the payload (summarized like seed payloads, never shown), with the next three fire times of each
 * schedule the head deploys, computed in its time zone, and the daylight saving changes of the coming year at which
 * it fires in an hour the clocks skip or repeat. Read from the jobs' Terraform JSON (lib/core/schedule-request.ts).
 */
import { readScheduledTask, synthesizedScheduleJobs, type SynthesizedScheduleJob } from '../../core/schedule-request';
import { dstHits, nextFireTimes, type DstHit } from '../../core/rules/scheduler';
import { summarizePayload, formatPayload, type PayloadSummary, type SeedFieldChange } from './seed-diff';

export interface ScheduleChange {
  readonly name: string;
  readonly status: 'added' | 'removed' | 'changed' | 'unchanged';
  /** Head's values (base's for a removed schedule). */
  readonly step?: string;
  readonly cron: string;
  readonly timeZone: string;
  readonly paused: boolean;
  readonly payload: PayloadSummary;
  /** For `changed`: the fields that changed, as text. */
  readonly changes: readonly SeedFieldChange[];
  /** The next three fire times after the review's clock, ISO 8601 (UTC); none for a paused or removed schedule. */
  readonly nextFireTimes: readonly string[];
  /** Daylight saving changes in the next year at which the schedule fires in a skipped or repeated hour. */
  readonly dst: readonly DstHit[];
}

interface ScheduleState {
  readonly step?: string;
  readonly cron: string;
  readonly timeZone: string;
  readonly paused: boolean;
  readonly payloadJson?: string;
}

function stateOf(job: SynthesizedScheduleJob): ScheduleState {
  const task = readScheduledTask(job.request.body.toString('utf8'));
  const payload = task?.envelope.payload;
  return {
    step: job.step ?? task?.envelope.step,
    cron: job.cron,
    timeZone: job.timeZone,
    paused: job.paused,
    payloadJson: payload === undefined ? undefined : JSON.stringify(payload),
  };
}

function statesOf(config: Readonly<Record<string, unknown>> | undefined): Map<string, ScheduleState> {
  return new Map(config ? synthesizedScheduleJobs(config).map((j) => [j.schedule, stateOf(j)]) : []);
}

/** Schedule changes, head's order first, then removed ones; `unchanged` ones too (the review lists every schedule). */
export function diffSchedules(
  base: Readonly<Record<string, unknown>> | undefined,
  head: Readonly<Record<string, unknown>> | undefined,
  now: Date,
): ScheduleChange[] {
  const before = statesOf(base);
  const after = statesOf(head);
  const out: ScheduleChange[] = [];
  for (const [name, h] of after) {
    const b = before.get(name);
    const changes: SeedFieldChange[] = [];
    if (b) {
      const field = (f: string, x: string | undefined, y: string | undefined) => {
        if (x !== y) changes.push({ field: f, before: x ?? '(none)', after: y ?? '(none)' });
      };
      field('step', b.step, h.step);
      field('cron', b.cron, h.cron);
      field('timeZone', b.timeZone, h.timeZone);
      field('paused', String(b.paused), String(h.paused));
      if (b.payloadJson !== h.payloadJson)
        changes.push({
          field: 'payload',
          before: formatPayload(summarizePayload(b.payloadJson)),
          after: formatPayload(summarizePayload(h.payloadJson)),
        });
    }
    out.push({
      name,
      status: !b ? 'added' : changes.length ? 'changed' : 'unchanged',
      ...(h.step ? { step: h.step } : {}),
      cron: h.cron,
      timeZone: h.timeZone,
      paused: h.paused,
      payload: summarizePayload(h.payloadJson),
      changes,
      nextFireTimes: h.paused
        ? []
        : safe(() => nextFireTimes(h.cron, h.timeZone, now, 3).map((d) => d.toISOString()), []),
      dst: safe(() => dstHits(h.cron, h.timeZone, now), []),
    });
  }
  for (const [name, b] of before)
    if (!after.has(name))
      out.push({
        name,
        status: 'removed',
        ...(b.step ? { step: b.step } : {}),
        cron: b.cron,
        timeZone: b.timeZone,
        paused: b.paused,
        payload: summarizePayload(b.payloadJson),
        changes: [],
        nextFireTimes: [],
        dst: [],
      });
  return out;
}

/** A job the spec rules never saw (built from constructs) may carry a cron the parser refuses: no times, no crash. */
function safe<T>(fn: () => T, fallback: T): T {
  try {
    return fn();
  } catch {
    return fallback;
  }
}
