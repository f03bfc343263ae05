/**
 * Strings stay strings in Terraform: the one place every construct of this project goes through so that no value
 * given to it (a spec field, a construct prop, anything later constructs add) reaches cdk.tf.json as a live Terraform
 * template. cdktf writes strings as they are, and Terraform reads `${...}` and `%{...}` in them as interpolations and
 * directives (a header value `${file("/etc/passwd")}` would read the file into the plan).
 *
 * How: `keepStringsLiteral(scope)` adds an Aspect that, at synth, wraps `toTerraform()` of every Terraform element
 * under `scope` (resources, providers, outputs; not backends, which Terraform reads literally). The wrapper walks the
 * element's configuration BEFORE cdktf resolves its tokens, while a token is still a marker (`${TfToken[TOKEN.7]}`),
 * and escapes the text around the markers with lib/core/terraform-string.ts (`${` -> `$${`, `%{` -> `%%{`), keys
 * included. Tokens (references to other resources, variables, `Fn.*`, Lazy values) stay live; a marker-looking text
 * that is no registered token is text. A construct that needs a raw Terraform expression writes it as a token
 * (SeedTasks' `${path.module}` is a Lazy value). docs/decisions/literal-strings.md has the alternatives.
 */
import type { IConstruct } from 'constructs';
import {
  Annotations,
  App,
  Aspects,
  TerraformBackend,
  TerraformElement,
  Tokenization,
  type IAspect,
} from '../cdktf/core';
import { escapeTerraformTemplate } from '../core/terraform-string';

/** cdktf's string token marker (cdktf 0.21 lib/tokens/private/encoding.js, STRING_TOKEN_REGEX). */
const STRING_TOKEN = /(\$\{TfToken\[[a-zA-Z0-9:._-]+\]\})/;

const WRAPPED = Symbol.for('cloud-tasks-pipelines.literal-strings');
const registered = new WeakSet<IConstruct>();

/** Every string that `scope`'s Terraform elements write is literal, except the tokens in it (see the file comment). */
export function keepStringsLiteral(scope: IConstruct): void {
  if (registered.has(scope)) return;
  registered.add(scope);
  Aspects.of(scope).add(new LiteralStrings(scope));
}

class LiteralStrings implements IAspect {
  constructor(private readonly scope: IConstruct) {}

  visit(node: IConstruct): void {
    // Once, at the scope itself: by then (synth) every element below it exists.
    if (node !== this.scope) return;
    if (hclOutput(node))
      Annotations.of(node).addError(
        'cdktf hclOutput is not supported by cloud-tasks-pipelines: its strings could not be kept literal; synthesize JSON (the default)',
      );
    applyLiteralStrings(node);
  }
}

/**
 * What the aspect does at synth, now: every Terraform element under `scope` that exists at this moment writes its
 * strings literally. Idempotent (an element is wrapped once), so the aspect running later changes nothing. For
 * callers that read a stack's Terraform JSON before `app.synth()` and want exactly what will be written
 * (lib/constructs/synthesize-once.ts).
 */
export function applyLiteralStrings(scope: IConstruct): void {
  for (const c of scope.node.findAll())
    if (TerraformElement.isTerraformElement(c) && !(c instanceof TerraformBackend)) wrap(c);
}

function hclOutput(node: IConstruct): boolean {
  try {
    return (App.of(node) as unknown as { hclOutput?: boolean }).hclOutput === true;
  } catch {
    return false; // not inside an App (a bare test scope)
  }
}

function wrap(element: TerraformElement): void {
  const marked = element as unknown as Record<symbol, boolean>;
  if (marked[WRAPPED]) return;
  marked[WRAPPED] = true;
  const toTerraform = element.toTerraform.bind(element);
  Object.defineProperty(element, 'toTerraform', {
    configurable: true,
    value: (): unknown => literalValue(toTerraform()),
  });
}

/**
 * A configuration with every literal string (and object key) escaped; tokens and non-plain objects left alone, and
 * `"//"` comments too (Terraform JSON never evaluates them; cdktf and the policy pack keep metadata there).
 */
export function literalValue(value: unknown): unknown {
  if (typeof value === 'string') return literalString(value);
  if (Array.isArray(value)) return value.map(literalValue);
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[literalString(k)] = k === '//' ? v : literalValue(v);
    return out;
  }
  return value; // numbers, booleans, null, and resolvables cdktf resolves itself
}

/** The text of `s` escaped around its live token markers. */
export function literalString(s: string): string {
  if (!s.includes('{')) return s;
  const parts = s.split(STRING_TOKEN);
  if (parts.length === 1) return escapeTerraformTemplate(s);
  let out = '';
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    if (i % 2 === 1) {
      // A marker of no token is text; written with `${"$"}` for its `$`, cdktf no longer sees a marker in it.
      out += isLiveToken(part) ? part : `\${"$"}${part.slice(1)}`;
      continue;
    }
    let text = escapeTerraformTemplate(part);
    // `$` right before a token would read as `$${ref}`, Terraform's escape: write that `$` as an interpolation of "$".
    if (text.endsWith('$') && i + 1 < parts.length && isLiveToken(parts[i + 1])) text = `${text.slice(0, -1)}\${"$"}`;
    out += text;
  }
  return out;
}

function isLiveToken(marker: string): boolean {
  try {
    return Tokenization.reverseString(marker).tokens.length > 0;
  } catch {
    return false; // cdktf throws for a marker whose number it never handed out
  }
}
