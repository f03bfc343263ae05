/**
 * The policy pack's secret rules, run again on the manifest the seeder is given: a manifest edited after synth (or
 * written by hand, or by an older synth) must not put a credential into Cloud Tasks. Same detector as the pack
 * (lib/core/secrets.ts), same rule ids, and the same suppressions: those written in the spec travel in the manifest's
 * `secretsAllowed`. Findings name the field and the kind of credential, never the value.
 */
import type { ManifestTask, SeedManifest } from '../core/manifest';
import type { FieldPath } from '../core/problem';
import { SECRET_RULES, findSecrets, findSecretsInHeaders, type SecretFinding } from '../core/secrets';

export interface ManifestSecretFinding extends SecretFinding {
  /** The policy rule that guards this field (CTP002 headers, CTP003 body, CTP007 url, audience, scope). */
  readonly rule: string;
}

export interface ManifestSecretCheck {
  /** Findings no suppression covers: the manifest is refused. */
  readonly refused: readonly ManifestSecretFinding[];
  /** Findings let through by a suppression in the spec, with its reason, by rule. */
  readonly allowed: ReadonlyArray<{ readonly rule: string; readonly reason: string; readonly count: number }>;
}

/** Every secret in the manifest's tasks, split into refused and allowed (by `secretsAllowed`). */
export function checkManifestSecrets(manifest: SeedManifest): ManifestSecretCheck {
  const findings = manifest.tasks.flatMap((t, i) => taskSecrets(t, ['tasks', i]));
  const reasons = new Map((manifest.secretsAllowed ?? []).map((a) => [a.rule, a.reason]));
  const refused = findings.filter((f) => !reasons.has(f.rule));
  const allowed = [...reasons].flatMap(([rule, reason]) => {
    const count = findings.filter((f) => f.rule === rule).length;
    return count > 0 ? [{ rule, reason, count }] : [];
  });
  return { refused, allowed };
}

function taskSecrets(task: ManifestTask, at: FieldPath): ManifestSecretFinding[] {
  const r = task.httpRequest;
  const tag = (rule: string) => (f: SecretFinding) => ({ ...f, rule });
  const out: ManifestSecretFinding[] = [];
  out.push(...findSecretsInHeaders(r.headers, [...at, 'httpRequest', 'headers']).map(tag(SECRET_RULES.headers)));
  if (r.body !== undefined)
    out.push(...findSecrets(parseJson(r.body), [...at, 'httpRequest', 'body']).map(tag(SECRET_RULES.payload)));
  const target: Array<[FieldPath, string | undefined]> = [
    [['httpRequest', 'url'], r.url],
    [['httpRequest', 'oidcToken', 'audience'], r.oidcToken?.audience],
    [['httpRequest', 'oauthToken', 'scope'], r.oauthToken?.scope],
  ];
  for (const [field, value] of target)
    if (value !== undefined) out.push(...findSecrets(value, [...at, ...field]).map(tag(SECRET_RULES.target)));
  return out;
}

/** The body as the payload it was synthesized from (JSON), or the text itself. */
function parseJson(body: string): unknown {
  try {
    return JSON.parse(body) as unknown;
  } catch {
    return body;
  }
}
