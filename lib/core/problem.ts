/**
 * The one problem type: every check in the project (Cloud Tasks rules, the spec loader and validator, the constructs,
 * the seed manifest, the policy pack, the emulator's request checks) reports `Problem`s, and they are printed by one
 * formatter. Kept free of everything heavy (no YAML, ajv or cdktf) so any layer can use it. See
 * docs/decisions/problems.md.
 */
import * as path from 'node:path';
import { terminalSafe } from './text';

/** A path segment: an object key or an array index. */
export type PathSegment = string | number;

/** A field path as segments: `['pipeline', 'steps', 1, 'target', 'headers', 'X-Api.Key']`. Empty: the whole input. */
export type FieldPath = readonly PathSegment[];

/** One broken rule at one place, located as precisely as the input allows. */
export interface Problem {
  /**
   * The field, relative to what was checked: a rule checking rate limits reports `['maxDispatchesPerSecond']`, and
   * the caller places it with `under(['pipeline', 'steps', 0, 'rateLimits'], problems)`. Segments, never a dotted
   * string, so a header named `X.Trace` stays one key.
   */
  readonly path: FieldPath;
  /** States the rule and the value, e.g. "900 exceeds Cloud Tasks' limit of 500 per queue". Never a secret. */
  readonly message: string;
  /** The offending value (shortened when it is kept in an error: payloads can be megabytes). */
  readonly value?: unknown;
  /**
   * How bad it is: an error stops synth (or the request); a warning is printed and the run goes on.
   * @default 'error'
   */
  readonly severity?: 'error' | 'warning';
  /** The id of the rule that reported it, when rules have ids (the policy pack's `CTP001`); printed as `[CTP001]`. */
  readonly rule?: string;
  /** The file (relative to the working directory when inside it) or the construct path the problem is in. */
  readonly file?: string;
  /** 1-based line of the offending value (or key) in `file`, when known. */
  readonly line?: number;
  /** 1-based column, when known. */
  readonly column?: number;
  /**
   * Other fields the rule read to reach its verdict. The spec loader drops a problem whose path or inputs failed an
   * earlier check (a step name of the wrong type must not also produce "unknown step" elsewhere).
   */
  readonly inputs?: readonly FieldPath[];
  /** Locate the key rather than the value (an unknown key is the key's fault). */
  readonly atKey?: boolean;
}

/** Places problems found in a part of the input under that part's path (paths and inputs alike). */
export function under(prefix: PathSegment | FieldPath, problems: readonly Problem[]): Problem[] {
  const base = Array.isArray(prefix) ? (prefix as FieldPath) : [prefix as PathSegment];
  if (base.length === 0) return [...problems];
  return problems.map((p) => ({
    ...p,
    path: [...base, ...p.path],
    ...(p.inputs ? { inputs: p.inputs.map((i) => [...base, ...i]) } : {}),
  }));
}

/** True when `p` is `base` or lies below it. */
export function isAtOrUnder(p: FieldPath, base: FieldPath): boolean {
  return base.length <= p.length && base.every((s, i) => p[i] === s);
}

/** `['pipeline', 'steps', 1, 'headers', 'X.Key']` -> `pipeline.steps[1].headers["X.Key"]`: keys that are not plain words are quoted. */
export function formatPath(segments: FieldPath): string {
  let out = '';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (/^[^.[\]"\s]+$/.test(s)) out += out ? `.${s}` : s;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out;
}

const VALUE_MAX = 60;

/**
 * A value as messages show it: JSON, cut to a short preview. Payloads may be megabytes (and may hold data nobody
 * wants in a CI log), so nothing longer than the preview is ever printed.
 */
export function formatValue(value: unknown, max = VALUE_MAX): string {
  let text: string;
  if (typeof value === 'string') text = JSON.stringify(value);
  else if (value === undefined) text = 'undefined';
  else {
    try {
      text = JSON.stringify(value) ?? String(value);
    } catch {
      text = String(value);
    }
  }
  return text.length > max ? `${text.slice(0, max)}... (${text.length} characters)` : text;
}

/** The value an error keeps: scalars as they are, long strings and objects as a short preview (formatValue). */
export function shortValue(value: unknown): unknown {
  if (value === null || value === undefined || typeof value === 'number' || typeof value === 'boolean') return value;
  if (typeof value === 'string' && value.length <= VALUE_MAX) return value;
  return formatValue(value);
}

export interface FormatProblemOptions {
  /**
   * Print the value after the path (`queueId = "a b": ...`), for messages about input the reader did not write in a
   * file (construct props, API requests).
   * @default false
   */
  readonly value?: boolean;
}

/**
 * The one way a problem is printed:
 * `pipelines/prod.yaml:14:11: pipeline.steps[1].rateLimits.maxDispatchesPerSecond: 900 exceeds ...`, with the rule id
 * after the location (`stack/queue: [CTP002] google_cloud_tasks_queue.q.http_target: ...`) and, on request, the value
 * after the path (`rateLimits.maxDispatchesPerSecond = 900: ...`). Always one terminal-safe line: file names, keys,
 * values and messages all quote user text, so control and bidi characters are shown escaped (lib/core/text.ts).
 */
export function formatProblem(p: Problem, opts: FormatProblemOptions = {}): string {
  let out = '';
  if (p.file !== undefined) {
    out = p.file;
    if (p.line !== undefined) out += `:${p.line}${p.column !== undefined ? `:${p.column}` : ''}`;
    out += ': ';
  }
  if (p.rule !== undefined) out += `[${p.rule}] `;
  const where = formatPath(p.path);
  const shown =
    where && opts.value && Object.prototype.hasOwnProperty.call(p, 'value') ? ` = ${formatValue(p.value)}` : '';
  if (where) out += `${where}${shown}: `;
  return terminalSafe(`${out}${p.message}`);
}

/** One line per problem; beyond `max`, a count of the rest. */
export function formatProblems(
  problems: readonly Problem[],
  opts: FormatProblemOptions & { readonly max?: number } = {},
): string {
  const max = opts.max ?? Infinity;
  const lines = problems.slice(0, max).map((p) => formatProblem(p, opts));
  if (problems.length > max) lines.push(`... and ${problems.length - max} more problems`);
  return lines.join('\n');
}

/** A file name for messages: relative to the working directory when inside it, else as given. */
export function displayFile(file: string, cwd = process.cwd()): string {
  if (!path.isAbsolute(file)) return file.split(path.sep).join('/');
  const rel = path.relative(cwd, file);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel.split(path.sep).join('/') : file;
}

/** Orders problems by position in their file (problems without a line last), keeping the order of ties. */
export function byPosition(a: Problem, b: Problem): number {
  return (a.line ?? Infinity) - (b.line ?? Infinity) || (a.column ?? 0) - (b.column ?? 0);
}

/**
 * An error that carries its problems: `problems` for code, `message` (a heading and one line per problem) for people.
 * Subclasses name the input (SpecError, PolicyError, ConstructError); values are kept shortened.
 */
export class ProblemError extends Error {
  readonly problems: readonly Problem[];

  constructor(
    heading: string,
    problems: readonly Problem[],
    formatLine: (p: Problem) => string = (p) => formatProblem(p),
  ) {
    const kept = problems.map((p) => (p.value === undefined ? p : { ...p, value: shortValue(p.value) }));
    super([terminalSafe(heading), ...kept.map((p) => terminalSafe(formatLine(p)))].join('\n'));
    this.name = 'ProblemError';
    this.problems = kept;
  }
}
