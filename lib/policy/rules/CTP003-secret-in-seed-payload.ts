/**
 * CTP003: no credentials in seed task payloads. A payload is written into the seed manifest (a file in cdktf.out and
 * in the deploy's working directory), into the task, and into logs of the worker that receives it. The detector is
 * lib/core/secrets.ts; the seeder runs the same check on the manifest at deploy time. The value is never printed.
 */
import { findSecrets } from '../../core/secrets';
import { checkResult, NOT_APPLICABLE, type PolicyRule, type Violation } from '../types';

const FIX =
  'pass a reference instead (e.g. a Secret Manager name such as projects/p/secrets/s) and let the worker read it, or suppress with a reason';

export const CTP003: PolicyRule = {
  id: 'CTP003',
  name: 'secret-in-seed-payload',
  level: 'error',
  description: 'Seed task payloads must not carry credentials (API keys, tokens, passwords, private keys).',
  checkSpec: ({ spec }) => {
    if (spec.pipeline.seedTasks.length === 0) return NOT_APPLICABLE;
    const violations: Violation[] = [];
    spec.pipeline.seedTasks.forEach((task, i) => {
      for (const f of findSecrets(task.payload, `pipeline.seedTasks[${i}].payload`))
        violations.push({ path: f.path, message: `${f.reason}; ${FIX}` });
    });
    return checkResult(violations);
  },
};
