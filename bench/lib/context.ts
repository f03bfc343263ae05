/** What every benchmark section gets: where the repository is, a scratch folder, the mode, and a logger. */
import { resolve } from 'node:path';

export interface BenchContext {
  /** Repository root. */
  readonly root: string;
  /** Scratch folder of this run (removed at the end). */
  readonly tmp: string;
  /** `--quick`: fewer rounds and sizes. */
  readonly quick: boolean;
  /** Progress lines (stderr). */
  log(line: string): void;
}

export const ROOT = resolve(__dirname, '..', '..');

/**
 * The environment children get: PATH=/usr/bin:/bin as a user's fresh machine (no terraform: synth must not need
 * it), HOME, and no inherited PIPELINE_SPEC / CDKTF_OUTDIR.
 */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', CHECKPOINT_DISABLE: '1', ...extra };
}
