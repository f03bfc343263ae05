import { protos } from '@google-cloud/tasks';
import { createTaskRequest, taskNameFor, timestampFromRfc3339 } from '../../lib/seeder/requests';
import { queueName, seedTask } from './fixtures';

const CreateTaskRequest = protos.google.cloud.tasks.v2.CreateTaskRequest;

describe('createTaskRequest', () => {
  test('GIVEN a POST task with an OIDC token WHEN built THEN every field of the Cloud Tasks request is set', () => {
    const task = seedTask('first', {
      scheduleTime: '2030-01-02T03:04:05Z',
      dispatchDeadlineSeconds: 900,
      httpRequest: { headers: { 'Content-Type': 'application/json', 'X-Run': 'r1' }, body: '{"a":1}' },
    });

    const request = createTaskRequest(task);

    expect(request).toEqual({
      parent: queueName(),
      task: {
        name: `${queueName()}/tasks/${task.taskId}`,
        httpRequest: {
          url: 'https://worker.example.com/ingest',
          httpMethod: 'POST',
          headers: { 'Content-Type': 'application/json', 'X-Run': 'r1' },
          body: Buffer.from('{"a":1}', 'utf8'),
          oidcToken: {
            serviceAccountEmail: 'invoker@demo-project.iam.gserviceaccount.com',
            audience: 'https://worker.example.com/ingest',
          },
        },
        scheduleTime: { seconds: Date.UTC(2030, 0, 2, 3, 4, 5) / 1000, nanos: 0 },
        dispatchDeadline: { seconds: 900, nanos: 0 },
      },
    });
    expect(taskNameFor(task)).toBe(request.task?.name);
  });

  test('GIVEN an OAuth token THEN it is sent instead of an OIDC token', () => {
    const task = seedTask('oauth', {
      httpRequest: {
        url: 'https://pubsub.googleapis.com/v1/projects/p/topics/t:publish',
        oidcToken: undefined,
        oauthToken: {
          serviceAccountEmail: 'sa@demo-project.iam.gserviceaccount.com',
          scope: 'https://www.googleapis.com/auth/cloud-platform',
        },
      },
    });

    const http = createTaskRequest(task).task?.httpRequest;

    expect(http?.oauthToken).toEqual({
      serviceAccountEmail: 'sa@demo-project.iam.gserviceaccount.com',
      scope: 'https://www.googleapis.com/auth/cloud-platform',
    });
    expect(http).not.toHaveProperty('oidcToken');
  });

  test('GIVEN a GET task without body or schedule time THEN neither is sent (Cloud Tasks dispatches now)', () => {
    const task = seedTask('get', {
      httpRequest: { httpMethod: 'GET', body: undefined, oidcToken: undefined, headers: {} },
    });

    const request = createTaskRequest(task);

    expect(request.task).not.toHaveProperty('scheduleTime');
    expect(request.task?.httpRequest).toEqual({
      url: 'https://worker.example.com/ingest',
      httpMethod: 'GET',
      headers: {},
    });
  });

  test('GIVEN a body with shell metacharacters, quotes, newlines and unicode THEN the bytes are exactly its UTF-8 encoding', () => {
    const body = JSON.stringify({ cmd: '$(touch /tmp/pwned) `id`; rm -rf / \'"\n\t', text: 'naïve 日本語 🚀' });
    const request = createTaskRequest(seedTask('meta', { httpRequest: { body } }));

    // Through the real protobuf encoding, as the client sends it.
    const decoded = CreateTaskRequest.decode(CreateTaskRequest.encode(CreateTaskRequest.fromObject(request)).finish());

    expect(Buffer.from(decoded.task!.httpRequest!.body!).toString('utf8')).toBe(body);
    expect(Buffer.from(decoded.task!.httpRequest!.body!)).toEqual(Buffer.from(body, 'utf8'));
  });

  test('the request survives the protobuf encoding the client applies (fromObject, encode, decode)', () => {
    const request = createTaskRequest(seedTask('valid', { scheduleTime: '2030-01-01T00:00:00.123456789Z' }));

    const decoded = CreateTaskRequest.toObject(
      CreateTaskRequest.decode(CreateTaskRequest.encode(CreateTaskRequest.fromObject(request)).finish()),
      {
        enums: String,
        longs: Number,
      },
    );
    expect(decoded.task.httpRequest.httpMethod).toBe('POST');
    expect(decoded.task.scheduleTime).toEqual({ seconds: Date.UTC(2030, 0, 1) / 1000, nanos: 123456789 });
    expect(decoded.task.dispatchDeadline).toEqual({ seconds: 600, nanos: 0 });
  });

  test('the manifest headers object is copied, not shared', () => {
    const task = seedTask('copy');
    const request = createTaskRequest(task);
    expect(request.task?.httpRequest?.headers).toEqual(task.httpRequest.headers);
    expect(request.task?.httpRequest?.headers).not.toBe(task.httpRequest.headers);
  });
});

describe('timestampFromRfc3339', () => {
  test.each([
    ['2030-01-01T00:00:00Z', { seconds: 1893456000, nanos: 0 }],
    ['2030-01-01T00:00:00.5Z', { seconds: 1893456000, nanos: 500000000 }],
    ['2030-01-01T02:00:00.000000001+02:00', { seconds: 1893456000, nanos: 1 }],
  ])('%s', (text, expected) => {
    expect(timestampFromRfc3339(text)).toEqual(expected);
  });

  test('refuses text that is not RFC 3339', () => {
    expect(() => timestampFromRfc3339('2030-01-01 00:00')).toThrow(/not an RFC 3339 timestamp/);
    expect(() => timestampFromRfc3339('2030-13-45T00:00:00Z')).toThrow(/not an RFC 3339 timestamp/);
  });
});
