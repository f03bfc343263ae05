/**
 * Generated pipeline specs for the scale benchmark: `queues` steps (one queue each) and `seedTasks` seed tasks, shaped
 * like a real pipeline so every construct does its full work.
 *
 * Each step has its own worker service account and a Cloud Run service, and enqueues into the next step (a chain),
 * so the stack holds per step: one queue, one enqueuer binding, one actAs binding and one run.invoker binding (about
 * 4 resources per queue, like the examples). Seed tasks are spread round-robin over the steps, each with a small
 * JSON payload.
 */
import { stringify } from 'yaml';

export interface GeneratedSpecOptions {
  /** Steps, hence queues (1 .. the 1,000-per-region quota). */
  readonly queues: number;
  /** Seed tasks, spread round-robin over the steps. */
  readonly seedTasks: number;
  /** @default 'scale' */
  readonly pipeline?: string;
  /** @default 'bench' */
  readonly environment?: string;
}

/** Step name of step `i` (0-based): `s0001`, `s0002`, ... (sorted order is chain order). */
export function stepName(i: number): string {
  return `s${String(i + 1).padStart(4, '0')}`;
}

/** The spec as a plain object, in the YAML shape users write (docs/spec.md). */
export function generateSpec(opts: GeneratedSpecOptions): Record<string, unknown> {
  if (!Number.isInteger(opts.queues) || opts.queues < 1)
    throw new RangeError(`queues must be a whole number >= 1, got ${opts.queues}`);
  if (!Number.isInteger(opts.seedTasks) || opts.seedTasks < 0)
    throw new RangeError(`seedTasks must be a whole number >= 0, got ${opts.seedTasks}`);
  const project = 'acme-ml-bench';
  const steps = Array.from({ length: opts.queues }, (_, i) => {
    const name = stepName(i);
    return {
      name,
      preset: (['preprocess', 'train', 'infer'] as const)[i % 3],
      target: {
        url: `https://${name}-abc123-uc.a.run.app/tasks`,
        serviceAccount: `w-${name}@${project}.iam.gserviceaccount.com`,
        cloudRun: { service: name },
        headers: { 'X-Pipeline': opts.pipeline ?? 'scale' },
      },
      next: i + 1 < opts.queues ? [stepName(i + 1)] : [],
    };
  });
  const seedTasks = Array.from({ length: opts.seedTasks }, (_, i) => ({
    step: stepName(i % opts.queues),
    id: `seed-${i + 1}`,
    payload: { dataset: `gs://acme-bench/shard-${i + 1}/`, shard: i + 1 },
  }));
  return {
    project,
    region: 'us-central1',
    environment: opts.environment ?? 'bench',
    labels: { team: 'bench' },
    pipeline: { name: opts.pipeline ?? 'scale', steps, seedTasks },
  };
}

/** The spec as YAML text. */
export function generateSpecYaml(opts: GeneratedSpecOptions): string {
  return stringify(generateSpec(opts), { lineWidth: 0 });
}
