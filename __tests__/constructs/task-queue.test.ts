import { TerraformStack, Testing } from '../../lib/cdktf/core';
import { TaskQueue, type TaskQueueProps } from '../../lib/constructs/task-queue';

type Json = Record<string, any>;

function synthQueue(
  props: Partial<TaskQueueProps> = {},
  grants: string[] = [],
): { queue: Json; json: Json; construct: TaskQueue } {
  const stack = new TerraformStack(Testing.app(), 'test');
  const construct = new TaskQueue(stack, 'queue-train', {
    queueId: 'recsys-dev-train',
    project: 'ml-platform-dev',
    location: 'us-central1',
    httpTarget: {
      url: 'https://train.example.com/run',
      serviceAccountEmail: 'inv@ml-platform-dev.iam.gserviceaccount.com',
    },
    ...props,
  });
  for (const g of grants) construct.grantEnqueue(g);
  const json = JSON.parse(Testing.synth(stack));
  const queues = Object.values(json.resource.google_cloud_tasks_queue as Json);
  expect(queues).toHaveLength(1);
  return { queue: queues[0] as Json, json, construct };
}

describe('TaskQueue: queue configuration', () => {
  test('GIVEN rate limits and retry in seconds WHEN synthesized THEN durations are "Ns" strings and counts are numbers', () => {
    const { queue } = synthQueue({
      rateLimits: { maxDispatchesPerSecond: 10, maxConcurrentDispatches: 20 },
      retry: {
        maxAttempts: 5,
        minBackoffSeconds: 10,
        maxBackoffSeconds: 600,
        maxDoublings: 3,
        maxRetryDurationSeconds: 3600,
      },
      logSamplingRatio: 0.25,
    });
    expect(queue.name).toBe('recsys-dev-train');
    expect(queue.project).toBe('ml-platform-dev');
    expect(queue.location).toBe('us-central1');
    expect(queue.rate_limits).toEqual({ max_dispatches_per_second: 10, max_concurrent_dispatches: 20 });
    expect(queue.retry_config).toEqual({
      max_attempts: 5,
      min_backoff: '10s',
      max_backoff: '600s',
      max_doublings: 3,
      max_retry_duration: '3600s',
    });
    expect(queue.stackdriver_logging_config).toEqual({ sampling_ratio: 0.25 });
  });

  test('GIVEN only some fields WHEN synthesized THEN unset fields are omitted so the service default applies', () => {
    const { queue } = synthQueue({ rateLimits: { maxDispatchesPerSecond: 5 }, retry: { maxAttempts: -1 } });
    expect(queue.rate_limits).toEqual({ max_dispatches_per_second: 5 });
    expect(queue.retry_config).toEqual({ max_attempts: -1 });
  });

  test('GIVEN no limits, retry or sampling ratio WHEN synthesized THEN those blocks are absent', () => {
    const { queue } = synthQueue({ rateLimits: {}, retry: {} });
    expect(queue).not.toHaveProperty('rate_limits');
    expect(queue).not.toHaveProperty('retry_config');
    expect(queue).not.toHaveProperty('stackdriver_logging_config');
  });

  test('exposes queueId, the full queueName and the dispatch deadline (default 600 s)', () => {
    const { construct } = synthQueue();
    expect(construct.queueId).toBe('recsys-dev-train');
    expect(construct.queueName).toBe('projects/ml-platform-dev/locations/us-central1/queues/recsys-dev-train');
    expect(construct.dispatchDeadlineSeconds).toBe(600);
  });
});

describe('TaskQueue: http_target', () => {
  test('GIVEN a URL with port, path and query THEN uri_override carries each part and is enforced ALWAYS', () => {
    const { queue } = synthQueue({
      httpTarget: {
        url: 'https://trainer.example.com:8443/v1/train?mode=full&shard=all',
        method: 'PUT',
        serviceAccountEmail: 'inv@ml-platform-dev.iam.gserviceaccount.com',
      },
    });
    expect(queue.http_target.http_method).toBe('PUT');
    expect(queue.http_target.uri_override).toEqual({
      scheme: 'HTTPS',
      host: 'trainer.example.com',
      port: '8443',
      path_override: { path: '/v1/train' },
      query_override: { query_params: 'mode=full&shard=all' },
      uri_override_enforce_mode: 'ALWAYS',
    });
  });

  test('GIVEN a URL on the default port without query THEN port and query_override are omitted', () => {
    const { queue } = synthQueue();
    expect(queue.http_target.uri_override).toEqual({
      scheme: 'HTTPS',
      host: 'train.example.com',
      path_override: { path: '/run' },
      uri_override_enforce_mode: 'ALWAYS',
    });
    expect(queue.http_target.http_method).toBe('POST');
  });

  test('GIVEN oidc (the default) THEN oidc_token has the account and the URL without query as audience', () => {
    const { queue } = synthQueue({
      httpTarget: {
        url: 'https://w.example.com/a?x=1',
        serviceAccountEmail: 'inv@ml-platform-dev.iam.gserviceaccount.com',
      },
    });
    expect(queue.http_target.oidc_token).toEqual({
      service_account_email: 'inv@ml-platform-dev.iam.gserviceaccount.com',
      audience: 'https://w.example.com/a',
    });
    expect(queue.http_target).not.toHaveProperty('oauth_token');
  });

  test('GIVEN oidc with an explicit audience THEN that audience is used', () => {
    const { queue } = synthQueue({
      httpTarget: {
        url: 'https://w.example.com/a',
        audience: 'https://w.example.com',
        serviceAccountEmail: 'inv@ml-platform-dev.iam.gserviceaccount.com',
      },
    });
    expect(queue.http_target.oidc_token.audience).toBe('https://w.example.com');
  });

  test('GIVEN oauth to a googleapis.com host THEN oauth_token with the cloud-platform scope by default', () => {
    const { queue } = synthQueue({
      httpTarget: {
        url: 'https://aiplatform.googleapis.com/v1/x:predict',
        auth: 'oauth',
        serviceAccountEmail: 'inv@ml-platform-dev.iam.gserviceaccount.com',
      },
    });
    expect(queue.http_target.oauth_token).toEqual({
      service_account_email: 'inv@ml-platform-dev.iam.gserviceaccount.com',
      scope: 'https://www.googleapis.com/auth/cloud-platform',
    });
    expect(queue.http_target).not.toHaveProperty('oidc_token');
  });

  test('GIVEN auth none THEN no token block at all', () => {
    const { queue } = synthQueue({ httpTarget: { url: 'https://public.example.com/hook', auth: 'none' } });
    expect(queue.http_target).not.toHaveProperty('oidc_token');
    expect(queue.http_target).not.toHaveProperty('oauth_token');
  });

  test('GIVEN headers THEN one header_overrides entry per header', () => {
    const { queue } = synthQueue({
      httpTarget: {
        url: 'https://w.example.com/a',
        headers: { 'X-Pipeline': 'recsys', 'X-Step': 'train' },
        serviceAccountEmail: 'inv@ml-platform-dev.iam.gserviceaccount.com',
      },
    });
    expect(queue.http_target.header_overrides).toEqual([
      { header: { key: 'X-Pipeline', value: 'recsys' } },
      { header: { key: 'X-Step', value: 'train' } },
    ]);
  });
});

describe('TaskQueue: grantEnqueue', () => {
  test('GIVEN a member WHEN granted THEN roles/cloudtasks.enqueuer on this queue only, by reference to the queue', () => {
    const { json } = synthQueue({}, ['serviceAccount:w@ml-platform-dev.iam.gserviceaccount.com']);
    const bindings = Object.values(json.resource.google_cloud_tasks_queue_iam_member as Json);
    expect(bindings).toEqual([
      {
        project: 'ml-platform-dev',
        location: 'us-central1',
        name: expect.stringMatching(/^\$\{google_cloud_tasks_queue\.[\w-]+\.name\}$/),
        role: 'roles/cloudtasks.enqueuer',
        member: 'serviceAccount:w@ml-platform-dev.iam.gserviceaccount.com',
      },
    ]);
    expect(json.resource).not.toHaveProperty('google_project_iam_member');
  });

  test('GIVEN a bare e-mail instead of an IAM member THEN refused with the fix', () => {
    expect(() => synthQueue({}, ['w@ml-platform-dev.iam.gserviceaccount.com'])).toThrow(
      /TaskQueue at test\/queue-train is invalid:\n {2}- grantEnqueue\(member\) = "w@ml-platform-dev\.iam\.gserviceaccount\.com": "w@ml-platform-dev\.iam\.gserviceaccount\.com" is not an IAM member: a bare e-mail needs its IAM type; write serviceAccount:w@/,
    );
  });

  test('GIVEN a member the spec would refuse THEN the construct refuses it too, with the same message', () => {
    expect(() => synthQueue({}, ['serviceAccount:x'])).toThrow(
      /grantEnqueue\(member\) = "serviceAccount:x": "serviceAccount:x" is not an IAM member: serviceAccount: takes a service account e-mail/,
    );
    expect(() => synthQueue({}, ['allUsers'])).toThrow(/"allUsers" would give the role to anyone/);
  });

  test('GIVEN the same member twice THEN one binding', () => {
    const { json } = synthQueue({}, [
      'serviceAccount:w@p.iam.gserviceaccount.com',
      'serviceAccount:w@p.iam.gserviceaccount.com',
    ]);
    expect(Object.keys(json.resource.google_cloud_tasks_queue_iam_member)).toHaveLength(1);
  });
});

describe('TaskQueue: prop validation (lib/core/rules/cloud-tasks.ts)', () => {
  const make = (props: Partial<TaskQueueProps>) => () => synthQueue(props);

  test('GIVEN 900 dispatches per second THEN the error names the construct path, the field, the value and the limit', () => {
    expect(make({ rateLimits: { maxDispatchesPerSecond: 900 } })).toThrow(
      /TaskQueue at test\/queue-train is invalid:\n {2}- rateLimits\.maxDispatchesPerSecond = 900: 900 exceeds Cloud Tasks' limit of 500 per queue/,
    );
  });

  test('GIVEN minBackoff above maxBackoff THEN refused', () => {
    expect(make({ retry: { minBackoffSeconds: 60, maxBackoffSeconds: 10 } })).toThrow(
      /retry\.minBackoffSeconds = 60: 60s is greater than maxBackoff 10s/,
    );
  });

  test('GIVEN a dispatch deadline of 5 s THEN refused with the 15 s to 30 min range', () => {
    expect(make({ dispatchDeadlineSeconds: 5 })).toThrow(
      /dispatchDeadlineSeconds = 5: 5s is outside Cloud Tasks' range for HTTP dispatch deadlines, 15s to 1800s/,
    );
  });

  test('GIVEN an invalid queue id THEN refused', () => {
    expect(make({ queueId: 'recsys_dev' })).toThrow(
      /queueId = "recsys_dev": "recsys_dev" is not a valid Cloud Tasks queue id/,
    );
  });

  test('GIVEN an http URL THEN refused: tokens must not travel in clear text', () => {
    expect(make({ httpTarget: { url: 'http://w.example.com/a', serviceAccountEmail: 'a@b.c' } })).toThrow(
      /httpTarget\.url = "http:\/\/w\.example\.com\/a": .*must use https/,
    );
  });

  test('GIVEN oauth to a non-Google host THEN refused with the target.proto rule', () => {
    expect(
      make({ httpTarget: { url: 'https://w.example.com/a', auth: 'oauth', serviceAccountEmail: 'a@b.c' } }),
    ).toThrow(
      /httpTarget\.auth = "oauth": OAuth tokens are only for \*\.googleapis\.com targets .* not w\.example\.com; use oidc/,
    );
  });

  test('GIVEN oidc without a service account THEN refused', () => {
    expect(make({ httpTarget: { url: 'https://w.example.com/a' } })).toThrow(
      /httpTarget\.serviceAccountEmail = undefined: is required with auth oidc/,
    );
  });

  test('GIVEN a reserved header THEN refused', () => {
    expect(
      make({ httpTarget: { url: 'https://w.example.com/a', auth: 'none', headers: { Authorization: 'Bearer x' } } }),
    ).toThrow(/httpTarget\.headers\.Authorization = "Authorization": Authorization is set by Cloud Tasks/);
  });

  test('GIVEN header names and values with CR, LF or NUL THEN refused by the same rule as the spec, without the value', () => {
    const make_ = make({
      httpTarget: {
        url: 'https://w.example.com/a',
        auth: 'none',
        headers: { 'X-Trace': 'ok\r\nX-Injected: 1', 'X-\u0000': 'v' },
      },
    });
    expect(make_).toThrow(
      /httpTarget\.headers\.X-Trace = "\(not shown\)": the header value contains the control character \\x0d[\s\S]*the header name contains the control character \\x00/,
    );
    expect(make_).not.toThrow(/X-Injected/);
  });

  test('GIVEN a bad sampling ratio and a bad project together THEN both are reported at once', () => {
    expect(make({ logSamplingRatio: 2, project: 'X' })).toThrow(
      /project = "X": "X" is not a valid Google Cloud project id[\s\S]*logSamplingRatio = 2: 2 is outside the sampling ratio range/,
    );
  });
});
