/**
 * CTP002: no credentials in HTTP headers. Header values end up in Terraform state, in the queue's configuration
 * (readable by anyone with cloudtasks.queues.get) and in every task; identity belongs in target.auth (OIDC) and
 * secrets in Secret Manager, read by the worker. The detector is lib/core/secrets.ts (headers are judged more strictly
 * than payload keys: `Authorization`, `Proxy-Authorization`, `Cookie`, `*-Token`). The value is never printed.
 */
import { findSecretsInHeaders, joinPath } from '../../core/secrets';
import { checkResult, isRecord, NOT_APPLICABLE, type PolicyRule, type Violation } from '../types';

const FIX =
  'move it to Secret Manager and let the worker read it (identity comes from target.auth), or suppress with a reason';

export const CTP002: PolicyRule = {
  id: 'CTP002',
  name: 'secret-in-headers',
  level: 'error',
  description: 'HTTP headers of a target must not carry credentials (API keys, tokens, passwords, cookies, keys).',
  checkSpec: ({ spec }) => {
    if (spec.pipeline.steps.length === 0) return NOT_APPLICABLE;
    const violations: Violation[] = [];
    spec.pipeline.steps.forEach((step, i) => {
      for (const f of findSecretsInHeaders(step.target.headers, `pipeline.steps[${i}].target.headers`))
        violations.push({ path: f.path, message: `${f.reason}; ${FIX}` });
    });
    return checkResult(violations);
  },
  checkBlock: ({ block }) => {
    if (block.type !== 'google_cloud_tasks_queue') return NOT_APPLICABLE;
    const target = block.config.http_target;
    if (!isRecord(target)) return NOT_APPLICABLE;
    const overrides = Array.isArray(target.header_overrides) ? target.header_overrides : [];
    const violations: Violation[] = [];
    overrides.forEach((o, i) => {
      const header = isRecord(o) && isRecord(o.header) ? o.header : undefined;
      if (!header || typeof header.key !== 'string' || typeof header.value !== 'string') return;
      const at = `${block.address}.http_target.header_overrides[${i}].header`;
      for (const f of findSecretsInHeaders({ [header.key]: header.value }, at))
        violations.push({ path: joinPath(at, 'value'), message: `${f.reason}; ${FIX}` });
    });
    return checkResult(violations);
  },
};
