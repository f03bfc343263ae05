/**
 * Suppressions: a rule switched off for a stack (the spec's `policy.suppress`, the pack's own) or for one construct
 * and everything below it (`suppressPolicyRule`, like cdk-nag's NagSuppressions). Each needs a reason a reviewer can
 * judge. Construct suppressions are construct metadata, so they live in the tree like annotations; every suppression
 * a stack has is also written into its cdk.tf.json (lib/core/synthesized-stack.ts PolicyRecord), where the review
 * tool shows it.
 */
import type { IConstruct } from 'constructs';
import type { FieldPath } from '../core/problem';
import type { RecordedSuppression } from '../core/synthesized-stack';
import type { PolicySuppression } from '../spec/types';
import type { PolicyFinding } from './findings';
import type { PolicyRule } from './types';

/** A suppression needs a reason a reviewer can judge. */
export const MIN_SUPPRESSION_REASON_LENGTH = 10;

/** The construct metadata type of a suppression added with suppressPolicyRule; its data is `{ rule, reason }`. */
export const POLICY_SUPPRESSION_METADATA = 'cloud-tasks-pipelines:policy-suppression';

/**
 * Suppresses `rule` for `scope` and everything below it (a stack, or one queue resource), like cdk-nag's
 * NagSuppressions. Recorded as construct metadata; the reason is checked at synth: at least 10 characters, and the
 * rule must exist.
 */
export function suppressPolicyRule(scope: IConstruct, rule: string, reason: string): void {
  const data: PolicySuppression = { rule, reason };
  scope.node.addMetadata(POLICY_SUPPRESSION_METADATA, data);
}

/** The suppressions suppressPolicyRule added to this construct (not to those above or below it), in order. */
export function constructSuppressions(construct: IConstruct): PolicySuppression[] {
  return construct.node.metadata
    .filter((m) => m.type === POLICY_SUPPRESSION_METADATA)
    .map((m) => m.data as PolicySuppression);
}

/** Where a suppression was written, for its own findings and for the record in the JSON. */
export interface SuppressionSite {
  readonly source: RecordedSuppression['source'];
  /** The construct path the suppression covers. */
  readonly scope: string;
  /** What findings about the suppression itself name: the spec file, or a construct path. */
  readonly subject: string;
  /** The suppression's field path there, e.g. `policy.suppress[0]`. */
  readonly path: FieldPath;
}

/** A suppression with the unknown rule or the short reason reported as `[policy]` errors. */
export function suppressionProblems(
  s: PolicySuppression,
  site: SuppressionSite,
  known: ReadonlyMap<string, PolicyRule>,
): PolicyFinding[] {
  const out: PolicyFinding[] = [];
  const bad = (field: string, message: string): void =>
    void out.push({
      ruleId: 'policy',
      level: 'error',
      result: 'NON_COMPLIANT',
      subject: site.subject,
      path: [...site.path, field],
      message,
    });
  if (!known.has(s.rule)) {
    const list = [...known.values()].map((r) => `${r.id} (${r.name})`).join(', ');
    bad('rule', `"${s.rule}" is not a rule of this policy pack; known rules: ${list}`);
  }
  const reason = typeof s.reason === 'string' ? s.reason.trim() : '';
  if (reason.length < MIN_SUPPRESSION_REASON_LENGTH)
    bad(
      'reason',
      `${JSON.stringify(reason)} is ${reason.length} characters; a suppression needs a reason of at least ${MIN_SUPPRESSION_REASON_LENGTH} characters saying why the rule does not apply`,
    );
  return out;
}
