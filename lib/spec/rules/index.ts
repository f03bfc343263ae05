/**
 * The semantic rules of a normalized PipelineSpec, in spec order. Every Cloud Tasks limit comes from
 * lib/core/rules/cloud-tasks.ts (and the IAM, project and timestamp rules from their sibling files); these files map
 * the model to those checks and report spec field paths. No YAML or schema here: PipelineStack runs the same rules
 * on specs built in TypeScript.
 */
import type { Problem } from '../../core/problem';
import type { PipelineSpec } from '../types';
import { ruleContext, type ValidateOptions } from './context';
import { deployerProblems } from './deployer';
import { literalTextProblems } from './literal-text';
import { schedulesProblems } from './schedules';
import { jobSeedProblems } from './job-target';
import { seedTasksProblems } from './seed-tasks';
import { stepsProblems } from './steps';
import { topLevelProblems } from './top-level';
import { runsProblems } from './runs';

export type { ValidateOptions } from './context';

/** Every rule broken by a normalized spec, with the inputs each rule read (for the loader's follow-on filter). */
export function specRuleProblems(spec: PipelineSpec, opts: ValidateOptions): Problem[] {
  const ctx = ruleContext(spec, opts);
  return [
    ...topLevelProblems(ctx),
    ...deployerProblems(ctx),
    ...stepsProblems(ctx),
    ...seedTasksProblems(ctx),
    ...literalTextProblems(ctx),
    ...schedulesProblems(ctx),
    ...runsProblems(ctx),
    ...jobSeedProblems(ctx),
  ];
}
