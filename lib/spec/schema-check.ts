/**
 * The shape check of a raw spec: the JSON Schema's errors (lib/spec/schema.ts) as problems, in the spec's words. The
 * advisory keywords (ranges, patterns) are left to the semantic rules, which name the Cloud Tasks limit.
 */
import type { Problem } from '../core/problem';
import { describeValue, schemaProblems } from '../core/schema-problems';
import { DURATION_FORMAT_HINT } from '../core/duration';
import { ADVISORY_KEYWORDS, isDurationSchema, rawSpecSchemaErrors } from './schema';

const SPEC_WORDING = {
  rootMessage: (value: unknown): string =>
    value === null || value === undefined
      ? 'the spec is empty: write project, region, environment and pipeline (docs/spec.md)'
      : `a pipeline spec must be a mapping with project, region, environment and pipeline, not ${describeValue(value)}`,
  expectedFor: (schema: unknown): string | undefined =>
    isDurationSchema(schema) ? `a duration string, ${DURATION_FORMAT_HINT}` : undefined,
};

/** Every shape problem of a raw spec; empty when its shape is right. */
export function specShapeProblems(raw: unknown): Problem[] {
  const errors = rawSpecSchemaErrors(raw).filter((e) => !ADVISORY_KEYWORDS.has(e.keyword));
  return schemaProblems(errors, raw, SPEC_WORDING);
}
