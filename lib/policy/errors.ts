/**
 * Thrown before synth when the policy pack finds errors. Kept apart from pack.ts (which loads cdktf) so the synth CLI
 * can recognise it without loading cdktf on the spec-error path.
 */
import { formatProblem, ProblemError, type Problem } from '../core/problem';

export class PolicyError extends ProblemError {
  constructor(problems: readonly Problem[]) {
    super(`${problems.length} policy error${problems.length === 1 ? '' : 's'} (docs/policy.md):`, problems);
    this.name = 'PolicyError';
  }

  /** One line per error, `pipelines/x.yaml: [CTP001] pipeline.steps[0].target.auth: ...`. */
  get lines(): readonly string[] {
    return this.problems.map((p) => formatProblem(p));
  }
}
