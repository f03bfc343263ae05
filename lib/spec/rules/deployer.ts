/**
 * `deployer`: IAM members, each granted actAs on the invoker (lib/core/rules/iam.ts is the rule, shared with the
 * constructs' grant methods). Each identity once.
 */
import { formatValue, type Problem } from '../../core/problem';
import { iamMemberProblems } from '../../core/rules/iam';
import { problemAt, type RuleContext } from './context';

export function deployerProblems({ spec }: RuleContext): Problem[] {
  const out: Problem[] = [];
  const seen = new Map<string, number>();
  (spec.deployer ?? []).forEach((member, i) => {
    const path = ['deployer', i];
    const first = seen.get(member);
    if (first !== undefined) {
      out.push(
        problemAt(path, member, `${formatValue(member)} is already deployer[${first}]; list each deploy identity once`),
      );
      return;
    }
    seen.set(member, i);
    out.push(...iamMemberProblems(member, path));
  });
  return out;
}
