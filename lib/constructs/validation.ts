/**
 * How a construct reports broken rules: all problems at once, each with the field path, the value given and the rule
 * (the message from lib/core/rules/), under the construct's path so the user finds the caller.
 */
import type { IConstruct } from 'constructs';
import { formatProblem, ProblemError, type Problem } from '../core/problem';
import { iamMemberProblems } from '../core/rules/iam';
import { Token } from '../cdktf/core';

/** Values that only Terraform knows (tokens) cannot be checked at synth time: they are skipped, not guessed. */
export function isUnresolved(value: unknown): boolean {
  return Token.isUnresolved(value);
}

/** A construct's props (or a method's arguments) break rules; `problems` has each, the message one line per problem. */
export class ConstructError extends ProblemError {
  /** The construct's path, e.g. `recsys-dev/queue-train`. */
  readonly constructPath: string;

  constructor(construct: IConstruct, kind: string, problems: readonly Problem[]) {
    super(`${kind} at ${construct.node.path} is invalid:`, problems, (p) => `  - ${formatProblem(p, { value: true })}`);
    this.name = 'ConstructError';
    this.constructPath = construct.node.path;
  }
}

export function throwIfProblems(construct: IConstruct, kind: string, problems: readonly Problem[]): void {
  if (problems.length > 0) throw new ConstructError(construct, kind, problems);
}

/** A grant method's `member` must be an IAM member (the same rule as the spec's `deployer`); tokens are skipped. */
export function checkIamMember(construct: IConstruct, kind: string, method: string, member: string): void {
  if (isUnresolved(member)) return;
  throwIfProblems(construct, kind, iamMemberProblems(member, [`${method}(member)`]));
}
