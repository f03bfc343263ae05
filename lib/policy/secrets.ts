/**
 * What "looks like a secret" means for the policy pack (CTP002, CTP003) and for the review tool's redaction.
 *
 * Two signals, each cheap and explainable: a key NAME that says it holds a credential (password, token, api key,
 * private key, ...), and a VALUE with the shape of a well-known credential (PEM private keys, provider token prefixes,
 * JWTs, URLs with user:password). Callers report where a secret is and which signal matched, never the value itself.
 *
 * ML payloads are full of tokenizer settings (`max_tokens`, `pad_token`, `tokenizer`), so key matching works on whole
 * words and skips those well-known non-secret uses of "token".
 */
import type { FieldPath } from '../core/problem';

/** Splits `apiKey`, `api_key`, `API-KEY`, `x-api-key` and `apikey` into lower-case words. */
export function keyWords(key: string): string[] {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w.length > 0);
}

/** Words that alone mark a credential. */
const SECRET_WORDS = new Set([
  'password',
  'passwd',
  'passphrase',
  'secret',
  'secrets',
  'credential',
  'credentials',
  'apikey',
  'privatekey',
  'accesskey',
  'bearer',
]);

/** Adjacent word pairs that mark a credential (`api key`, `private key`, `access key`, `client secret`). */
const SECRET_PAIRS: ReadonlyArray<readonly [string, string]> = [
  ['api', 'key'],
  ['private', 'key'],
  ['access', 'key'],
  ['signing', 'key'],
  ['encryption', 'key'],
];

/**
 * "token" is a credential in `token`, `access_token`, `auth-token`, `refresh_token`, but a tokenizer setting in
 * `pad_token`, `eos_token`, `max_tokens`, `token_count`. The words below, next to "token", mean the latter.
 */
const TOKENIZER_WORDS = new Set([
  'pad',
  'eos',
  'bos',
  'unk',
  'sep',
  'cls',
  'mask',
  'special',
  'stop',
  'start',
  'end',
  'max',
  'min',
  'num',
  'count',
  'limit',
  'budget',
  'length',
  'len',
  'type',
  'ids',
]);

/**
 * A last word that makes the key a pointer to a secret kept elsewhere (`api_key_secret_name`, `password_file`,
 * `secret_id`), which is what we want people to write instead of the secret itself.
 */
const REFERENCE_WORDS = new Set([
  'name',
  'ref',
  'reference',
  'path',
  'file',
  'env',
  'var',
  'id',
  'version',
  'arn',
  'uri',
  'url',
]);

/** The reason a key name looks like it holds a credential, or undefined. */
export function secretKeyReason(key: string): string | undefined {
  const words = keyWords(key);
  if (words.length > 1 && REFERENCE_WORDS.has(words[words.length - 1] ?? '')) return undefined;
  const joined = words.join('');
  for (const w of words) if (SECRET_WORDS.has(w)) return `key name "${key}" says it holds a ${w}`;
  for (const [a, b] of SECRET_PAIRS) {
    const i = words.indexOf(a);
    if ((i >= 0 && words[i + 1] === b) || joined === a + b) return `key name "${key}" says it holds an ${a} ${b}`;
  }
  const t = words.indexOf('token');
  if (t >= 0 && !words.some((w) => TOKENIZER_WORDS.has(w))) return `key name "${key}" says it holds a token`;
  if (words.length === 1 && /^(auth|authorization|pwd)$/.test(words[0] ?? ''))
    return `key name "${key}" says it holds a credential`;
  return undefined;
}

interface ValueShape {
  readonly name: string;
  readonly pattern: RegExp;
}

/** Well-known credential shapes. Each is specific enough not to match ordinary data (ids, hashes, URLs). */
const VALUE_SHAPES: readonly ValueShape[] = [
  { name: 'a PEM private key', pattern: /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----/ },
  { name: 'a Google API key', pattern: /\bAIza[0-9A-Za-z_-]{35}\b/ },
  { name: 'a Google OAuth access token', pattern: /\bya29\.[0-9A-Za-z_-]{20,}/ },
  { name: 'a GitHub token', pattern: /\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})\b/ },
  { name: 'an AWS access key id', pattern: /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/ },
  { name: 'a Slack token', pattern: /\bxox[abposr]-[0-9A-Za-z-]{10,}/ },
  { name: 'an OpenAI or Anthropic API key', pattern: /\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{20,}/ },
  { name: 'a Hugging Face token', pattern: /\bhf_[A-Za-z0-9]{30,}\b/ },
  { name: 'a JSON Web Token', pattern: /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/ },
  { name: 'a bearer token', pattern: /^\s*Bearer\s+[A-Za-z0-9._~+/=-]{16,}\s*$/i },
  { name: 'a URL with user:password credentials', pattern: /\b[a-z][a-z0-9+.-]*:\/\/[^/\s:@]+:[^/\s@]+@/i },
];

/** The kind of credential a string value looks like, or undefined. */
export function secretValueReason(value: string): string | undefined {
  for (const shape of VALUE_SHAPES) if (shape.pattern.test(value)) return `value looks like ${shape.name}`;
  return undefined;
}

/**
 * Values that point at a secret instead of holding one: Secret Manager resource names and Terraform references.
 */
export function isSecretReference(value: string): boolean {
  return /^projects\/[^/\s]+\/secrets\/[^/\s]+(\/versions\/[^/\s]+)?$/.test(value) || /^\$\{[^}]+\}$/.test(value);
}

/** A place where a secret seems to be. `path` never includes the value. */
export interface SecretFinding {
  readonly path: FieldPath;
  readonly reason: string;
}

/**
 * Walks any JSON value and returns every place that looks like a secret: a key whose name says credential and whose
 * value is a non-empty string (a number under `token` is a count, not a secret), or a string whose shape is a known
 * credential. Values are inspected, never returned. `path` is where `value` is; findings are below it.
 */
export function findSecrets(value: unknown, path: FieldPath): SecretFinding[] {
  const out: SecretFinding[] = [];
  const walk = (v: unknown, p: FieldPath): void => {
    if (typeof v === 'string') {
      const reason = secretValueReason(v);
      if (reason) out.push({ path: p, reason });
      return;
    }
    if (Array.isArray(v)) {
      v.forEach((item, i) => walk(item, [...p, i]));
      return;
    }
    if (v !== null && typeof v === 'object') {
      for (const [k, child] of Object.entries(v as Record<string, unknown>)) {
        const childPath = [...p, k];
        const keyReason = secretKeyReason(k);
        if (keyReason && typeof child === 'string' && child.trim() !== '' && !isSecretReference(child)) {
          out.push({ path: childPath, reason: keyReason });
          continue;
        }
        walk(child, childPath);
      }
    }
  };
  walk(value, path);
  return out;
}
