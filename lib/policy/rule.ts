/**
 * Defining a rule: one check over subjects (./types.ts), applied by the pack to a whole spec and to each Terraform
 * block through ./subjects.ts. A rule file is `export const CTPnnn = policyRule({ id, name, level, description,
 * check })`.
 */
import type { Problem } from '../core/problem';
import { blockSubjects, specSubjects } from './subjects';
import {
  NOT_APPLICABLE,
  checkResult,
  type PolicyConfig,
  type PolicyRule,
  type PolicyRuleDefinition,
  type PolicySubject,
  type RuleCheck,
} from './types';

export function policyRule(definition: PolicyRuleDefinition): PolicyRule {
  return {
    ...definition,
    checkSpec: ({ spec, config }) => combine(definition, specSubjects(spec), config),
    checkBlock: ({ block, config }) => combine(definition, blockSubjects(block), config),
  };
}

/** NOT_APPLICABLE when no subject is about the rule; otherwise every violation of every subject. */
function combine(rule: PolicyRuleDefinition, subjects: readonly PolicySubject[], config: PolicyConfig): RuleCheck {
  const checks = subjects.map((s) => rule.check(s, config)).filter((c) => c.result !== 'NOT_APPLICABLE');
  if (checks.length === 0) return NOT_APPLICABLE;
  const violations: Problem[] = checks.flatMap((c) => c.violations);
  return checkResult(violations);
}
