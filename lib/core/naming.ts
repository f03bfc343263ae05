/**
 * Resource naming: every name and identity derived from a pipeline (queue ids and names, stack names, task ids, the
 * invoker account, token audiences), as plain strings (never Terraform tokens), so the spec rules, the constructs, the
 * seed manifest, the seeder, the worker SDK and the emulator agree on them and a reader can predict them.
 */
import { createHash } from 'node:crypto';
import { LIMITS } from './rules/cloud-tasks';

/** What names are derived from: the parts of a pipeline spec that name things. */
export interface PipelineIdentity {
  readonly project: string;
  readonly environment: string;
  readonly pipeline: { readonly name: string };
}

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
export function invokerAccountIdFor(spec: Omit<PipelineIdentity, 'project'>): string {
  return serviceAccountIdOf(`${spec.pipeline.name}-${spec.environment}`, 'invoker');
}

/**
 * The id of the pipeline's scheduler service account (the identity on its Cloud Scheduler jobs' OAuth tokens):
 * `<pipeline>-<environment>-scheduler`, made a valid IAM id as invokerAccountIdFor does (cut and hashed when long).
 */
export function schedulerAccountIdFor(spec: Omit<PipelineIdentity, 'project'>): string {
  return serviceAccountIdOf(`${spec.pipeline.name}-${spec.environment}-scheduler`, 'scheduler');
}

/** A valid, deterministic IAM service account id for `full` (see invokerAccountIdFor); `short` pads a short one. */
function serviceAccountIdOf(full: string, short: string): string {
  let id = full
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^-+|-+$/g, '');
  // IAM ids start with a letter.
  if (!/^[a-z]/.test(id)) id = `p-${id}`;
  if (id.length < 6) id = `${id}-${short}`;
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

export function invokerEmailFor(spec: PipelineIdentity): string {
  return serviceAccountEmailFor(invokerAccountIdFor(spec), spec.project);
}

/** IAM member string for a service account e-mail (`serviceAccount:<email>`). */
export function serviceAccountMember(email: string): string {
  return `serviceAccount:${email}`;
}

/**
 * OIDC audience for a target: the configured one, else
 * - for a Cloud Run host (`*.run.app`), the service URL, scheme and host only (`https://x-abc-uc.a.run.app`): Cloud
 *   Run accepts a token whose `aud` is the service's `*.run.app` URL, and "the default Google-generated URL always
 *   remains an accepted audience value" (cloud.google.com/run/docs/configuring/custom-audiences); a path in the
 *   audience would be refused by Cloud Run's own IAM check before the worker sees the request;
 * - elsewhere, the URL without query string or fragment: Cloud Tasks' own default would be the full URL, query
 *   included (target.proto OidcToken.audience), which breaks audience checks on workers as soon as a query
 *   parameter changes.
 */
export function oidcAudienceFor(target: { readonly url: string; readonly audience?: string }): string {
  if (target.audience !== undefined) return target.audience;
  const cloudRun = cloudRunServiceUrl(target.url);
  if (cloudRun !== undefined) return cloudRun;
  // Plain text cut rather than URL round-trip: `new URL()` would add a trailing slash to a bare origin, and the
  // audience has to match what the worker expects byte for byte.
  return target.url.split(/[?#]/, 1)[0];
}

/** `https://<host>` for an https URL on a `*.run.app` host (Cloud Run's generated service URLs), else undefined. */
export function cloudRunServiceUrl(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if (parsed.protocol !== 'https:' || !parsed.hostname.endsWith('.run.app')) return undefined;
  return `https://${parsed.hostname}`;
}

export function oauthScopeFor(target: { readonly scope?: string }): string {
  return target.scope ?? DEFAULT_OAUTH_SCOPE;
}

/** Queue id of a step: `<pipeline>-<environment>-<step>` (queue.proto: letters, digits, hyphens, at most 100). */
export function queueIdFor(spec: Omit<PipelineIdentity, 'project'>, step: string): string {
  return `${spec.pipeline.name}-${spec.environment}-${step}`;
}

/** Stack name: `<pipeline>-<environment>`. */
export function stackNameFor(spec: Omit<PipelineIdentity, 'project'>): string {
  return `${spec.pipeline.name}-${spec.environment}`;
}

/** The GCS backend prefix of a stack whose spec names a bucket but no prefix. */
export function defaultStatePrefixFor(stackName: string): string {
  return `${MANAGED_BY}/${stackName}`;
}

/** Where a stack keeps its Terraform state: the spec's backend, else a local state file per stack. */
export interface StateLocation {
  /** Equal for two stacks exactly when Terraform would read and write the same state. */
  readonly key: string;
  /** For messages: `gs://bucket/prefix/default.tfstate`, `terraform.<stack>.tfstate (local state)`. */
  readonly display: string;
}

/**
 * The state object a stack's backend uses. The GCS backend (terraform internal/backend/remote-state/gcs) trims leading
 * slashes from the prefix, adds a trailing one, and stores the default workspace as `<prefix>default.tfstate`, so
 * `a/b`, `/a/b` and `a/b/` are one state. Without a backend, synth writes `terraform.<stack>.tfstate` in the project
 * root (lib/apps/synth.ts).
 */
export function stateLocationFor(spec: {
  readonly backend?: { readonly gcs: { readonly bucket: string; readonly prefix?: string } };
  readonly environment: string;
  readonly pipeline: { readonly name: string };
}): StateLocation {
  const stack = stackNameFor(spec);
  if (!spec.backend) {
    const file = `terraform.${stack}.tfstate`;
    return { key: `local:${file}`, display: `${file} (local state)` };
  }
  let prefix = (spec.backend.gcs.prefix ?? defaultStatePrefixFor(stack)).replace(/^\/+/, '');
  if (prefix !== '' && !prefix.endsWith('/')) prefix += '/';
  const object = `gs://${spec.backend.gcs.bucket}/${prefix}default.tfstate`;
  return { key: object, display: object };
}

/** Length of the hashed prefix of a task id, plus its separator. */
export const TASK_ID_PREFIX_LENGTH = 17;

/**
 * Task id for a seed task: `<16 hex of sha256(queue, seedId)>-<seedId>`. Deterministic, so a re-run meets
 * ALREADY_EXISTS instead of creating a duplicate; hash-prefixed because cloudtasks.proto warns that sequential or
 * timestamp-like prefixes make named CreateTask slow (hot key ranges). The seed id stays readable at the end.
 */
export function taskIdFor(queueName: string, seedId: string): string {
  const hash = createHash('sha256').update(queueName).update('\0').update(seedId).digest('hex').slice(0, 16);
  return `${hash}-${seedId}`;
}

/**
 * The seed id at the end of a task id that taskIdFor made (`<16 hex>-<seedId>`), or undefined when the id is not of
 * that form (a task some other client named). The worker SDK reads a seed task's run id this way.
 */
export function seedIdFromTaskId(taskId: string): string | undefined {
  return /^[0-9a-f]{16}-./.test(taskId) ? taskId.slice(TASK_ID_PREFIX_LENGTH) : undefined;
}

export function queueNameFor(project: string, location: string, queueId: string): string {
  return `projects/${project}/locations/${location}/queues/${queueId}`;
}

/** Cloud Scheduler job id of a schedule: `<pipeline>-<environment>-<schedule>` (letters, digits, hyphens, underscores; at most 500). */
export function schedulerJobIdFor(spec: Omit<PipelineIdentity, 'project'>, schedule: string): string {
  return `${spec.pipeline.name}-${spec.environment}-${schedule}`;
}

/** Full Cloud Scheduler job name, `projects/{project}/locations/{location}/jobs/{jobId}`. */
export function schedulerJobNameFor(project: string, location: string, jobId: string): string {
  return `projects/${project}/locations/${location}/jobs/${jobId}`;
}
