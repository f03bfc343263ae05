/**
 * Seeding through the run ledger (docs/seeding.md, "Runs"): before a seed's task, its run (run id = seed id) is
 * recorded in the pipeline's Firestore database, so a run that exists is never started again, whatever Cloud Tasks'
 * dedup window: a changed manifest starts only the runs that are new.
 *
 * Per seed, in this order (documents and fields from lib/core/ledger-layout.ts, as the worker SDK writes them):
 *   1. create the run document `stacks/{stack}/runs/{seed id}` (create-if-absent: `documentId` on createDocument);
 *   2. created -> create the start step's document (`open`, one task expected) -> create the task;
 *   3. it existed -> not `running` (finished) -> nothing; `running` and its first shard claimed (the task reached a
 *      worker) -> nothing; `running` and no shard yet -> the start was interrupted between the run document and the
 *      task (or the task waits for its schedule time): create the task (named, so a waiting task is ALREADY_EXISTS).
 *
 * Firestore's REST API over fetch, with no client library: the bundled seeder imports lib/core only. The emulator
 * (FIRESTORE_EMULATOR_HOST) takes the `Bearer owner` token; Google Cloud takes an ADC access token (the Cloud Tasks
 * client's GoogleAuth). Errors carry the gRPC code of the REST status, so the seeder retries them like CreateTask's.
 */
import { status as grpcStatus } from '@grpc/grpc-js';
import { FIRESTORE_EMULATOR_HOST_ENV } from '../core/env';
import { START_SHARD, ledgerPaths, newRunDocument, startStepDocument, type RunStatus } from '../core/ledger-layout';
import type { ManifestLedger, ManifestTask } from '../core/manifest';
import { parseRfc3339 } from '../core/rules/timestamp';

/** What a seed needs: its task created, or nothing because its run exists already. */
export type SeedDecision = 'create-task' | 'run-exists';

export interface RunLedgerWriter {
  /** Where the runs go, for messages: `projects/<p>/databases/<d>` and how it is reached. */
  readonly description: string;
  /** Steps 1-3 of the file comment, for one seed. Idempotent: a retry after any failure decides the same. */
  prepare(task: ManifestTask): Promise<SeedDecision>;
}

export interface RunLedgerWriterOptions {
  readonly stack: string;
  readonly ledger: ManifestLedger;
  /** Where FIRESTORE_EMULATOR_HOST is read. */
  readonly env: NodeJS.ProcessEnv;
  /** An OAuth access token for Google Cloud (unused with the emulator). */
  readonly accessToken: () => Promise<string>;
  /** @default () => new Date() */
  readonly now?: () => Date;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
  /** Client-side timeout of one call. @default 30_000 */
  readonly callTimeoutMs?: number;
}

/** A failed Firestore call: `code` is the gRPC code of its status (google.rpc.Code), `details` the server's text. */
export class LedgerCallError extends Error {
  constructor(
    readonly code: number,
    readonly details: string,
  ) {
    super(details);
    this.name = 'LedgerCallError';
  }
}

export function createRunLedgerWriter(o: RunLedgerWriterOptions): RunLedgerWriter {
  const emulator = o.env[FIRESTORE_EMULATOR_HOST_ENV];
  const base = emulator ? `http://${emulator}/v1/` : 'https://firestore.googleapis.com/v1/';
  const database = `projects/${o.ledger.project}/databases/${o.ledger.database}`;
  const doFetch = o.fetch ?? fetch;
  const now = o.now ?? (() => new Date());
  const timeoutMs = o.callTimeoutMs ?? 30_000;

  const call = async (method: 'GET' | 'POST', url: string, body?: unknown): Promise<unknown> => {
    const token = emulator ? 'owner' : await o.accessToken();
    let res: Response;
    try {
      res = await doFetch(url, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      const timedOut = (err as Error).name === 'TimeoutError';
      throw new LedgerCallError(
        timedOut ? grpcStatus.DEADLINE_EXCEEDED : grpcStatus.UNAVAILABLE,
        `${method} ${url}: ${timedOut ? `no answer within ${timeoutMs / 1000} s` : errorCause(err)}`,
      );
    }
    const text = await res.text();
    if (res.ok) return text ? JSON.parse(text) : {};
    throw errorOf(res.status, text);
  };

  /** Creates `path` unless it exists; false when it did. */
  const create = async (path: string, fields: Record<string, unknown>): Promise<boolean> => {
    const cut = path.lastIndexOf('/');
    const parent = path.slice(0, path.lastIndexOf('/', cut - 1));
    const collection = path.slice(parent.length + 1, cut);
    const id = path.slice(cut + 1);
    const url = `${base}${database}/documents/${parent}/${collection}?documentId=${encodeURIComponent(id)}`;
    try {
      await call('POST', url, { fields: restFields(fields) });
      return true;
    } catch (err) {
      if ((err as LedgerCallError).code === grpcStatus.ALREADY_EXISTS) return false;
      throw err;
    }
  };
  /** The document's REST fields, or undefined when it does not exist. */
  const get = async (path: string): Promise<Record<string, RestValue> | undefined> => {
    try {
      const doc = (await call('GET', `${base}${database}/documents/${path}`)) as { fields?: Record<string, RestValue> };
      return doc.fields ?? {};
    } catch (err) {
      if ((err as LedgerCallError).code === grpcStatus.NOT_FOUND && !isDatabaseMissing(err)) return undefined;
      throw err;
    }
  };

  return {
    description: `${database}${emulator ? ` in the Firestore emulator at ${emulator} (${FIRESTORE_EMULATOR_HOST_ENV})` : ''}`,
    async prepare(task) {
      const at = now();
      const runPath = ledgerPaths.run(o.stack, task.seedId);
      const stepPath = ledgerPaths.step(o.stack, task.seedId, task.step);
      const scheduled = task.scheduleTime === undefined ? undefined : parseRfc3339(task.scheduleTime);
      const doc = newRunDocument(
        {
          runId: task.seedId,
          pipeline: o.ledger.pipeline,
          stack: o.stack,
          startStep: task.step,
          source: { kind: 'seed', name: task.seedId },
          inputJson: task.httpRequest.body ?? 'null',
          startTaskId: task.taskId,
          ...(scheduled ? { notBeforeMs: scheduled.seconds * 1000 + Math.floor(scheduled.nanos / 1e6) } : {}),
        },
        at,
      );
      if (await create(runPath, { ...doc })) {
        await create(stepPath, { ...startStepDocument(task.step, at, o.ledger.startShards?.[task.step]) });
        return 'create-task';
      }
      const run = await get(runPath);
      if (!run) throw new LedgerCallError(grpcStatus.ABORTED, `${runPath} was deleted while it was being created`);
      const status = stringOf(run.status) as RunStatus | undefined;
      if (status !== 'running' || stringOf(run.startStep) !== task.step) return 'run-exists';
      if (await get(ledgerPaths.shard(o.stack, task.seedId, task.step, START_SHARD))) return 'run-exists';
      await create(stepPath, { ...startStepDocument(task.step, at, o.ledger.startShards?.[task.step]) });
      return 'create-task';
    },
  };
}

/** A Firestore REST `Value` (https://cloud.google.com/firestore/docs/reference/rest/v1/Value), the parts used here. */
export type RestValue =
  | { readonly nullValue: null }
  | { readonly booleanValue: boolean }
  | { readonly integerValue: string }
  | { readonly doubleValue: number }
  | { readonly stringValue: string }
  | { readonly timestampValue: string }
  | { readonly arrayValue: { readonly values: RestValue[] } }
  | { readonly mapValue: { readonly fields: Record<string, RestValue> } };

/** A value as the Node client would write it: whole numbers as integers, Dates as timestamps, objects as maps. */
export function restValue(v: unknown): RestValue {
  if (v === null) return { nullValue: null };
  if (typeof v === 'boolean') return { booleanValue: v };
  if (typeof v === 'number') return Number.isInteger(v) ? { integerValue: String(v) } : { doubleValue: v };
  if (typeof v === 'string') return { stringValue: v };
  if (v instanceof Date) return { timestampValue: v.toISOString() };
  if (Array.isArray(v)) return { arrayValue: { values: v.map(restValue) } };
  if (typeof v === 'object') return { mapValue: { fields: restFields(v as Record<string, unknown>) } };
  throw new TypeError(`${typeof v} is not a Firestore value`);
}

/** A document's fields; undefined fields are left out (as the client's ignoreUndefinedProperties does). */
export function restFields(o: Record<string, unknown>): Record<string, RestValue> {
  const out: Record<string, RestValue> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = restValue(v);
  return out;
}

function stringOf(v: RestValue | undefined): string | undefined {
  return v && 'stringValue' in v ? v.stringValue : undefined;
}

/** `{"error": {"code": 409, "status": "ALREADY_EXISTS", "message": ...}}` -> the gRPC code and the message. */
function errorOf(httpStatus: number, text: string): LedgerCallError {
  let name: string | undefined;
  let message = text.trim().slice(0, 500);
  try {
    const e = (JSON.parse(text) as { error?: { status?: string; message?: string } }).error;
    name = e?.status;
    if (e?.message) message = e.message;
  } catch {
    // Not JSON (a proxy's page): the HTTP status decides.
  }
  const byName = name === undefined ? undefined : (grpcStatus as unknown as Record<string, number>)[name];
  return new LedgerCallError(byName ?? codeOfHttpStatus(httpStatus), `HTTP ${httpStatus}: ${message}`);
}

/** google.rpc.Code for an HTTP status without a body (the mapping in google/rpc/code.proto). */
function codeOfHttpStatus(s: number): number {
  const map: Record<number, number> = {
    400: grpcStatus.INVALID_ARGUMENT,
    401: grpcStatus.UNAUTHENTICATED,
    403: grpcStatus.PERMISSION_DENIED,
    404: grpcStatus.NOT_FOUND,
    409: grpcStatus.ABORTED,
    429: grpcStatus.RESOURCE_EXHAUSTED,
    499: grpcStatus.CANCELLED,
    501: grpcStatus.UNIMPLEMENTED,
    503: grpcStatus.UNAVAILABLE,
    504: grpcStatus.DEADLINE_EXCEEDED,
  };
  return map[s] ?? (s >= 500 ? grpcStatus.INTERNAL : grpcStatus.UNKNOWN);
}

/** A 404 about the database itself (not yet created, or just created and not yet visible), not a missing document. */
function isDatabaseMissing(err: unknown): boolean {
  return /database .*(does not exist|not found)/i.test((err as LedgerCallError).details ?? '');
}

function errorCause(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message;
}
