/**
 * Text that cdktf would not write as text: a spec is plain data, but a string holding one of cdktf's token markers
 * (`${TfToken[...]}`) would be replaced at synth by whatever token has that number (a reference to another resource),
 * or would crash synth (list and map markers). Every string of the spec that reaches Terraform JSON is checked, keys
 * included; seed payloads are not (they go to the seed manifest file, never through cdktf).
 * Terraform's own `${...}` needs no rule here: the constructs write every string literally (lib/constructs/literal-strings.ts).
 */
import type { FieldPath, Problem } from '../../core/problem';
import { cdktfTokenMarkerIn } from '../../core/terraform-string';
import { problemAt, type RuleContext } from './context';

export function literalTextProblems({ spec }: RuleContext): Problem[] {
  const out: Problem[] = [];
  const check = (text: string, path: FieldPath, atKey: boolean): void => {
    const marker = cdktfTokenMarkerIn(text);
    if (marker === undefined) return;
    const p = problemAt(
      path,
      text,
      `contains ${JSON.stringify(marker)}, cdktf's token marker: cdktf would replace it with a reference to another resource, and a spec holds plain text only`,
    );
    out.push(atKey ? { ...p, atKey: true } : p);
  };
  const walk = (value: unknown, path: FieldPath): void => {
    if (typeof value === 'string') return check(value, path, false);
    if (Array.isArray(value)) return value.forEach((v, i) => walk(v, [...path, i]));
    if (value === null || typeof value !== 'object') return;
    for (const [key, v] of Object.entries(value)) {
      const at = [...path, key];
      // Seed payloads become the manifest file's task bodies, which cdktf never reads.
      if (key === 'payload' && path.length === 3 && path[1] === 'seedTasks') continue;
      check(key, at, true);
      walk(v, at);
    }
  };
  walk(spec, []);
  return out;
}
