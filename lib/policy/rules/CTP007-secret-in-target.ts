/**
 * CTP007: no credentials in a target's URL, OIDC audience or OAuth scope. These strings are in the queue's
 * configuration and Terraform state, in every task, in the seeder's `--dry-run` listing and in Cloud Tasks' logs:
 * `?key=AIza...`, `https://user:password@host`, `?access_token=...` or a signed URL's signature would be readable by
 * anyone who can read any of those. The detector is lib/core/secrets.ts; the value is never printed.
 */
import { findSecrets } from '../../core/secrets';
import { checkResult, isRecord, isUnresolved, NOT_APPLICABLE, type PolicyRule, type Violation } from '../types';

const FIX =
  'keep the credential out of the URL: identity comes from target.auth (OIDC), and a key the worker needs belongs in Secret Manager; or suppress with a reason';

export const CTP007: PolicyRule = {
  id: 'CTP007',
  name: 'secret-in-target',
  level: 'error',
  description: 'A target URL, OIDC audience or OAuth scope must not carry credentials (keys, tokens, passwords).',
  checkSpec: ({ spec }) => {
    if (spec.pipeline.steps.length === 0) return NOT_APPLICABLE;
    const violations: Violation[] = [];
    spec.pipeline.steps.forEach((step, i) => {
      const at = `pipeline.steps[${i}].target`;
      const fields: Array<[string, string | undefined]> = [
        ['url', step.target.url],
        ['audience', step.target.audience],
        ['scope', step.target.scope],
      ];
      for (const [field, value] of fields)
        if (value !== undefined)
          for (const f of findSecrets(value, `${at}.${field}`))
            violations.push({ path: f.path, message: `${f.reason}; ${FIX}` });
    });
    return checkResult(violations);
  },
  checkBlock: ({ block }) => {
    if (block.type !== 'google_cloud_tasks_queue') return NOT_APPLICABLE;
    const target = block.config.http_target;
    if (!isRecord(target)) return NOT_APPLICABLE;
    const at = `${block.address}.http_target`;
    const fields: Array<[string, unknown]> = [
      ['uri_override', overrideUrl(target.uri_override)],
      ['oidc_token.audience', isRecord(target.oidc_token) ? target.oidc_token.audience : undefined],
      ['oauth_token.scope', isRecord(target.oauth_token) ? target.oauth_token.scope : undefined],
    ];
    const violations: Violation[] = [];
    for (const [field, value] of fields)
      if (typeof value === 'string' && !isUnresolved(value))
        for (const f of findSecrets(value, `${at}.${field}`))
          violations.push({ path: f.path, message: `${f.reason}; ${FIX}` });
    return checkResult(violations);
  },
};

/** The URL a queue's uri_override sends tasks to, rebuilt so that host, path and query are checked together. */
function overrideUrl(o: unknown): string | undefined {
  if (!isRecord(o)) return undefined;
  const host = typeof o.host === 'string' ? o.host : '';
  const path = isRecord(o.path_override) && typeof o.path_override.path === 'string' ? o.path_override.path : '';
  const query =
    isRecord(o.query_override) && typeof o.query_override.query_params === 'string'
      ? o.query_override.query_params
      : '';
  if (host === '' && path === '' && query === '') return undefined;
  return `https://${host || 'host'}${path}${query ? `?${query}` : ''}`;
}
