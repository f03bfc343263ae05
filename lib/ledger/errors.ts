/**
 * The failure a step function throws when retrying cannot help (bad input, a missing artifact, a model that does not
 * converge): the shard, its step and the run are marked `failed` with the reason, the task is answered 2xx so Cloud
 * Tasks stops retrying it, and the run's other branches are not started. Any other error is transient: the task is
 * answered 500 and the queue retries it, until its retry budget is spent (then the run fails the same way).
 */
export class PermanentError extends Error {
  constructor(message: string, options?: { readonly cause?: unknown }) {
    super(message, options);
    this.name = 'PermanentError';
  }
}

export function isPermanentError(err: unknown): err is PermanentError {
  return err instanceof PermanentError || (err instanceof Error && err.name === 'PermanentError');
}
