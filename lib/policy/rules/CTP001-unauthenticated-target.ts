/**
 * CTP001: every HTTP target gets an identity token. Without one (`auth: none`) the worker must accept anonymous
 * requests, so anyone who finds its URL can feed it tasks (target.proto: an OIDC token is how the worker verifies
 * Cloud Tasks as the caller).
 */
import { policyRule } from '../rule';
import { checkResult, NOT_APPLICABLE } from '../types';

export const CTP001 = policyRule({
  id: 'CTP001',
  name: 'unauthenticated-target',
  level: 'error',
  description:
    'Tasks must carry an OIDC (or, for Google APIs, OAuth) token so the worker can refuse anonymous callers.',
  check: (s) => {
    if (s.kind !== 'queue' || !s.token) return NOT_APPLICABLE;
    if (s.token.kind !== 'none') return checkResult([]);
    return checkResult([
      {
        path: s.token.path,
        message: `${s.terms.noToken} sends tasks without an identity token; ${s.terms.addToken}, or suppress with a reason`,
      },
    ]);
  },
});
