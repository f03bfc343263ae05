/**
 * CTP005: OAuth access tokens go only to Google APIs. target.proto OAuthToken: "should only be used when sending
 * HTTP requests to *.googleapis.com"; anywhere else the receiving host gets a bearer token it can replay against
 * Google APIs as the invoker service account. The spec validator refuses this too; the rule also covers stacks built
 * from constructs directly.
 */
import { isGoogleApisHost } from '../../core/rules/cloud-tasks';
import { policyRule } from '../rule';
import { checkResult, NOT_APPLICABLE } from '../types';

export const CTP005 = policyRule({
  id: 'CTP005',
  name: 'oauth-non-google-host',
  level: 'error',
  description: 'OAuth access tokens may only be sent to *.googleapis.com; other targets use OIDC.',
  check: (s) => {
    // Without a known host (each task names its own, or Terraform knows it at apply time) there is nothing to check.
    if (s.kind !== 'queue' || s.token?.kind !== 'oauth' || s.host === undefined) return NOT_APPLICABLE;
    if (isGoogleApisHost(s.host)) return checkResult([]);
    return checkResult([
      {
        path: s.token.path,
        message: `sends a Google access token to ${s.host}, which is not a *.googleapis.com API (the host could call Google APIs as the invoker); use ${s.terms.oidc}`,
      },
    ]);
  },
});
