/**
 * The Cloud Scheduler rules this project enforces or emulates, each with its source: the one place they live. The
 * spec rules (lib/spec/rules/schedules.ts), the PipelineSchedules construct, the review and `npm run local -- --fire`
 * call these functions.
 *
 * Sources:
 * - REST reference, `projects.locations.jobs` (https://cloud.google.com/scheduler/docs/reference/rest/v1/projects.locations.jobs):
 *   Job.name, Job.description, Job.attemptDeadline, RetryConfig, the job size, HttpTarget headers;
 * - "Cron job format and time zone" (https://cloud.google.com/scheduler/docs/configuring/cron-job-schedules): the
 *   unix-cron dialect, the default time zone, daylight saving time.
 *
 * Cron expressions are read by cron-parser (a well-kept parser: ranges, steps, names, the day-of-month / day-of-week
 * rule, time zones and DST), loaded only when a schedule is checked; this file adds the dialect restriction (what
 * Cloud Scheduler's unix-cron accepts) and field names in the messages. Like rules/cloud-tasks.ts, checks return
 * `Problem`s instead of throwing.
 */
import type { CronExpression } from 'cron-parser';
import { formatValue, type FieldPath, type Problem } from '../problem';
import { closest } from '../suggest';

export const SCHEDULER_API = 'cloudscheduler.googleapis.com';

export const SCHEDULER_LIMITS = {
  /** Job.name: JOB_ID "can contain only letters ([A-Za-z]), numbers ([0-9]), hyphens (-), or underscores (_). The maximum length is 500 characters." */
  jobIdPattern: /^[A-Za-z0-9_-]{1,500}$/,
  jobIdMaxLength: 500,
  /** Job.description: "must not contain more than 500 characters". */
  descriptionMaxLength: 500,
  /** Job: "The maximum allowed size for a job is 1MB" (read as 1,000,000 bytes, the stricter reading). */
  maxJobSizeBytes: 1_000_000,
  /** Job.attemptDeadline: "For HTTP targets, the default is 3 minutes. The deadline must be in the interval [15 seconds, 30 minutes]." */
  minAttemptDeadlineSeconds: 15,
  maxAttemptDeadlineSeconds: 30 * 60,
  /** RetryConfig.retryCount: "Values greater than 5 and negative values are not allowed." */
  maxRetryCount: 5,
  /** "Cron job format and time zone": five fields, minute hour day-of-month month day-of-week. */
  cronFieldCount: 5,
} as const;

/** What Cloud Scheduler uses for a field a job leaves unset (REST reference, RetryConfig and Job). */
export const SCHEDULER_DEFAULTS = {
  /** "The default value of retry_count is zero": a failed attempt waits for the next scheduled time. */
  retryCount: 0,
  /** "The default value of this field is 5 seconds." */
  minBackoffSeconds: 5,
  /** "The default value of this field is 1 hour." */
  maxBackoffSeconds: 3600,
  /** "The default value of this field is 5." */
  maxDoublings: 5,
  /** "The default value for max_retry_duration is zero, which means retry duration is unlimited." */
  maxRetryDurationSeconds: 0,
  /** Job.attemptDeadline for HTTP targets: 3 minutes. */
  attemptDeadlineSeconds: 180,
  /** "The default time-zone is Etc/UTC." */
  timeZone: 'Etc/UTC',
} as const;

/**
 * Headers Cloud Scheduler sets on every HTTP target request (HttpTarget.headers): `User-Agent` (by default
 * `Google-Cloud-Scheduler`), `X-CloudScheduler: true`, `X-CloudScheduler-JobName` and, for unix-cron jobs,
 * `X-CloudScheduler-ScheduleTime` (RFC 3339). With an OAuth token it adds `Authorization: Bearer <token>`.
 */
export const SCHEDULER_USER_AGENT = 'Google-Cloud-Scheduler';

/** Durations in seconds (the spec's `retry` block). */
export interface SchedulerRetryConfig {
  readonly retryCount?: number;
  readonly minBackoffSeconds?: number;
  readonly maxBackoffSeconds?: number;
  readonly maxDoublings?: number;
  readonly maxRetryDurationSeconds?: number;
}

const fmt = (n: number): string => n.toLocaleString('en-US');

export function jobIdProblems(jobId: string, at: FieldPath = ['jobId']): Problem[] {
  if (SCHEDULER_LIMITS.jobIdPattern.test(jobId)) return [];
  const why =
    jobId.length > SCHEDULER_LIMITS.jobIdMaxLength
      ? `is ${jobId.length} characters; Cloud Scheduler job ids are at most ${SCHEDULER_LIMITS.jobIdMaxLength}`
      : jobId.length === 0
        ? 'is empty; a Cloud Scheduler job id needs 1 to 500 characters'
        : 'is not a valid Cloud Scheduler job id: use only letters, digits, hyphens and underscores';
  const shown = jobId.length > 60 ? `"${jobId.slice(0, 60)}..."` : JSON.stringify(jobId);
  return [{ path: at, value: jobId, message: `${shown} ${why}` }];
}

export function attemptDeadlineProblems(seconds: number, at: FieldPath = ['attemptDeadline']): Problem[] {
  const { minAttemptDeadlineSeconds: min, maxAttemptDeadlineSeconds: max } = SCHEDULER_LIMITS;
  if (seconds >= min && seconds <= max) return [];
  return [
    {
      path: at,
      value: `${seconds}s`,
      message: `${seconds}s is outside Cloud Scheduler's range for HTTP target attempt deadlines, ${min}s to ${max}s (30m)`,
    },
  ];
}

/** RetryConfig: retryCount 0..5, non-negative durations and doublings, and a minimum backoff no longer than the maximum. */
export function schedulerRetryProblems(r: SchedulerRetryConfig): Problem[] {
  const out: Problem[] = [];
  const max = SCHEDULER_LIMITS.maxRetryCount;
  if (r.retryCount !== undefined && !(Number.isInteger(r.retryCount) && r.retryCount >= 0 && r.retryCount <= max))
    out.push({
      path: ['retryCount'],
      value: r.retryCount,
      message: `${r.retryCount} is not allowed: Cloud Scheduler retries a failed attempt 0 to ${max} times`,
    });
  for (const f of ['minBackoffSeconds', 'maxBackoffSeconds', 'maxRetryDurationSeconds'] as const) {
    const v = r[f];
    if (v !== undefined && !(v >= 0)) out.push({ path: [f], value: v, message: `${v} must not be negative` });
  }
  if (r.maxDoublings !== undefined && !(Number.isInteger(r.maxDoublings) && r.maxDoublings >= 0))
    out.push({
      path: ['maxDoublings'],
      value: r.maxDoublings,
      message: `${r.maxDoublings} must be a whole number of at least 0`,
    });
  // With one of the two unset, Cloud Scheduler's default stands in for it (5s, 1h).
  const min = r.minBackoffSeconds ?? SCHEDULER_DEFAULTS.minBackoffSeconds;
  const maxBackoff = r.maxBackoffSeconds ?? SCHEDULER_DEFAULTS.maxBackoffSeconds;
  if (min >= 0 && maxBackoff >= 0 && min > maxBackoff) {
    const field = r.minBackoffSeconds !== undefined ? 'minBackoffSeconds' : 'maxBackoffSeconds';
    const unset =
      r.minBackoffSeconds === undefined
        ? ` (minBackoff is not set: Cloud Scheduler's default ${min}s applies)`
        : r.maxBackoffSeconds === undefined
          ? ` (maxBackoff is not set: Cloud Scheduler's default ${maxBackoff}s applies)`
          : '';
    out.push({
      path: [field],
      value: field === 'minBackoffSeconds' ? min : maxBackoff,
      message: `minBackoff ${min}s is longer than maxBackoff ${maxBackoff}s${unset}: the wait between retries would never grow; make minBackoff <= maxBackoff`,
    });
  }
  return out;
}

export function jobSizeProblems(sizeBytes: number, at: FieldPath = ['payload']): Problem[] {
  if (sizeBytes <= SCHEDULER_LIMITS.maxJobSizeBytes) return [];
  return [
    {
      path: at,
      value: `${fmt(sizeBytes)} bytes`,
      message: `the Cloud Scheduler job would be ${fmt(sizeBytes)} bytes (its request body is the Cloud Tasks request carrying this payload, base64-encoded); Cloud Scheduler's limit for a job is 1 MB (${fmt(SCHEDULER_LIMITS.maxJobSizeBytes)} bytes): pass a URI (gs://...) instead of the data`,
    },
  ];
}

/** The parts of a job counted against the 1 MB job limit: every string it stores, in bytes. */
export function schedulerJobSizeBytes(parts: readonly string[]): number {
  return parts.reduce((n, p) => n + Buffer.byteLength(p), 0);
}

// ------------------------------------------------------------------ time zones

/** UTC as Cloud Scheduler names it ("The default time-zone is Etc/UTC"), and its short alias. */
const UTC_NAMES = new Set(['Etc/UTC', 'UTC']);
/** What a tz database name looks like: an area and a location (`Europe/Berlin`, `America/Argentina/Salta`, `Etc/GMT+5`). */
const TZ_NAME = /^[A-Za-z][A-Za-z_-]*(\/[A-Za-z0-9_+-]+)+$/;

let knownZones: ReadonlySet<string> | undefined;
function zones(): ReadonlySet<string> {
  knownZones ??= new Set(Intl.supportedValuesOf('timeZone'));
  return knownZones;
}

/** The zone's name as ICU resolves it, or undefined when Node does not know it. */
function resolvedZone(tz: string): string | undefined {
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: tz }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}

/**
 * Job.timeZone "must be a time zone name from the tz database": Node's list (Intl.supportedValuesOf), `Etc/UTC` and
 * `UTC`, and the tz database names Node accepts as aliases of those (Asia/Kolkata for ICU's Asia/Calcutta). Offsets
 * (`+01:00`) and abbreviations (`CET`, `PST`) are refused: they are not zone names, and abbreviations do not say
 * which daylight saving rules apply.
 */
export function timeZoneProblems(tz: string, at: FieldPath = ['timeZone']): Problem[] {
  if (UTC_NAMES.has(tz) || zones().has(tz)) return [];
  const resolved = resolvedZone(tz);
  if (resolved !== undefined && TZ_NAME.test(tz)) {
    if (resolved.toLowerCase() !== tz.toLowerCase() || resolved === tz) return [];
    return [
      {
        path: at,
        value: tz,
        message: `${formatValue(tz)} is not spelled as in the tz database: write ${JSON.stringify(resolved)}`,
      },
    ];
  }
  const hint = closest(tz, [...UTC_NAMES, ...zones()]);
  return [
    {
      path: at,
      value: tz,
      message: `${formatValue(tz)} is not a tz database time zone${hint ? ` (did you mean ${JSON.stringify(hint)}?)` : ''}: use a name such as Europe/Berlin, America/New_York or Etc/UTC`,
    },
  ];
}

// ------------------------------------------------------------------ cron

interface CronField {
  readonly name: string;
  /** Names the field accepts besides numbers ("1-12 (or JAN to DEC)", "0-6 (or SUN to SAT; or 7 for Sunday)"). */
  readonly names?: readonly string[];
}

const CRON_FIELDS: readonly CronField[] = [
  { name: 'minute' },
  { name: 'hour' },
  { name: 'day-of-month' },
  { name: 'month', names: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'] },
  { name: 'day-of-week', names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] },
];

export const CRON_FORMAT_HINT =
  'five fields, minute hour day-of-month month day-of-week, e.g. "0 3 * * *" (03:00 every day) or "*/15 * * * *"';

/**
 * The unix-cron dialect of "Cron job format and time zone": in each field `*`, a number, a range `a-b`, a step after
 * `*` or a range (`*\/2`, `0-23/2`), and lists of those; JAN-DEC and SUN-SAT in the month and day-of-week fields.
 * Nothing else: no seconds field, no `@daily` macros, no Quartz `L`, `W`, `#` or `?` (cron-parser accepts all of
 * these, Cloud Scheduler does not).
 */
function dialectProblems(cron: string, at: FieldPath): Problem[] {
  const problem = (message: string): Problem[] => [{ path: at, value: cron, message }];
  const text = cron.trim();
  if (text.startsWith('@'))
    return problem(
      `${formatValue(cron)} is a cron macro; Cloud Scheduler reads unix-cron only: write it as ${CRON_FORMAT_HINT}`,
    );
  const fields = text === '' ? [] : text.split(/\s+/);
  if (fields.length !== SCHEDULER_LIMITS.cronFieldCount)
    return problem(
      `${formatValue(cron)} has ${fields.length} field${fields.length === 1 ? '' : 's'}; Cloud Scheduler reads unix-cron: ${CRON_FORMAT_HINT}${fields.length === 6 ? ' (there is no seconds field)' : ''}`,
    );
  const out: Problem[] = [];
  fields.forEach((field, i) => {
    const spec = CRON_FIELDS[i];
    const value = spec.names ? `(?:\\d+|${spec.names.join('|')})` : '\\d+';
    const item = `(?:\\*(?:/\\d+)?|${value}-${value}(?:/\\d+)?|${value})`;
    if (new RegExp(`^${item}(?:,${item})*$`, 'i').test(field)) return;
    let why: string;
    if (/[LW#?]/i.test(field.replace(new RegExp(spec.names?.join('|') ?? '^$', 'gi'), '')))
      why = 'Cloud Scheduler does not support L, W, # or ? (Quartz extensions)';
    else if (/^\d+\/\d+$/.test(field))
      why = `a step must follow * or a range: write ${field.split('/')[0]}-<last>/${field.split('/')[1]} or */${field.split('/')[1]}`;
    else if (/[A-Za-z]/.test(field))
      why = spec.names
        ? `use numbers or the names ${spec.names[0]}-${spec.names[spec.names.length - 1]}`
        : 'this field takes numbers only';
    else why = 'use *, a number, a range a-b, a step */n or a-b/n, or a list of those';
    out.push({
      path: at,
      value: cron,
      message: `the ${spec.name} field ${JSON.stringify(field)} of ${formatValue(cron)} is not unix-cron: ${why}`,
    });
  });
  return out;
}

/** cron-parser, loaded on first use: nothing pays for it unless a schedule is checked or computed. */
function cronParser(): typeof import('cron-parser') {
  return require('cron-parser') as typeof import('cron-parser');
}

/** The cron's next fire times strictly after `from`, in `timeZone`, as instants. */
function parse(cron: string, timeZone: string, from: Date): CronExpression {
  return cronParser().CronExpressionParser.parse(cron.trim(), { tz: timeZone, currentDate: from });
}

/**
 * Problems with a cron expression as Cloud Scheduler reads it: the dialect (above), then each field's values and
 * ranges by cron-parser (the field named in the message), then the expression as a whole (a schedule that can never
 * fire, such as the 31st of February).
 */
export function cronProblems(cron: string, at: FieldPath = ['cron']): Problem[] {
  const dialect = dialectProblems(cron, at);
  if (dialect.length) return dialect;
  const fields = cron.trim().split(/\s+/);
  const out: Problem[] = [];
  fields.forEach((field, i) => {
    // The field alone, with every other field `*`: an error now is this field's.
    const probe = fields.map((f, j) => (j === i ? f : '*')).join(' ');
    try {
      parse(probe, 'Etc/UTC', new Date(0));
    } catch (err) {
      out.push({
        path: at,
        value: cron,
        message: `the ${CRON_FIELDS[i].name} field ${JSON.stringify(field)} of ${formatValue(cron)}: ${parserMessage(err)}`,
      });
    }
  });
  if (out.length) return out;
  try {
    const next = parse(cron, 'Etc/UTC', new Date(0));
    next.next();
  } catch (err) {
    out.push({
      path: at,
      value: cron,
      message: `${formatValue(cron)} never fires: ${parserMessage(err)}`,
    });
  }
  return out;
}

/** cron-parser's message, in this project's words where it has a fixed form ("got value 60 expected range 0-59"). */
function parserMessage(err: unknown): string {
  const text = (err instanceof Error ? err.message : String(err)).replace(/^Error: /, '');
  const range = /^Constraint error, got value (\S+) expected range (\S+)$/.exec(text);
  return range ? `${range[1]} is outside ${range[2]}` : text;
}

/**
 * The next `count` times the schedule fires after `from`, as Cloud Scheduler reads it: the cron in `timeZone`'s
 * wall-clock time. Across a daylight saving change cron-parser's rule applies: a time the clocks skip fires at the
 * first instant after the gap, a time that occurs twice fires once (Cloud Scheduler documents "execution anomalies"
 * there; docs/schedules.md). The cron must be valid (cronProblems is empty).
 */
export function nextFireTimes(cron: string, timeZone: string, from: Date, count: number): Date[] {
  const expression = parse(cron, canonicalZone(timeZone), from);
  const out: Date[] = [];
  for (let i = 0; i < count; i++) out.push(expression.next().toDate());
  return out;
}

/** The first fire time after `from`. */
export function nextFireTime(cron: string, timeZone: string, from: Date): Date {
  return nextFireTimes(cron, timeZone, from, 1)[0];
}

function canonicalZone(tz: string): string {
  return UTC_NAMES.has(tz) ? 'Etc/UTC' : tz;
}

// ------------------------------------------------------------------ daylight saving time

/** A fire time of the cron that falls in the hour a daylight saving change skips or repeats. */
export interface DstHit {
  /** `skipped`: the clocks jump over these wall-clock times; `repeated`: they occur twice. */
  readonly kind: 'skipped' | 'repeated';
  /** The local date of the change, YYYY-MM-DD. */
  readonly date: string;
  /** The affected wall-clock interval, `HH:MM-HH:MM`. */
  readonly window: string;
  /** The cron's wall-clock times inside it, `HH:MM`. */
  readonly times: readonly string[];
}

/** UTC offset of `timeZone` at `t`, in minutes. */
const offsetFormats = new Map<string, Intl.DateTimeFormat>();
function offsetMinutes(timeZone: string, t: number): number {
  let format = offsetFormats.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
    });
    offsetFormats.set(timeZone, format);
  }
  const parts = format.formatToParts(new Date(t));
  const n = (type: string) => Number(parts.find((p) => p.type === type)!.value);
  const local = Date.UTC(n('year'), n('month') - 1, n('day'), n('hour'), n('minute'));
  return Math.round((local - Math.floor(t / 60_000) * 60_000) / 60_000);
}

const DAY_MS = 86_400_000;
const MINUTE_MS = 60_000;
const pad = (n: number): string => String(n).padStart(2, '0');
const hhmm = (d: Date): string => `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;

/**
 * The daylight saving changes of `timeZone` in the `days` after `from` at which the cron has a fire time the clocks
 * skip or repeat (e.g. `30 2 * * *` in Europe/Berlin: 02:30 does not exist on the last Sunday of March and occurs
 * twice on the last Sunday of October). Empty for zones without DST and for crons that avoid those hours.
 */
export function dstHits(cron: string, timeZone: string, from: Date, days = 365): DstHit[] {
  const zone = canonicalZone(timeZone);
  const utcCron = cronParser().CronExpressionParser.parse(cron.trim(), { tz: 'Etc/UTC' });
  const out: DstHit[] = [];
  let t = from.getTime();
  let before = offsetMinutes(zone, t);
  for (let day = 0; day < days; day++) {
    const next = t + DAY_MS;
    const after = offsetMinutes(zone, next);
    if (after !== before) {
      // The change is within this day: find its minute.
      let lo = t;
      let hi = next;
      while (hi - lo > MINUTE_MS) {
        const mid = lo + Math.floor((hi - lo) / 2 / MINUTE_MS) * MINUTE_MS;
        if (offsetMinutes(zone, mid) === before) lo = mid;
        else hi = mid;
      }
      // Wall-clock times between the two offsets at the change, written as UTC dates: skipped when the clocks
      // go forward, repeated when they go back.
      const start = hi + Math.min(before, after) * MINUTE_MS;
      const end = hi + Math.max(before, after) * MINUTE_MS;
      const times: string[] = [];
      for (let m = start; m < end; m += MINUTE_MS) if (utcCron.includesDate(new Date(m))) times.push(hhmm(new Date(m)));
      if (times.length)
        out.push({
          kind: after > before ? 'skipped' : 'repeated',
          date: new Date(start).toISOString().slice(0, 10),
          window: `${hhmm(new Date(start))}-${hhmm(new Date(end))}`,
          times,
        });
      before = after;
    }
    t = next;
  }
  return out;
}
