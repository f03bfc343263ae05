/**
 * Names and identities derived from a pipeline spec, as plain strings (never Terraform tokens), so the constructs,
 * the seed manifest and the outputs agree on them and a reader can predict them. This module imports no cdktf code:
 * lib/seeding/build-manifest.ts uses it without loading the provider classes.
 */
import { createHash } from 'node:crypto';
import { LIMITS } from '../cloud-tasks/rules';
import type { PipelineSpec, StepTarget } from '../spec/types';

/** The label every resource gets (through the provider's default_labels), so a project's resources can be traced. */
export const MANAGED_BY = 'cloud-tasks-pipelines';

/** target.proto OAuthToken.scope: "If not specified, https://www.googleapis.com/auth/cloud-platform will be used". */
export const DEFAULT_OAUTH_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';

/** Length of the hash suffix used when `<pipeline>-<environment>` does not fit a service account id. */
const HASH_SUFFIX_LENGTH = 6;

/**
 * The invoker service account id for a pipeline: `<pipeline>-<environment>`, lower-cased, with characters IAM does not
 * accept replaced by hyphens. IAM ids are 6-30 characters (LIMITS.serviceAccountIdPattern): a shorter name gets an
 * `-invoker` suffix, a longer one is cut and given a hash suffix of the full name, so two long names that share a
 * prefix still get different accounts. Deterministic: the same spec always yields the same id.
 */
export function invokerAccountIdFor(spec: Pick<PipelineSpec, 'environment'> & { pipeline: { name: string } }): string {
  const full = `${spec.pipeline.name}-${spec.environment}`;
  let id = full
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^-+|-+$/g, '');
  // IAM ids start with a letter.
  if (!/^[a-z]/.test(id)) id = `p-${id}`;
  if (id.length < 6) id = `${id}-invoker`;
  const max = LIMITS.serviceAccountIdMaxLength;
  if (id.length > max) {
    const hash = createHash('sha256').update(full).digest('hex').slice(0, HASH_SUFFIX_LENGTH);
    id = `${id.slice(0, max - HASH_SUFFIX_LENGTH - 1).replace(/-+$/, '')}-${hash}`;
  }
  if (!LIMITS.serviceAccountIdPattern.test(id)) {
    // Unreachable for any input after the steps above; kept as a guard so a rule change cannot go unnoticed.
    throw new Error(`derived service account id "${id}" does not match ${LIMITS.serviceAccountIdPattern}`);
  }
  return id;
}

/** `<account_id>@<project>.iam.gserviceaccount.com`: known at synth time, so tokens and the manifest can use it. */
export function serviceAccountEmailFor(accountId: string, project: string): string {
  return `${accountId}@${project}.iam.gserviceaccount.com`;
}

export function invokerEmailFor(
  spec: Pick<PipelineSpec, 'environment' | 'project'> & { pipeline: { name: string } },
): string {
  return serviceAccountEmailFor(invokerAccountIdFor(spec), spec.project);
}

/** IAM member string for a service account e-mail (`serviceAccount:<email>`). */
export function serviceAccountMember(email: string): string {
  return `serviceAccount:${email}`;
}

/**
 * OIDC audience for a target: the configured one, else the URL without query string or fragment (the spec's
 * documented default; Cloud Tasks' own default would be the full URL, query included, which breaks audience checks
 * on workers as soon as a query parameter changes).
 */
export function oidcAudienceFor(target: Pick<StepTarget, 'url' | 'audience'>): string {
  if (target.audience !== undefined) return target.audience;
  // Plain text cut rather than URL round-trip: `new URL()` would add a trailing slash to a bare origin, and the
  // audience has to match what the worker expects byte for byte.
  return target.url.split(/[?#]/, 1)[0];
}

export function oauthScopeFor(target: Pick<StepTarget, 'scope'>): string {
  return target.scope ?? DEFAULT_OAUTH_SCOPE;
}
