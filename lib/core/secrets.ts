/**
 * The one secret detector: the policy pack (CTP002, CTP003, CTP007), the review's redaction and the deploy-time seeder
 * all ask it. Pure functions, no dependencies (the seeder bundles it).
 *
 * A field is a secret when its KEY NAME and its VALUE SHAPE say so together (docs/policy.md, "What counts as a
 * secret"):
 * - a value with the published shape of a credential (a provider prefix such as `ghp_` or `AIza`, a PEM private-key
 *   block, a signed JWT, a service-account key, `Basic`/`Bearer` credentials, a URL with a password or a secret
 *   query parameter, any of these base64-encoded) is a secret under any key, in any string, and as an object key;
 * - a key whose name says credential decides by its strength: a strong name (`password`, `db_pwd`, `client_secret`,
 *   `api_key`, `access_token`, `ssh_key`, ...) makes any real value a secret; a weak name (`token`, `auth`) needs a
 *   value that looks random, so `token: "Paris"` (an NER label) and `auth: none` pass;
 * - placeholders (`none`, `***`, `<your-key>`) and references (a Secret Manager name, `${VAR}`, a file path, a URL
 *   without credentials) are never secrets: they are what we ask people to write instead.
 *
 * Findings name where a secret is and which kind it is, never the value: a kind shows at most the published prefix
 * that defines it ("a GitHub token (ghp_...)").
 */

import { formatPath, type FieldPath } from './problem';

// ------------------------------------------------------------------ findings and paths

/** A place where a secret seems to be. Neither field ever contains the value. */
export interface SecretFinding {
  /**
   * Field path (`['payload', 'auth', 'api_key']`, `['headers', 'X-Api-Key']`); an object key that is itself a secret
   * appears as REDACTED_KEY. Print it with formatPath (lib/core/problem.ts).
   */
  readonly path: FieldPath;
  /** Why: "value looks like a GitHub token (ghp_...)", "key name \"db_pwd\" says it holds a password". */
  readonly reason: string;
}

/** Where a field sits: the wording and strength of key names differ between a JSON payload, HTTP headers and a URL query. */
export type SecretContext = 'payload' | 'headers' | 'query';

/** What an object key that is itself a credential is shown as, in paths and messages. */
export const REDACTED_KEY = '<redacted key>';

/** The path segment for an object key: the key itself, or REDACTED_KEY when the key is itself a credential. */
export function secretSafeKey(key: string): string {
  return credentialInText(key) !== undefined ? REDACTED_KEY : key;
}

/** A key for messages: quoted, or redacted when the key itself is a credential. */
function showKey(key: string): string {
  return credentialInText(key) !== undefined ? REDACTED_KEY : JSON.stringify(key);
}

// ------------------------------------------------------------------ key names

/**
 * Look-alike letters from other scripts that NFKC leaves alone (Cyrillic and Greek), mapped to the Latin letter they
 * imitate, so `pаssword` with a Cyrillic `а` reads as `password`.
 */
// prettier-ignore
const CONFUSABLES: Readonly<Record<string, string>> = {
  а: 'a', в: 'b', е: 'e', ё: 'e', к: 'k', м: 'm', н: 'h', о: 'o', р: 'p', с: 'c', т: 't', у: 'y', х: 'x', ѕ: 's',
  і: 'i', ї: 'i', ј: 'j', ԁ: 'd', ӏ: 'l', ԛ: 'q', ԝ: 'w', ɡ: 'g', ı: 'i',
  А: 'A', В: 'B', Е: 'E', К: 'K', М: 'M', Н: 'H', О: 'O', Р: 'P', С: 'C', Т: 'T', У: 'Y', Х: 'X', Ѕ: 'S', І: 'I',
  Ј: 'J', Ԛ: 'Q', Ԝ: 'W',
  α: 'a', ο: 'o', ρ: 'p', τ: 't', υ: 'u', ν: 'v', ι: 'i', κ: 'k', ε: 'e', χ: 'x',
  Α: 'A', Β: 'B', Ε: 'E', Ζ: 'Z', Η: 'H', Ι: 'I', Κ: 'K', Μ: 'M', Ν: 'N', Ο: 'O', Ρ: 'P', Τ: 'T', Υ: 'Y', Χ: 'X',
};

/**
 * Credential words that hide inside run-together names (`dbpassword`, `apikey`, `accesstoken`): each occurrence is
 * split out, longest first. `tokenizer` becomes `token izer`, whose last word is not a credential: see keySignal.
 */
const STEMS = [
  'passwords',
  'password',
  'passphrase',
  'passcode',
  'passwd',
  'credentials',
  'credential',
  'secrets',
  'secret',
  'tokens',
  'token',
  'keys',
  'key',
  'pwd',
];
const STEM_PATTERN = new RegExp(`(${STEMS.join('|')})`, 'g');

/**
 * The words of a key name, normalized before matching: NFKC (full-width and styled letters), format and zero-width
 * characters and combining marks removed, look-alike letters mapped, camelCase and digits split, lower-cased, split
 * on any separator, and credential words split out of run-together names. `X-API-Key`, `x_api_key`, `xApiKey`,
 * `ｘ－ａｐｉ－ｋｅｙ` and `x\u200bapikey` all give `x api key`.
 */
export function keyWords(key: string): string[] {
  // Plain ASCII (nearly every key) needs no Unicode normalization.
  const plain = /^[\x20-\x7e]*$/.test(key) ? key : normalizeUnicode(key);
  return plain
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .replace(/([A-Za-z])([0-9])/g, '$1 $2')
    .replace(/([0-9])([A-Za-z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .flatMap((w) => w.replace(STEM_PATTERN, ' $1 ').split(' '))
    .filter((w) => w.length > 0);
}

function normalizeUnicode(key: string): string {
  return key
    .normalize('NFKC')
    .replace(/[\p{Cf}\u034f\u115f\u1160\u3164\uffa0]/gu, '')
    .normalize('NFD')
    .replace(/\p{M}/gu, '')
    .replace(/[^\x00-\x7f]/g, (c) => CONFUSABLES[c] ?? c)
    .normalize('NFC');
}

/**
 * Words at the end of a name that do not change what it holds: `password_b64`, `api_key_v2`, `token_prod`,
 * `private_key_pem`, `secret_value`.
 */
// prettier-ignore
const TRANSPARENT_SUFFIXES = new Set([
  'value', 'val', 'str', 'string', 'text', 'plain', 'plaintext', 'raw', 'b', 'base', 'b64', 'base64', 'hex',
  'encoded', 'pem', 'der', 'json', 'blob', 'data', 'prod', 'production', 'dev', 'development', 'staging', 'stage',
  'test', 'live', 'sandbox', 'old', 'new', 'current', 'prev', 'previous', 'next', 'primary', 'secondary', 'backup',
  'default', 'main', 'v',
]);

/** Words before `key` that make it a credential (`api_key`, `ssh_key`, `master_key`, `aws_secret_access_key`). */
// prettier-ignore
const KEY_MODIFIERS = new Set([
  'api', 'private', 'secret', 'access', 'ssh', 'master', 'hmac', 'signing', 'sign', 'encryption', 'encrypt',
  'decryption', 'decrypt', 'crypto', 'cipher', 'aes', 'rsa', 'ecdsa', 'dsa', 'ed', 'gpg', 'pgp', 'client', 'service',
  'deploy', 'auth', 'license', 'app', 'webhook', 'account', 'storage', 'shared', 'sas', 'subscription', 'session',
  'jwt', 'root', 'admin', 'sa', 'gcp', 'google', 'aws', 'azure', 'openai', 'anthropic', 'stripe', 'github', 'gitlab',
  'slack', 'hf', 'wandb', 'sendgrid', 'twilio', 'mailgun', 'cohere', 'pinecone', 'datadog', 'sentry',
]);

/** `public_key`, `publishable_key`: keys meant to be shared. */
const PUBLIC_WORDS = new Set(['public', 'publishable', 'pub']);

/** Words before `token` that make it a credential (`access_token`, `hf_token`, `GITHUB_TOKEN`, `bot_token`). */
// prettier-ignore
const AUTH_TOKEN_MODIFIERS = new Set([
  'access', 'refresh', 'id', 'auth', 'authorization', 'bearer', 'api', 'session', 'csrf', 'xsrf', 'oauth', 'oidc',
  'jwt', 'github', 'gh', 'gitlab', 'slack', 'hf', 'huggingface', 'hugging', 'bot', 'personal', 'service', 'deploy',
  'registration', 'client', 'app', 'security', 'secret', 'private', 'device', 'user', 'admin', 'npm', 'pypi', 'vault',
  'webhook', 'sas', 'sso', 'saml', 'identity', 'x', 'cloudflare', 'discord', 'telegram', 'sentry', 'datadog',
  'wandb', 'replicate', 'openai', 'gcp', 'google', 'aws', 'azure', 'docker', 'registry', 'twilio', 'stripe',
]);

/**
 * Words next to `token` that make it a tokenizer, usage or paging setting, not a credential (`pad_token`,
 * `max_tokens`, `prompt_tokens`, `eos_token`, `page_token`, `nextPageToken`, `idempotency_token`).
 */
// prettier-ignore
const TOKENIZER_WORDS = new Set([
  'pad', 'eos', 'bos', 'unk', 'sep', 'cls', 'mask', 'special', 'stop', 'start', 'end', 'max', 'min', 'num', 'count',
  'limit', 'budget', 'length', 'len', 'type', 'types', 'ids', 'input', 'output', 'prompt', 'completion', 'total',
  'context', 'vocab', 'added', 'extra', 'image', 'audio', 'text', 'word', 'sub', 'subword', 'byte', 'char', 'eot',
  'generated', 'cached', 'reasoning', 'thinking', 'new', 'per', 'chat', 'tool', 'system', 'assistant', 'target',
  'source', 'sentence', 'first', 'last', 'unknown', 'padding', 'split', 'entity', 'ner', 'pos', 'label', 'labels',
  'page', 'next', 'continuation', 'pagination', 'resume', 'sync', 'cursor', 'cancel', 'cancellation', 'idempotency',
  'dedup', 'dedupe', 'change', 'delta', 'offset', 'marker', 'stream',
]);

/** Words before `pass` that make it a test or a pipeline pass, not a password (`first_pass`, `forward_pass`). */
// prettier-ignore
const PASS_NOT_PASSWORD = new Set([
  'first', 'second', 'third', 'last', 'final', 'forward', 'backward', 'one', 'two', 'multi', 'single', 'full',
  'partial', 'next', 'prev', 'eval', 'train', 'test', 'validation', 'tests', 'all', 'min', 'max', 'boarding',
  'free', 'hall', 'mountain', 'by', 'over', 'under',
]);

export interface KeySignal {
  /** strong: any real value is a secret; weak: only a value that looks random. */
  readonly strength: 'strong' | 'weak';
  /** What the name says it holds: "a password", "an API key", "a token". */
  readonly holds: string;
}

const ACRONYMS = new Set([
  'api',
  'ssh',
  'hmac',
  'aes',
  'rsa',
  'ecdsa',
  'dsa',
  'gpg',
  'pgp',
  'sas',
  'jwt',
  'sa',
  'gcp',
  'aws',
  'hf',
]);

/** `an API key`, `an AWS secret access key`, `a master key`. */
function keyLabel(modifiers: readonly string[]): string {
  const words = modifiers.map((w) => (ACRONYMS.has(w) ? w.toUpperCase() : w));
  const first = words[0];
  // "an" before a vowel sound: a vowel, or an acronym whose first letter is spoken with one (SSH, HMAC, RSA).
  const an = /^[aeiou]/i.test(first) || (first === first.toUpperCase() && /^[AEFHILMNORSX]/.test(first));
  return `${an ? 'an' : 'a'} ${words.join(' ')} key`;
}

/**
 * What a key name says about its value, or undefined when it says nothing. The last word decides (after dropping
 * `_v2`, `_b64`, `_prod` and the like): `password_policy` is a policy, `secret_santa` a santa, `id_token_field` a
 * field, `api_key_secret_name` a name, `tokenizer` (`token izer`) not a token.
 */
export function keySignal(key: string, context: SecretContext = 'payload'): KeySignal | undefined {
  // The same keys come back in every task of a manifest: remembered, as the answer depends on nothing else.
  const memoKey = `${context}\0${key}`;
  if (keySignals.has(memoKey)) return keySignals.get(memoKey);
  const signal = computeKeySignal(key, context);
  remember(keySignals, memoKey, signal);
  return signal;
}

const keySignals = new Map<string, KeySignal | undefined>();

/** Memo tables are cleared when full: a bound on memory for a long-running process (the review, a dashboard). */
const MEMO_LIMIT = 10_000;
function remember<V>(memo: Map<string, V>, key: string, value: V): void {
  if (memo.size >= MEMO_LIMIT) memo.clear();
  memo.set(key, value);
}

function computeKeySignal(key: string, context: SecretContext): KeySignal | undefined {
  const words = keyWords(key);
  const signal = signalOf(words, context);
  // Case folded too, when case split a credential word apart: `passWord` is `pass Word` by its case, `password`
  // once folded. A name whose words already hold a credential word was decided above (`nextPageToken` is paging).
  if (signal || words.some((w) => CREDENTIAL_WORDS.has(w))) return signal;
  const folded = keyWords(words.join(''));
  return folded.join(' ') === words.join(' ') ? undefined : signalOf(folded, context);
}

/** The last words signalOf decides on. */
// prettier-ignore
const CREDENTIAL_WORDS = new Set([
  'password', 'passwords', 'passwd', 'passphrase', 'passcode', 'pwd', 'secret', 'secrets', 'credential',
  'credentials', 'creds', 'cred', 'bearer', 'apikey', 'key', 'keys', 'token', 'tokens', 'auth', 'authorization',
  'cookie', 'cookies', 'sig', 'signature',
]);

function signalOf(words: string[], context: SecretContext): KeySignal | undefined {
  while (
    words.length > 1 &&
    (TRANSPARENT_SUFFIXES.has(words[words.length - 1]) || /^\d+$/.test(words[words.length - 1]))
  )
    words.pop();
  const head = words[words.length - 1];
  if (head === undefined) return undefined;
  const before = words.slice(0, -1);
  const previous = before[before.length - 1];
  const header = context === 'headers';
  switch (head) {
    case 'password':
    case 'passwords':
    case 'passwd':
    case 'passphrase':
    case 'passcode':
    case 'pwd':
      return { strength: 'strong', holds: 'a password' };
    case 'pass':
      if (previous !== undefined && !PASS_NOT_PASSWORD.has(previous))
        return { strength: 'strong', holds: 'a password' };
      return undefined;
    case 'secret':
    case 'secrets':
      return { strength: 'strong', holds: 'a secret' };
    case 'credential':
    case 'credentials':
    case 'creds':
    case 'cred':
      return { strength: 'strong', holds: 'credentials' };
    case 'bearer':
      return { strength: 'strong', holds: 'a bearer token' };
    case 'apikey':
      return { strength: 'strong', holds: 'an API key' };
    case 'key':
    case 'keys': {
      // `?key=` is how Google APIs (and many others) take an API key.
      if (previous === undefined) return context === 'query' ? { strength: 'weak', holds: 'an API key' } : undefined;
      if (PUBLIC_WORDS.has(previous)) return undefined;
      const modifiers = before.filter((w) => KEY_MODIFIERS.has(w));
      if (modifiers.length === 0) return undefined;
      return { strength: 'strong', holds: keyLabel(modifiers) };
    }
    case 'token':
    case 'tokens':
      if (before.some((w) => TOKENIZER_WORDS.has(w))) return undefined;
      if (header || before.some((w) => AUTH_TOKEN_MODIFIERS.has(w))) return { strength: 'strong', holds: 'a token' };
      return { strength: 'weak', holds: 'a token' };
    case 'auth':
    case 'authorization':
      if (header || (previous !== undefined && ['basic', 'http', 'proxy', 'digest', 'api'].includes(previous)))
        return { strength: 'strong', holds: 'credentials' };
      return { strength: 'weak', holds: 'credentials' };
    case 'cookie':
    case 'cookies':
      return { strength: header ? 'strong' : 'weak', holds: 'a session cookie' };
    case 'sig':
    case 'signature':
      // A signed URL's signature (X-Goog-Signature, X-Amz-Signature, Azure SAS `sig`) grants access by itself.
      return context === 'query' ? { strength: 'strong', holds: 'a URL signature' } : undefined;
    default:
      return undefined;
  }
}

// ------------------------------------------------------------------ placeholders and references

// prettier-ignore
const PLACEHOLDER_WORDS = new Set([
  'none', 'null', 'nil', 'undefined', 'n/a', 'na', 'false', 'true', 'yes', 'no', 'on', 'off', 'disabled', 'enabled',
  'required', 'optional', 'unset', 'empty', 'redacted', 'hidden', 'masked', 'tbd', 'todo', 'placeholder', '-',
  'oidc', 'oauth', 'iam', 'basic', 'bearer', 'anonymous', 'default', 'auto', 'inherit',
]);

/** Values that stand for "no secret here": `none`, `***`, `xxxx`, `<your-api-key>`, `{{ secrets.X }}`. */
export function isPlaceholder(value: string): boolean {
  const v = value.trim();
  return (
    v === '' ||
    PLACEHOLDER_WORDS.has(v.toLowerCase()) ||
    /^[*x•.#_-]+$/i.test(v) ||
    /^<[^<>]*>$/.test(v) ||
    /^\{\{[^{}]*\}\}$/.test(v)
  );
}

/**
 * Values that point at a secret kept elsewhere instead of holding one: Secret Manager names, AWS Secrets Manager and
 * SSM ARNs, vault/secret URIs, environment and Terraform references (`${VAR}`, `$VAR`, `%VAR%`, `env:VAR`), file
 * paths, and URLs that carry no credential.
 */
export function isSecretReference(value: string, depth = 0): boolean {
  const v = value.trim();
  return (
    /^projects\/[^/\s]+\/secrets\/[^/\s]+(\/versions\/[^/\s]+)?$/.test(v) ||
    /^arn:aws[a-z-]*:(secretsmanager|ssm|kms):/.test(v) ||
    /^(sm|gcpsm|secret|secrets|vault|keyvault|op|awssm):\/\/\S+$/i.test(v) ||
    /^\$\{[^}]+\}$/.test(v) ||
    /^\$\(?[A-Za-z_][A-Za-z0-9_]*\)?$/.test(v) ||
    /^%[A-Za-z_][A-Za-z0-9_]*%$/.test(v) ||
    /^env:[A-Za-z_][A-Za-z0-9_]*$/i.test(v) ||
    /^(\/|~\/|\.\.?\/|[A-Za-z]:\\)\S*$/.test(v) ||
    (/^[a-z][a-z0-9+.-]*:\/\/\S+$/i.test(v) && credentialInText(v, depth) === undefined)
  );
}

/**
 * A value that looks machine-generated: 16+ characters without spaces, letters with digits or mixed case, and not
 * an identifier made of plain words and numbers (`bert-base-uncased`, `model_v2_20260101`).
 */
export function looksRandom(value: string): boolean {
  const v = value.trim();
  if (v.length < 16 || v.length > 8192 || !/^[A-Za-z0-9+/=_.~:-]+$/.test(v)) return false;
  const digits = /[0-9]/.test(v);
  const lower = /[a-z]/.test(v);
  const upper = /[A-Z]/.test(v);
  if (!((digits && (lower || upper)) || (lower && upper && v.length >= 20))) return false;
  const identifierLike = v.split(/[-_./:]+/).every((s) => s.length <= 4 || /^[A-Za-z]+$/.test(s) || /^[0-9]+$/.test(s));
  return !identifierLike && entropy(v) >= 3;
}

/** Shannon entropy in bits per character. */
function entropy(s: string): number {
  const counts = new Map<string, number>();
  for (const c of s) counts.set(c, (counts.get(c) ?? 0) + 1);
  let bits = 0;
  for (const n of counts.values()) bits -= (n / s.length) * Math.log2(n / s.length);
  return bits;
}

// ------------------------------------------------------------------ value shapes

interface Shape {
  /** The kind, with at most the published prefix that defines it; `$1` stands for the prefix the pattern captured. */
  readonly kind: string;
  readonly pattern: RegExp;
  /** A literal every match contains, tested first (most strings hold none, and includes() is cheap). */
  readonly hint?: string;
}

/** Not preceded by a character that could belong to the same token. */
const START = '(?<![A-Za-z0-9_-])';
const END = '(?![A-Za-z0-9])';

/** Credentials recognized by their published prefix or fixed structure alone. Each is specific enough for ordinary data. */
// prettier-ignore
const PREFIX_SHAPES: readonly Shape[] = [
  { kind: 'a PEM private key (-----BEGIN ... PRIVATE KEY-----)', pattern: /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----/, hint: '-----BEGIN ' },
  { kind: 'a Google API key (AIza...)', pattern: new RegExp(`${START}AIza[0-9A-Za-z_-]{35}${END}`), hint: 'AIza' },
  { kind: 'a Google OAuth client secret (GOCSPX-...)', pattern: new RegExp(`${START}GOCSPX-[0-9A-Za-z_-]{24,}`), hint: 'GOCSPX-' },
  { kind: 'a Google OAuth refresh token (1//...)', pattern: /(?<![A-Za-z0-9_/:-])1\/\/0[0-9A-Za-z_-]{30,}/, hint: '1//0' },
  { kind: 'a Google OAuth access token (ya29....)', pattern: new RegExp(`${START}ya29\\.[0-9A-Za-z_-]{20,}`), hint: 'ya29.' },
  { kind: 'a GitHub token ($1...)', pattern: new RegExp(`${START}(gh[pousr]_)[A-Za-z0-9]{36,}${END}`), hint: '_' },
  { kind: 'a GitHub token ($1...)', pattern: new RegExp(`${START}(github_pat_)[A-Za-z0-9_]{40,}${END}`), hint: 'github_pat_' },
  { kind: 'a GitLab token ($1...)', pattern: new RegExp(`${START}(gl(?:pat|dt|rt|ptt|soat|ft|imt|oas|cbt)-)[0-9A-Za-z_-]{20,}`), hint: 'gl' },
  { kind: 'a Slack token ($1...)', pattern: new RegExp(`${START}(xox[abposre]-)[0-9A-Za-z-]{10,}`), hint: 'xox' },
  { kind: 'a Slack app token (xapp-...)', pattern: new RegExp(`${START}xapp-\\d-[0-9A-Za-z-]{10,}`), hint: 'xapp-' },
  { kind: 'a Slack webhook URL (hooks.slack.com/...)', pattern: /hooks\.slack\.com\/(?:services|workflows|triggers)\/[A-Za-z0-9_/-]{20,}/, hint: 'hooks.slack.com' },
  { kind: 'a Discord webhook URL (discord.com/api/webhooks/...)', pattern: /discord(?:app)?\.com\/api\/webhooks\/\d+\/[A-Za-z0-9_-]{20,}/, hint: 'discord' },
  { kind: 'a Stripe secret key ($1...)', pattern: new RegExp(`${START}((?:sk|rk)_(?:live|test)_)[0-9A-Za-z]{16,}`), hint: '_' },
  { kind: 'a Stripe webhook secret (whsec_...)', pattern: new RegExp(`${START}whsec_[0-9A-Za-z+/=]{24,}`), hint: 'whsec_' },
  { kind: 'an npm token (npm_...)', pattern: new RegExp(`${START}npm_[A-Za-z0-9]{36}${END}`), hint: 'npm_' },
  { kind: 'a PyPI token (pypi-...)', pattern: new RegExp(`${START}pypi-AgE[A-Za-z0-9_-]{50,}`), hint: 'pypi-' },
  { kind: 'a Docker Hub token (dckr_pat_...)', pattern: new RegExp(`${START}dckr_pat_[A-Za-z0-9_-]{20,}`), hint: 'dckr_pat_' },
  { kind: 'a SendGrid API key (SG....)', pattern: new RegExp(`${START}SG\\.[A-Za-z0-9_-]{22}\\.[A-Za-z0-9_-]{43}${END}`), hint: 'SG.' },
  { kind: 'an Anthropic API key (sk-ant-...)', pattern: new RegExp(`${START}sk-ant-[a-z]+\\d*-[A-Za-z0-9_-]{20,}`), hint: 'sk-ant-' },
  { kind: 'an OpenAI API key (sk-...)', pattern: new RegExp(`${START}sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}`), hint: 'sk-' },
  { kind: 'a Hugging Face token (hf_...)', pattern: new RegExp(`${START}hf_[A-Za-z0-9]{30,}${END}`), hint: 'hf_' },
  { kind: 'a Databricks token (dapi...)', pattern: new RegExp(`${START}dapi[0-9a-f]{32}(?:-\\d)?${END}`), hint: 'dapi' },
  { kind: 'an Azure storage account key (AccountKey=...)', pattern: /AccountKey=[A-Za-z0-9+/]{40,}={0,2}/, hint: 'AccountKey=' },
  { kind: 'an Azure shared access key (SharedAccessKey=...)', pattern: /SharedAccessKey=[A-Za-z0-9+/]{20,}={0,2}/, hint: 'SharedAccessKey=' },
  { kind: 'a bearer token (Bearer ...)', pattern: /(?<![A-Za-z])Bearer\s+[A-Za-z0-9._~+/=-]{16,}/i },
];

const AWS_KEY_ID = /(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Z0-9])/;
const AWS_SECRET = /(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])/;
const BASIC = /(?<![A-Za-z])Basic\s+([A-Za-z0-9+/]{4,}={0,2})(?![A-Za-z0-9+/=])/gi;
const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]{1,30}:\/\/[^\s"'<>`]+/gi;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$|^[A-Za-z0-9_-]+$/;

/**
 * base64 or base64url to UTF-8 text; undefined when it is not valid base64 or not valid UTF-8. Node's Buffer where
 * there is one (fast); atob and TextDecoder elsewhere, so the detector also runs in a browser.
 */
function decodeBase64(value: string): string | undefined {
  const std = value.replace(/-/g, '+').replace(/_/g, '/');
  if (std.length % 4 === 1) return undefined;
  let text: string;
  if (typeof Buffer !== 'undefined') text = Buffer.from(std, 'base64').toString('utf8');
  else {
    let binary: string;
    try {
      binary = atob(std + '='.repeat((4 - (std.length % 4)) % 4));
    } catch {
      return undefined;
    }
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    text = new TextDecoder('utf-8').decode(bytes);
  }
  return text.includes('\ufffd') ? undefined : text;
}

/** The decoded text of a whole-value base64 string, when it decodes to readable text (random bytes do not). */
function base64Text(value: string): string | undefined {
  const v = value.trim();
  if (v.length < 20 || !BASE64.test(v)) return undefined;
  const text = decodeBase64(v);
  if (text === undefined || text.length < 12) return undefined;
  return /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/.test(text) ? undefined : text;
}

/** The credential kind found in a JSON object, when it is one: a Google service-account key or user credentials. */
function credentialObjectKind(o: Record<string, unknown>): string | undefined {
  if (o.type === 'service_account' && typeof o.private_key === 'string' && o.private_key.trim() !== '')
    return 'a Google service-account key (type service_account with a private_key)';
  if (o.type === 'authorized_user' && (typeof o.refresh_token === 'string' || typeof o.client_secret === 'string'))
    return 'Google user credentials (type authorized_user)';
  return undefined;
}

/** How deep base64 inside JSON inside base64 is unwrapped: far beyond what anyone writes, and bounded. */
const MAX_NESTING = 3;

/**
 * The kind of credential a string holds somewhere in it, or undefined: published prefixes and structures, credential
 * JSON (also any JSON text, read as a payload), HTTP Basic credentials, JWTs, URLs with a password or a secret query
 * parameter, `KEY=value` configuration (`.env` files, connection strings), and all of these base64-encoded. Never
 * returns any part of the value beyond the prefix that names the kind.
 */
export function credentialInText(text: string, depth = 0): string | undefined {
  if (text.length < 8) return undefined;
  // URLs, audiences and headers repeat in every task of a step: short texts are remembered.
  if (depth > 0 || text.length > 2048) return computeCredentialInText(text, depth);
  if (textKinds.has(text)) return textKinds.get(text);
  const kind = computeCredentialInText(text, 0);
  remember(textKinds, text, kind);
  return kind;
}

const textKinds = new Map<string, string | undefined>();

function computeCredentialInText(text: string, depth: number): string | undefined {
  const json = depth < MAX_NESTING ? jsonText(text) : undefined;
  const credentialJson = json && isRecord(json.value) ? credentialObjectKind(json.value) : undefined;
  if (credentialJson) return credentialJson;
  for (const shape of PREFIX_SHAPES) {
    if (shape.hint !== undefined && !text.includes(shape.hint)) continue;
    const m = shape.pattern.exec(text);
    if (m) return shape.kind.replace('$1', m[1] ?? '');
  }
  if (AWS_KEY_ID.test(text))
    return AWS_SECRET.test(text.replace(AWS_KEY_ID, ''))
      ? 'an AWS access key id (AKIA...) with its secret access key'
      : 'an AWS access key id (AKIA...)';
  if (/basic/i.test(text))
    for (const m of text.matchAll(BASIC)) {
      const decoded = decodeBase64(m[1]);
      if (decoded !== undefined && /^[^:\s]+:\S+$/.test(decoded)) return 'HTTP Basic credentials (Basic ...)';
    }
  if (text.includes('.') && hasJwt(text)) return 'a JSON Web Token (eyJ...)';
  if (text.includes('://'))
    for (const m of text.matchAll(URL_IN_TEXT)) {
      const kind = credentialInUrl(m[0], depth);
      if (kind) return kind;
    }
  if (depth >= MAX_NESTING) return undefined;
  if (json !== undefined) {
    const inner = collect(json.value, [], 'payload', depth + 1)[0];
    if (inner)
      return `JSON text with a secret at ${inner.path.length ? formatPath(inner.path) : 'its top level'} (${inner.reason})`;
    return undefined;
  }
  const assignment = credentialInAssignments(text, depth);
  if (assignment) return assignment;
  const decoded = base64Text(text);
  if (decoded !== undefined) {
    const inner = credentialInText(decoded, depth + 1);
    if (inner) return `${inner}, base64-encoded`;
  }
  return undefined;
}

/** A string that is a JSON object or array (a service-account key pasted as text, an embedded config). */
function jsonText(text: string): { readonly value: unknown } | undefined {
  const t = text.trim();
  if (!((t.startsWith('{') && t.endsWith('}')) || (t.startsWith('[') && t.endsWith(']'))) || t.length > 1_000_000)
    return undefined;
  try {
    return { value: JSON.parse(t) as unknown };
  } catch {
    return undefined;
  }
}

/** Three base64url parts of 10+ characters, separated by dots, whose first decodes to a JSON header with `alg`. */
function hasJwt(text: string): boolean {
  for (const token of text.split(/[^A-Za-z0-9_.-]+/)) {
    if (token.length < 32) continue;
    const parts = token.split('.');
    for (let i = 0; i + 2 < parts.length; i++) {
      if (parts[i].length < 10 || parts[i + 1].length < 10 || parts[i + 2].length < 10) continue;
      const header = parseJsonObject(decodeBase64(parts[i]) ?? '');
      if (header && typeof header.alg === 'string') return true;
    }
  }
  return false;
}

function parseJsonObject(text: string): Record<string, unknown> | undefined {
  if (!text.startsWith('{')) return undefined;
  try {
    const v: unknown = JSON.parse(text);
    return isRecord(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** A password in the URL's user info, or a query or fragment parameter that holds a secret. */
function credentialInUrl(text: string, depth: number): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  const password = decodeURIComponentSafe(url.password);
  if (password !== '' && !isPlaceholder(password) && !isSecretReference(password))
    return 'a URL with user:password credentials';
  const params = [...url.searchParams];
  if (url.hash.includes('=')) params.push(...new URLSearchParams(url.hash.slice(1)));
  for (const [name, value] of params) {
    const where = `in the URL's query parameter ${showKey(name)}`;
    const shape = credentialInText(value, depth + 1);
    if (shape) return `${shape} ${where}`;
    const signal = keySignal(name, 'query');
    if (signal && valueIsSecretFor(signal, value, depth + 1)) return `${signal.holds} ${where}`;
  }
  return undefined;
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * `KEY=value` or `key: value` configuration inside a string: `.env` files, INI snippets, `;`-separated connection
 * strings (`Server=db;User Id=app;Password=...`). Only a string made of such assignments is read this way, so prose
 * that happens to contain "password: see the wiki" is left alone.
 */
function credentialInAssignments(text: string, depth: number): string | undefined {
  if (!/[=:]/.test(text)) return undefined;
  const parts = text
    .split(/[;\n\r&]+/)
    .map((s) => s.trim())
    .filter((s) => s !== '' && !s.startsWith('#'));
  if (parts.length < 2) return undefined;
  const assignments = parts.map((p) =>
    /^(?:export\s+)?["']?([A-Za-z_][A-Za-z0-9_. -]*?)["']?\s*[=:]\s*["']?([^"']*)["']?,?$/.exec(p),
  );
  if (assignments.some((a) => a === null)) return undefined;
  for (const a of assignments) {
    const [, name, value] = a as RegExpExecArray;
    const signal = keySignal(name.trim());
    if (signal && valueIsSecretFor(signal, value, depth + 1))
      return `${signal.holds} in the ${showKey(name.trim())} setting`;
  }
  return undefined;
}

// ------------------------------------------------------------------ key and value together

function valueIsSecretFor(signal: KeySignal, value: string, depth: number): boolean {
  if (isPlaceholder(value) || isSecretReference(value, depth)) return false;
  return signal.strength === 'strong' || looksRandom(value);
}

/** The reason a field (key and string value) holds a secret, or undefined. */
function fieldReason(key: string, value: string, context: SecretContext, depth = 0): string | undefined {
  const shape = credentialInText(value, depth);
  if (shape) return `value looks like ${shape}`;
  const signal = keySignal(key, context);
  if (signal && valueIsSecretFor(signal, value, depth)) return keyReason(key, signal, context);
  return undefined;
}

function keyReason(key: string, signal: KeySignal, context: SecretContext): string {
  const what = context === 'headers' ? 'header name' : context === 'query' ? 'query parameter' : 'key name';
  const random = signal.strength === 'weak' ? ' and the value looks random' : '';
  return `${what} ${showKey(key)} says it holds ${signal.holds}${random}`;
}

/**
 * Walks any JSON value and returns every place that holds a secret (see the file comment for the rule). Values are
 * inspected, never returned.
 */
export function findSecrets(value: unknown, path: FieldPath, context: SecretContext = 'payload'): SecretFinding[] {
  return collect(value, path, context, 0);
}

function collect(value: unknown, path: FieldPath, context: SecretContext, depth: number): SecretFinding[] {
  const out: SecretFinding[] = [];
  const walk = (v: unknown, p: FieldPath, key: string | undefined): void => {
    if (typeof v === 'string') {
      const reason = key === undefined ? shapeReason(v, depth) : fieldReason(key, v, context, depth);
      if (reason) out.push({ path: p, reason });
      return;
    }
    if (typeof v === 'number') {
      // A count under `token` is a count; a long number under a strong name (`password: 123456`) is a PIN.
      const signal = key === undefined ? undefined : keySignal(key, context);
      if (key !== undefined && signal?.strength === 'strong' && Number.isInteger(v) && Math.abs(v) >= 1000)
        out.push({ path: p, reason: keyReason(key, signal, context) });
      return;
    }
    if (Array.isArray(v)) {
      // `api_keys: [...]`: each element is judged under the array's key.
      v.forEach((item, i) => walk(item, [...p, i], key));
      return;
    }
    if (isRecord(v)) {
      const objectKind = credentialObjectKind(v);
      if (objectKind) {
        out.push({ path: p, reason: `value looks like ${objectKind}` });
        return;
      }
      const entries = Object.entries(v);
      // An AWS key id in one field makes a sibling 40-character base64 string its secret access key.
      const awsPair = entries.some(([, c]) => typeof c === 'string' && AWS_KEY_ID.test(c));
      for (const [k, child] of entries) {
        const childPath = [...p, secretSafeKey(k)];
        const keyKind = credentialInText(k, depth);
        if (keyKind) out.push({ path: childPath, reason: `an object key is itself ${keyKind}` });
        if (awsPair && typeof child === 'string' && isAwsSecretShape(child)) {
          out.push({
            path: childPath,
            reason: 'value looks like an AWS secret access key (next to its access key id)',
          });
          continue;
        }
        walk(child, childPath, keyKind ? undefined : k);
      }
    }
  };
  walk(value, path, undefined);
  return out;
}

/** 40 base64 characters of mixed case: what an AWS secret access key looks like (a hex SHA-1 does not). */
function isAwsSecretShape(v: string): boolean {
  return v.length === 40 && AWS_SECRET.test(v) && /[a-z]/.test(v) && /[A-Z]/.test(v);
}

function shapeReason(value: string, depth = 0): string | undefined {
  const shape = credentialInText(value, depth);
  return shape ? `value looks like ${shape}` : undefined;
}

/**
 * Every header that holds a secret. Header names are judged more strictly than payload keys: `Authorization`,
 * `Proxy-Authorization`, `Cookie` and any `*-Token` carry credentials whatever their value looks like.
 */
export function findSecretsInHeaders(headers: Readonly<Record<string, string>>, path: FieldPath): SecretFinding[] {
  return findSecrets(headers, path, 'headers');
}

/**
 * The URL with every credential in it replaced by `***` (user-info password, secret query and fragment parameters),
 * for listings such as the seeder's `--dry-run`. A URL that cannot be parsed but holds a credential is hidden whole.
 */
export function redactUrl(url: string): string {
  if (credentialInText(url) === undefined) return url;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return '(URL hidden: it holds a credential)';
  }
  if (u.password !== '') u.password = '***';
  const redactParams = (params: URLSearchParams): void => {
    for (const [name, value] of [...params])
      if (credentialInText(name) !== undefined) params.delete(name);
      else if (fieldReason(name, value, 'query')) params.set(name, '***');
  };
  redactParams(u.searchParams);
  if (u.hash.includes('=')) {
    const fragment = new URLSearchParams(u.hash.slice(1));
    redactParams(fragment);
    u.hash = fragment.toString();
  }
  const out = u.toString().replace(/%2A%2A%2A/g, '***');
  return credentialInText(out) === undefined ? out : '(URL hidden: it holds a credential)';
}

// ------------------------------------------------------------------ single-signal questions (the review's redaction)

/** The reason a key NAME alone says credential (strong or weak), or undefined. Redaction uses it; findings need both signals. */
export function secretKeyReason(key: string, context: SecretContext = 'payload'): string | undefined {
  const signal = keySignal(key, context);
  return signal ? keyReason(key, signal, context).replace(/ and the value looks random$/, '') : undefined;
}

/** The reason a string VALUE alone is a credential (its shape), or undefined. */
export function secretValueReason(value: string): string | undefined {
  return shapeReason(value);
}

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * The policy rules (docs/policy.md) that guard each part of a task, so that the deploy-time seeder, which runs the
 * same checks on the manifest, names the same rule and honours the same suppressions.
 */
export const SECRET_RULES = { headers: 'CTP002', payload: 'CTP003', target: 'CTP007' } as const;
