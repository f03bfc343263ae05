/**
 * Each rule on its own: spec checks on normalized specs, block checks on Terraform JSON as cdk.tf.json holds it.
 * GIVEN a spec or block that breaks (or keeps) one rule, WHEN the rule checks it, THEN the result, path and message.
 */
import { ALL_RULES } from '../../lib/policy/rules';
import { CTP001 } from '../../lib/policy/rules/CTP001-unauthenticated-target';
import { CTP002 } from '../../lib/policy/rules/CTP002-secret-in-headers';
import { CTP003 } from '../../lib/policy/rules/CTP003-secret-in-seed-payload';
import { attemptsWithinRetention, CTP004 } from '../../lib/policy/rules/CTP004-unbounded-retries';
import { CTP005 } from '../../lib/policy/rules/CTP005-oauth-non-google-host';
import { CTP006 } from '../../lib/policy/rules/CTP006-required-labels';
import type { PolicyConfig, PolicyRule, RuleCheck, TerraformBlock } from '../../lib/policy/types';
import { formatPath } from '../../lib/core/problem';
import { CTP007 } from '../../lib/policy/rules/CTP007-secret-in-target';
import { SECRET_RULES } from '../../lib/core/secrets';
import type { PipelineSpec } from '../../lib/spec/types';
import { SECRET_MARKER, spec, step, withStep } from './fixtures';

const noLabels: PolicyConfig = { requiredLabels: [] };
/** A check with its violations' paths printed (`pipeline.steps[1].target.auth`), as the pack prints them. */
const printed = (check: RuleCheck) => ({
  result: check.result,
  violations: check.violations.map((v) => ({ path: formatPath(v.path), message: v.message })),
});
const checkSpec = (rule: PolicyRule, s: PipelineSpec, config: PolicyConfig = noLabels) =>
  printed(rule.checkSpec!({ spec: s, config }));
const checkBlock = (rule: PolicyRule, block: TerraformBlock, config: PolicyConfig = noLabels) =>
  printed(rule.checkBlock!({ block, config }));

function queueBlock(config: Record<string, unknown>): TerraformBlock {
  return {
    kind: 'resource',
    type: 'google_cloud_tasks_queue',
    address: 'google_cloud_tasks_queue.q',
    constructPath: 'stack/q',
    config: { name: 'q', location: 'us-central1', ...config },
  };
}
const oidcTarget = {
  http_method: 'POST',
  uri_override: { scheme: 'HTTPS', host: 'w.run.app' },
  oidc_token: { service_account_email: 'i@p.iam.gserviceaccount.com' },
};

describe('the rule set', () => {
  test('ids are unique, stable CTPnnn, and each rule says what it protects against', () => {
    const ids = ALL_RULES.map((r) => r.id);
    expect(ids).toEqual(['CTP001', 'CTP002', 'CTP003', 'CTP004', 'CTP005', 'CTP006', 'CTP007']);
    for (const r of ALL_RULES) {
      expect(r.name).toMatch(/^[a-z]+(-[a-z]+)*$/);
      expect(['error', 'warning']).toContain(r.level);
      expect(r.description.length).toBeGreaterThan(20);
    }
  });

  test('a compliant spec is COMPLIANT or NOT_APPLICABLE for every rule', () => {
    for (const r of ALL_RULES) expect(['COMPLIANT', 'NOT_APPLICABLE']).toContain(checkSpec(r, spec()).result);
  });
});

describe('CTP001 unauthenticated-target (error)', () => {
  test('auth none is NON_COMPLIANT at the step auth path', () => {
    const s = withStep(1, { target: { ...step('train').target, auth: 'none' } });
    expect(checkSpec(CTP001, s)).toEqual({
      result: 'NON_COMPLIANT',
      violations: [
        {
          path: 'pipeline.steps[1].target.auth',
          message: '"none" sends tasks without an identity token; use oidc, or suppress with a reason',
        },
      ],
    });
  });
  test('oidc and oauth are COMPLIANT', () => {
    expect(checkSpec(CTP001, spec()).result).toBe('COMPLIANT');
  });
  test('a queue block without a token is NON_COMPLIANT; with one COMPLIANT; without http_target NOT_APPLICABLE', () => {
    const { oidc_token: _dropped, ...noToken } = oidcTarget;
    const r = checkBlock(CTP001, queueBlock({ http_target: noToken }));
    expect(r.result).toBe('NON_COMPLIANT');
    expect(r.violations[0]).toMatchObject({
      path: 'google_cloud_tasks_queue.q.http_target',
      message: expect.stringContaining('neither oidc_token nor oauth_token'),
    });
    expect(checkBlock(CTP001, queueBlock({ http_target: oidcTarget })).result).toBe('COMPLIANT');
    expect(checkBlock(CTP001, queueBlock({})).result).toBe('NOT_APPLICABLE');
  });
});

describe('CTP002 secret-in-headers (error)', () => {
  test('a header named like a credential is NON_COMPLIANT by path, and the value is never in the message', () => {
    const s = withStep(0, {
      target: { ...step('preprocess').target, headers: { 'X-Pipeline': 'recsys', 'X-Api-Key': SECRET_MARKER } },
    });
    const r = checkSpec(CTP002, s);
    expect(r.result).toBe('NON_COMPLIANT');
    expect(r.violations.map((v) => v.path)).toEqual(['pipeline.steps[0].target.headers.X-Api-Key']);
    expect(r.violations[0]!.message).toMatch(
      /^header name "X-Api-Key" says it holds an API key; move it to Secret Manager/,
    );
    expect(JSON.stringify(r)).not.toContain(SECRET_MARKER);
  });
  test('a header whose value is a PEM private key is NON_COMPLIANT whatever its name', () => {
    const pem = `-----BEGIN PRIVATE KEY-----${SECRET_MARKER}`;
    const r = checkSpec(CTP002, withStep(0, { target: { ...step('preprocess').target, headers: { 'X-Blob': pem } } }));
    expect(r.violations).toEqual([
      { path: 'pipeline.steps[0].target.headers.X-Blob', message: expect.stringContaining('PEM private key') },
    ]);
    expect(JSON.stringify(r)).not.toContain(SECRET_MARKER);
  });
  test('Authorization-like values under any name, Cookie and Proxy-Authorization are NON_COMPLIANT; ordinary headers pass', () => {
    const basic = `Basic ${Buffer.from(`user:${SECRET_MARKER}`).toString('base64')}`;
    const headers = {
      'X-Pipeline': 'recsys',
      'Content-Type': 'application/json',
      'X-Auth': basic,
      Cookie: `sid=${SECRET_MARKER}`,
      'Proxy-Authorization': `Digest ${SECRET_MARKER}`,
      dbPassWord: SECRET_MARKER,
    };
    const r = checkSpec(CTP002, withStep(0, { target: { ...step('preprocess').target, headers } }));
    expect(r.violations.map((v) => [v.path, v.message.replace(/;.*/, '')])).toEqual([
      ['pipeline.steps[0].target.headers.X-Auth', 'value looks like HTTP Basic credentials (Basic ...)'],
      ['pipeline.steps[0].target.headers.Cookie', 'header name "Cookie" says it holds a session cookie'],
      [
        'pipeline.steps[0].target.headers.Proxy-Authorization',
        'header name "Proxy-Authorization" says it holds credentials',
      ],
      ['pipeline.steps[0].target.headers.dbPassWord', 'header name "dbPassWord" says it holds a password'],
    ]);
    expect(JSON.stringify(r)).not.toContain(SECRET_MARKER);
    expect(JSON.stringify(r)).not.toContain(basic.slice(6));
  });
  test('header_overrides in a queue block are checked by key and value', () => {
    const block = queueBlock({
      http_target: {
        ...oidcTarget,
        header_overrides: [
          { header: { key: 'X-Pipeline', value: 'recsys' } },
          { header: { key: 'X-Auth-Token', value: SECRET_MARKER } },
        ],
      },
    });
    const r = checkBlock(CTP002, block);
    expect(r.violations).toEqual([
      {
        path: 'google_cloud_tasks_queue.q.http_target.header_overrides[1].header.value',
        message: expect.stringContaining('header name "X-Auth-Token" says it holds a token'),
      },
    ]);
    expect(JSON.stringify(r)).not.toContain(SECRET_MARKER);
    expect(checkBlock(CTP002, queueBlock({ http_target: oidcTarget })).result).toBe('COMPLIANT');
  });
});

describe('CTP003 secret-in-seed-payload (error)', () => {
  const withPayload = (payload: unknown): PipelineSpec => ({
    ...spec(),
    pipeline: { ...spec().pipeline, seedTasks: [{ step: 'preprocess', id: 'a', payload }] },
  });
  test('credential keys and token shapes anywhere in a payload, by path, never by value', () => {
    const r = checkSpec(
      CTP003,
      withPayload({
        dataset: 'gs://x',
        hf: { token: SECRET_MARKER },
        keys: [`-----BEGIN RSA PRIVATE KEY-----${SECRET_MARKER}`],
      }),
    );
    expect(r.violations.map((v) => v.path)).toEqual([
      'pipeline.seedTasks[0].payload.hf.token',
      'pipeline.seedTasks[0].payload.keys[0]',
    ]);
    expect(JSON.stringify(r)).not.toContain(SECRET_MARKER);
  });
  test('base64-wrapped secrets, secret URLs and object keys that are secrets are NON_COMPLIANT, never shown', () => {
    const token = 'ghp_' + 'F'.repeat(36);
    const r = checkSpec(
      CTP003,
      withPayload({
        wrapped: Buffer.from(token).toString('base64'),
        callback: `https://api.example.com/cb?access_token=${SECRET_MARKER}`,
        owners: { [token]: 'octocat' },
      }),
    );
    expect(r.violations.map((v) => [v.path, v.message.replace(/;.*/, '')])).toEqual([
      ['pipeline.seedTasks[0].payload.wrapped', 'value looks like a GitHub token (ghp_...), base64-encoded'],
      [
        'pipeline.seedTasks[0].payload.callback',
        `value looks like a token in the URL's query parameter "access_token"`,
      ],
      ['pipeline.seedTasks[0].payload.owners["<redacted key>"]', 'an object key is itself a GitHub token (ghp_...)'],
    ]);
    expect(JSON.stringify(r)).not.toContain(SECRET_MARKER);
    expect(JSON.stringify(r)).not.toContain(token.slice(4));
  });
  test('an NER label under token, auth: none and the like are COMPLIANT', () => {
    const r = checkSpec(
      CTP003,
      withPayload({
        entities: [{ token: 'Paris', label: 'B-LOC' }],
        auth: 'none',
        password_policy: 'min-12',
        secret_santa: 'Bob',
        id_token_field: 'id_token',
        tokenizer: 'bert-base-uncased',
      }),
    );
    expect(r).toEqual({ result: 'COMPLIANT', violations: [] });
  });
  test('tokenizer settings and Secret Manager references are COMPLIANT', () => {
    expect(
      checkSpec(
        CTP003,
        withPayload({ max_tokens: 512, pad_token: '[PAD]', api_key_secret: 'projects/acme/secrets/hf-token' }),
      ).result,
    ).toBe('COMPLIANT');
  });
  test('no seed tasks: NOT_APPLICABLE', () => {
    expect(checkSpec(CTP003, { ...spec(), pipeline: { ...spec().pipeline, seedTasks: [] } }).result).toBe(
      'NOT_APPLICABLE',
    );
  });
});

describe('CTP007 secret-in-target (error)', () => {
  const apiKey = 'AIza' + 'F'.repeat(35);
  test('a key in the URL query, a token in the audience and a secret in the scope are NON_COMPLIANT, never shown', () => {
    const s = spec({}, [
      step('preprocess', {
        target: { ...step('preprocess').target, url: `https://maps.example.com/geo?key=${apiKey}` },
      }),
      step('train', {
        target: { ...step('train').target, audience: `https://train.example.com/?access_token=${SECRET_MARKER}` },
      }),
      step('infer', {
        target: {
          ...step('infer').target,
          auth: 'oauth',
          url: 'https://x.googleapis.com/v1',
          scope: `https://www.googleapis.com/auth/cloud-platform?key=${apiKey}`,
        },
      }),
    ]);
    const r = checkSpec(CTP007, s);
    expect(r.violations.map((v) => [v.path, v.message.replace(/;.*/, '')])).toEqual([
      ['pipeline.steps[0].target.url', 'value looks like a Google API key (AIza...)'],
      ['pipeline.steps[1].target.audience', `value looks like a token in the URL's query parameter "access_token"`],
      ['pipeline.steps[2].target.scope', 'value looks like a Google API key (AIza...)'],
    ]);
    expect(JSON.stringify(r)).not.toContain(SECRET_MARKER);
    expect(JSON.stringify(r)).not.toContain(apiKey.slice(4));
  });
  test('ordinary URLs with a query are COMPLIANT', () => {
    const s = spec({}, [
      step('preprocess', {
        target: { ...step('preprocess').target, url: 'https://preprocess-abc123-uc.a.run.app/tasks?batch=3' },
      }),
    ]);
    expect(checkSpec(CTP007, s).result).toBe('COMPLIANT');
  });
  test('a queue block: uri_override host, path and query, audience and scope are checked', () => {
    const block = queueBlock({
      http_target: {
        ...oidcTarget,
        uri_override: {
          scheme: 'HTTPS',
          host: 'hooks.slack.com',
          path_override: { path: `/services/T0000/B0000/${'f'.repeat(24)}` },
        },
        oidc_token: {
          service_account_email: 'i@p.iam.gserviceaccount.com',
          audience: `https://x/?sig=${SECRET_MARKER}`,
        },
      },
    });
    const r = checkBlock(CTP007, block);
    expect(r.violations.map((v) => [v.path, v.message.replace(/;.*/, '')])).toEqual([
      [
        'google_cloud_tasks_queue.q.http_target.uri_override',
        'value looks like a Slack webhook URL (hooks.slack.com/...)',
      ],
      [
        'google_cloud_tasks_queue.q.http_target.oidc_token.audience',
        `value looks like a URL signature in the URL's query parameter "sig"`,
      ],
    ]);
    expect(JSON.stringify(r)).not.toContain(SECRET_MARKER);
    expect(checkBlock(CTP007, queueBlock({ http_target: oidcTarget })).result).toBe('COMPLIANT');
    expect(checkBlock(CTP007, queueBlock({})).result).toBe('NOT_APPLICABLE');
  });
});

test('the seeder names the same rules as the pack for headers, payloads and targets', () => {
  const byId = new Map(ALL_RULES.map((r) => [r.id, r.name]));
  expect(byId.get(SECRET_RULES.headers)).toBe('secret-in-headers');
  expect(byId.get(SECRET_RULES.payload)).toBe('secret-in-seed-payload');
  expect(byId.get(SECRET_RULES.target)).toBe('secret-in-target');
});

describe('CTP004 unbounded-retries (warning)', () => {
  test('maxAttempts -1 without maxRetryDuration warns with the worst case', () => {
    const r = checkSpec(
      CTP004,
      withStep(1, { retry: { maxAttempts: -1, minBackoffSeconds: 10, maxBackoffSeconds: 300, maxDoublings: 3 } }),
    );
    expect(CTP004.level).toBe('warning');
    expect(r.violations).toEqual([
      {
        path: 'pipeline.steps[1].retry.maxAttempts',
        message:
          '-1 with no maxRetryDuration retries a failing task until Cloud Tasks drops it after 31 days (about 8,933 attempts, one every 300s at most); set maxRetryDuration (e.g. 24h) or a finite maxAttempts, or suppress with a reason',
      },
    ]);
  });
  test('maxAttempts -1 with a maxRetryDuration, or a finite maxAttempts, is COMPLIANT', () => {
    expect(checkSpec(CTP004, withStep(1, { retry: { maxAttempts: -1, maxRetryDurationSeconds: 86400 } })).result).toBe(
      'COMPLIANT',
    );
    expect(checkSpec(CTP004, spec()).result).toBe('COMPLIANT');
  });
  test('worst case follows the Cloud Tasks backoff: 10, 20, 40, 80, 160, 240, then 300s, for 31 days', () => {
    // Attempts 2-7 wait 10+20+40+80+160+240 = 550 s (doubling, then linear); then one every 300 s until 31 days (2,678,400 s).
    expect(attemptsWithinRetention({ minBackoffSeconds: 10, maxBackoffSeconds: 300, maxDoublings: 3 })).toBe(
      7 + Math.floor((2678400 - 550) / 300),
    );
    expect(attemptsWithinRetention({ minBackoffSeconds: 0, maxBackoffSeconds: 0 })).toBeUndefined();
  });
  test('queue blocks: max_attempts -1 with max_retry_duration "0s" warns; "3600s" is COMPLIANT', () => {
    const r = checkBlock(
      CTP004,
      queueBlock({
        retry_config: { max_attempts: -1, max_retry_duration: '0s', max_backoff: '60s', min_backoff: '60s' },
      }),
    );
    expect(r.violations).toEqual([
      {
        path: 'google_cloud_tasks_queue.q.retry_config.max_attempts',
        message: expect.stringContaining('one every 60s at most'),
      },
    ]);
    expect(
      checkBlock(CTP004, queueBlock({ retry_config: { max_attempts: -1, max_retry_duration: '3600s' } })).result,
    ).toBe('COMPLIANT');
  });
});

describe('CTP005 oauth-non-google-host (error)', () => {
  test('oauth towards a non-Google host is NON_COMPLIANT and names the host', () => {
    const s = withStep(0, {
      target: { ...step('preprocess').target, auth: 'oauth', url: 'https://api.example.com/tasks' },
    });
    expect(checkSpec(CTP005, s).violations).toEqual([
      {
        path: 'pipeline.steps[0].target.auth',
        message: expect.stringContaining('to api.example.com, which is not a *.googleapis.com API'),
      },
    ]);
  });
  test('oauth towards *.googleapis.com is COMPLIANT; no oauth step is NOT_APPLICABLE', () => {
    const s = withStep(0, {
      target: { ...step('preprocess').target, auth: 'oauth', url: 'https://aiplatform.googleapis.com/v1/x:predict' },
    });
    expect(checkSpec(CTP005, s).result).toBe('COMPLIANT');
    expect(checkSpec(CTP005, spec()).result).toBe('NOT_APPLICABLE');
  });
  test('queue blocks with oauth_token: the uri_override host decides', () => {
    const target = (host: string) => ({
      http_method: 'POST',
      uri_override: { host },
      oauth_token: { service_account_email: 'i@p.iam.gserviceaccount.com' },
    });
    expect(checkBlock(CTP005, queueBlock({ http_target: target('evil.example.com') })).violations[0]).toMatchObject({
      path: 'google_cloud_tasks_queue.q.http_target.oauth_token',
    });
    expect(checkBlock(CTP005, queueBlock({ http_target: target('pubsub.googleapis.com') })).result).toBe('COMPLIANT');
  });
});

describe('CTP006 required-labels (error, when configured)', () => {
  const required: PolicyConfig = { requiredLabels: ['team', 'cost-center', 'owner'] };
  test('missing labels are listed', () => {
    expect(checkSpec(CTP006, spec(), required).violations).toEqual([
      {
        path: 'labels',
        message: 'missing required label owner (required: team, cost-center, owner); add it under labels',
      },
    ]);
  });
  test('not configured: NOT_APPLICABLE; all present: COMPLIANT', () => {
    expect(checkSpec(CTP006, spec()).result).toBe('NOT_APPLICABLE');
    expect(checkSpec(CTP006, spec(), { requiredLabels: ['team'] }).result).toBe('COMPLIANT');
  });
  test('provider blocks: default_labels', () => {
    const provider: TerraformBlock = {
      kind: 'provider',
      type: 'google',
      address: 'provider.google',
      constructPath: 's/google',
      config: { default_labels: { team: 'ml' } },
    };
    expect(checkBlock(CTP006, provider, required).violations).toEqual([
      {
        path: 'provider.google.default_labels',
        message:
          "missing required labels cost-center, owner (required: team, cost-center, owner); add them to the provider's defaultLabels",
      },
    ]);
  });
});
