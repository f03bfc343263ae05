/** The policy pack's public API (docs/policy.md). */
export { PolicyPack, type PolicyPackProps } from './pack';
export { assertPolicy, enforcePolicy, policyReports } from './report';
export { formatFinding, type PolicyFinding, type PolicyReport } from './findings';
export { PolicyError } from './errors';
export { POLICY_CONTEXT_KEY, orgPolicyConfig } from './config';
export {
  MIN_SUPPRESSION_REASON_LENGTH,
  POLICY_SUPPRESSION_METADATA,
  constructSuppressions,
  suppressPolicyRule,
} from './suppressions';
export { terraformBlocks } from './terraform-blocks';
export { policyRule } from './rule';
export { ALL_RULES } from './rules';
export * from './types';
