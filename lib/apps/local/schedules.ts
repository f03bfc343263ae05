/**
 * `npm run local -- --fire <schedule>` and `--schedules [--for <duration>]`: the stack's Cloud Scheduler jobs, fired
 * locally. A firing sends exactly the request the synthesized `google_cloud_scheduler_job` describes (its
 * `http_target` method, URI path and query, headers and body, plus the headers Cloud Scheduler adds) to the
 * emulator's REST API instead of cloudtasks.googleapis.com, so a local run proves the synthesized request: the
 * emulator creates the run's first task in the step's queue and dispatches it to the step's worker.
 *
 * `--schedules` fires every unpaused job on its cron, in its time zone, in real time, for a window; the loop takes a
 * clock so tests run it in virtual time.
 */
import { readSynthesizedStack } from '../../core/synthesized-stack';
import { schedulerHeaders, synthesizedScheduleJobs, type SynthesizedScheduleJob } from '../../core/schedule-request';
import { nextFireTime } from '../../core/rules/scheduler';

/** `--fire` named a schedule the stack does not have (a command-line mistake: exit code 2). */
export class ScheduleNotFoundError extends Error {
  override readonly name = 'ScheduleNotFoundError';
}

/**
 * The bearer token of a local firing. Cloud Scheduler sends an OAuth access token of the job's service account; the
 * emulator checks no credentials, and a real token must never be minted for a local run.
 */
export const LOCAL_SCHEDULER_TOKEN = 'local-cloud-scheduler-token';

/** One firing: when, which job, and what the Cloud Tasks API answered. */
export interface Firing {
  readonly schedule: string;
  readonly jobId: string;
  /** The time the firing was due (`X-CloudScheduler-ScheduleTime`), ISO 8601. */
  readonly scheduleTime: string;
  /** HTTP status of the Cloud Tasks API's answer (0: no answer). */
  readonly status: number;
  /** The created task's full name, on success. */
  readonly task?: string;
  /** Why it failed, on failure (the API's error message). */
  readonly error?: string;
}

/** The HTTP request of a firing, as sent. */
export interface FiringRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

/** The stack's scheduler jobs (`--schedules`), or the one `--fire` names; throws ScheduleNotFoundError. */
export function scheduleJobsToRun(stackDir: string, fire: string | undefined): SynthesizedScheduleJob[] {
  const jobs = synthesizedScheduleJobs(readSynthesizedStack(stackDir).config);
  const names = jobs.map((j) => j.schedule);
  if (jobs.length === 0)
    throw new ScheduleNotFoundError(
      `the pipeline has no schedules: add a pipeline.schedules entry to the spec (docs/schedules.md)`,
    );
  if (fire === undefined) return jobs;
  const job = jobs.find((j) => j.schedule === fire);
  if (!job)
    throw new ScheduleNotFoundError(`--fire ${JSON.stringify(fire)}: no such schedule; schedules: ${names.join(', ')}`);
  return [job];
}

/**
 * The request the job makes at `scheduleTime`, addressed to the emulator: the URI's path and query on `restUrl`,
 * the job's method, headers and body bytes, and Cloud Scheduler's own headers (schedulerHeaders).
 */
export function firingRequest(job: SynthesizedScheduleJob, restUrl: string, scheduleTime: Date): FiringRequest {
  const uri = new URL(job.request.uri);
  const url = new URL(`${uri.pathname}${uri.search}`, restUrl).toString();
  return {
    method: job.request.httpMethod,
    url,
    headers: {
      ...job.request.headers,
      ...schedulerHeaders(job, scheduleTime),
      ...(job.request.oauthServiceAccount ? { Authorization: `Bearer ${LOCAL_SCHEDULER_TOKEN}` } : {}),
    },
    body: job.request.body,
  };
}

/** Sends one firing; never throws (a failed call is a Firing with its status and error). */
export async function fireSchedule(
  job: SynthesizedScheduleJob,
  restUrl: string,
  scheduleTime: Date,
  send: typeof fetch = fetch,
): Promise<Firing> {
  const request = firingRequest(job, restUrl, scheduleTime);
  const base = { schedule: job.schedule, jobId: job.jobId, scheduleTime: scheduleTime.toISOString() };
  let response: Response;
  try {
    response = await send(request.url, {
      method: request.method,
      headers: request.headers,
      body: request.body.byteLength > 0 ? request.body : undefined,
    });
  } catch (err) {
    return { ...base, status: 0, error: (err as Error).message };
  }
  const text = await response.text();
  let json: { name?: unknown; error?: { message?: unknown } } = {};
  try {
    json = JSON.parse(text) as typeof json;
  } catch {
    // Not JSON: the status says enough.
  }
  if (response.ok && typeof json.name === 'string') return { ...base, status: response.status, task: json.name };
  const message = typeof json.error?.message === 'string' ? json.error.message : text.slice(0, 200);
  return { ...base, status: response.status, error: message || `HTTP ${response.status}` };
}

/** Time for the schedule loop: the real clock in `npm run local`, a virtual one in tests. */
export interface ScheduleClock {
  now(): number;
  /** Resolves after `ms` (or at once when `signal` aborts). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: ScheduleClock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      const timer = setTimeout(done, Math.max(0, ms));
      function done() {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      }
      signal?.addEventListener('abort', done);
    }),
};

export interface RunSchedulesOptions {
  /** How long to run the schedules, from the clock's now. */
  readonly forMs: number;
  readonly clock?: ScheduleClock;
  /** Sends a firing (fireSchedule against the emulator). */
  readonly fire: (job: SynthesizedScheduleJob, scheduleTime: Date) => Promise<Firing>;
  readonly signal?: AbortSignal;
  /** Progress lines (each firing, jobs that will not fire in the window). @default - none */
  readonly log?: (line: string) => void;
}

/**
 * Fires every unpaused job at each of its cron times in the window `[now, now + forMs)`, in its time zone, as Cloud
 * Scheduler would (jobs due at the same minute fire together). Returns the firings in order once the window has
 * passed (or the signal aborted).
 */
export async function runSchedules(jobs: readonly SynthesizedScheduleJob[], o: RunSchedulesOptions): Promise<Firing[]> {
  const clock = o.clock ?? systemClock;
  const end = clock.now() + o.forMs;
  const firings: Firing[] = [];
  const next = new Map<SynthesizedScheduleJob, number>();
  for (const job of jobs) {
    if (job.paused) {
      o.log?.(`schedule ${job.schedule}: paused in the spec, not fired (use --fire ${job.schedule} to fire it once)`);
      continue;
    }
    const first = nextFireTime(job.cron, job.timeZone, new Date(clock.now())).getTime();
    if (first >= end)
      o.log?.(
        `schedule ${job.schedule} (${job.cron}, ${job.timeZone}): next fires at ${new Date(first).toISOString()}, after the window ends`,
      );
    next.set(job, first);
  }
  for (;;) {
    if (o.signal?.aborted) break;
    const due = Math.min(...next.values());
    if (!(due < end)) break;
    await clock.sleep(due - clock.now(), o.signal);
    if (o.signal?.aborted) break;
    const now = [...next].filter(([, t]) => t === due).map(([job]) => job);
    const fired = await Promise.all(now.map((job) => o.fire(job, new Date(due))));
    for (const f of fired) {
      firings.push(f);
      o.log?.(describeFiring(f));
    }
    for (const job of now) next.set(job, nextFireTime(job.cron, job.timeZone, new Date(due)).getTime());
  }
  // The window is the user's: it runs to its end even when nothing else is due.
  if (!o.signal?.aborted && clock.now() < end) await clock.sleep(end - clock.now(), o.signal);
  return firings;
}

/** One line per firing, for the log and the summary. */
export function describeFiring(f: Omit<Firing, 'jobId'>): string {
  return f.task
    ? `fired ${f.schedule} (${f.scheduleTime}): created ${f.task}`
    : `fired ${f.schedule} (${f.scheduleTime}): the Cloud Tasks API answered ${f.status || 'nothing'}: ${f.error}`;
}
