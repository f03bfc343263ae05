/**
 * CTP001: every HTTP target gets an identity token. Without one (`auth: none`) the worker must accept anonymous
 * requests, so anyone who finds its URL can feed it tasks (target.proto: an OIDC token is how the worker verifies
 * Cloud Tasks as the caller).
 */
import { checkResult, isRecord, NOT_APPLICABLE, type PolicyRule, type Violation } from '../types';

export const CTP001: PolicyRule = {
  id: 'CTP001',
  name: 'unauthenticated-target',
  level: 'error',
  description:
    'Tasks must carry an OIDC (or, for Google APIs, OAuth) token so the worker can refuse anonymous callers.',
  checkSpec: ({ spec }) => {
    if (spec.pipeline.steps.length === 0) return NOT_APPLICABLE;
    const violations: Violation[] = [];
    spec.pipeline.steps.forEach((step, i) => {
      if (step.target.auth === 'none')
        violations.push({
          path: `pipeline.steps[${i}].target.auth`,
          message: '"none" sends tasks without an identity token; use oidc, or suppress with a reason',
        });
    });
    return checkResult(violations);
  },
  checkBlock: ({ block }) => {
    if (block.type !== 'google_cloud_tasks_queue') return NOT_APPLICABLE;
    const target = block.config.http_target;
    // Without a queue-level http_target each task names its own target and token: nothing to check at synth time.
    if (!isRecord(target)) return NOT_APPLICABLE;
    if (target.oidc_token !== undefined || target.oauth_token !== undefined) return checkResult([]);
    return checkResult([
      {
        path: `${block.address}.http_target`,
        message:
          'has neither oidc_token nor oauth_token, so tasks are sent without an identity token; add oidc_token, or suppress with a reason',
      },
    ]);
  },
};
