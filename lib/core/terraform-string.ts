/**
 * Terraform reads every string of a configuration as a template: `${...}` is an interpolation (`${file("/etc/passwd")}`
 * reads a file into the plan) and `%{...}` a directive. Text meant literally is written with `$${` and `%%{`, which
 * Terraform turns back into `${` and `%{` (Terraform language, "Strings and Templates": escape sequences; the JSON
 * syntax reads strings the same way, object keys included). Backend settings are the exception: Terraform reads them
 * literally (no templates at all), so they are never escaped.
 *
 * This file is the rule, in both directions: the constructs escape every literal string they write
 * (lib/constructs/literal-strings.ts), and readers of cdk.tf.json (the local run, the emulator's `--stack`) turn a
 * literal back into its text. No cdktf here: the token-aware part lives with the constructs.
 */

/** `${` -> `$${` and `%{` -> `%%{`: `text` as a Terraform string that evaluates to exactly `text`. */
export function escapeTerraformTemplate(text: string): string {
  return text.replace(/([$%])\{/g, '$1$1{');
}

/** Is there a live interpolation or directive in this Terraform string (a `${` or `%{` not escaped)? */
export function hasTerraformTemplate(value: string): boolean {
  // Escapes are read left to right, as Terraform's scanner does; a placeholder keeps their neighbours apart.
  return /\$\{|%\{/.test(value.replace(/\$\$\{|%%\{/g, '\u0000'));
}

/**
 * What Terraform makes of a literal string of a configuration: `$${` -> `${`, `%%{` -> `%{`. Undefined when the
 * string holds a live `${...}` or `%{...}`, whose value only Terraform knows.
 */
export function terraformLiteralText(value: string): string | undefined {
  if (hasTerraformTemplate(value)) return undefined;
  return value.replace(/\$\$\{|%%\{/g, (escape) => escape.slice(1));
}

/**
 * The markers cdktf puts in strings for its tokens (cdktf 0.21 lib/tokens/private/encoding.js): a string of user
 * input that contains one would be resolved by cdktf into whatever token has that number (a reference to another
 * resource), or would crash synth (a list or map marker in a string). A spec is plain data: such text is refused.
 */
export const CDKTF_TOKEN_MARKERS = ['${TfToken[', '#{TfToken[', '&{TfToken['] as const;

/** The first cdktf token marker in `text`, if any. */
export function cdktfTokenMarkerIn(text: string): string | undefined {
  return CDKTF_TOKEN_MARKERS.find((m) => text.includes(m));
}
