import { formatPath, shortValue } from '../../lib/core/problem';
import { STEP_PRESETS } from '../../lib/spec/presets';
import type { PipelineSpec } from '../../lib/spec/types';
import { pipelineProblems } from '../../lib/spec/validate';
import { NOW, mutableSpec, validSpec, type Mutable } from './fixtures';
import { queueNameFor, taskIdFor } from '../../lib/core/naming';
import { LIMITS, storedTaskSizeBytes } from '../../lib/core/rules/cloud-tasks';

type Spec = Mutable<PipelineSpec>;
/** A problem as an error shows it: the path printed (`pipeline.steps[1].name`), the value shortened. */
interface PrintedProblem {
  readonly path: string;
  readonly value?: unknown;
  readonly message: string;
}
const problemsOf = (change: (s: Spec) => void): PrintedProblem[] => {
  const spec = mutableSpec();
  change(spec);
  return pipelineProblems(spec as PipelineSpec, { now: NOW }).map((p) => ({
    path: formatPath(p.path),
    ...(p.value !== undefined ? { value: shortValue(p.value) } : {}),
    message: p.message,
  }));
};
const step = (s: Spec, i: number) => s.pipeline.steps[i];
const daysFromNow = (days: number): string => new Date(NOW.getTime() + days * 86400_000).toISOString();
/** Renames step i and the references to it. */
const rename = (s: Spec, i: number, name: string): void => {
  const old = s.pipeline.steps[i].name;
  s.pipeline.steps[i].name = name;
  for (const st of s.pipeline.steps) st.next = st.next.map((n) => (n === old ? name : n));
  for (const t of s.pipeline.seedTasks) if (t.step === old) t.step = name;
};

describe('pipelineProblems', () => {
  test('GIVEN the valid fixture THEN there are no problems', () => {
    expect(pipelineProblems(validSpec(), { now: NOW })).toEqual([]);
  });

  test.each(Object.keys(STEP_PRESETS) as Array<keyof typeof STEP_PRESETS>)(
    'every value of preset %s is inside the Cloud Tasks limits',
    (preset) => {
      const values = STEP_PRESETS[preset];
      expect(
        problemsOf((s) => {
          Object.assign(step(s, 0), { preset, ...structuredClone(values) });
        }),
      ).toEqual([]);
    },
  );

  // Values at the edge of each rule that must be accepted.
  const good: Array<[string, (s: Spec) => void]> = [
    ['rate at the 500/s limit', (s) => (step(s, 0).rateLimits.maxDispatchesPerSecond = 500)],
    ['a fractional rate', (s) => (step(s, 0).rateLimits.maxDispatchesPerSecond = 0.5)],
    ['concurrency at the 5,000 limit', (s) => (step(s, 0).rateLimits.maxConcurrentDispatches = 5000)],
    ['unlimited attempts (-1)', (s) => (step(s, 0).retry.maxAttempts = -1)],
    ['one attempt', (s) => (step(s, 0).retry.maxAttempts = 1)],
    [
      'minBackoff equal to maxBackoff',
      (s) => Object.assign(step(s, 0).retry, { minBackoffSeconds: 60, maxBackoffSeconds: 60 }),
    ],
    ['maxDoublings 0', (s) => (step(s, 0).retry.maxDoublings = 0)],
    ['no retry or rate settings (service defaults)', (s) => Object.assign(step(s, 0), { retry: {}, rateLimits: {} })],
    ['minBackoff alone, under the 3600s default maxBackoff', (s) => (step(s, 0).retry = { minBackoffSeconds: 3600 })],
    ['dispatch deadline 15s', (s) => (step(s, 0).dispatchDeadlineSeconds = 15)],
    ['dispatch deadline 30m', (s) => (step(s, 0).dispatchDeadlineSeconds = 1800)],
    ['sampling ratio 0', (s) => (step(s, 0).logSamplingRatio = 0)],
    [
      'oauth to a googleapis.com host',
      (s) =>
        Object.assign(step(s, 0).target, {
          auth: 'oauth',
          url: 'https://aiplatform.googleapis.com/v1/x',
          scope: 'https://www.googleapis.com/auth/cloud-platform',
        }),
    ],
    ['auth none', (s) => (step(s, 0).target.auth = 'none')],
    ['an https audience with oidc', (s) => (step(s, 0).target.audience = 'https://preprocess-abc123-uc.a.run.app')],
    ['local url on 127.0.0.1', (s) => (step(s, 0).local = { url: 'http://127.0.0.1:8080/tasks' })],
    ['local url on localhost', (s) => (step(s, 0).local = { url: 'http://localhost:8080/tasks' })],
    ['local url on [::1] over https', (s) => (step(s, 0).local = { url: 'https://[::1]:8443/tasks' })],
    ['scheduleTime exactly 30 days ahead', (s) => (s.pipeline.seedTasks[0].scheduleTime = daysFromNow(30))],
    [
      'scheduleTime with an offset and fraction',
      (s) => (s.pipeline.seedTasks[0].scheduleTime = '2026-11-21T01:00:00.123+01:00'),
    ],
    ['payload with PUT', (s) => (step(s, 0).target.method = 'PUT')],
    ['payload with PATCH', (s) => (step(s, 0).target.method = 'PATCH')],
    [
      'GET without payload',
      (s) => {
        step(s, 0).target.method = 'GET';
        s.pipeline.seedTasks[0].payload = undefined;
      },
    ],
    ['a queue id of exactly 100 characters', (s) => rename(s, 2, `i${'n'.repeat(87)}`)],
    ['a seed id of 483 characters (task id 500)', (s) => (s.pipeline.seedTasks[0].id = 'a'.repeat(483))],
    [
      '64 labels, international lower case',
      (s) => {
        s.labels = Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`k${i}`, 'v']));
        s.labels.k0 = 'café';
      },
    ],
    ['a fan-in DAG (two steps into one)', (s) => (step(s, 0).next = ['train', 'infer'])],
    [
      'deployer: every IAM member type a deploy can run as',
      (s) =>
        (s.deployer = [
          'serviceAccount:pipelines-deployer@acme-ml-prod.iam.gserviceaccount.com',
          'serviceAccount:123456789-compute@developer.gserviceaccount.com',
          'user:alice@example.com',
          'group:ml-deployers@example.com',
          'domain:example.com',
          'principal://iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/github/subject/repo:acme/x:environment:prod',
          'principalSet://iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/github/attribute.environment/prod',
        ]),
    ],
    ['an empty deployer list', (s) => (s.deployer = [])],
    [
      '1,000 steps',
      (s) => {
        s.pipeline.steps = Array.from({ length: 1000 }, (_, i) => ({ ...structuredClone(step(s, 2)), name: `s${i}` }));
        s.pipeline.seedTasks = [];
      },
    ],
  ];
  test.each(good)('accepts %s', (_, change) => {
    expect(problemsOf(change)).toEqual([]);
  });

  test('GIVEN a scheduleTime in the past THEN a warning, not an error: it means "dispatch at once", or a typo', () => {
    const spec = mutableSpec();
    spec.pipeline.seedTasks[0].scheduleTime = '2020-01-01T00:00:00Z';
    expect(pipelineProblems(spec as PipelineSpec, { now: NOW })).toEqual([
      {
        path: ['pipeline', 'seedTasks', 0, 'scheduleTime'],
        value: '2020-01-01T00:00:00Z',
        severity: 'warning',
        message: expect.stringMatching(
          /^"2020-01-01T00:00:00Z" is in the past \(\d+\.\d days ago\): Cloud Tasks dispatches the task as soon as it is created/,
        ),
      },
    ]);
  });

  const URL0 = 'https://preprocess-abc123-uc.a.run.app/tasks';
  const NAME_HINT = 'use lower-case letters, digits and hyphens, starting with a letter and not ending with a hyphen';

  // One row per rule: what breaks it, and the exact path, value and rule text reported.
  const bad: Array<[string, (s: Spec) => void, PrintedProblem]> = [
    // Rate limits (queue.proto RateLimits)
    [
      'rate 0',
      (s) => (step(s, 0).rateLimits.maxDispatchesPerSecond = 0),
      { path: 'pipeline.steps[0].rateLimits.maxDispatchesPerSecond', value: 0, message: '0 must be greater than 0' },
    ],
    [
      'rate over 500',
      (s) => (step(s, 1).rateLimits.maxDispatchesPerSecond = 900),
      {
        path: 'pipeline.steps[1].rateLimits.maxDispatchesPerSecond',
        value: 900,
        message: "900 exceeds Cloud Tasks' limit of 500 per queue",
      },
    ],
    [
      'concurrency over 5,000',
      (s) => (step(s, 0).rateLimits.maxConcurrentDispatches = 5001),
      {
        path: 'pipeline.steps[0].rateLimits.maxConcurrentDispatches',
        value: 5001,
        message: "5,001 exceeds Cloud Tasks' limit of 5,000 concurrent dispatches per queue",
      },
    ],
    [
      'concurrency 0',
      (s) => (step(s, 0).rateLimits.maxConcurrentDispatches = 0),
      {
        path: 'pipeline.steps[0].rateLimits.maxConcurrentDispatches',
        value: 0,
        message: '0 must be a whole number of at least 1',
      },
    ],
    // Retry config (queue.proto RetryConfig)
    [
      'maxAttempts 0',
      (s) => (step(s, 0).retry.maxAttempts = 0),
      {
        path: 'pipeline.steps[0].retry.maxAttempts',
        value: 0,
        message: '0 is not allowed: use a whole number of at least 1, or -1 for unlimited attempts',
      },
    ],
    [
      'maxAttempts -2',
      (s) => (step(s, 0).retry.maxAttempts = -2),
      {
        path: 'pipeline.steps[0].retry.maxAttempts',
        value: -2,
        message: '-2 is not allowed: use a whole number of at least 1, or -1 for unlimited attempts',
      },
    ],
    [
      'maxDoublings -1',
      (s) => (step(s, 0).retry.maxDoublings = -1),
      { path: 'pipeline.steps[0].retry.maxDoublings', value: -1, message: '-1 must be a whole number of at least 0' },
    ],
    [
      'negative maxRetryDuration (TypeScript)',
      (s) => (step(s, 0).retry.maxRetryDurationSeconds = -5),
      { path: 'pipeline.steps[0].retry.maxRetryDuration', value: -5, message: '-5 must not be negative' },
    ],
    [
      'minBackoff over maxBackoff',
      (s) => Object.assign(step(s, 1).retry, { minBackoffSeconds: 700, maxBackoffSeconds: 600 }),
      {
        path: 'pipeline.steps[1].retry.minBackoff',
        value: 700,
        message: '700s is greater than maxBackoff 600s; Cloud Tasks requires minBackoff <= maxBackoff',
      },
    ],
    [
      'minBackoff alone over the default maxBackoff',
      (s) => (step(s, 0).retry = { minBackoffSeconds: 7200 }),
      {
        path: 'pipeline.steps[0].retry.minBackoff',
        value: 7200,
        message:
          '7200s is greater than maxBackoff 3600s; Cloud Tasks requires minBackoff <= maxBackoff (maxBackoff is not set, so the Cloud Tasks default 3600s applies): set maxBackoff too',
      },
    ],
    // Dispatch deadline (task.proto) and logging (queue.proto StackdriverLoggingConfig)
    [
      'dispatch deadline 14s',
      (s) => (step(s, 0).dispatchDeadlineSeconds = 14),
      {
        path: 'pipeline.steps[0].dispatchDeadline',
        value: 14,
        message: "14s is outside Cloud Tasks' range for HTTP dispatch deadlines, 15s to 1800s (30m)",
      },
    ],
    [
      'dispatch deadline 1801s',
      (s) => (step(s, 0).dispatchDeadlineSeconds = 1801),
      {
        path: 'pipeline.steps[0].dispatchDeadline',
        value: 1801,
        message: "1801s is outside Cloud Tasks' range for HTTP dispatch deadlines, 15s to 1800s (30m)",
      },
    ],
    [
      'sampling ratio 1.5',
      (s) => (step(s, 0).logSamplingRatio = 1.5),
      {
        path: 'pipeline.steps[0].logSamplingRatio',
        value: 1.5,
        message: '1.5 is outside the sampling ratio range 0.0 to 1.0',
      },
    ],
    [
      'sampling ratio -0.1',
      (s) => (step(s, 2).logSamplingRatio = -0.1),
      {
        path: 'pipeline.steps[2].logSamplingRatio',
        value: -0.1,
        message: '-0.1 is outside the sampling ratio range 0.0 to 1.0',
      },
    ],
    // Names
    [
      'pipeline name with upper case',
      (s) => (s.pipeline.name = 'RecSys'),
      { path: 'pipeline.name', value: 'RecSys', message: `"RecSys" is not a valid pipeline name: ${NAME_HINT}` },
    ],
    [
      'environment with an underscore',
      (s) => (s.environment = 'prod_1'),
      { path: 'environment', value: 'prod_1', message: `"prod_1" is not a valid environment name: ${NAME_HINT}` },
    ],
    [
      'step name ending with a hyphen',
      (s) => rename(s, 2, 'infer-'),
      { path: 'pipeline.steps[2].name', value: 'infer-', message: `"infer-" is not a valid step name: ${NAME_HINT}` },
    ],
    [
      'queue id over 100 characters',
      (s) => rename(s, 2, `i${'n'.repeat(89)}`),
      {
        path: 'pipeline.steps[2].name',
        value: `"i${'n'.repeat(58)}... (92 characters)`,
        message: `queue id "recsys-prod-i${'n'.repeat(47)}..." is 102 characters; Cloud Tasks queue ids are at most 100: shorten pipeline.name (6 characters), environment (4) or this step name (90) by 2 characters in total`,
      },
    ],
    [
      'duplicate step names',
      (s) => s.pipeline.steps.push({ ...structuredClone(step(s, 2)), name: 'preprocess' }),
      {
        path: 'pipeline.steps[3].name',
        value: 'preprocess',
        message:
          '"preprocess" is already the name of pipeline.steps[0]; step names must be unique (each names a queue)',
      },
    ],
    [
      'no steps',
      (s) => {
        s.pipeline.steps = [];
        s.pipeline.seedTasks = [];
      },
      { path: 'pipeline.steps', value: '[]', message: 'a pipeline needs at least one step' },
    ],
    [
      '1,001 steps (queues per region)',
      (s) => {
        s.pipeline.steps = Array.from({ length: 1001 }, (_, i) => ({ ...structuredClone(step(s, 2)), name: `s${i}` }));
        s.pipeline.seedTasks = [];
      },
      {
        path: 'pipeline.steps',
        value: '1001 steps',
        message: '1001 steps need 1001 queues; Cloud Tasks allows at most 1,000 queues per project per region',
      },
    ],
    // Project, region, labels, backend, monitoring
    [
      'project id with upper case',
      (s) => (s.project = 'Acme-ml'),
      {
        path: 'project',
        value: 'Acme-ml',
        message:
          '"Acme-ml" is not a valid Google Cloud project id: 6-30 lower-case letters, digits and hyphens, starting with a letter and not ending with a hyphen',
      },
    ],
    [
      'region that is not a location',
      (s) => (s.region = 'us-central'),
      {
        path: 'region',
        value: 'us-central',
        message: '"us-central" is not a Cloud Tasks location: use a region name such as us-central1',
      },
    ],
    [
      'label key with upper case',
      (s) => (s.labels = { Team: 'ml' }),
      {
        path: 'labels.Team',
        value: 'Team',
        message:
          'label key "Team" is not valid: 1-63 lower-case letters, digits, underscores and hyphens, starting with a lower-case letter',
      },
    ],
    [
      'label value with a dot',
      (s) => (s.labels = { version: '1.2' }),
      {
        path: 'labels.version',
        value: '1.2',
        message:
          'label value "1.2" is not valid: at most 63 lower-case letters, digits, underscores and hyphens (quote numbers in YAML)',
      },
    ],
    [
      '65 labels',
      (s) => (s.labels = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v']))),
      { path: 'labels', value: '65 labels', message: '65 labels; Google Cloud allows at most 64 per resource' },
    ],
    [
      'bucket with upper case',
      (s) => (s.backend = { gcs: { bucket: 'Acme-State' } }),
      {
        path: 'backend.gcs.bucket',
        value: 'Acme-State',
        message:
          '"Acme-State" is not a valid Cloud Storage bucket name: 3-63 lower-case letters, digits, hyphens, underscores and dots, starting and ending with a letter or digit',
      },
    ],
    [
      'notification channel id alone',
      (s) => (s.monitoring = { notificationChannels: ['123'] }),
      {
        path: 'monitoring.notificationChannels[0]',
        value: '123',
        message: '"123" is not a notification channel name: use projects/<project>/notificationChannels/<id>',
      },
    ],
    // Deploy identities (IAM principal identifiers)
    [
      'deployer: a bare service account e-mail',
      (s) => (s.deployer = ['deploy@acme-ml-prod.iam.gserviceaccount.com']),
      {
        path: 'deployer[0]',
        value: 'deploy@acme-ml-prod.iam.gserviceaccount.com',
        message:
          '"deploy@acme-ml-prod.iam.gserviceaccount.com" is not an IAM member: a bare e-mail needs its IAM type; write serviceAccount:deploy@acme-ml-prod.iam.gserviceaccount.com',
      },
    ],
    [
      'deployer: a bare personal e-mail',
      (s) => (s.deployer = ['serviceAccount:ci@acme-ml-prod.iam.gserviceaccount.com', 'alice@example.com']),
      {
        path: 'deployer[1]',
        value: 'alice@example.com',
        message:
          '"alice@example.com" is not an IAM member: a bare e-mail needs its IAM type; write user:alice@example.com (a person) or group:alice@example.com (a Google group)',
      },
    ],
    [
      'deployer: a type in the wrong case',
      (s) => (s.deployer = ['serviceaccount:deploy@acme-ml-prod.iam.gserviceaccount.com']),
      {
        path: 'deployer[0]',
        value: 'serviceaccount:deploy@acme-ml-prod.iam.gserviceaccount.com',
        message:
          '"serviceaccount:deploy@acme-ml-prod.iam.gserviceaccount.com" is not an IAM member: IAM types are case-sensitive; write serviceAccount:deploy@acme-ml-prod.iam.gserviceaccount.com',
      },
    ],
    [
      'deployer: serviceAccount: with a personal e-mail',
      (s) => (s.deployer = ['serviceAccount:alice@example.com']),
      {
        path: 'deployer[0]',
        value: 'serviceAccount:alice@example.com',
        message:
          '"serviceAccount:alice@example.com" is not an IAM member: a service account e-mail ends in .gserviceaccount.com; for a person write user:alice@example.com',
      },
    ],
    [
      'deployer: user: without an e-mail',
      (s) => (s.deployer = ['user:alice']),
      {
        path: 'deployer[0]',
        value: 'user:alice',
        message: '"user:alice" is not an IAM member: user: takes an e-mail address, e.g. user:alice@example.com',
      },
    ],
    [
      'deployer: domain: without a domain',
      (s) => (s.deployer = ['domain:example']),
      {
        path: 'deployer[0]',
        value: 'domain:example',
        message: '"domain:example" is not an IAM member: domain: takes a domain name, e.g. domain:example.com',
      },
    ],
    [
      'deployer: principalSet: without a URI',
      (s) => (s.deployer = ['principalSet:github']),
      {
        path: 'deployer[0]',
        value: 'principalSet:github',
        message:
          '"principalSet:github" is not an IAM member: principalSet: takes a URI, e.g. principalSet://iam.googleapis.com/projects/<number>/locations/global/workloadIdentityPools/<pool>/...',
      },
    ],
    [
      'deployer: allUsers',
      (s) => (s.deployer = ['allUsers']),
      {
        path: 'deployer[0]',
        value: 'allUsers',
        message:
          '"allUsers" would give the role to anyone: name the identities that need it (serviceAccount:<email>, user:<email>, group:<email>, domain:<domain>, principal://... or principalSet://...)',
      },
    ],
    [
      'deployer: an unknown type',
      (s) => (s.deployer = ['robot:deploy']),
      {
        path: 'deployer[0]',
        value: 'robot:deploy',
        message:
          '"robot:deploy" is not an IAM member: use serviceAccount:<email>, user:<email>, group:<email>, domain:<domain>, principal://... or principalSet://...',
      },
    ],
    [
      'deployer: a member listed twice',
      (s) => (s.deployer = ['user:alice@example.com', 'group:ml@example.com', 'user:alice@example.com']),
      {
        path: 'deployer[2]',
        value: 'user:alice@example.com',
        message: '"user:alice@example.com" is already deployer[0]; list each deploy identity once',
      },
    ],
    // Target (target.proto)
    [
      'http target url',
      (s) => (step(s, 0).target.url = 'http://preprocess-abc123-uc.a.run.app/tasks'),
      {
        path: 'pipeline.steps[0].target.url',
        value: 'http://preprocess-abc123-uc.a.run.app/tasks',
        message:
          '"http://preprocess-abc123-uc.a.run.app/tasks" must use https: tasks carry identity tokens, which must not travel in clear text',
      },
    ],
    [
      'relative target url',
      (s) => (step(s, 0).target.url = '/tasks'),
      { path: 'pipeline.steps[0].target.url', value: '/tasks', message: '"/tasks" is not an absolute URL' },
    ],
    [
      'oauth to a Cloud Run url',
      (s) => (step(s, 0).target.auth = 'oauth'),
      {
        path: 'pipeline.steps[0].target.auth',
        value: 'oauth',
        message:
          'oauth tokens are only for Google APIs on *.googleapis.com, and preprocess-abc123-uc.a.run.app is not one: use auth: oidc (Cloud Run, Cloud Functions, your own endpoints)',
      },
    ],
    [
      'oauth to a look-alike host',
      (s) => Object.assign(step(s, 0).target, { auth: 'oauth', url: 'https://evilgoogleapis.com/x' }),
      {
        path: 'pipeline.steps[0].target.auth',
        value: 'oauth',
        message:
          'oauth tokens are only for Google APIs on *.googleapis.com, and evilgoogleapis.com is not one: use auth: oidc (Cloud Run, Cloud Functions, your own endpoints)',
      },
    ],
    [
      'audience that is not https',
      (s) => (step(s, 0).target.audience = 'http://x.example.com'),
      {
        path: 'pipeline.steps[0].target.audience',
        value: 'http://x.example.com',
        message:
          '"http://x.example.com" must use https: tasks carry identity tokens, which must not travel in clear text',
      },
    ],
    [
      'audience without oidc',
      (s) => Object.assign(step(s, 0).target, { auth: 'none', audience: 'https://x.example.com' }),
      {
        path: 'pipeline.steps[0].target.audience',
        value: 'https://x.example.com',
        message: 'audience is only used with auth: oidc, and this target uses auth: none',
      },
    ],
    [
      'scope without oauth',
      (s) => (step(s, 0).target.scope = 'https://www.googleapis.com/auth/cloud-platform'),
      {
        path: 'pipeline.steps[0].target.scope',
        value: 'https://www.googleapis.com/auth/cloud-platform',
        message: 'scope is only used with auth: oauth, and this target uses auth: oidc',
      },
    ],
    [
      'Authorization header',
      (s) => (step(s, 0).target.headers = { Authorization: 'Bearer abc' }),
      {
        path: 'pipeline.steps[0].target.headers.Authorization',
        value: 'Authorization',
        message:
          'Authorization is set by Cloud Tasks from the OIDC/OAuth token; use target.auth instead of a static header',
      },
    ],
    [
      'reserved X-CloudTasks-* header',
      (s) => (step(s, 0).target.headers = { 'X-CloudTasks-TaskName': 'x' }),
      {
        path: 'pipeline.steps[0].target.headers.X-CloudTasks-TaskName',
        value: 'X-CloudTasks-TaskName',
        message:
          '"X-CloudTasks-TaskName" is reserved by Cloud Tasks (Host, Content-Length, User-Agent, X-Google-*, X-AppEngine-*, X-CloudTasks-* are set by the service)',
      },
    ],
    [
      'reserved Host header',
      (s) => (step(s, 1).target.headers = { host: 'x' }),
      {
        path: 'pipeline.steps[1].target.headers.host',
        value: 'host',
        message:
          '"host" is reserved by Cloud Tasks (Host, Content-Length, User-Agent, X-Google-*, X-AppEngine-*, X-CloudTasks-* are set by the service)',
      },
    ],
    [
      'invalid header name',
      (s) => (step(s, 0).target.headers = { 'Bad Header': 'x' }),
      {
        path: 'pipeline.steps[0].target.headers["Bad Header"]',
        value: 'Bad Header',
        message: '"Bad Header" is not a valid HTTP header name',
      },
    ],
    [
      'unknown method (TypeScript)',
      (s) => (step(s, 0).target.method = 'FETCH' as never),
      {
        path: 'pipeline.steps[0].target.method',
        value: 'FETCH',
        message: '"FETCH" is not an HTTP method Cloud Tasks supports: POST, GET, HEAD, PUT, DELETE, PATCH, OPTIONS',
      },
    ],
    [
      'serviceAccount that is not an e-mail',
      (s) => (step(s, 0).target.serviceAccount = 'worker'),
      {
        path: 'pipeline.steps[0].target.serviceAccount',
        value: 'worker',
        message: '"worker" is not a service account e-mail: write e.g. worker@my-project.iam.gserviceaccount.com',
      },
    ],
    [
      'Cloud Run service with an underscore',
      (s) => (step(s, 0).target.cloudRun = { service: 'pre_process', region: 'us-central1' }),
      {
        path: 'pipeline.steps[0].target.cloudRun.service',
        value: 'pre_process',
        message:
          '"pre_process" is not a Cloud Run service name: at most 49 lower-case letters, digits and hyphens, starting with a letter and not ending with a hyphen',
      },
    ],
    [
      'Cloud Run region that is not a region',
      (s) => (step(s, 0).target.cloudRun = { service: 'preprocess', region: 'central' }),
      {
        path: 'pipeline.steps[0].target.cloudRun.region',
        value: 'central',
        message: '"central" is not a region name such as us-central1',
      },
    ],
    // next: references and the DAG
    [
      'unknown next step',
      (s) => (step(s, 0).next = ['trian']),
      {
        path: 'pipeline.steps[0].next[0]',
        value: 'trian',
        message: '"trian" is not a step of this pipeline (did you mean "train"?); steps: preprocess, train, infer',
      },
    ],
    [
      'a step naming itself',
      (s) => (step(s, 2).next = ['infer']),
      {
        path: 'pipeline.steps[2].next[0]',
        value: 'infer',
        message:
          'step "infer" names itself: a step cannot enqueue into its own queue (Cloud Tasks retries failed tasks already)',
      },
    ],
    [
      'a step listed twice in next',
      (s) => (step(s, 1).next = ['infer', 'infer']),
      { path: 'pipeline.steps[1].next[1]', value: 'infer', message: '"infer" is listed twice in next' },
    ],
    [
      'a two-step cycle',
      (s) => (step(s, 2).next = ['train']),
      {
        path: 'pipeline.steps[1].next[0]',
        value: 'infer',
        message: 'cycle train -> infer -> train: next must form a DAG, or tasks would be enqueued for ever',
      },
    ],
    [
      'a three-step cycle',
      (s) => (step(s, 2).next = ['preprocess']),
      {
        path: 'pipeline.steps[0].next[0]',
        value: 'train',
        message:
          'cycle preprocess -> train -> infer -> preprocess: next must form a DAG, or tasks would be enqueued for ever',
      },
    ],
    // local
    [
      'local url off this machine',
      (s) => (step(s, 0).local = { url: 'http://10.0.0.5:8080/tasks' }),
      {
        path: 'pipeline.steps[0].local.url',
        value: 'http://10.0.0.5:8080/tasks',
        message:
          '"http://10.0.0.5:8080/tasks" must be an http(s) URL on this machine (127.0.0.1, ::1 or localhost): npm run local sends tasks only to local workers',
      },
    ],
    [
      'local url with another scheme',
      (s) => (step(s, 0).local = { url: 'ftp://127.0.0.1/tasks' }),
      {
        path: 'pipeline.steps[0].local.url',
        value: 'ftp://127.0.0.1/tasks',
        message:
          '"ftp://127.0.0.1/tasks" must be an http(s) URL on this machine (127.0.0.1, ::1 or localhost): npm run local sends tasks only to local workers',
      },
    ],
    // Seed tasks
    [
      'seed task for an unknown step',
      (s) => (s.pipeline.seedTasks[0].step = 'preprocesss'),
      {
        path: 'pipeline.seedTasks[0].step',
        value: 'preprocesss',
        message:
          '"preprocesss" is not a step of this pipeline (did you mean "preprocess"?); steps: preprocess, train, infer',
      },
    ],
    [
      'duplicate seed id for one step',
      (s) => s.pipeline.seedTasks.push({ step: 'preprocess', id: 'ingest-2026-11', payload: undefined }),
      {
        path: 'pipeline.seedTasks[1].id',
        value: 'ingest-2026-11',
        message:
          '"ingest-2026-11" is already the id of pipeline.seedTasks[0] for step "preprocess"; seed ids must be unique per step (each becomes a named task)',
      },
    ],
    [
      'seed id with a space',
      (s) => (s.pipeline.seedTasks[0].id = 'ingest 2026'),
      {
        path: 'pipeline.seedTasks[0].id',
        value: 'ingest 2026',
        message: '"ingest 2026" is not a valid Cloud Tasks task id: use only letters, digits, hyphens and underscores',
      },
    ],
    [
      'scheduleTime that is not RFC 3339',
      (s) => (s.pipeline.seedTasks[0].scheduleTime = '2026-12-01 00:00:00'),
      {
        path: 'pipeline.seedTasks[0].scheduleTime',
        value: '2026-12-01 00:00:00',
        message:
          '"2026-12-01 00:00:00" is not a valid RFC 3339 timestamp: write e.g. 2026-12-01T00:00:00Z (a real date, T between date and time, Z or an offset)',
      },
    ],
    [
      'scheduleTime on a day that does not exist',
      (s) => (s.pipeline.seedTasks[0].scheduleTime = '2026-02-30T00:00:00Z'),
      {
        path: 'pipeline.seedTasks[0].scheduleTime',
        value: '2026-02-30T00:00:00Z',
        message:
          '"2026-02-30T00:00:00Z" is not a valid RFC 3339 timestamp: write e.g. 2026-12-01T00:00:00Z (a real date, T between date and time, Z or an offset)',
      },
    ],
    [
      'scheduleTime 31 days ahead',
      (s) => (s.pipeline.seedTasks[0].scheduleTime = daysFromNow(31)),
      {
        path: 'pipeline.seedTasks[0].scheduleTime',
        value: '2026-12-21T12:00:00.000Z',
        message: '2026-12-21T12:00:00.000Z is 31.0 days ahead; Cloud Tasks schedules at most 30 days in the future',
      },
    ],
    [
      'payload with GET',
      (s) => (step(s, 0).target.method = 'GET'),
      {
        path: 'pipeline.seedTasks[0].payload',
        value: '{"dataset":"gs://acme-raw/2026-11/"}',
        message:
          'step "preprocess" uses method GET, and Cloud Tasks sends a body only with POST, PUT, PATCH: remove the payload or change target.method',
      },
    ],
  ];
  test.each(bad)('reports %s', (_, change, expected) => {
    expect(problemsOf(change)).toEqual([expected]);
  });

  test('the task size counts the stored task (name, URL, headers with the JSON content type, body) against 1,048,569 bytes', () => {
    // GIVEN the largest string payload that fits (JSON adds two quotes; the rule counts the longest task name)
    const headers = { 'X-Pipeline': 'recsys', 'Content-Type': 'application/json' };
    let n = LIMITS.maxTaskSizeBytes;
    while (storedTaskSizeBytes({ url: URL0, headers, body: 'x'.repeat(n + 2) }) > LIMITS.maxTaskSizeBytes) n--;
    expect(problemsOf((s) => (s.pipeline.seedTasks[0].payload = 'x'.repeat(n)))).toEqual([]);
    // WHEN it is one byte longer THEN the whole task is measured, and the payload is not printed
    const size = storedTaskSizeBytes({ url: URL0, headers, body: 'x'.repeat(n + 3) }).toLocaleString('en-US');
    expect(problemsOf((s) => (s.pipeline.seedTasks[0].payload = 'x'.repeat(n + 1)))).toEqual([
      {
        path: 'pipeline.seedTasks[0].payload',
        value: `${size} bytes`,
        message: `the task is ${size} bytes as stored (name, times, URL, headers, body); Cloud Tasks' limit for a task is 1,048,569 bytes (1 MB)`,
      },
    ]);
  });

  test('the task id Cloud Tasks sees (hash prefix + seed id) must fit in 500 characters', () => {
    const id = 'a'.repeat(484);
    const taskId = taskIdFor(queueNameFor('acme-ml-prod', 'us-central1', 'recsys-prod-preprocess'), id);
    expect(problemsOf((s) => (s.pipeline.seedTasks[0].id = id))).toEqual([
      {
        path: 'pipeline.seedTasks[0].id',
        value: `${JSON.stringify(id).slice(0, 60)}... (486 characters)`,
        message: `the task id "${taskId.slice(0, 60)}..." is 501 characters; Cloud Tasks task ids are at most 500 (a 17-character hash prefix plus this id): shorten this id to at most 483 characters`,
      },
    ]);
  });

  test('every problem is reported at once, in spec order', () => {
    const problems = problemsOf((s) => {
      s.project = 'x';
      step(s, 0).rateLimits.maxDispatchesPerSecond = 900;
      step(s, 2).dispatchDeadlineSeconds = 5;
      s.pipeline.seedTasks[0].step = 'nope';
    });
    expect(problems.map((p) => p.path)).toEqual([
      'project',
      'pipeline.steps[0].rateLimits.maxDispatchesPerSecond',
      'pipeline.steps[2].dispatchDeadline',
      'pipeline.seedTasks[0].step',
    ]);
  });

  test('a long payload value is shortened in the problem, never kept whole', () => {
    const problems = problemsOf((s) => {
      step(s, 0).target.method = 'GET';
      s.pipeline.seedTasks[0].payload = { blob: 'y'.repeat(10_000) };
    });
    expect(problems).toHaveLength(1);
    expect(String(problems[0].value).length).toBeLessThan(100);
    expect(problems[0].value).toMatch(/^\{"blob":"yyyy.*\.\.\. \(10011 characters\)$/);
  });
});
