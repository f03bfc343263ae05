/**
 * CTP005: OAuth access tokens go only to Google APIs. target.proto OAuthToken: "should only be used when sending
 * HTTP requests to *.googleapis.com"; anywhere else the receiving host gets a bearer token it can replay against
 * Google APIs as the invoker service account. The spec validator refuses this too; the rule also covers stacks built
 * from constructs directly.
 */
import { isGoogleApisHost } from '../../core/rules/cloud-tasks';
import { checkResult, isRecord, isUnresolved, NOT_APPLICABLE, type PolicyRule, type Violation } from '../types';

function hostOf(url: string): string | undefined {
  try {
    return new URL(url).hostname;
  } catch {
    return undefined;
  }
}

export const CTP005: PolicyRule = {
  id: 'CTP005',
  name: 'oauth-non-google-host',
  level: 'error',
  description: 'OAuth access tokens may only be sent to *.googleapis.com; other targets use OIDC.',
  checkSpec: ({ spec }) => {
    const oauth = spec.pipeline.steps.map((s, i) => ({ s, i })).filter(({ s }) => s.target.auth === 'oauth');
    if (oauth.length === 0) return NOT_APPLICABLE;
    const violations: Violation[] = [];
    for (const { s, i } of oauth) {
      const host = hostOf(s.target.url);
      if (host !== undefined && !isGoogleApisHost(host))
        violations.push({
          path: `pipeline.steps[${i}].target.auth`,
          message: `"oauth" would send a Google access token to ${host}, which is not a *.googleapis.com API (the host could call Google APIs as the invoker); use oidc`,
        });
    }
    return checkResult(violations);
  },
  checkBlock: ({ block }) => {
    if (block.type !== 'google_cloud_tasks_queue') return NOT_APPLICABLE;
    const target = block.config.http_target;
    if (!isRecord(target) || target.oauth_token === undefined) return NOT_APPLICABLE;
    const host = isRecord(target.uri_override) ? target.uri_override.host : undefined;
    // Without a host override every task names its own host: not knowable at synth time.
    if (typeof host !== 'string' || isUnresolved(host)) return NOT_APPLICABLE;
    if (isGoogleApisHost(host)) return checkResult([]);
    return checkResult([
      {
        path: `${block.address}.http_target.oauth_token`,
        message: `sends a Google access token to ${host}, which is not a *.googleapis.com API; use oidc_token`,
      },
    ]);
  },
};
