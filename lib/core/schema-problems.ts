/**
 * JSON Schema errors (ajv's, with `verbose: true`) as Problems: one translation for every document the project
 * checks against a schema (pipeline specs, seed manifests), so a wrong type, an unknown key or a missing field reads
 * the same wherever it is found. Only ajv's error *type* is imported: the validators themselves are precompiled or
 * loaded by their callers, and this module loads nothing.
 */
import type { ErrorObject } from 'ajv';
import { formatValue, type PathSegment, type Problem } from './problem';
import { secretSafeKey } from './secrets';
import { closest } from './suggest';

export interface SchemaProblemOptions {
  /** The message for a document that is missing or of the wrong type altogether (`value` is what was read). */
  readonly rootMessage?: (value: unknown) => string;
  /** A better "must be ..." for a schema than its type (the spec's duration strings: `a duration string, ...`). */
  readonly expectedFor?: (schema: unknown) => string | undefined;
  /**
   * Why the value at `path` must not be printed (it may be a credential), or undefined to print it. A concealed
   * value is named by its type only and kept as `(not shown)`.
   * @default - every value is printed
   */
  readonly conceal?: (path: readonly PathSegment[], value: unknown) => string | undefined;
}

/** The message a concealed value gets in place of the value. */
const NOT_SHOWN = '(not shown)';

const TYPE_WORDS: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  integer: 'a whole number',
  boolean: 'true or false',
  object: 'a mapping (key: value)',
  array: 'a list',
};

/** Every error as a Problem, in ajv's order, with paths relative to the validated value. */
export function schemaProblems(
  errors: readonly ErrorObject[],
  root: unknown,
  opts: SchemaProblemOptions = {},
): Problem[] {
  return errors.map((e) => schemaProblem(e, root, opts));
}

function schemaProblem(e: ErrorObject, root: unknown, opts: SchemaProblemOptions): Problem {
  const at = instanceSegments(e.instancePath, root);
  // Unknown and missing keys print no value; every other error would.
  const concealed =
    e.keyword === 'additionalProperties' || e.keyword === 'required' ? undefined : opts.conceal?.(at, e.data);
  if (concealed !== undefined && !(at.length === 0 && e.keyword === 'type' && opts.rootMessage))
    return { path: at, value: NOT_SHOWN, message: concealedMessage(e, concealed, opts) };
  const parent = (e.parentSchema ?? {}) as { properties?: Record<string, { description?: string }> };
  switch (e.keyword) {
    case 'additionalProperties': {
      const written = String((e.params as { additionalProperty: string }).additionalProperty);
      // A key that is itself a credential (a pasted token) is named as such, never printed.
      const key = secretSafeKey(written);
      const allowed = Object.keys(parent.properties ?? {});
      const hint = key === written ? closest(key, allowed) : undefined;
      return {
        path: [...at, key],
        atKey: true,
        message: `unknown key ${key === written ? `"${key}"` : key}${hint ? ` (did you mean "${hint}"?)` : ''}; allowed here: ${allowed.join(', ')}`,
      };
    }
    case 'required': {
      const key = String((e.params as { missingProperty: string }).missingProperty);
      const description = parent.properties?.[key]?.description;
      return { path: [...at, key], message: `is required${description ? `: ${description}` : ''}` };
    }
    case 'type': {
      const expected = String((e.params as { type: string }).type);
      const value = e.data;
      if (at.length === 0 && opts.rootMessage) return { path: at, message: opts.rootMessage(value) };
      const special = opts.expectedFor?.(e.parentSchema);
      if (special) return { path: at, value, message: `must be ${special}, not ${describeValue(value)}` };
      const quote =
        expected === 'string' && (typeof value === 'number' || typeof value === 'boolean')
          ? ` (quote it: "${String(value)}")`
          : '';
      return {
        path: at,
        value,
        message: `must be ${TYPE_WORDS[expected] ?? expected}, not ${describeValue(value)}${quote}`,
      };
    }
    case 'enum': {
      const choices = (e.params as { allowedValues: unknown[] }).allowedValues.map(String);
      const hint = typeof e.data === 'string' ? closest(e.data, choices) : undefined;
      return {
        path: at,
        value: e.data,
        message: `${formatValue(e.data)} is not one of: ${choices.join(', ')}${hint ? ` (did you mean "${hint}"?)` : ''}`,
      };
    }
    case 'minLength': {
      const limit = Number((e.params as { limit: number }).limit);
      return {
        path: at,
        value: e.data,
        message: limit === 1 ? 'must not be empty' : `must be at least ${limit} characters`,
      };
    }
    default:
      return { path: at, value: e.data, message: `${e.message ?? 'is invalid'} (${e.keyword})` };
  }
}

/** The message of an error whose value must not be printed: what was expected, the kind of value, and why. */
function concealedMessage(e: ErrorObject, reason: string, opts: SchemaProblemOptions): string {
  const why = `the value is not shown: ${reason}`;
  if (e.keyword === 'type') {
    const expected = String((e.params as { type: string }).type);
    const special = opts.expectedFor?.(e.parentSchema);
    return `must be ${special ?? TYPE_WORDS[expected] ?? expected}, not ${kindOf(e.data)} (${why})`;
  }
  if (e.keyword === 'enum')
    return `is not one of: ${(e.params as { allowedValues: unknown[] }).allowedValues.map(String).join(', ')} (${why})`;
  if (e.keyword === 'minLength') return `must not be empty (${why})`;
  return `${e.message ?? 'is invalid'} (${e.keyword}; ${why})`;
}

/** The kind of a value, without the value: `a number`, `a list`. */
function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return typeof v === 'boolean' ? 'true or false' : `a ${typeof v}`;
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'number') return 'the number';
  return `the ${typeof v}`;
}

/** A value as "not ..." messages name it: `a list`, `null`, `the number 7`, `the string "x"`. */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'empty';
  return v === null || typeof v === 'object' ? typeOf(v) : `${typeOf(v)} ${formatValue(v)}`;
}

/** ajv's JSON pointer -> segments, with array positions as numbers (so paths print as steps[1]). */
function instanceSegments(pointer: string, root: unknown): PathSegment[] {
  if (!pointer) return [];
  const out: PathSegment[] = [];
  let node: unknown = root;
  for (const part of pointer.slice(1).split('/')) {
    const key = part.replace(/~1/g, '/').replace(/~0/g, '~');
    const segment: PathSegment = Array.isArray(node) ? Number(key) : key;
    out.push(segment);
    node = node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined;
  }
  return out;
}
