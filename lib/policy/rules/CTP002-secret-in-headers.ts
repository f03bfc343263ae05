/**
 * CTP002: no credentials in HTTP headers. Header values end up in Terraform state, in the queue's configuration
 * (readable by anyone with cloudtasks.queues.get) and in every task; identity belongs in target.auth (OIDC) and
 * secrets in Secret Manager, read by the worker. The detector is lib/core/secrets.ts (headers are judged more strictly
 * than payload keys: `Authorization`, `Proxy-Authorization`, `Cookie`, `*-Token`). The value is never printed.
 */
import { findSecretsInHeaders } from '../../core/secrets';
import { policyRule } from '../rule';
import { checkResult, NOT_APPLICABLE } from '../types';

const FIX =
  'move it to Secret Manager and let the worker read it (identity comes from target.auth), or suppress with a reason';

export const CTP002 = policyRule({
  id: 'CTP002',
  name: 'secret-in-headers',
  level: 'error',
  description: 'HTTP headers of a target must not carry credentials (API keys, tokens, passwords, cookies, keys).',
  check: (s) => {
    if (s.kind !== 'queue' || !s.headers) return NOT_APPLICABLE;
    return checkResult(
      s.headers.flatMap((h) =>
        findSecretsInHeaders({ [h.name]: h.value }, []).map((f) => ({
          path: h.path,
          // Where the path ends at the value (Terraform's header_overrides), the message names the header.
          message: `${f.reason}${h.path[h.path.length - 1] === h.name ? '' : ` (header ${h.name})`}; ${FIX}`,
        })),
      ),
    );
  },
});
