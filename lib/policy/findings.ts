/** What the pack reports: one finding per rule result, and how a finding is printed (lib/core/problem.ts formatProblem). */
import { formatProblem, type FieldPath, type Problem } from '../core/problem';
import type { PolicyLevel, PolicyResult } from './types';

export interface PolicyFinding {
  /** Rule id, or `policy` for a broken suppression. */
  readonly ruleId: string;
  readonly level: PolicyLevel;
  readonly result: PolicyResult;
  /** Where: the spec file (`pipelines/x.yaml`) for spec findings, the construct path for Terraform blocks. */
  readonly subject: string;
  /** Field path inside the subject (never a value). */
  readonly path?: FieldPath;
  readonly message?: string;
  /** Set when a suppression covers the finding. */
  readonly suppressedBecause?: string;
}

export interface PolicyReport {
  readonly stack: string;
  /** Every rule result, including COMPLIANT and NOT_APPLICABLE ones. */
  readonly findings: readonly PolicyFinding[];
  /** NON_COMPLIANT, not suppressed, level error (and broken suppressions). */
  readonly errors: readonly PolicyFinding[];
  /** NON_COMPLIANT, not suppressed, level warning. */
  readonly warnings: readonly PolicyFinding[];
}

/** A finding as a Problem: the subject is its file, the rule id its rule. */
export function findingProblem(f: PolicyFinding): Problem {
  return {
    file: f.subject,
    rule: f.ruleId,
    path: f.path ?? [],
    message: f.message ?? f.result,
    severity: f.level,
  };
}

/** `pipelines/x.yaml: [CTP001] pipeline.steps[0].target.auth: "none" sends tasks ...` */
export function formatFinding(f: PolicyFinding): string {
  return formatProblem(findingProblem(f));
}
