/**
 * The worker helper library and the example worker: token verification against a real emulator issuer (JWKS over
 * HTTP), headers, idempotency, pipeline messages, enqueueing the next step.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { status } from '@grpc/grpc-js';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { systemClock } from '../../lib/emulator/clock';
import { TokenIssuer } from '../../lib/emulator/dispatch/oidc';
import {
  GOOGLE_JWKS_URI,
  TaskRequestError,
  createIdempotencyGuard,
  enqueueNext,
  readPipelineMessage,
  readTaskHeaders,
  tokenIssuerConfig,
  verifyTaskRequest,
  type TaskCreatorClient,
} from '../../lib/worker/index';
import { EMULATOR_ISSUER_ENV } from '../../lib/core/env';

const INVOKER = 'recsys-dev@acme-ml-dev.iam.gserviceaccount.com';
const AUDIENCE = 'https://train-def456-uc.a.run.app/tasks';
const QUEUE = 'projects/acme-ml-dev/locations/us-central1/queues/recsys-dev-infer';

let issuer: TokenIssuer;
beforeAll(async () => {
  issuer = await TokenIssuer.start({ clock: systemClock });
});
afterAll(() => issuer.close());

const taskHeaders = (extra: Record<string, string> = {}) => ({
  'x-cloudtasks-queuename': 'recsys-dev-train',
  'x-cloudtasks-taskname': '0123456789abcdef-sample-1',
  'x-cloudtasks-taskretrycount': '0',
  'x-cloudtasks-taskexecutioncount': '0',
  'x-cloudtasks-tasketa': '1900000000.250000',
  ...extra,
});

describe('readTaskHeaders', () => {
  test('reads every X-CloudTasks-* header, from Node headers or a fetch Headers object', () => {
    const h = readTaskHeaders(
      taskHeaders({ 'x-cloudtasks-taskpreviousresponse': '503', 'x-cloudtasks-taskretryreason': 'HTTP 503' }),
    );
    expect(h).toEqual({
      queueName: 'recsys-dev-train',
      taskName: '0123456789abcdef-sample-1',
      retryCount: 0,
      executionCount: 0,
      eta: new Date(1_900_000_000_250),
      previousResponse: 503,
      retryReason: 'HTTP 503',
    });
    expect(readTaskHeaders(new Headers(taskHeaders())).taskName).toBe('0123456789abcdef-sample-1');
  });

  test('a request without them is refused with 400, naming what is missing', () => {
    expect(() => readTaskHeaders({ 'x-cloudtasks-queuename': 'q' })).toThrow(
      new TaskRequestError(
        400,
        'not a Cloud Tasks request: missing X-CloudTasks-TaskName, X-CloudTasks-TaskRetryCount, X-CloudTasks-TaskExecutionCount, X-CloudTasks-TaskETA',
      ),
    );
  });
});

describe('verifyTaskRequest', () => {
  const opts = () => ({
    audience: AUDIENCE,
    serviceAccountEmail: INVOKER,
    issuer: issuer.issuer,
    jwksUri: issuer.jwksUri,
  });
  const bearer = (email = INVOKER, audience = AUDIENCE) =>
    issuer.authorization({ kind: 'oidc', serviceAccountEmail: email, audience });

  test('accepts a token of the invoker for this audience, and returns its claims', async () => {
    const { claims } = await verifyTaskRequest({ authorization: await bearer() }, opts());
    expect(claims).toMatchObject({ email: INVOKER, email_verified: true, aud: AUDIENCE, iss: issuer.issuer });
  });

  test('401 without a token, with a bad one, or for another audience; 403 for another account', async () => {
    const status = (p: Promise<unknown>) =>
      p.then(
        () => 200,
        (e: TaskRequestError) => e.status,
      );
    expect(await status(verifyTaskRequest({}, opts()))).toBe(401);
    expect(await status(verifyTaskRequest({ authorization: 'Bearer not.a.jwt' }, opts()))).toBe(401);
    expect(
      await status(verifyTaskRequest({ authorization: await bearer(INVOKER, 'https://other.example.com') }, opts())),
    ).toBe(401);
    expect(
      await status(
        verifyTaskRequest({ authorization: await bearer('intruder@acme-ml-dev.iam.gserviceaccount.com') }, opts()),
      ),
    ).toBe(403);
  });

  test('the emulator issuer comes from CLOUD_TASKS_EMULATOR_OIDC_ISSUER, loopback only; Google otherwise', async () => {
    expect(tokenIssuerConfig({})).toEqual({
      issuer: ['https://accounts.google.com', 'accounts.google.com'],
      jwksUri: GOOGLE_JWKS_URI,
    });
    expect(tokenIssuerConfig({ [EMULATOR_ISSUER_ENV]: issuer.issuer })).toEqual({
      issuer: [issuer.issuer],
      jwksUri: issuer.jwksUri,
    });
    // Any loopback address (lib/core/loopback.ts), IPv6 included.
    expect(tokenIssuerConfig({ [EMULATOR_ISSUER_ENV]: 'http://[::1]:8124/' }).jwksUri).toBe(
      'http://[::1]:8124/.well-known/jwks.json',
    );
    expect(() => tokenIssuerConfig({ [EMULATOR_ISSUER_ENV]: 'http://evil.example.com:8124' })).toThrow(
      /must be the emulator's loopback URL/,
    );
    const { claims } = await verifyTaskRequest(
      { authorization: await bearer() },
      { audience: AUDIENCE, serviceAccountEmail: INVOKER, env: { [EMULATOR_ISSUER_ENV]: issuer.issuer } },
    );
    expect(claims.email).toBe(INVOKER);
  });
});

describe('verifyTaskRequest: strict token checks (tokens signed by a test key)', () => {
  const NOW = Date.parse('2030-01-15T12:00:00Z') / 1000;
  const ISSUER = 'https://issuer.test';
  let keys: Awaited<ReturnType<typeof generateKeyPair>>;
  let jwks: Server;
  let jwksUri: string;
  beforeAll(async () => {
    keys = await generateKeyPair('RS256');
    const jwk = { ...(await exportJWK(keys.publicKey)), kid: 'test', alg: 'RS256', use: 'sig' };
    jwks = createServer((_req, res) =>
      res.setHeader('content-type', 'application/json').end(JSON.stringify({ keys: [jwk] })),
    );
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    jwksUri = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json`;
  });
  afterAll(() => new Promise((resolve) => jwks.close(resolve)));

  /** A Google-like token: iat now, exp in an hour, one audience; `claims` overrides or (undefined) removes. */
  const token = async (claims: Record<string, unknown> = {}) => {
    const payload: Record<string, unknown> = {
      iss: ISSUER,
      aud: AUDIENCE,
      sub: '1234567890',
      email: INVOKER,
      email_verified: true,
      iat: NOW,
      exp: NOW + 3600,
      ...claims,
    };
    for (const [k, v] of Object.entries(payload)) if (v === undefined) delete payload[k];
    const jwt = await new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid: 'test' }).sign(keys.privateKey);
    return { authorization: `Bearer ${jwt}` };
  };
  const verify = async (headers: Record<string, string>, nowSeconds = NOW) =>
    verifyTaskRequest(headers, {
      audience: AUDIENCE,
      serviceAccountEmail: INVOKER,
      issuer: ISSUER,
      jwksUri,
      now: () => nowSeconds * 1000,
    }).then(
      () => 'accepted',
      (e: TaskRequestError) => `${e.status} ${e.message}`,
    );

  test('GIVEN a token as Google issues it THEN it is accepted, for its whole hour', async () => {
    expect(await verify(await token())).toBe('accepted');
    expect(await verify(await token(), NOW + 3599)).toBe('accepted');
  });

  test.each([
    ['without exp', { exp: undefined }, /^401 invalid OIDC token: missing required "exp" claim/],
    ['without iat', { iat: undefined }, /^401 invalid OIDC token: missing required "iat" claim/],
    [
      'expiring in 2100',
      { exp: Date.parse('2100-01-01T00:00:00Z') / 1000 },
      /valid for \d+ s \(exp - iat\), longer than 3600 s/,
    ],
    [
      'issued a day ahead',
      { iat: NOW + 86_400, exp: NOW + 86_400 + 3600 },
      /"iat" claim timestamp check failed \(it should be in the past\)/,
    ],
    ['issued more than an hour ago', { iat: NOW - 3600 - 61, exp: NOW + 600 }, /too far in the past/],
    ['expired (beyond the clock skew)', { iat: NOW - 3600 - 61, exp: NOW - 61 }, /"exp" claim timestamp check failed/],
    [
      'with an aud list holding the audience',
      { aud: [AUDIENCE] },
      /"aud" is a list; a Cloud Tasks token names exactly one audience/,
    ],
    ['with an aud list of two', { aud: [AUDIENCE, 'https://other.example.com'] }, /"aud" is a list/],
    ['for another audience', { aud: 'https://train-def456-uc.a.run.app/other' }, /unexpected "aud" claim value/],
    ['from another issuer', { iss: 'https://accounts.example.com' }, /unexpected "iss" claim value/],
  ])('GIVEN a correctly signed token %s THEN 401', async (_what, claims, message) => {
    expect(await verify(await token(claims))).toMatch(message);
  });

  test('a small clock skew (60 s by default) is tolerated on both ends, and no more', async () => {
    expect(await verify(await token({ iat: NOW + 59, exp: NOW + 59 + 3600 }))).toBe('accepted');
    expect(await verify(await token({ iat: NOW + 61, exp: NOW + 61 + 3600 }))).toMatch(/should be in the past/);
    expect(await verify(await token({ iat: NOW - 3600 - 30, exp: NOW - 30 }))).toBe('accepted');
    expect(await verify(await token({ iat: NOW - 3600 - 61, exp: NOW - 61 }))).toMatch(/^401/);
  });

  test('a valid token of another account is 403, not 401', async () => {
    expect(await verify(await token({ email: 'intruder@acme-ml-dev.iam.gserviceaccount.com' }))).toMatch(/^403 /);
  });
});

describe('createIdempotencyGuard', () => {
  test('runs the work once per key; a concurrent duplicate waits for it; a failure is forgotten', async () => {
    let now = 0;
    const guard = createIdempotencyGuard({ ttlMs: 1000, now: () => now });
    let runs = 0;
    const work = async () => {
      runs++;
      await new Promise((r) => setTimeout(r, 20));
      return runs;
    };
    const [a, b] = await Promise.all([guard.run('k', work), guard.run('k', work)]);
    expect([a, b]).toEqual([
      { result: 1, duplicate: false },
      { result: 1, duplicate: true },
    ]);
    expect(await guard.run('k', work)).toEqual({ result: 1, duplicate: true });
    await expect(guard.run('bad', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await guard.run('bad', work)).toEqual({ result: 2, duplicate: false });
    now = 1001;
    expect(await guard.run('k', work)).toEqual({ result: 3, duplicate: false });
  });
});

test('readPipelineMessage: a seed body is the payload and its run id the seed id; enqueued bodies carry run and lineage', () => {
  expect(readPipelineMessage('{"dataset":"gs://x"}', { taskName: '0123456789abcdef-sample-2026-11' })).toEqual({
    runId: 'sample-2026-11',
    lineage: [],
    payload: { dataset: 'gs://x' },
  });
  const envelope = { runId: 'r1', lineage: ['preprocess'], payload: [1, 2] };
  expect(readPipelineMessage(Buffer.from(JSON.stringify(envelope)), { taskName: 'abc' })).toEqual(envelope);
  expect(() => readPipelineMessage('{oops', { taskName: 'abc' })).toThrow(TaskRequestError);
});

function fakeClient(
  failWith?: number,
): TaskCreatorClient & { calls: Array<{ parent: string; task: Record<string, unknown> }> } {
  const calls: Array<{ parent: string; task: Record<string, unknown> }> = [];
  const names = new Set<string>();
  return {
    calls,
    async createTask(request) {
      calls.push(request);
      if (failWith !== undefined) throw Object.assign(new Error('injected'), { code: failWith });
      const name = String(request.task.name);
      if (names.has(name)) throw Object.assign(new Error('exists'), { code: status.ALREADY_EXISTS });
      names.add(name);
      return [request.task];
    },
  };
}

test('enqueueNext names the child after its parent and queue: a retried parent meets ALREADY_EXISTS, not a duplicate', async () => {
  const client = fakeClient();
  const parent = { queueName: 'recsys-dev-train', taskName: 't-1' };
  const message = { runId: 'sample-1', lineage: ['preprocess'], payload: { model: 'm' } };
  const first = await enqueueNext(client, {
    queue: QUEUE,
    url: 'https://infer.example.com/tasks',
    parent,
    step: 'train',
    message,
  });
  const again = await enqueueNext(client, {
    queue: QUEUE,
    url: 'https://infer.example.com/tasks',
    parent,
    step: 'train',
    message,
  });
  const other = await enqueueNext(client, {
    queue: QUEUE,
    url: 'https://infer.example.com/tasks',
    parent: { ...parent, queueName: 'recsys-dev-x' },
    step: 'x',
    message,
  });
  expect(first).toEqual({ name: expect.stringMatching(new RegExp(`^${QUEUE}/tasks/[0-9a-f]{32}$`)), created: true });
  expect(again).toEqual({ name: first.name, created: false });
  expect(other.name).not.toBe(first.name);
  const req = client.calls[0];
  expect(req.parent).toBe(QUEUE);
  expect(JSON.parse((req.task.httpRequest as { body: Buffer }).body.toString())).toEqual({
    runId: 'sample-1',
    lineage: ['preprocess', 'train'],
    payload: { model: 'm' },
  });
  await expect(
    enqueueNext(fakeClient(status.PERMISSION_DENIED), {
      queue: QUEUE,
      url: 'https://x.example.com',
      parent,
      step: 'train',
      message,
    }),
  ).rejects.toThrow('injected');
});
