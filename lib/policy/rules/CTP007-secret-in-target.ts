/**
 * CTP007: no credentials in a target's URL, OIDC audience or OAuth scope. These strings are in the queue's
 * configuration and Terraform state, in every task, in the seeder's `--dry-run` listing and in Cloud Tasks' logs:
 * `?key=AIza...`, `https://user:password@host`, `?access_token=...` or a signed URL's signature would be readable by
 * anyone who can read any of those. The detector is lib/core/secrets.ts; the value is never printed.
 */
import { findSecrets } from '../../core/secrets';
import { policyRule } from '../rule';
import { checkResult, NOT_APPLICABLE } from '../types';

const FIX =
  'keep the credential out of the URL: identity comes from target.auth (OIDC), and a key the worker needs belongs in Secret Manager; or suppress with a reason';

export const CTP007 = policyRule({
  id: 'CTP007',
  name: 'secret-in-target',
  level: 'error',
  description: 'A target URL, OIDC audience or OAuth scope must not carry credentials (keys, tokens, passwords).',
  check: (s) => {
    if (s.kind !== 'queue' || !s.targetStrings) return NOT_APPLICABLE;
    return checkResult(
      s.targetStrings.flatMap((t) =>
        findSecrets(t.value, t.path).map((f) => ({ path: f.path, message: `${f.reason}; ${FIX}` })),
      ),
    );
  },
});
