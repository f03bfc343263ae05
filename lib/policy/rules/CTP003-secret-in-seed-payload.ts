/**
 * CTP003: no credentials in seed task and schedule payloads. A seed payload is written into the seed manifest (a file
 * in cdktf.out and in the deploy's working directory), a schedule's into its Cloud Scheduler job (Terraform state, the
 * console); both into every task that carries them, and into logs of the worker that receives it. The detector is
 * lib/core/secrets.ts; the seeder runs the same check on the manifest at deploy time. The value is never printed.
 */
import { findSecrets } from '../../core/secrets';
import { policyRule } from '../rule';
import { checkResult, NOT_APPLICABLE } from '../types';

const FIX =
  'pass a reference instead (e.g. a Secret Manager name such as projects/p/secrets/s) and let the worker read it, or suppress with a reason';

export const CTP003 = policyRule({
  id: 'CTP003',
  name: 'secret-in-seed-payload',
  level: 'error',
  description:
    'Seed task and schedule payloads must not carry credentials (API keys, tokens, passwords, private keys).',
  check: (s) => {
    if (s.kind !== 'seed-payload') return NOT_APPLICABLE;
    return checkResult(findSecrets(s.payload, s.path).map((f) => ({ path: f.path, message: `${f.reason}; ${FIX}` })));
  },
});
