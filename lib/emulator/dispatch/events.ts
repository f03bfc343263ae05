/**
 * A queue's timeline, as the dispatcher sees it: one DispatchEvent per step of a task's life. The same events feed
 * the `--log-level` log lines (stderr), the `--event-log <file.jsonl>` file, and in-process listeners (the local
 * runner's summary).
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import type { Task } from '../model';
import { terminalSafe } from '../../core/text';

export type DispatchEventType =
  'created' | 'dispatched' | 'succeeded' | 'failed' | 'retry-scheduled' | 'gave-up' | 'deleted' | 'duplicated';

export interface DispatchEvent {
  /** RFC 3339, from the emulator's clock. */
  readonly ts: string;
  /** Full queue name, `projects/P/locations/L/queues/Q`. */
  readonly queue: string;
  /** Task id (the last segment of the task name). */
  readonly task: string;
  readonly event: DispatchEventType;
  /** HTTP status of the response (succeeded, failed, gave-up after a response). */
  readonly status?: number;
  /** 1 for the first attempt (the task's dispatch_count at that attempt). */
  readonly attempt?: number;
  /** Dispatch to response (or to the failure), in ms. */
  readonly latencyMs?: number;
  /** retry-scheduled: when the next attempt is due, RFC 3339. */
  readonly nextAttemptAt?: string;
  /** Why an attempt failed without a status (deadline, connection refused), why a task was deleted, or RunTask. */
  readonly reason?: string;
}

/** Listeners also get the task itself (its body, its counts); it must not be modified. */
export type DispatchEventListener = (event: DispatchEvent, task: Task) => void;

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Which events each level shows: error = tasks given up; warn = + failed attempts; info = + successes; debug = all. */
const EVENT_LEVEL: Record<DispatchEventType, LogLevel> = {
  'gave-up': 'error',
  failed: 'warn',
  succeeded: 'info',
  deleted: 'info',
  created: 'debug',
  dispatched: 'debug',
  'retry-scheduled': 'debug',
  duplicated: 'info',
};

export function eventLevel(type: DispatchEventType): LogLevel {
  return EVENT_LEVEL[type];
}

export function shows(threshold: LogLevel, level: LogLevel): boolean {
  return LOG_LEVELS.indexOf(level) <= LOG_LEVELS.indexOf(threshold);
}

/**
 * One human-readable line: `12:00:01.234 succeeded recsys-dev-train/abc attempt 1 HTTP 200 in 35 ms`, terminal-safe
 * (a reason can quote a worker's error text).
 */
export function formatEvent(e: DispatchEvent): string {
  const queueId = e.queue.slice(e.queue.lastIndexOf('/') + 1);
  const parts = [e.ts.slice(11, 23), e.event.padEnd(15), `${queueId}/${e.task}`];
  if (e.attempt !== undefined) parts.push(`attempt ${e.attempt}`);
  if (e.status !== undefined) parts.push(`HTTP ${e.status}`);
  if (e.latencyMs !== undefined) parts.push(`in ${Math.round(e.latencyMs)} ms`);
  if (e.reason) parts.push(`(${e.reason})`);
  if (e.nextAttemptAt) parts.push(`next attempt at ${e.nextAttemptAt}`);
  return terminalSafe(parts.join(' '));
}

/** A listener printing the events at or above `level` to `write` (stderr by default). */
export function logListener(
  level: LogLevel,
  write: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
): DispatchEventListener {
  return (event) => {
    if (shows(level, eventLevel(event.event))) write(formatEvent(event));
  };
}

/**
 * `--event-log <file.jsonl>`: every event as one JSON line, appended through a write stream (no disk write blocks a
 * dispatch). `close()` flushes.
 */
export class EventLogWriter {
  private readonly stream: WriteStream;
  private failed: Error | undefined;

  constructor(readonly file: string) {
    this.stream = createWriteStream(file, { flags: 'a' });
    this.stream.on('error', (err) => {
      if (!this.failed)
        process.stderr.write(`cloud-tasks emulator: cannot write the event log ${file}: ${err.message}\n`);
      this.failed = err;
    });
  }

  readonly listener: DispatchEventListener = (event) => {
    if (!this.failed) this.stream.write(`${JSON.stringify(event)}\n`);
  };

  close(): Promise<void> {
    return new Promise((resolve) => this.stream.end(() => resolve()));
  }
}
