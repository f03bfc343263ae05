/**
 * Helpers for the HTTP handlers ("workers") that Cloud Tasks calls: the production pattern in a few functions.
 *
 *   const verified = await verifyTaskRequest(req.headers, { audience, serviceAccountEmail });   // 401 / 403
 *   const task = readTaskHeaders(req.headers);                                                  // X-CloudTasks-*
 *   const message = readPipelineMessage(body, task);                                            // runId, lineage
 *   await guard.run(`${task.queueName}/${task.taskName}`, async () => {                         // once per task
 *     ...the step's work...
 *     await enqueueNext(client, { queue, url, parent: task, message, step });                  // named: no duplicates
 *   });
 *
 * Works with any Node HTTP framework: it takes plain header maps and bodies. The example worker (example-worker.ts)
 * uses every helper; docs/worker.md is the reference.
 */
import { createHash } from 'node:crypto';
import type { CloudTasksClient } from '@google-cloud/tasks';
import { status } from '@grpc/grpc-js';
import { seedIdFromTaskId } from '../core/naming';
import { isLoopbackHost } from '../core/loopback';
import { EMULATOR_ISSUER_ENV } from '../core/env';

type Jose = typeof import('jose');
type HeaderValue = string | readonly string[] | undefined;
/** Node's IncomingHttpHeaders (lower-case names), a fetch Headers object, or any record of header values. */
export type HeaderSource = { readonly [name: string]: HeaderValue } | { get(name: string): string | null };

// ------------------------------------------------------------------ errors

/** A request the handler must refuse, with the HTTP status to answer. */
export class TaskRequestError extends Error {
  constructor(
    /** 400 malformed, 401 no or invalid token, 403 a valid token for the wrong account. */
    readonly status: 400 | 401 | 403,
    message: string,
  ) {
    super(message);
    this.name = 'TaskRequestError';
  }
}

// ------------------------------------------------------------------ X-CloudTasks-* headers

/** What Cloud Tasks tells a handler about the task it delivers (Cloud Tasks "Create HTTP target tasks" docs). */
export interface TaskHeaders {
  /** X-CloudTasks-QueueName: the queue id (short name). */
  readonly queueName: string;
  /** X-CloudTasks-TaskName: the task id (short name); unique per task, the same on every retry. */
  readonly taskName: string;
  /** X-CloudTasks-TaskRetryCount: 0 on the first attempt. */
  readonly retryCount: number;
  /** X-CloudTasks-TaskExecutionCount: responses received so far, 5xx excluded. */
  readonly executionCount: number;
  /** X-CloudTasks-TaskETA: the schedule time of this attempt. */
  readonly eta: Date;
  /** X-CloudTasks-TaskPreviousResponse: HTTP status of the previous attempt (retries only). */
  readonly previousResponse?: number;
  /** X-CloudTasks-TaskRetryReason (retries only). */
  readonly retryReason?: string;
}

function header(headers: HeaderSource, name: string): string | undefined {
  if (typeof (headers as { get?: unknown }).get === 'function')
    return (headers as { get(n: string): string | null }).get(name) ?? undefined;
  const record = headers as { readonly [name: string]: HeaderValue };
  const v = record[name] ?? record[Object.keys(record).find((k) => k.toLowerCase() === name) ?? ''];
  return Array.isArray(v) ? v[0] : (v as string | undefined);
}

/**
 * Reads the X-CloudTasks-* headers. Throws TaskRequestError(400) when the request did not come from Cloud Tasks
 * (or the emulator). Cloud Tasks removes these headers from requests that come from anywhere else, so they can be
 * trusted once the token is verified.
 */
export function readTaskHeaders(headers: HeaderSource): TaskHeaders {
  const get = (n: string) => header(headers, n.toLowerCase());
  const queueName = get('X-CloudTasks-QueueName');
  const taskName = get('X-CloudTasks-TaskName');
  const retry = get('X-CloudTasks-TaskRetryCount');
  const execution = get('X-CloudTasks-TaskExecutionCount');
  const eta = get('X-CloudTasks-TaskETA');
  const missing = [
    ['X-CloudTasks-QueueName', queueName],
    ['X-CloudTasks-TaskName', taskName],
    ['X-CloudTasks-TaskRetryCount', retry],
    ['X-CloudTasks-TaskExecutionCount', execution],
    ['X-CloudTasks-TaskETA', eta],
  ]
    .filter(([, v]) => v === undefined || v === '')
    .map(([n]) => n);
  if (missing.length) throw new TaskRequestError(400, `not a Cloud Tasks request: missing ${missing.join(', ')}`);
  const previous = get('X-CloudTasks-TaskPreviousResponse');
  const reason = get('X-CloudTasks-TaskRetryReason');
  return {
    queueName: queueName!,
    taskName: taskName!,
    retryCount: Number(retry),
    executionCount: Number(execution),
    eta: new Date(Number(eta) * 1000),
    ...(previous ? { previousResponse: Number(previous) } : {}),
    ...(reason ? { retryReason: reason } : {}),
  };
}

// ------------------------------------------------------------------ OIDC tokens

/** Google signs the OIDC tokens Cloud Tasks attaches; these are its issuer names and public keys. */
export const GOOGLE_ISSUERS = ['https://accounts.google.com', 'accounts.google.com'] as const;
export const GOOGLE_JWKS_URI = 'https://www.googleapis.com/oauth2/v3/certs';

export interface VerifyTaskRequestOptions {
  /**
   * The audience the queue's OIDC token names (its `oidc_token.audience`): the spec's `target.audience`, by default
   * the service URL for a `*.run.app` target and the target URL without query elsewhere (lib/core/naming.ts
   * oidcAudienceFor). Several values may be listed (an audience migration); the token must name exactly one of them.
   */
  readonly audience: string | readonly string[];
  /**
   * The service account(s) allowed to call this handler (the pipeline's invoker). Without it any Google service
   * account's token would do, so set it.
   */
  readonly serviceAccountEmail: string | readonly string[];
  /**
   * Who signs the tokens.
   * @default - the emulator's issuer when CLOUD_TASKS_EMULATOR_OIDC_ISSUER is set (loopback only), else Google
   */
  readonly issuer?: string | readonly string[];
  /** @default - `<issuer>/.well-known/jwks.json` for the emulator, GOOGLE_JWKS_URI for Google */
  readonly jwksUri?: string;
  /** Where the emulator issuer is read from. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  /**
   * Oldest accepted token, by its `iat`, in seconds; also the longest accepted lifetime (`exp - iat`). Google's OIDC
   * tokens live one hour (`exp = iat + 3600`), and Cloud Tasks mints one per dispatch attempt.
   * @default 3600
   */
  readonly maxTokenAgeSeconds?: number;
  /**
   * Clock difference tolerated between this machine and the token's issuer, in seconds, for `exp`, `iat` and `nbf`.
   * @default 60
   */
  readonly clockToleranceSeconds?: number;
  /** The current time, in milliseconds since the epoch (tests inject a fixed clock). @default Date.now */
  readonly now?: () => number;
}

/** Token checks' defaults: Google's ID tokens live one hour; a minute of clock difference is plenty with NTP. */
export const TOKEN_DEFAULTS = { maxTokenAgeSeconds: 3600, clockToleranceSeconds: 60 } as const;

export interface VerifiedTaskRequest {
  /** The token's claims (iss, aud, sub, email, email_verified, iat, exp). */
  readonly claims: Readonly<Record<string, unknown>> & { readonly email: string };
}

/** Where tokens come from: Google, or (only when the variable names a loopback URL) the local emulator. */
export function tokenIssuerConfig(env: NodeJS.ProcessEnv = process.env): {
  issuer: readonly string[];
  jwksUri: string;
} {
  const emulator = env[EMULATOR_ISSUER_ENV];
  if (!emulator) return { issuer: GOOGLE_ISSUERS, jwksUri: GOOGLE_JWKS_URI };
  let url: URL | undefined;
  try {
    url = new URL(emulator);
  } catch {
    url = undefined;
  }
  // Trusting a key server means trusting whoever runs it: only an emulator on this machine.
  if (!url || url.protocol !== 'http:' || !isLoopbackHost(url.hostname))
    throw new Error(
      `${EMULATOR_ISSUER_ENV}="${emulator}" must be the emulator's loopback URL, e.g. http://127.0.0.1:8124 (printed by npm run emulator)`,
    );
  const issuer = emulator.replace(/\/+$/, '');
  return { issuer: [issuer], jwksUri: `${issuer}/.well-known/jwks.json` };
}

let josePromise: Promise<Jose> | undefined;
const keySets = new Map<string, ReturnType<Jose['createRemoteJWKSet']>>();

/**
 * Verifies the `Authorization: Bearer <OIDC token>` of a Cloud Tasks request: RS256 signature against the issuer's
 * published keys (fetched once and cached by jose), issuer; `exp` and `iat` both present, `iat` not in the future and
 * at most `maxTokenAgeSeconds` old, a lifetime (`exp - iat`) of at most as long, each within
 * `clockToleranceSeconds`; exactly one audience (`aud` a string, not a list) equal to an expected one; then
 * `email_verified` and the service account. Throws TaskRequestError 401 (no or invalid token) or 403 (valid token,
 * wrong account).
 */
export async function verifyTaskRequest(
  headers: HeaderSource,
  options: VerifyTaskRequestOptions,
): Promise<VerifiedTaskRequest> {
  const auth = header(headers, 'authorization');
  const m = auth ? /^Bearer\s+(\S+)$/i.exec(auth) : null;
  if (!m)
    throw new TaskRequestError(
      401,
      'missing Authorization: Bearer <OIDC token>; configure the queue with an oidc_token (spec target.auth: oidc)',
    );
  const config = tokenIssuerConfig(options.env ?? process.env);
  const issuer = options.issuer ?? config.issuer;
  const jwksUri =
    options.jwksUri ??
    (options.issuer === undefined ? config.jwksUri : `${[options.issuer].flat()[0]}/.well-known/jwks.json`);
  const jose = await (josePromise ??= import('jose'));
  let keySet = keySets.get(jwksUri);
  if (!keySet) keySets.set(jwksUri, (keySet = jose.createRemoteJWKSet(new URL(jwksUri))));

  const maxAge = options.maxTokenAgeSeconds ?? TOKEN_DEFAULTS.maxTokenAgeSeconds;
  const tolerance = options.clockToleranceSeconds ?? TOKEN_DEFAULTS.clockToleranceSeconds;
  let claims: Record<string, unknown>;
  try {
    ({ payload: claims } = await jose.jwtVerify(m[1], keySet, {
      issuer: [issuer].flat() as string[],
      audience: [options.audience].flat() as string[],
      algorithms: ['RS256'],
      // Without exp a token never expires; without iat its age is unknown: Google always sets both.
      requiredClaims: ['exp', 'iat'],
      maxTokenAge: maxAge,
      clockTolerance: tolerance,
      currentDate: new Date((options.now ?? Date.now)()),
    }));
  } catch (err) {
    throw new TaskRequestError(401, `invalid OIDC token: ${(err as Error).message}`);
  }
  // jose accepts an `aud` list that contains the audience; a token for several audiences is not a Cloud Tasks token,
  // and whoever holds it can replay it against every one of them.
  if (typeof claims.aud !== 'string')
    throw new TaskRequestError(
      401,
      'invalid OIDC token: "aud" is a list; a Cloud Tasks token names exactly one audience (the queue\'s oidc_token audience)',
    );
  const lifetime = (claims.exp as number) - (claims.iat as number);
  if (lifetime > maxAge)
    throw new TaskRequestError(
      401,
      `invalid OIDC token: it is valid for ${lifetime} s (exp - iat), longer than ${maxAge} s; Google's OIDC tokens live one hour`,
    );
  const allowed = [options.serviceAccountEmail].flat();
  if (claims.email_verified !== true || typeof claims.email !== 'string' || !allowed.includes(claims.email))
    throw new TaskRequestError(
      403,
      `token of ${String(claims.email)} is not allowed here; expected ${allowed.join(' or ')} with email_verified`,
    );
  return { claims: claims as VerifiedTaskRequest['claims'] };
}

// ------------------------------------------------------------------ idempotency

export interface IdempotencyGuard {
  /**
   * Runs `work` once per key IN THIS PROCESS (forgotten on restart, scale-to-zero or redeploy). A second delivery of
   * a key that succeeded gets the first result without running again (`duplicate: true`); one that arrives while
   * the first is running waits for it. A failed run is forgotten, so the queue's retry runs the work again.
   */
  run<T>(key: string, work: () => Promise<T>): Promise<{ readonly result: T; readonly duplicate: boolean }>;
  /** Keys remembered as done. */
  readonly size: number;
}

export interface IdempotencyGuardOptions {
  /**
   * How long a finished key is remembered. Cloud Tasks delivers at least once; a duplicate arrives close to the
   * original, and a task name can be re-used about an hour after its task is gone.
   * @default 3_600_000 (1 hour)
   */
  readonly ttlMs?: number;
  /** @default 100_000 */
  readonly maxEntries?: number;
  /** @default Date.now */
  readonly now?: () => number;
}

/**
 * An IN-MEMORY guard: it remembers finished keys in this process only. A restart, a scale-to-zero, a redeploy, or a
 * second instance (Cloud Run scales out) does not know what another process or an earlier one finished, so a
 * redelivered task runs again there: this guard removes duplicates close together in one process, nothing more. The
 * run ledger (durable, shared by every instance) replaces it; until then, work that must not run twice needs its own
 * check against shared storage (a Firestore document or a Redis SET NX per task name), with the same rule: mark
 * done only after the work and its enqueues succeeded. See docs/worker.md.
 */
export function createIdempotencyGuard(options: IdempotencyGuardOptions = {}): IdempotencyGuard {
  const ttlMs = options.ttlMs ?? 3_600_000;
  const maxEntries = options.maxEntries ?? 100_000;
  const now = options.now ?? Date.now;
  const done = new Map<string, { result: unknown; until: number }>();
  const running = new Map<string, Promise<unknown>>();
  return {
    get size() {
      return done.size;
    },
    async run<T>(key: string, work: () => Promise<T>) {
      const hit = done.get(key);
      if (hit && hit.until > now()) return { result: hit.result as T, duplicate: true };
      const pending = running.get(key);
      if (pending) return { result: (await pending) as T, duplicate: true };
      const p = work();
      running.set(key, p);
      try {
        const result = await p;
        done.delete(key);
        done.set(key, { result, until: now() + ttlMs });
        // Oldest first (insertion order): drop expired or excess entries.
        for (const [k, v] of done) {
          if (done.size <= maxEntries && v.until > now()) break;
          done.delete(k);
        }
        return { result, duplicate: false };
      } finally {
        running.delete(key);
      }
    },
  };
}

// ------------------------------------------------------------------ pipeline messages

/** What flows between steps: the payload, the run it belongs to, and the steps it went through. */
export interface PipelineMessage {
  /** The id of the seed task that started the run (the `id` in the spec's seedTasks). */
  readonly runId: string;
  /** Steps that handled this run before, oldest first. */
  readonly lineage: readonly string[];
  readonly payload: unknown;
}

/**
 * The message in a task body. A seed task's body is the spec's payload as is: its run id is the seed id, which is
 * the end of the task id (`<16 hex>-<seed id>`, lib/core/naming.ts taskIdFor). Bodies written by enqueueNext
 * are `{ runId, lineage, payload }`. Throws TaskRequestError(400) for a body that is not JSON.
 */
export function readPipelineMessage(body: string | Buffer, task: Pick<TaskHeaders, 'taskName'>): PipelineMessage {
  const text = body.toString();
  let value: unknown;
  try {
    value = text === '' ? null : JSON.parse(text);
  } catch (err) {
    throw new TaskRequestError(400, `task body is not JSON: ${(err as Error).message}`);
  }
  if (isEnvelope(value)) return value;
  return { runId: seedIdFromTaskId(task.taskName) ?? task.taskName, lineage: [], payload: value };
}

function isEnvelope(v: unknown): v is PipelineMessage {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const o = v as Record<string, unknown>;
  return (
    typeof o.runId === 'string' &&
    Array.isArray(o.lineage) &&
    o.lineage.every((s) => typeof s === 'string') &&
    'payload' in o &&
    Object.keys(o).length === 3
  );
}

// ------------------------------------------------------------------ enqueueing the next step

/** What enqueueNext needs from a Cloud Tasks client (CloudTasksClient satisfies it). */
export interface TaskCreatorClient {
  createTask(
    request: { parent: string; task: Record<string, unknown> },
    options?: { timeout?: number },
  ): Promise<unknown>;
}

export interface EnqueueNextOptions {
  /** Full queue name of the next step, `projects/P/locations/L/queues/Q` (Terraform output `queue_names`). */
  readonly queue: string;
  /**
   * The next step's target URL. Our queues carry an http_target that routes every task (uri_override ALWAYS, token,
   * headers), but the API still requires an absolute URL on the task.
   */
  readonly url: string;
  /** The task being handled (readTaskHeaders): the new task's name derives from its queue and task name. */
  readonly parent: Pick<TaskHeaders, 'queueName' | 'taskName'>;
  /** This step's name, appended to the lineage. */
  readonly step: string;
  /** The incoming message (runId and lineage are carried over). */
  readonly message: PipelineMessage;
  /** @default message.payload */
  readonly payload?: unknown;
  /** Call timeout. @default 30_000 */
  readonly timeoutMs?: number;
}

/**
 * Creates the next step's task, NAMED after the parent task and the next queue. If this handler fails after
 * enqueueing and Cloud Tasks retries it, the retry's enqueue meets ALREADY_EXISTS instead of creating a second task:
 * exactly one child per parent task and next step. Fan-in: a step with two parents gets one task per parent delivery.
 */
export async function enqueueNext(
  client: TaskCreatorClient,
  o: EnqueueNextOptions,
): Promise<{ readonly name: string; readonly created: boolean }> {
  const id = createHash('sha256')
    .update(o.queue)
    .update('\0')
    .update(o.parent.queueName)
    .update('\0')
    .update(o.parent.taskName)
    .digest('hex')
    .slice(0, 32);
  const name = `${o.queue}/tasks/${id}`;
  const message: PipelineMessage = {
    runId: o.message.runId,
    lineage: [...o.message.lineage, o.step],
    payload: o.payload === undefined ? o.message.payload : o.payload,
  };
  try {
    await client.createTask(
      {
        parent: o.queue,
        task: {
          name,
          httpRequest: {
            url: o.url,
            httpMethod: 'POST',
            headers: { 'Content-Type': 'application/json' },
            body: Buffer.from(JSON.stringify(message)),
          },
        },
      },
      { timeout: o.timeoutMs ?? 30_000 },
    );
    return { name, created: true };
  } catch (err) {
    if ((err as { code?: number }).code === status.ALREADY_EXISTS) return { name, created: false };
    throw err;
  }
}

/**
 * A Cloud Tasks client: Application Default Credentials against Cloud Tasks, or insecure gRPC to the emulator when
 * CLOUD_TASKS_EMULATOR_HOST is set (the same rule as the seeder).
 */
export function createTasksClient(env: NodeJS.ProcessEnv = process.env): CloudTasksClient {
  // Loaded on first use: the client library takes a few hundred ms to load.
  const { seedTargetFromEnv } = require('../core/env') as typeof import('../core/env');
  const { createClients } = require('../core/tasks-client') as typeof import('../core/tasks-client');
  return createClients(seedTargetFromEnv(env), 1)[0];
}
