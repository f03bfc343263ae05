/**
 * The shape check of a raw spec: the JSON Schema's errors (lib/spec/schema.ts) as problems, in the spec's words. The
 * advisory keywords (ranges, patterns) are left to the semantic rules, which name the Cloud Tasks limit.
 */
import type { PathSegment, Problem } from '../core/problem';
import { describeValue, schemaProblems } from '../core/schema-problems';
import { findSecrets } from '../core/secrets';
import { DURATION_FORMAT_HINT } from '../core/duration';
import { ADVISORY_KEYWORDS, isDurationSchema, rawSpecSchemaErrors } from './schema';

const SPEC_WORDING = {
  rootMessage: (value: unknown): string =>
    value === null || value === undefined
      ? 'the spec is empty: write project, region, environment and pipeline (docs/spec.md)'
      : `a pipeline spec must be a mapping with project, region, environment and pipeline, not ${describeValue(value)}`,
  expectedFor: (schema: unknown): string | undefined =>
    isDurationSchema(schema) ? `a duration string, ${DURATION_FORMAT_HINT}` : undefined,
  conceal: concealReason,
};

/** Fields whose values can be credentials, by where they sit: a wrong type there is reported without its value. */
const SECRET_CAPABLE: ReadonlyArray<readonly [test: (path: readonly PathSegment[]) => boolean, why: string]> = [
  [(p) => p.includes('headers'), 'header values may hold credentials'],
  [(p) => p.includes('payload'), 'seed payloads may hold credentials'],
  [(p) => ['url', 'audience', 'scope'].includes(String(p[p.length - 1])), 'URLs may hold credentials'],
];

/**
 * Why a value must not be echoed in a shape error: its field can hold a credential, or the secret detector
 * (lib/core/secrets.ts) says the key or the value looks like one (`api_key: 123456789012345` anywhere).
 */
function concealReason(path: readonly PathSegment[], value: unknown): string | undefined {
  const field = SECRET_CAPABLE.find(([test]) => test(path));
  if (field) return field[1];
  // The detector's own judgement of this key and value together (a strong key name, or a credential's shape).
  const key = [...path].reverse().find((s): s is string => typeof s === 'string') ?? '';
  const scalar = typeof value === 'number' ? value : typeof value === 'string' ? value : undefined;
  if (scalar !== undefined && findSecrets({ [key]: scalar }, []).length > 0) return 'it may be a credential';
  return undefined;
}

/** Every shape problem of a raw spec; empty when its shape is right. */
export function specShapeProblems(raw: unknown): Problem[] {
  const errors = rawSpecSchemaErrors(raw).filter((e) => !ADVISORY_KEYWORDS.has(e.keyword));
  return schemaProblems(errors, raw, SPEC_WORDING);
}
