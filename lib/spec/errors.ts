/**
 * SpecError: a pipeline spec (or a set of specs) is invalid. Kept apart from load.ts so code that only validates a
 * normalized spec (the constructs, the synth CLI's error path) can throw or recognise it without loading the YAML
 * parser or ajv.
 */
import { ProblemError, type Problem } from '../core/problem';

/** Thrown when a spec is invalid; `problems` holds every problem, the message lists them, one per line. */
export class SpecError extends ProblemError {
  constructor(problems: readonly Problem[]) {
    // What the loader used to find positions and drop follow-on errors is of no use to the caller.
    const reported = problems.map(({ inputs: _inputs, atKey: _atKey, ...p }) => p);
    super(specErrorHeading(reported), reported);
    this.name = 'SpecError';
  }
}

/** The heading and one line per problem: what SpecError's message says. */
export function formatSpecErrorMessage(problems: readonly Problem[]): string {
  return new SpecError(problems).message;
}

function specErrorHeading(problems: readonly Problem[]): string {
  const files = new Set(problems.map((p) => p.file).filter((f) => f !== undefined));
  const where = files.size === 1 ? ` in ${[...files][0]}` : files.size > 1 ? ` in ${files.size} files` : '';
  return `${problems.length} problem${problems.length === 1 ? '' : 's'} in pipeline spec${where}:`;
}
