/**
 * Validation of a normalized PipelineSpec, for callers that have no spec file (PipelineStack, specs built in
 * TypeScript). The rules live in ./rules/; the loader (./load.ts) runs the same rules and adds file positions.
 */
import type { Problem } from '../core/problem';
import { specRuleProblems, type ValidateOptions } from './rules';
import type { PipelineSpec } from './types';

export type { ValidateOptions } from './rules';

/**
 * Every rule broken by a normalized spec, in spec order; empty when the spec is valid. Warnings (severity
 * `warning`, e.g. a scheduleTime in the past) are included: callers that stop on problems filter them out.
 */
export function pipelineProblems(spec: PipelineSpec, opts: ValidateOptions): Problem[] {
  return specRuleProblems(spec, opts).map(({ inputs: _inputs, ...p }) => p);
}
