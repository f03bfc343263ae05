/**
 * The secret detector (lib/core/secrets.ts) against a corpus: credential shapes that must be found, and ordinary ML
 * payload fields that must pass. Every fake secret is built from pieces here, so this file itself trips no secret
 * scanner, and each is structurally valid (right prefix, length, alphabet; JWTs and Basic credentials decode).
 */
import {
  REDACTED_KEY,
  findSecrets,
  findSecretsInHeaders,
  isSecretReference,
  keySignal,
  keyWords,
  looksRandom,
  redactUrl,
  secretKeyReason,
  secretValueReason,
} from '../../lib/core/secrets';
import { formatPath } from '../../lib/core/problem';

const rep = (c: string, n: number) => c.repeat(n);
const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const b64url = (s: string) => Buffer.from(s, 'utf8').toString('base64url');
const BEGIN = (label: string) => `-----BEGIN ${label}-----`;
const END = (label: string) => `-----END ${label}-----`;
const pem = (label: string) => `${BEGIN(label)}\nMIIEvQIBADANBg${rep('Q', 40)}\n${END(label)}\n`;

const fake = {
  googleApiKey: 'AIza' + 'Sy' + rep('D', 20) + 'fake' + rep('0', 9),
  oauthClientSecret: 'GOCSPX-' + rep('f', 20) + 'ake' + rep('x', 5),
  refreshToken: '1//0' + 'g' + rep('F', 40) + 'akeRefresh' + rep('z', 10),
  accessToken: 'ya29.' + 'a0' + rep('F', 30) + 'ake',
  github: (p: string) => p + rep('F', 30) + 'AKE123',
  githubPat: 'github_pat_' + '11' + rep('A', 20) + '_' + rep('f', 59),
  gitlab: 'glpat-' + rep('F', 16) + 'ake1',
  slack: (p: string) => `${p}-` + '1234567890-' + rep('f', 24),
  slackWebhook: 'https://hooks.slack.com/services/' + 'T0000FAKE/' + 'B0000FAKE/' + rep('f', 24),
  discordWebhook: 'https://discord.com/api/webhooks/' + '123456789012345678/' + rep('f', 68),
  stripe: (p: string) => p + rep('F', 20) + 'ake0',
  stripeWebhook: 'whsec_' + rep('f', 32),
  npm: 'npm_' + rep('F', 32) + 'ake1',
  pypi: 'pypi-AgE' + 'IcHlwaS5vcmc' + rep('f', 60),
  docker: 'dckr_pat_' + rep('F', 27),
  sendgrid: 'SG.' + rep('f', 22) + '.' + rep('F', 43),
  openai: 'sk-proj-' + rep('F', 40) + 'ake',
  anthropic: 'sk-ant-api03-' + rep('F', 80) + 'ake',
  huggingFace: 'hf_' + rep('F', 30) + 'ake1',
  databricks: 'dapi' + rep('0123456789abcdef', 2),
  awsKeyId: 'AKIA' + 'FAKE' + rep('0', 12),
  awsSessionKeyId: 'ASIA' + 'FAKE' + rep('1', 12),
  awsSecret: 'wJalr' + 'XUtnFEMI/K7MDENG/' + 'bPxRfiCYFAKEKEY' + 'abc',
  azureKey: rep('A', 20) + 'fake' + rep('B', 62) + '==',
  jwt: [b64url('{"alg":"HS256","typ":"JWT"}'), b64url('{"sub":"1234567890","name":"Fake"}'), rep('s', 43)].join('.'),
  jwtRs: [b64url('{"alg":"RS256","kid":"fake"}'), b64url('{"iss":"https://accounts.google.com"}'), rep('S', 86)].join(
    '.',
  ),
  serviceAccount: {
    type: 'service_account',
    project_id: 'acme-ml-dev',
    private_key_id: rep('0', 40),
    private_key: pem('PRIVATE KEY'),
    client_email: 'fake@acme-ml-dev.iam.gserviceaccount.com',
  },
};

/** [what, payload, the kind the reason names]. Every entry must be found; none may leak its value. */
// prettier-ignore
const SECRETS: ReadonlyArray<readonly [string, unknown, RegExp]> = [
  // Google
  ['Google API key', { note: fake.googleApiKey }, /Google API key \(AIza\.\.\.\)/],
  ['Google API key in a URL query', { url: `https://maps.example.com/geo?key=${fake.googleApiKey}` }, /Google API key/],
  ['Google API key, base64url', { blob: b64url(fake.googleApiKey + '\n') }, /Google API key.*base64-encoded/],
  ['OAuth client secret', { config: fake.oauthClientSecret }, /OAuth client secret \(GOCSPX-\.\.\.\)/],
  ['OAuth refresh token', { r: fake.refreshToken }, /refresh token \(1\/\/\.\.\.\)/],
  ['OAuth access token', { t: fake.accessToken }, /OAuth access token \(ya29\.\.\.\.\)/],
  ['service-account key object', { creds: fake.serviceAccount }, /service-account key/],
  ['service-account key as a string', { json: JSON.stringify(fake.serviceAccount) }, /service-account key/],
  ['service-account key, base64', { GOOGLE_CREDS: b64(JSON.stringify(fake.serviceAccount)) }, /service-account.*base64/],
  [
    'gcloud user credentials',
    { adc: { type: 'authorized_user', client_id: 'x', client_secret: 'y', refresh_token: 'z' } },
    /authorized_user/,
  ],
  // PEM blocks
  ['PEM RSA private key', { note: pem('RSA PRIVATE KEY') }, /PEM private key/],
  ['PEM EC private key', { note: pem('EC PRIVATE KEY') }, /PEM private key/],
  ['PEM OpenSSH private key', { note: pem('OPENSSH PRIVATE KEY') }, /PEM private key/],
  ['PEM encrypted private key', { note: pem('ENCRYPTED PRIVATE KEY') }, /PEM private key/],
  ['PGP private key block', { note: pem('PGP PRIVATE KEY BLOCK') }, /PEM private key/],
  ['PEM with escaped newlines', { note: pem('PRIVATE KEY').replace(/\n/g, '\\n') }, /PEM private key/],
  ['PEM, base64', { note: b64(pem('PRIVATE KEY')) }, /PEM private key.*base64-encoded/],
  // JWTs
  ['JWT (HS256)', { note: fake.jwt }, /JSON Web Token/],
  ['JWT inside text', { log: `refreshed session with ${fake.jwtRs} at noon` }, /JSON Web Token/],
  // Code hosts and package registries
  ['GitHub classic token', { note: fake.github('ghp_') }, /GitHub token \(ghp_\.\.\.\)/],
  ['GitHub OAuth token', { note: fake.github('gho_') }, /GitHub token \(gho_\.\.\.\)/],
  ['GitHub user-to-server token', { note: fake.github('ghu_') }, /GitHub token \(ghu_\.\.\.\)/],
  ['GitHub server-to-server token', { note: fake.github('ghs_') }, /GitHub token \(ghs_\.\.\.\)/],
  ['GitHub refresh token', { note: fake.github('ghr_') }, /GitHub token \(ghr_\.\.\.\)/],
  ['GitHub fine-grained token', { note: fake.githubPat }, /GitHub token \(github_pat_\.\.\.\)/],
  ['GitHub token, base64', { note: b64(fake.github('ghp_')) }, /GitHub token \(ghp_\.\.\.\), base64-encoded/],
  ['GitLab token', { note: fake.gitlab }, /GitLab token \(glpat-\.\.\.\)/],
  ['npm token', { npmrc: fake.npm }, /npm token/],
  ['PyPI token', { note: fake.pypi }, /PyPI token/],
  ['Docker Hub token', { note: fake.docker }, /Docker Hub token/],
  // Chat and webhooks
  ['Slack bot token', { note: fake.slack('xoxb') }, /Slack token \(xoxb-\.\.\.\)/],
  ['Slack user token', { note: fake.slack('xoxp') }, /Slack token \(xoxp-\.\.\.\)/],
  ['Slack app-level token (xoxa)', { note: fake.slack('xoxa') }, /Slack token \(xoxa-\.\.\.\)/],
  ['Slack refresh token', { note: fake.slack('xoxr') }, /Slack token \(xoxr-\.\.\.\)/],
  ['Slack webhook URL', { notify: fake.slackWebhook }, /Slack webhook URL/],
  ['Discord webhook URL', { notify: fake.discordWebhook }, /Discord webhook URL/],
  // Payments, mail, ML providers
  ['Stripe live secret key', { note: fake.stripe('sk_live_') }, /Stripe secret key \(sk_live_\.\.\.\)/],
  ['Stripe restricted key', { note: fake.stripe('rk_live_') }, /Stripe secret key \(rk_live_\.\.\.\)/],
  ['Stripe test secret key', { note: fake.stripe('sk_test_') }, /Stripe secret key \(sk_test_\.\.\.\)/],
  ['Stripe webhook secret', { note: fake.stripeWebhook }, /Stripe webhook secret/],
  ['SendGrid API key', { note: fake.sendgrid }, /SendGrid API key/],
  ['OpenAI API key', { note: fake.openai }, /OpenAI API key/],
  ['Anthropic API key', { note: fake.anthropic }, /Anthropic API key/],
  ['Hugging Face token', { note: fake.huggingFace }, /Hugging Face token/],
  ['Databricks token', { note: fake.databricks }, /Databricks token/],
  // AWS and Azure
  ['AWS access key id', { note: fake.awsKeyId }, /AWS access key id \(AKIA\.\.\.\)/],
  ['AWS temporary access key id', { note: fake.awsSessionKeyId }, /AWS access key id/],
  ['AWS key id and secret as siblings', { id: fake.awsKeyId, other: fake.awsSecret }, /AWS secret access key \(next to/],
  [
    'AWS credentials file',
    { file: `[default]\naws_access_key_id = ${fake.awsKeyId}\naws_secret_access_key = ${fake.awsSecret}\n` },
    /AWS access key id \(AKIA\.\.\.\) with its secret access key/,
  ],
  [
    'Azure storage connection string',
    {
      conn: `DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=${fake.azureKey};EndpointSuffix=core.windows.net`,
    },
    /Azure storage account key/,
  ],
  [
    'Azure Service Bus connection string',
    { conn: `Endpoint=sb://acme.servicebus.windows.net/;SharedAccessKeyName=root;SharedAccessKey=${fake.azureKey}` },
    /Azure shared access key/,
  ],
  [
    'Azure SAS URL',
    { blob: `https://acme.blob.core.windows.net/c/b.csv?sv=2022-11-02&sp=r&sig=${encodeURIComponent(fake.azureKey)}` },
    /URL signature in the URL's query parameter "sig"/,
  ],
  // HTTP credentials and URLs
  ['HTTP Basic credentials', { h: `Basic ${b64('fake-user:fake-pass')}` }, /HTTP Basic credentials/],
  ['bearer token', { h: `Bearer ${rep('F', 24)}ake` }, /bearer token/],
  ['URL with user:password', { dsn: 'postgres://admin:fake-pass@db.internal:5432/x' }, /URL with user:password/],
  ['URL with access_token', { cb: 'https://api.example.com/v1/items?access_token=fake-at-1' }, /token in the URL/],
  ['URL fragment with a token', { cb: 'https://app.example.com/cb#access_token=fake-at-2&x=1' }, /token in the URL/],
  [
    'GCS signed URL',
    { u: 'https://storage.googleapis.com/b/o?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Signature=' + rep('ab', 64) },
    /URL signature in the URL's query parameter "X-Goog-Signature"/,
  ],
  [
    'S3 presigned URL',
    { u: 'https://b.s3.amazonaws.com/o?X-Amz-Date=20260101T000000Z&X-Amz-Signature=' + rep('cd', 32) },
    /URL signature/,
  ],
  // Configuration text
  ['.env text', { env: 'LOG_LEVEL=info\nDB_PASSWORD=fake-pass-1\nREGION=us-central1' }, /password in the "DB_PASSWORD"/],
  ['SQL connection string', { conn: 'Server=db;Database=ml;User Id=app;Password=fake-pass-2;' }, /password/],
  ['JSON text with a password', { cfg: JSON.stringify({ db: { host: 'x', password: 'fake-pass-3' } }) }, /JSON text/],
  // Key name and value together (strong names)
  ['passWord (camelCase)', { passWord: 'correct-horse' }, /"passWord" says it holds a password/],
  ['db_pwd', { db_pwd: 'fake' }, /password/],
  ['user_pass', { user_pass: 'fake' }, /password/],
  ['passcode (a number)', { passcode: 482913 }, /password/],
  ['ssh_key', { ssh_key: 'fake-key-material' }, /an SSH key/],
  ['master_key', { master_key: 'fake' }, /a master key/],
  ['hmac_key', { hmac_key: 'fake' }, /an HMAC key/],
  ['client_secret', { client_secret: 'fake' }, /a secret/],
  ['api_key', { api_key: 'demo-key-1' }, /an API key/],
  ['aws_secret_access_key', { aws_secret_access_key: 'fake' }, /an AWS secret access key/],
  ['DB_PASSWORD_PROD', { DB_PASSWORD_PROD: 'fake' }, /password/],
  ['private_key_b64', { private_key_b64: 'ZmFrZQ' }, /a private key/],
  ['access_token', { access_token: 'fake' }, /a token/],
  ['refreshToken', { refreshToken: 'fake' }, /a token/],
  ['credentials as a string', { credentials: 'user:fake' }, /credentials/],
  ['api_keys list', { api_keys: ['fake-1', 'fake-2'] }, /an API key/],
  ['Cyrillic look-alike in the name', { ['p\u0430ssword']: 'fake' }, /password/],
  ['zero-width space in the name', { ['pass\u200bword']: 'fake' }, /password/],
  ['full-width name', { ['\uff50\uff41\uff53\uff53\uff57\uff4f\uff52\uff44']: 'fake' }, /password/],
  // Weak names need a random-looking value
  ['token with a random value', { token: 'a8f5f167f44f4964e6c998dee827110c' }, /"token" says it holds a token and the value looks random/],
  ['auth with a random value', { auth: 'Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5' }, /and the value looks random/],
  // Object keys that are themselves secrets
  ['an object key that is a token', { owners: { [fake.github('ghp_')]: 'octocat' } }, /object key is itself a GitHub token/],
];

/** Ordinary ML payload fields: none may be reported. */
// prettier-ignore
const ORDINARY: ReadonlyArray<readonly [string, unknown]> = [
  ['an NER label under token', { token: 'Paris', label: 'B-LOC' }],
  ['a multi-word NER token', { token: 'New York' }],
  ['auth: none', { auth: 'none' }],
  ['auth: oidc', { auth: 'oidc' }],
  ['authorization: none', { authorization: 'none' }],
  ['password_policy', { password_policy: 'min-12-chars' }],
  ['secret_santa', { secret_santa: 'Bob' }],
  ['id_token_field', { id_token_field: 'id_token' }],
  ['max_tokens', { max_tokens: 512 }],
  ['maxTokens (camelCase)', { maxTokens: 512 }],
  ['max_new_tokens', { max_new_tokens: 256 }],
  ['pad_token', { pad_token: '[PAD]' }],
  ['eos and bos tokens', { eos_token: '</s>', bos_token: '<s>' }],
  ['special tokens map', { special_tokens: { cls_token: '[CLS]', sep_token: '[SEP]', mask_token: '[MASK]' } }],
  ['tokenizer', { tokenizer: 'bert-base-uncased' }],
  ['tokenizer name', { tokenizerName: 'google/gemma-2-9b' }],
  ['usage counts', { prompt_tokens: 1200, completion_tokens: 80, total_tokens: 1280, token_count: 42 }],
  ['tokenized text', { tokens: ['the', 'cat', 'sat'] }],
  ['token ids', { token_ids: [101, 2023, 102] }],
  ['model id', { model: 'meta-llama/Llama-3.1-8B-Instruct' }],
  ['GCS paths', { dataset: 'gs://acme-raw/2026-11/', output: 'gs://acme-models/run-42/' }],
  ['a checkpoint sha256', { checkpoint_sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' }],
  ['a cache key that is a hash', { cache_key: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' }],
  ['a commit sha', { commit: 'da39a3ee5e6b4b0d3255bfef95601890afd80709' }],
  ['a run id (UUID)', { run_id: '550e8400-e29b-41d4-a716-446655440000' }],
  ['hyper-parameters', { learning_rate: 3e-4, batch_size: 32, seed: 1234567, epochs: 3 }],
  ['a Secret Manager reference', { secret_name: 'projects/acme/secrets/hf-token' }],
  ['a strong name holding a reference', { api_key: 'projects/acme/secrets/openai-key/versions/latest' }],
  ['a password file path', { password: '/run/secrets/db-password' }],
  ['an environment reference', { hf_token: '${HF_TOKEN}', db_password: '$DB_PASSWORD' }],
  ['a placeholder', { openai_api_key: '<your-api-key>', password: '********' }],
  ['a sort key and a partition key', { key: 'user_id', partition_key: 'date', primary_key: 'id' }],
  ['an object path', { s3_key: 'data/train.csv', gcs_key: 'gs://b/o' }],
  ['a public key', { public_key: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeFakeFakeFakeFakeFakeFakeFake user@host' }],
  ['a Stripe publishable key', { stripe_publishable_key: 'pk_live_' + rep('F', 24) }],
  ['keywords and keys', { keyword: 'transformer', keys: ['a', 'b'] }],
  ['prose mentioning a password', { text: 'Reset your password: click the link in the e-mail.' }],
  ['a prompt mentioning secrets and tokens', { prompt: 'Summarize the secret history of Rome in 300 tokens.' }],
  ['a target URL with a query', { url: 'https://preprocess-abc123-uc.a.run.app/tasks?batch=3&shard=7' }],
  ['an image URL', { image_url: 'https://storage.googleapis.com/acme/img.png' }],
  ['DataLoader flags', { pin_memory: true, num_workers: 8, bypass_cache: true, passwordless: true }],
  ['pipeline passes', { first_pass: 'tokenize', forward_pass: 'fp16' }],
  ['OAuth vocabulary', { token_type: 'Bearer', grant_type: 'client_credentials' }],
  ['scopes and audiences', { scope: 'https://www.googleapis.com/auth/cloud-platform', audience: 'https://x.a.run.app' }],
  ['a base64 float embedding', { embedding: Buffer.from(new Float32Array([0.1, -2.5, 3.25, 1e-3, 7]).buffer).toString('base64') }],
  ['a base64 md5 checksum', { md5: 'rL0Y20zC+Fzt72VPzMSk2A==' }],
  ['a session id and a trace id', { session_id: 'sess-2026-11-01', trace_id: '4bf92f3577b34da6a3ce929d0e0e4736' }],
  ['a key id', { private_key_id: 'a1b2c3d4e5f6', access_key_id_name: 'AWS_KEY' }],
  ['an empty token', { token: '' }],
  [
    'paging and idempotency tokens',
    {
      page_token: 'CiAKGjBpNDd2Nmp2Zml2cXRuYjBiMTlrMjFiOA',
      nextPageToken: 'Cg0IARIJCgdpdGVtLTQy8AE',
      continuation_token: '1!2!MDAwMDEy',
      idempotency_token: '7f1c2a9e-5b3d-4c8e-9a6f-0d2e4b7c1a3f',
    },
  ],
];

/**
 * Parts of a value that no finding may show: the whole value and its last 10 characters. A `type` field names the
 * kind of a credential file (`service_account`), which a finding does show.
 */
function leaks(found: unknown, payload: unknown): string[] {
  const text = JSON.stringify(found);
  const values: string[] = [];
  const collect = (v: unknown): void => {
    if (typeof v === 'string' && v.length >= 4) values.push(v);
    else if (typeof v === 'number') values.push(String(v));
    else if (Array.isArray(v)) v.forEach(collect);
    else if (v && typeof v === 'object') Object.entries(v).forEach(([k, c]) => k !== 'type' && collect(c));
  };
  collect(payload);
  return values.filter((v) => text.includes(v) || (v.length > 12 && text.includes(v.slice(-10))));
}

describe('the corpus', () => {
  test('has at least 60 secret shapes and 40 ordinary fields', () => {
    expect(SECRETS.length).toBeGreaterThanOrEqual(60);
    expect(ORDINARY.length).toBeGreaterThanOrEqual(40);
  });

  test.each(SECRETS)('finds %s, naming the kind, never the value', (_what, payload, kind) => {
    const found = findSecrets(payload, ['payload']);
    expect(found.map((f) => f.reason)).toContainEqual(expect.stringMatching(kind));
    expect(leaks(found, payload)).toEqual([]);
  });

  test.each(ORDINARY)('passes %s', (_what, payload) => {
    expect(findSecrets(payload, ['payload'])).toEqual([]);
  });
});

describe('key names', () => {
  test.each([
    ['X-API-Key', ['x', 'api', 'key']],
    ['apiKey', ['api', 'key']],
    ['apikey', ['api', 'key']],
    ['client_secret', ['client', 'secret']],
    ['HTTPServer', ['http', 'server']],
    ['dbPassword', ['db', 'password']],
    ['tokenizer', ['token', 'izer']],
    ['\uff58\uff0d\uff41\uff50\uff49\uff0d\uff4b\uff45\uff59', ['x', 'api', 'key']],
    ['x\u200b_api\u2060_key', ['x', 'api', 'key']],
    ['p\u0430ss\u0441ode', ['passcode']],
  ])('%j is read as %j', (key, words) => {
    expect(keyWords(key)).toEqual(words);
  });

  test.each([
    ['password', 'strong'],
    ['passWord', 'strong'],
    ['user_pass', 'strong'],
    ['api_key_v2', 'strong'],
    ['token_prod', 'weak'],
    ['token', 'weak'],
    ['auth', 'weak'],
    ['basic_auth', 'strong'],
  ])('%s is a %s name', (key, strength) => {
    expect(keySignal(key)?.strength).toBe(strength);
  });

  test.each(['password_policy', 'secret_santa', 'id_token_field', 'api_key_secret_name', 'tokenizer', 'pad_token'])(
    '%s says nothing: its last word is not a credential',
    (key) => {
      expect(keySignal(key)).toBeUndefined();
    },
  );

  test('headers are judged more strictly than payload keys', () => {
    expect(keySignal('Cookie', 'payload')?.strength).toBe('weak');
    expect(keySignal('Cookie', 'headers')?.strength).toBe('strong');
    expect(keySignal('Proxy-Authorization', 'headers')?.strength).toBe('strong');
    expect(keySignal('X-Request-Token', 'headers')?.strength).toBe('strong');
    expect(keySignal('sig', 'payload')).toBeUndefined();
    expect(keySignal('sig', 'query')?.strength).toBe('strong');
  });
});

describe('headers', () => {
  test('Authorization-like values under any name, cookies, and credential names', () => {
    const headers = {
      'X-Pipeline': 'recsys',
      'Content-Type': 'application/json',
      'X-Auth': `Basic ${b64('fake-user:fake-pass')}`,
      Cookie: 'session=fake-session-id',
      'Proxy-Authorization': 'Digest username="u", response="fake"',
      'X-Api-Key': '123456789012345',
      Authorization: `Token ${rep('f', 40)}`,
    };
    const found = findSecretsInHeaders(headers, ['headers']);
    expect(found.map((f) => formatPath(f.path))).toEqual([
      'headers.X-Auth',
      'headers.Cookie',
      'headers.Proxy-Authorization',
      'headers.X-Api-Key',
      'headers.Authorization',
    ]);
    expect(found[0].reason).toMatch(/HTTP Basic credentials/);
    expect(found[3].reason).toBe('header name "X-Api-Key" says it holds an API key');
    expect(leaks(found, headers)).toEqual([]);
  });
});

describe('values are never shown', () => {
  test('an object key that is a secret is redacted in the path, also for findings below it', () => {
    const token = fake.github('ghp_');
    const found = findSecrets({ users: { [token]: { password: 'fake-pass-4' } } }, ['payload']);
    expect(found.map((f) => f.path)).toEqual([
      ['payload', 'users', REDACTED_KEY],
      ['payload', 'users', REDACTED_KEY, 'password'],
    ]);
    expect(JSON.stringify(found)).not.toContain(token.slice(4));
  });

  test('a key name is quoted in a reason, unless it is itself a credential', () => {
    const token = fake.github('ghp_');
    expect(secretKeyReason('db_pwd')).toBe('key name "db_pwd" says it holds a password');
    expect(secretValueReason(token)).toBe('value looks like a GitHub token (ghp_...)');
    const found = findSecrets(`LOG=1\n${token}_password=fake-pass-5`, ['env']);
    expect(JSON.stringify(found)).not.toContain(token.slice(4));
  });

  test('redactUrl hides passwords and secret parameters, and keeps the rest', () => {
    expect(redactUrl(`https://u:fake-pass@x.example.com/a?key=${fake.googleApiKey}&batch=3#access_token=fake-at`)).toBe(
      'https://u:***@x.example.com/a?key=***&batch=3#access_token=***',
    );
    expect(redactUrl('https://x.example.com/a?batch=3')).toBe('https://x.example.com/a?batch=3');
  });
});

test('references and random-looking values', () => {
  expect(isSecretReference('projects/p/secrets/s/versions/3')).toBe(true);
  expect(isSecretReference('arn:aws:secretsmanager:us-east-1:123456789012:secret:db')).toBe(true);
  expect(isSecretReference('https://kv.vault.azure.net/secrets/db')).toBe(true);
  expect(isSecretReference(`https://x.example.com/?key=${fake.googleApiKey}`)).toBe(false);
  expect(looksRandom('a8f5f167f44f4964e6c998dee827110c')).toBe(true);
  expect(looksRandom('bert-base-uncased')).toBe(false);
  expect(looksRandom('model_v2_20260101')).toBe(false);
  expect(looksRandom('Paris')).toBe(false);
});
