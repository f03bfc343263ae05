/**
 * Formats of spec fields that are not Cloud Tasks, IAM or project rules (those live in lib/core/rules/): our own
 * naming rule, and Google Cloud formats the spec passes on to other resources (labels, buckets, notification
 * channels). Used by the JSON Schema (as editor hints) and by the rules in ./rules/ (as the rule).
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
