/**
 * Reporting the policy of a whole app: the reports of every stack (policyReports), and the check synth runs before it
 * writes anything (assertPolicy: warnings printed, errors thrown as PolicyError). enforcePolicy is assertPolicy for
 * callers that want a boolean and every line printed.
 */
import type { IConstruct } from 'constructs';
import { TerraformStack } from '../cdktf/core';
import { PolicyError } from './errors';
import { findingProblem, formatFinding, type PolicyReport } from './findings';
import { PolicyPack } from './pack';

/** Reports of every stack under `scope` that has a PolicyPack. */
export function policyReports(scope: IConstruct): PolicyReport[] {
  const stacks = scope.node.findAll().filter((c): c is TerraformStack => TerraformStack.isStack(c));
  return stacks.flatMap((s) => PolicyPack.of(s).map((p) => p.report(s)));
}

/**
 * Warnings to stderr, except under `cdktf synth`: the CLI (which sets CDKTF_CONTINUE_SYNTH_ON_ERROR_ANNOTATIONS for
 * the app it runs) prints the warning annotations itself, and shows the app's stderr as error-level log lines.
 */
function defaultWarn(line: string): void {
  if (process.env.CDKTF_CONTINUE_SYNTH_ON_ERROR_ANNOTATIONS === undefined) process.stderr.write(`${line}\n`);
}

/**
 * Runs every stack's policy before synth: writes one `warning: ...` line per warning (default stderr) and throws
 * PolicyError listing the errors. lib/apps/synth.ts calls it before `app.synth()`, so a policy error writes nothing.
 */
export function assertPolicy(scope: IConstruct, warn: (line: string) => void = defaultWarn): void {
  const reports = policyReports(scope);
  for (const r of reports) for (const w of r.warnings) warn(`warning: ${formatFinding(w)}`);
  const errors = reports.flatMap((r) => r.errors);
  if (errors.length) throw new PolicyError(errors.map(findingProblem));
}

/** assertPolicy for callers that prefer a result: prints warnings and errors to `write`, returns false on errors. */
export function enforcePolicy(
  scope: IConstruct,
  write: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
): boolean {
  try {
    assertPolicy(scope, write);
    return true;
  } catch (e) {
    if (!(e instanceof PolicyError)) throw e;
    for (const line of e.lines) write(`error: ${line}`);
    write(`policy: ${e.lines.length} error${e.lines.length > 1 ? 's' : ''}; nothing was synthesized (docs/policy.md)`);
    return false;
  }
}
