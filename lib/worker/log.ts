/**
 * Structured logs in Cloud Logging's format: one JSON object per line on stdout, which Cloud Run (and the logging
 * agent) turn into a LogEntry. The special fields are documented in "Structured logging"
 * (https://cloud.google.com/logging/docs/structured-logging): `severity`, `message`, `time`,
 * `logging.googleapis.com/labels`, `logging.googleapis.com/trace`, `logging.googleapis.com/spanId`,
 * `logging.googleapis.com/trace_sampled`. Every line of a delivery carries the run id, step, shard and attempt as
 * labels, so one query (`labels.runId="..."`) finds a run's whole story.
 */
import type { HeaderSource } from './index';

export type Severity = 'DEBUG' | 'INFO' | 'NOTICE' | 'WARNING' | 'ERROR' | 'CRITICAL';

export const LABELS_FIELD = 'logging.googleapis.com/labels';
export const TRACE_FIELD = 'logging.googleapis.com/trace';
export const SPAN_FIELD = 'logging.googleapis.com/spanId';
export const TRACE_SAMPLED_FIELD = 'logging.googleapis.com/trace_sampled';

export interface TraceContext {
  /** `projects/<project>/traces/<trace id>`. */
  readonly trace: string;
  /** 16 hex digits. */
  readonly spanId?: string;
  readonly sampled?: boolean;
}

/**
 * The trace of a request: `X-Cloud-Trace-Context: TRACE_ID/SPAN_ID;o=OPTIONS` (SPAN_ID decimal), else W3C
 * `traceparent: 00-<trace id>-<span id>-<flags>`. Returns undefined without either (or with a malformed one).
 */
export function traceContextOf(headers: HeaderSource, project: string): TraceContext | undefined {
  const get = (name: string): string | undefined => {
    if (typeof (headers as { get?: unknown }).get === 'function')
      return (headers as { get(n: string): string | null }).get(name) ?? undefined;
    const record = headers as { readonly [k: string]: string | readonly string[] | undefined };
    const key = Object.keys(record).find((k) => k.toLowerCase() === name);
    const v = key === undefined ? undefined : record[key];
    return Array.isArray(v) ? v[0] : (v as string | undefined);
  };
  const cloud = get('x-cloud-trace-context');
  const m = cloud ? /^([0-9a-fA-F]{32})(?:\/(\d{1,20}))?(?:;o=([01]))?$/.exec(cloud.trim()) : null;
  if (m) {
    const spanId = m[2] ? BigInt(m[2]).toString(16).padStart(16, '0').slice(-16) : undefined;
    return {
      trace: `projects/${project}/traces/${m[1].toLowerCase()}`,
      ...(spanId ? { spanId } : {}),
      ...(m[3] !== undefined ? { sampled: m[3] === '1' } : {}),
    };
  }
  const parent = get('traceparent');
  const w = parent ? /^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(parent.trim()) : null;
  if (w) return { trace: `projects/${project}/traces/${w[1]}`, spanId: w[2], sampled: (parseInt(w[3], 16) & 1) === 1 };
  return undefined;
}

export interface LogSink {
  (line: string): void;
}

/** Writes one line to stdout (where Cloud Run collects structured logs). */
export const stdoutSink: LogSink = (line) => {
  process.stdout.write(`${line}\n`);
};

export interface StepLogger {
  debug(message: string, fields?: Readonly<Record<string, unknown>>): void;
  info(message: string, fields?: Readonly<Record<string, unknown>>): void;
  warn(message: string, fields?: Readonly<Record<string, unknown>>): void;
  error(message: string, fields?: Readonly<Record<string, unknown>>): void;
}

/** One log line as Cloud Logging reads it. Labels are strings (LogEntry.labels is map<string, string>). */
export function logLine(
  severity: Severity,
  message: string,
  labels: Readonly<Record<string, string | number | undefined>>,
  trace: TraceContext | undefined,
  fields: Readonly<Record<string, unknown>> = {},
  now: Date = new Date(),
): string {
  const entry: Record<string, unknown> = { ...fields };
  entry.severity = severity;
  entry.message = message;
  entry.time = now.toISOString();
  const stringLabels: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels)) if (v !== undefined) stringLabels[k] = String(v);
  entry[LABELS_FIELD] = stringLabels;
  if (trace) {
    entry[TRACE_FIELD] = trace.trace;
    if (trace.spanId) entry[SPAN_FIELD] = trace.spanId;
    if (trace.sampled !== undefined) entry[TRACE_SAMPLED_FIELD] = trace.sampled;
  }
  return safeStringify(entry);
}

/** A logger whose every line carries `labels` and `trace`. */
export function createStepLogger(
  sink: LogSink,
  labels: Readonly<Record<string, string | number | undefined>>,
  trace?: TraceContext,
  now: () => Date = () => new Date(),
): StepLogger {
  const write = (severity: Severity) => (message: string, fields?: Readonly<Record<string, unknown>>) =>
    sink(logLine(severity, message, labels, trace, fields, now()));
  return { debug: write('DEBUG'), info: write('INFO'), warn: write('WARNING'), error: write('ERROR') };
}

/** JSON.stringify that never throws (a user's field with a cycle or a BigInt is written as text). */
function safeStringify(entry: Record<string, unknown>): string {
  try {
    return JSON.stringify(entry, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
  } catch {
    const copy: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(entry)) {
      try {
        JSON.stringify(v);
        copy[k] = v;
      } catch {
        copy[k] = String(v);
      }
    }
    return JSON.stringify(copy);
  }
}
