/**
 * What a spec problem looks like and how it is printed. Kept apart from load.ts so code that only validates a
 * normalized spec (the constructs, the policy pack) can report problems without loading the YAML parser or ajv.
 */
import * as path from 'node:path';

/** One broken rule in a pipeline spec, located as precisely as the source allows. */
export interface SpecProblem {
  /** Spec file, relative to the working directory when it is inside it. */
  readonly file?: string;
  /** 1-based line of the offending value (or key) in the file, when known. */
  readonly line?: number;
  /** 1-based column, when known. */
  readonly column?: number;
  /** Field path as the user writes it, e.g. `pipeline.steps[1].retry.minBackoff`; empty for the whole spec. */
  readonly path: string;
  /** The offending value, shortened when long (payloads can be large). */
  readonly value?: unknown;
  /** States the rule and the value, e.g. "900 exceeds Cloud Tasks' limit of 500 per queue". */
  readonly message: string;
}

/** Thrown when a spec (or a set of specs) is invalid; the message lists every problem, one per line. */
export class SpecError extends Error {
  readonly problems: readonly SpecProblem[];

  constructor(problems: readonly SpecProblem[]) {
    super(formatSpecErrorMessage(problems));
    this.name = 'SpecError';
    this.problems = problems;
  }
}

export function formatSpecErrorMessage(problems: readonly SpecProblem[]): string {
  const files = new Set(problems.map((p) => p.file).filter((f) => f !== undefined));
  const where = files.size === 1 ? ` in ${[...files][0]}` : files.size > 1 ? ` in ${files.size} files` : '';
  const head = `${problems.length} problem${problems.length === 1 ? '' : 's'} in pipeline spec${where}:`;
  return [head, ...problems.map(formatProblem)].join('\n');
}

/** `pipelines/prod.yaml:14:11: pipeline.steps[1].rateLimits.maxDispatchesPerSecond: 900 exceeds ...` */
export function formatProblem(p: SpecProblem): string {
  let location = '';
  if (p.file !== undefined) {
    location = p.file;
    if (p.line !== undefined) location += `:${p.line}${p.column !== undefined ? `:${p.column}` : ''}`;
    location += ': ';
  }
  return `${location}${p.path ? `${p.path}: ` : ''}${p.message}`;
}

/** A path segment: an object key or an array index. */
export type PathSegment = string | number;

/** `['pipeline', 'steps', 1, 'name']` -> `pipeline.steps[1].name`; keys that are not plain words are quoted. */
export function formatPath(segments: readonly PathSegment[]): string {
  let out = '';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (/^[^.[\]"\s]+$/.test(s)) out += out ? `.${s}` : s;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out;
}

const PREVIEW_MAX = 60;

/**
 * A value shortened for messages: payloads may be megabytes (and may hold data nobody wants in a CI log), so nothing
 * longer than a short preview is ever printed.
 */
export function preview(value: unknown, max = PREVIEW_MAX): string {
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

/** The value to keep in `SpecProblem.value`: scalars as they are, long strings and objects as a short preview. */
export function shortValue(value: unknown): unknown {
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return value;
  if (typeof value === 'string' && value.length <= PREVIEW_MAX) return value;
  return preview(value);
}

/** A file name for messages: relative to the working directory when inside it, else as given. */
export function displayFile(file: string, cwd = process.cwd()): string {
  if (!path.isAbsolute(file)) return file.split(path.sep).join('/');
  const rel = path.relative(cwd, file);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel.split(path.sep).join('/') : file;
}

/**
 * A problem before it is located in a file: the path as segments (so the loader can find the YAML node) and the
 * other fields the rule read (`inputs`), so the loader can drop a rule whose inputs failed the schema check: a
 * missing step name must not also produce "unknown step" errors elsewhere.
 */
export interface PathProblem {
  readonly path: readonly PathSegment[];
  readonly value?: unknown;
  readonly message: string;
  readonly inputs?: ReadonlyArray<readonly PathSegment[]>;
  /** Locate the key rather than the value (an unknown key is the key's fault). */
  readonly atKey?: boolean;
}

export function toSpecProblem(
  p: PathProblem,
  where: { file?: string; line?: number; column?: number } = {},
): SpecProblem {
  return {
    ...(where.file !== undefined ? { file: where.file } : {}),
    ...(where.line !== undefined ? { line: where.line } : {}),
    ...(where.column !== undefined ? { column: where.column } : {}),
    path: formatPath(p.path),
    ...(p.value !== undefined ? { value: shortValue(p.value) } : {}),
    message: p.message,
  };
}
