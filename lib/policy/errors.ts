/**
 * Thrown before synth when the policy pack finds errors. Kept apart from pack.ts (which loads cdktf) so the synth CLI
 * can recognise it without loading cdktf on the spec-error path.
 */
export class PolicyError extends Error {
  /** One line per error, `pipelines/x.yaml: [CTP001] pipeline.steps[0].target.auth: ...`. */
  readonly lines: readonly string[];

  constructor(lines: readonly string[]) {
    super([`${lines.length} policy error${lines.length === 1 ? '' : 's'} (docs/policy.md):`, ...lines].join('\n'));
    this.name = 'PolicyError';
    this.lines = lines;
  }
}
