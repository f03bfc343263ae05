/**
 * The seeder's secret check on a manifest: the policy pack's detector and rule ids, and the spec's suppressions
 * carried in `secretsAllowed`, built by synth's manifest builder.
 */
import { formatPath } from '../../lib/core/problem';
import { buildSeedManifest } from '../../lib/constructs/build-manifest';
import { checkManifestSecrets } from '../../lib/seeder/secret-check';
import { validateManifest } from '../../lib/seeder/validate';
import { pipelineSpec } from '../constructs/fixtures';
import { manifestOf, seedTask } from './fixtures';

const TOKEN = 'ghp_' + 'F'.repeat(30) + 'AKE123';

test('GIVEN secrets in headers, body, url, audience and scope THEN each is found under its rule, without the value', () => {
  const manifest = manifestOf([
    seedTask('a', {
      httpRequest: {
        url: `https://x.example.com/p?access_token=${TOKEN}`,
        headers: { 'Content-Type': 'application/json', Cookie: 'sid=fake-session' },
        body: JSON.stringify({ model: 'bert-base-uncased', max_tokens: 512, creds: { password: 'fake-pass' } }),
        oidcToken: {
          serviceAccountEmail: 'i@demo-project.iam.gserviceaccount.com',
          audience: `https://x/?key=${TOKEN}`,
        },
      },
    }),
    seedTask('b', {
      httpRequest: {
        oidcToken: undefined,
        oauthToken: { serviceAccountEmail: 'i@demo-project.iam.gserviceaccount.com', scope: TOKEN },
        body: 'not json, but a bearer: Bearer ' + 'F'.repeat(30),
      },
    }),
  ]);
  const { refused, allowed } = checkManifestSecrets(manifest);
  expect(refused.map((f) => [f.rule, formatPath(f.path)])).toEqual([
    ['CTP002', 'tasks[0].httpRequest.headers.Cookie'],
    ['CTP003', 'tasks[0].httpRequest.body.creds.password'],
    ['CTP007', 'tasks[0].httpRequest.url'],
    ['CTP007', 'tasks[0].httpRequest.oidcToken.audience'],
    ['CTP003', 'tasks[1].httpRequest.body'],
    ['CTP007', 'tasks[1].httpRequest.oauthToken.scope'],
  ]);
  expect(allowed).toEqual([]);
  expect(JSON.stringify(refused)).not.toContain(TOKEN.slice(4));
  expect(JSON.stringify(refused)).not.toContain('fake-');
});

test('GIVEN an ordinary manifest THEN nothing is found', () => {
  expect(checkManifestSecrets(manifestOf([seedTask('a'), seedTask('b')]))).toEqual({ refused: [], allowed: [] });
});

test('GIVEN a spec that suppresses CTP002 THEN the manifest carries it, and the seeder lets header findings through only', () => {
  const base = pipelineSpec();
  const spec = {
    ...base,
    policy: {
      suppress: [
        { rule: 'CTP002', reason: 'demo key of a public sandbox, rotated daily' },
        { rule: 'CTP004', reason: 'idempotent warm-up, retried until it works' },
      ],
    },
    pipeline: {
      ...base.pipeline,
      steps: base.pipeline.steps.map((s, i) =>
        i === 0 ? { ...s, target: { ...s.target, headers: { 'X-Api-Key': 'fake-demo-key' } } } : s,
      ),
    },
  };
  const manifest = buildSeedManifest(spec);
  expect(manifest.secretsAllowed).toEqual([{ rule: 'CTP002', reason: 'demo key of a public sandbox, rotated daily' }]);
  expect(validateManifest(JSON.parse(JSON.stringify(manifest)), new Date('2026-01-15T00:00:00Z')).ok).toBe(true);

  const check = checkManifestSecrets(manifest);
  expect(check.refused).toEqual([]);
  expect(check.allowed).toEqual([
    {
      rule: 'CTP002',
      reason: 'demo key of a public sandbox, rotated daily',
      count: manifest.tasks.filter((t) => t.step === 'preprocess').length,
    },
  ]);

  // The suppression covers headers only: a token put into a body after synth is still refused.
  const edited = {
    ...manifest,
    tasks: manifest.tasks.map((t, i) =>
      i === 0 ? { ...t, httpRequest: { ...t.httpRequest, body: JSON.stringify({ t: TOKEN }) } } : t,
    ),
  };
  expect(checkManifestSecrets(edited).refused.map((f) => [f.rule, formatPath(f.path)])).toEqual([
    ['CTP003', 'tasks[0].httpRequest.body.t'],
  ]);
});

test('GIVEN a spec without secret suppressions THEN the manifest has no secretsAllowed field (its hash is unchanged)', () => {
  expect('secretsAllowed' in buildSeedManifest(pipelineSpec())).toBe(false);
});
