/**
 * Errors the emulator returns, each with the gRPC status code the real service uses for the case. The state layer
 * throws them; the gRPC layer sends `code` and `message` as the call's status, so in-process callers (the dispatcher,
 * tests) and gRPC clients see the same outcome.
 */
import { status } from '@grpc/grpc-js';
import { formatProblem, under, type FieldPath, type Problem } from '../core/problem';

export class EmulatorError extends Error {
  constructor(
    /** gRPC status code (`status.NOT_FOUND`, ...). */
    readonly code: status,
    message: string,
  ) {
    super(message);
    this.name = 'EmulatorError';
  }

  /** The status name, e.g. "NOT_FOUND", for logs and tests. */
  get codeName(): string {
    return status[this.code];
  }
}

export const invalidArgument = (message: string): EmulatorError => new EmulatorError(status.INVALID_ARGUMENT, message);
export const notFound = (message: string): EmulatorError => new EmulatorError(status.NOT_FOUND, message);
export const alreadyExists = (message: string): EmulatorError => new EmulatorError(status.ALREADY_EXISTS, message);
export const failedPrecondition = (message: string): EmulatorError =>
  new EmulatorError(status.FAILED_PRECONDITION, message);

/**
 * Throws INVALID_ARGUMENT naming every broken rule: `<prefix>.<field> = <value>: <rule>`. `prefix` is the request field
 * path the problems are relative to (e.g. `queue.rateLimits`), so the message points at what to change; `rename` maps a
 * rule's field name to the API's where they differ (`minBackoffSeconds` -> `minBackoff`).
 */
export function throwProblems(
  prefix: FieldPath,
  problems: readonly Problem[],
  rename: Readonly<Record<string, string>> = {},
): void {
  if (problems.length === 0) return;
  const renamed = problems.map((p) => ({
    ...p,
    path: p.path.map((s) => (typeof s === 'string' ? (rename[s] ?? s) : s)),
  }));
  throw invalidArgument(
    under(prefix, renamed)
      .map((p) => formatProblem(p, { value: true }))
      .join('; '),
  );
}
