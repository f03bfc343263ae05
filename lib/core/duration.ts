/**
 * Durations in specs and on command lines (`npm run local -- --timeout`, the seeder's `--deadline`) are written as
 * `<n>s`, `<n>m` or `<n>h` (e.g. `90s`, `10m`, `2h`), and written to Terraform in the seconds form the Cloud Tasks
 * API takes (`"600s"`). Cloud Tasks truncates durations to whole seconds, so fractions are refused rather than
 * silently dropped. In lib/core so the seeder (which may import only lib/core) reads the same syntax.
 */
/** The duration syntax (also used as the JSON Schema pattern, so editors flag a bad duration as it is typed). */
export const DURATION_PATTERN = /^(\d+)(s|m|h)$/;
const DURATION = DURATION_PATTERN;
const UNIT_SECONDS = { s: 1, m: 60, h: 3600 } as const;

/** Seconds for a spec duration, or undefined when the text is not one. */
export function parseDuration(text: string): number | undefined {
  const m = DURATION.exec(text.trim());
  if (!m) return undefined;
  return Number(m[1]) * UNIT_SECONDS[m[2] as keyof typeof UNIT_SECONDS];
}

export const DURATION_FORMAT_HINT = 'a whole number followed by s, m or h, e.g. "30s", "10m", "2h"';

/** Terraform / Cloud Tasks API form: `"600s"`. */
export function toTerraformDuration(seconds: number): string {
  return `${seconds}s`;
}

/** Seconds of a Terraform / Cloud Tasks API duration (`"600s"`, `"0.5s"`), or undefined when the text is not one. */
export function parseTerraformDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)s$/.exec(text);
  return m ? Number(m[1]) : undefined;
}
