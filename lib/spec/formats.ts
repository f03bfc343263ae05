/**
 * Formats of spec fields that are not Cloud Tasks limits (those live in lib/core/rules/cloud-tasks.ts): our own naming
 * rule, and Google Cloud formats the spec passes on to other resources (labels, buckets, notification channels).
 * Used by the JSON Schema (as editor hints) and by validate.ts (as the rule).
 */

/**
 * Pipeline, environment and step names: lower-case letters, digits and hyphens, starting with a letter and not ending
 * with a hyphen. They are joined into queue ids, stack names, Terraform ids and service account ids, so they use the
 * narrowest alphabet all of those accept (queue ids would allow upper case; service account ids and Cloud Run would
 * not).
 */
export const NAME_PATTERN = /^[a-z](?:[a-z0-9-]*[a-z0-9])?$/;
export const NAME_FORMAT_HINT =
  'use lower-case letters, digits and hyphens, starting with a letter and not ending with a hyphen';

/**
 * Google Cloud labels (resource-manager "Requirements for labels"): keys 1-63 characters, starting with a lower-case
 * letter; keys and values use lower-case letters, digits, underscores and hyphens (international lower-case letters
 * allowed); values 0-63 characters; at most 64 labels per resource.
 */
export const LABEL_KEY_PATTERN = /^\p{Ll}[\p{Ll}\p{Lo}\p{N}_-]{0,62}$/u;
export const LABEL_VALUE_PATTERN = /^[\p{Ll}\p{Lo}\p{N}_-]{0,63}$/u;
export const MAX_LABELS = 64;

/** An e-mail address as IAM takes it for a service account (`name@project.iam.gserviceaccount.com`). */
export const EMAIL_PATTERN = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

/**
 * IAM principal identifiers (IAM docs, "Principal identifiers") that can run a deploy: the `member` of an allow
 * policy binding. The type prefix is case-sensitive, as IAM reads it. Every service account e-mail ends in
 * `.gserviceaccount.com` (user-managed, default and Google-managed accounts alike). `allUsers` and
 * `allAuthenticatedUsers` are left out on purpose: they would let anyone act as the invoker.
 */
export const IAM_MEMBER_TYPES = ['serviceAccount', 'user', 'group', 'domain', 'principal', 'principalSet'] as const;
export const IAM_MEMBER_PATTERN =
  /^(?:serviceAccount:[^@\s]+@[^@\s]+\.gserviceaccount\.com|(?:user|group):[^@\s]+@[^@\s]+\.[^@\s]+|domain:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+|principal(?:Set)?:\/\/[^/\s]+\/\S+)$/;
export const IAM_MEMBER_FORMAT_HINT =
  'serviceAccount:<email>, user:<email>, group:<email>, domain:<domain>, principal://... or principalSet://...';

/**
 * Cloud Storage bucket names (cloud.google.com/storage/docs/buckets#naming): 3-63 characters (dotted names up to
 * 222), lower-case letters, digits, hyphens, underscores and dots, starting and ending with a letter or digit.
 */
export const GCS_BUCKET_PATTERN = /^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/;

/**
 * Cloud Run service names: lower-case letters, digits and hyphens, starting with a letter, not ending with a hyphen,
 * at most 49 characters (Cloud Run "Service names" limits).
 */
export const CLOUD_RUN_SERVICE_PATTERN = /^[a-z](?:[a-z0-9-]{0,47}[a-z0-9])?$/;

/** google_monitoring_alert_policy.notification_channels takes full resource names. */
export const NOTIFICATION_CHANNEL_PATTERN = /^projects\/[^/\s]+\/notificationChannels\/[^/\s]+$/;

/**
 * RFC 3339 timestamps as the Cloud Tasks API accepts them (`2026-12-01T00:00:00Z`, `...00.5+02:00`): the same form
 * the seeder's timestampFromRfc3339 parses, so nothing the validator accepts fails at deploy time.
 */
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/i;

/** The instant of an RFC 3339 timestamp, or undefined when the text is not one or names a day that does not exist. */
export function parseRfc3339(text: string): Date | undefined {
  const m = RFC3339.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  // Date.parse rolls 2026-02-30 over to March 2; a typo in a date must be an error, not a different day.
  const calendar = new Date(Date.UTC(year, month - 1, day));
  if (calendar.getUTCMonth() !== month - 1 || calendar.getUTCDate() !== day) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** Hosts `local.url` may point at: `npm run local` only talks to this machine. */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127(?:\.\d{1,3}){3}$/.test(h);
}
