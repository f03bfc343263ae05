/**
 * How a construct reports broken Cloud Tasks rules: all problems at once, each with the field path, the value given
 * and the rule (the message from lib/core/rules/cloud-tasks.ts), under the construct's path so the user finds the caller.
 */
import type { IConstruct } from 'constructs';
import type { Problem } from '../core/rules/cloud-tasks';
import { Token } from '../cdktf/core';

/** Prefixes each problem's field with `prefix.` (e.g. `rateLimits.` + `maxDispatchesPerSecond`). */
export function under(prefix: string, problems: readonly Problem[]): Problem[] {
  return problems.map((p) => ({ ...p, field: `${prefix}.${p.field}` }));
}

/** Values that only Terraform knows (tokens) cannot be checked at synth time: they are skipped, not guessed. */
export function isUnresolved(value: unknown): boolean {
  return Token.isUnresolved(value);
}

export function formatValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}...` : value);
  return String(value);
}

export function throwIfProblems(construct: IConstruct, kind: string, problems: readonly Problem[]): void {
  if (problems.length === 0) return;
  const lines = problems.map((p) => `  - ${p.field} = ${formatValue(p.value)}: ${p.message}`);
  throw new Error(`${kind} at ${construct.node.path} is invalid:\n${lines.join('\n')}`);
}

/** IAM member syntax (`serviceAccount:a@p.iam.gserviceaccount.com`, `group:...`); a bare e-mail is the usual slip. */
const IAM_MEMBER = /^(serviceAccount|user|group|domain|principal|principalSet):\S+$/;

export function checkIamMember(construct: IConstruct, kind: string, method: string, member: string): void {
  if (isUnresolved(member) || IAM_MEMBER.test(member)) return;
  throwIfProblems(construct, kind, [
    {
      field: `${method}(member)`,
      value: member,
      message:
        member.includes('@') && !member.includes(':')
          ? `is not an IAM member; write serviceAccount:${member} (or user:, group:)`
          : 'is not an IAM member of the form serviceAccount:<email>, user:<email>, group:<email>, domain:<domain>, principal://... or principalSet://...',
    },
  ]);
}
