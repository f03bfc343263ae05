import { formatPath } from '../../lib/core/problem';
import { findSecrets, keyWords, secretKeyReason, secretValueReason } from '../../lib/policy/secrets';

describe('secret detection', () => {
  test.each([
    ['apiKey', ['api', 'key']],
    ['X-API-Key', ['x', 'api', 'key']],
    ['client_secret', ['client', 'secret']],
    ['HTTPServer', ['http', 'server']],
  ])('splits %s into words', (key, words) => {
    expect(keyWords(key)).toEqual(words);
  });

  test.each([
    'password',
    'dbPassword',
    'api_key',
    'apikey',
    'X-Api-Key',
    'private_key',
    'privateKey',
    'token',
    'access_token',
    'id_token',
    'refreshToken',
    'credentials',
    'client_secret',
    'AWS_ACCESS_KEY',
  ])('key %s looks like it holds a credential', (key) => {
    expect(secretKeyReason(key)).toEqual(expect.stringContaining(`"${key}"`));
  });

  test.each([
    'max_tokens',
    'maxTokens',
    'pad_token',
    'eos_token',
    'tokenizer',
    'token_count',
    'num_tokens',
    'dataset',
    'X-Pipeline',
    'secret_name',
    'api_key_secret_id',
    'password_file',
    'keyword',
  ])('key %s is not a credential', (key) => {
    expect(secretKeyReason(key)).toBeUndefined();
  });

  test.each([
    ['-----BEGIN RSA PRIVATE KEY-----\nMIIE...\n-----END RSA PRIVATE KEY-----', 'PEM private key'],
    ['-----BEGIN PRIVATE KEY-----\nabc', 'PEM private key'],
    ['AIza' + 'A'.repeat(35), 'Google API key'],
    ['ghp_' + 'a'.repeat(36), 'GitHub token'],
    ['AKIA' + 'ABCDEFGHIJKLMNOP', 'AWS access key id'],
    ['sk-proj-' + 'x'.repeat(30), 'OpenAI or Anthropic API key'],
    ['eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U', 'JSON Web Token'],
    ['Bearer abcdefghijklmnopqrstuvwxyz', 'bearer token'],
    ['postgres://admin:hunter2@db.internal:5432/x', 'user:password'],
  ])('value shape %#: %s', (value, kind) => {
    expect(secretValueReason(value)).toEqual(expect.stringContaining(kind));
  });

  test.each([
    'gs://acme-raw/2026-11/',
    'https://preprocess-abc123-uc.a.run.app/tasks',
    'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    'projects/p/secrets/s/versions/1',
  ])('ordinary value %s is not a secret', (value) => {
    expect(secretValueReason(value)).toBeUndefined();
  });

  test('findSecrets reports paths and reasons, never values', () => {
    const payload = {
      dataset: 'gs://x',
      auth: { api_key: 'VALUE-1', tokens: 3 },
      list: [{ note: '-----BEGIN EC PRIVATE KEY-----VALUE-2' }],
      'odd key': { password: 'VALUE-3' },
      secretRef: { secret_name: 'projects/p/secrets/s' },
      token: '',
      max_tokens: 512,
    };
    const found = findSecrets(payload, ['payload']);
    expect(found.map((f) => formatPath(f.path))).toEqual([
      'payload.auth.api_key',
      'payload.list[0].note',
      'payload["odd key"].password',
    ]);
    expect(JSON.stringify(found)).not.toMatch(/VALUE-\d/);
  });

  test('a key that says secret but holds a Secret Manager name is a reference, not a secret', () => {
    expect(findSecrets({ api_key: 'projects/acme/secrets/openai-key/versions/latest' }, ['p'])).toEqual([]);
  });
});
