/**
 * The run ledger's layout in Firestore (Native mode), and the envelope of the tasks it creates: a plain data contract.
 * The worker SDK and the ledger (lib/ledger) write these documents with the client library; the seeder will create
 * run documents through Firestore's REST API from this file alone; a worker in another language follows
 * docs/worker.md, which describes the same fields. Nothing here talks to Firestore.
 *
 *   stacks/{stack}/runs/{runId}                              one run: status, source, input, failure
 *   stacks/{stack}/runs/{runId}/steps/{step}                 a step of the run: open, complete, skipped or failed
 *   stacks/{stack}/runs/{runId}/steps/{step}/shards/{shard}  one task's work: attempts, lease, outputs, emits
 *   stacks/{stack}/runs/{runId}/claims/{claim}               created once (create-if-absent): who advances a step
 *
 * Runs are kept per stack (`<pipeline>-<environment>`) because run ids are the users' (seed ids, `runs start`): two
 * pipelines sharing one database must not see each other's runs. Completion is decided by counting shard documents
 * (an aggregation query), never through a counter document, so a 1,000-shard fan-in writes 1,000 different
 * documents and no document is written more than a few times per run (FIRESTORE_LIMITS.sustainedWritesPerDocument).
 */
import { createHash } from 'node:crypto';
import { documentSizeBytes, documentSizeProblems, FIRESTORE_LIMITS } from './rules/firestore';
import type { PipelineIdentity } from './naming';

export const LEDGER_LAYOUT_VERSION = 1;

export const COLLECTIONS = {
  stacks: 'stacks',
  runs: 'runs',
  steps: 'steps',
  shards: 'shards',
  claims: 'claims',
} as const;

// ------------------------------------------------------------------ ids

/**
 * Run ids: seed ids (letters, digits, hyphens, underscores), Cloud Tasks task ids (the same characters) and ids given
 * to `runs start`. At most 500 characters: the longest task id (task.proto), so any task can name its run.
 */
export const RUN_ID_PATTERN = /^[A-Za-z0-9_-]{1,500}$/;

export function runIdProblem(runId: string): string | undefined {
  if (RUN_ID_PATTERN.test(runId)) return undefined;
  return `"${runId.length > 80 ? `${runId.slice(0, 80)}...` : runId}" is not a run id: use 1 to 500 letters, digits, hyphens and underscores`;
}

/**
 * The document id of a run. Run ids are valid Firestore ids except those Firestore reserves (`__.*__`, quotas page);
 * those get a `~` prefix, which no run id can contain, so the mapping stays one-to-one.
 */
export function runDocumentId(runId: string): string {
  return /^__.*__$/.test(runId) ? `~${runId}` : runId;
}

export function runIdOfDocument(documentId: string): string {
  return documentId.startsWith('~') ? documentId.slice(1) : documentId;
}

/** The shard of the task that starts a run. */
export const START_SHARD = '0';
/** The one shard of a `join: all` step. */
export const JOIN_SHARD = 'all';
/** Longer composed shard ids are replaced by a hash (ids stay far below the 1,500-byte document id limit). */
const MAX_READABLE_SHARD_ID = 200;

/**
 * The shard a parent's emitted message becomes in a `join: each` step: `<parent shard>.<emit index>` (so a fan-out
 * of the start shard gives 0.0 ... 0.49, and a second fan-out 0.12.3), prefixed with `<parent step>:` when the step has
 * more than one parent, so two parents' messages never share a shard. Deterministic: a retried parent, a duplicate
 * delivery and the re-drive all name the same shard. Ids longer than 200 characters become `h<32 hex>`.
 */
export function childShardId(
  from: { readonly step: string; readonly shard: string; readonly index: number },
  parentsOfChild: number,
): string {
  const id = `${parentsOfChild > 1 ? `${from.step}:` : ''}${from.shard}.${from.index}`;
  return id.length <= MAX_READABLE_SHARD_ID ? id : `h${sha256Hex(id).slice(0, 32)}`;
}

/** Claim ids: one per decision that must be taken once per run. */
export const claimIdFor = {
  /** The step's completion: the owner marks it complete and starts what follows. */
  completion: (step: string) => `complete-${step}`,
  /** The single task of a `join: all` step. */
  join: (step: string) => `join-${step}`,
} as const;

/**
 * The Cloud Tasks id of a task the ledger creates: 32 hex of sha256(run, step, shard, generation). Deterministic, so a
 * retried worker meets ALREADY_EXISTS (the second guard, for about an hour) instead of creating a second task; hashed,
 * because cloudtasks.proto warns that sequential or timestamp-like names make named CreateTask slow. The generation
 * is 0 until a re-drive re-enqueues the shard (1, 2, ...), which needs a new name.
 */
export function ledgerTaskIdFor(runId: string, step: string, shard: string, generation: number): string {
  return sha256Hex(`${runId}\0${step}\0${shard}\0${generation}`).slice(0, 32);
}

/**
 * The default ledger database of a stack: `<pipeline>-<environment>-runs` (Firestore database ids are 4-63 lower-case
 * letters, digits, hyphens; a longer name is cut and given a hash of the whole, like the invoker account id).
 */
export function ledgerDatabaseIdFor(identity: Omit<PipelineIdentity, 'project'>): string {
  const full = `${identity.pipeline.name}-${identity.environment}-runs`;
  if (full.length <= 63 && FIRESTORE_LIMITS.databaseIdPattern.test(full)) return full;
  return `${full.slice(0, 63 - 9).replace(/-+$/, '')}-${sha256Hex(full).slice(0, 8)}`;
}

/** Where a pipeline's run ledger is: its project and database (the spec's `ledger`, with the defaults applied). */
export interface LedgerLocation {
  readonly project: string;
  readonly database: string;
}

/**
 * The ledger of a pipeline: `ledger.database` (in `ledger.project`, by default the pipeline's project) when the spec
 * names one, else the database the stack creates, ledgerDatabaseIdFor(...) in the pipeline's project.
 */
export function ledgerLocationFor(
  spec: PipelineIdentity & { readonly ledger?: { readonly project?: string; readonly database?: string } },
): LedgerLocation {
  return {
    project: spec.ledger?.project ?? spec.project,
    database: spec.ledger?.database ?? ledgerDatabaseIdFor(spec),
  };
}

// ------------------------------------------------------------------ paths

export const ledgerPaths = {
  stack: (stack: string) => `${COLLECTIONS.stacks}/${stack}`,
  runs: (stack: string) => `${COLLECTIONS.stacks}/${stack}/${COLLECTIONS.runs}`,
  run: (stack: string, runId: string) => `${ledgerPaths.runs(stack)}/${runDocumentId(runId)}`,
  steps: (stack: string, runId: string) => `${ledgerPaths.run(stack, runId)}/${COLLECTIONS.steps}`,
  step: (stack: string, runId: string, step: string) => `${ledgerPaths.steps(stack, runId)}/${step}`,
  shards: (stack: string, runId: string, step: string) =>
    `${ledgerPaths.step(stack, runId, step)}/${COLLECTIONS.shards}`,
  shard: (stack: string, runId: string, step: string, shard: string) =>
    `${ledgerPaths.shards(stack, runId, step)}/${shard}`,
  claims: (stack: string, runId: string) => `${ledgerPaths.run(stack, runId)}/${COLLECTIONS.claims}`,
  claim: (stack: string, runId: string, claim: string) => `${ledgerPaths.claims(stack, runId)}/${claim}`,
} as const;

// ------------------------------------------------------------------ documents

export const RUN_STATUSES = ['running', 'succeeded', 'failed', 'cancelled'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
/** `succeeded`, `failed` and `cancelled` are final: only a re-drive takes a failed run back to `running`. */
export const FINAL_RUN_STATUSES: readonly RunStatus[] = ['succeeded', 'failed', 'cancelled'];

export type RunSourceKind = 'seed' | 'manual' | 'schedule';
export interface RunSource {
  readonly kind: RunSourceKind;
  /** The seed id, the schedule name, or who started it by hand. */
  readonly name?: string;
}

export type FailureKind = 'permanent' | 'attempts-exhausted' | 'stalled' | 'message-too-large';
export interface RunFailure {
  readonly step: string;
  readonly shard?: string;
  readonly kind: FailureKind;
  readonly reason: string;
}

/**
 * `stacks/{stack}/runs/{runId}`. Written when the run starts and when it ends (plus a re-drive or a cancel), never on
 * progress. Timestamps are Firestore timestamps (`T`: Date when written, the client's Timestamp when read).
 */
export interface RunDocument<T = Date> {
  readonly layout: typeof LEDGER_LAYOUT_VERSION;
  readonly runId: string;
  readonly pipeline: string;
  readonly stack: string;
  readonly status: RunStatus;
  readonly source: RunSource;
  /** The step the run started at; the run's steps are those reachable from it (routes.ts runSteps). */
  readonly startStep: string;
  /** The Cloud Tasks id of the task that starts the run (a cancel deletes it while it waits). */
  readonly startTaskId?: string;
  /** The input payload as JSON text, when the run document can hold it. */
  readonly input?: string;
  /** Why `input` is absent (too large for a ledger document). */
  readonly inputNote?: string;
  readonly createdAt: T;
  readonly updatedAt: T;
  /** When the first task is due, if later than `createdAt` (a scheduled seed): stall detection waits for it. */
  readonly notBefore?: T;
  readonly finishedAt?: T;
  readonly failure?: RunFailure;
  /** Failures the re-drives cleared, oldest first. */
  readonly previousFailures?: readonly RunFailure[];
  /** How many times the run was re-driven; the generation of the tasks the last re-drive created. */
  readonly redrives: number;
}

/**
 * Room kept for a document's small fields (ids, states, timestamps, counters: a few hundred bytes) when deciding
 * whether a large value (an input, a message, emits) fits in the 1 MiB a Firestore document holds.
 */
export const SMALL_FIELDS_ROOM = 'x'.repeat(2048);

/** What a run starts with: the fields of its first run document that its starter knows. */
export interface NewRunDocument {
  readonly runId: string;
  readonly pipeline: string;
  readonly stack: string;
  readonly startStep: string;
  readonly source: RunSource;
  /** The first task's payload, as JSON text. */
  readonly inputJson: string;
  readonly startTaskId?: string;
  /** When the first task is due (ms); kept only when later than `now`. */
  readonly notBeforeMs?: number;
}

/**
 * The run document a run starts with, as every starter writes it (the worker SDK on a run's first delivery, `runs
 * start`, the seeder through the REST API): `running`, no redrives, the input kept when the document can hold it.
 */
export function newRunDocument(r: NewRunDocument, now: Date): RunDocument<Date> {
  const path = ledgerPaths.run(r.stack, r.runId);
  const fits =
    documentSizeProblems(documentSizeBytes(path, { input: r.inputJson, room: SMALL_FIELDS_ROOM })).length === 0;
  return {
    layout: LEDGER_LAYOUT_VERSION,
    runId: r.runId,
    pipeline: r.pipeline,
    stack: r.stack,
    status: 'running',
    source: r.source,
    startStep: r.startStep,
    ...(r.startTaskId ? { startTaskId: r.startTaskId } : {}),
    ...(fits
      ? { input: r.inputJson }
      : {
          inputNote: `the input (${Buffer.byteLength(r.inputJson).toLocaleString('en-US')} bytes) is too large to keep in a ledger document (${FIRESTORE_LIMITS.maxDocumentBytes.toLocaleString('en-US')} bytes at most); the start task carries it`,
        }),
    createdAt: now,
    updatedAt: now,
    ...(r.notBeforeMs !== undefined && r.notBeforeMs > now.getTime() ? { notBefore: new Date(r.notBeforeMs) } : {}),
    redrives: 0,
  };
}

/** The start step's document, created right after the run document: open, one task expected. */
/** The start step of a new run: `expected` is its shards (a job step's task or replica count, else 1). */
export function startStepDocument(step: string, now: Date, expected = 1): StepDocument<Date> {
  return { step, state: 'open', expected, openedAt: now };
}

export const STEP_STATES = ['open', 'complete', 'skipped', 'failed'] as const;
export type StepState = (typeof STEP_STATES)[number];

/**
 * `.../steps/{step}`. Created (create-if-absent) when the step's tasks are known (`open`, with `expected`), written
 * once more when it completes (`complete`, or `skipped` when no message reached it) or fails. A step of the run
 * without a document is pending: its parents have not all completed.
 */
export interface StepDocument<T = Date> {
  readonly step: string;
  readonly state: StepState;
  /** Tasks (shards) the step must complete for this run. */
  readonly expected?: number;
  readonly openedAt?: T;
  readonly completedAt?: T;
  /** Shards done when it completed. */
  readonly succeeded?: number;
  /** Messages its shards emitted, per next step (summed at completion). */
  readonly emitted?: Readonly<Record<string, number>>;
  readonly failure?: RunFailure;
}

export const SHARD_STATES = ['pending', 'running', 'done', 'failed'] as const;
/** pending: re-enqueued by a re-drive, not yet claimed. */
export type ShardState = (typeof SHARD_STATES)[number];

export interface ShardError {
  readonly message: string;
  /** A PermanentError, or the last attempt of the queue's retry budget. */
  readonly final: boolean;
  readonly attempt: number;
}

/**
 * `.../steps/{step}/shards/{shard}`: one task's work. Written when an attempt claims it (a transaction-free
 * compare-and-set on `updateTime`), when it ends (done: outputs and emits in the same write; failed: the error), and
 * when an attempt fails transiently (the error, the lease released).
 */
export interface ShardDocument<T = Date> {
  readonly step: string;
  readonly shard: string;
  readonly state: ShardState;
  /** Attempts that claimed the shard, over all generations. */
  readonly attempts: number;
  /** 0, or the re-drive that re-enqueued it. */
  readonly generation: number;
  /** While `running`: the claim holds until then (the claim time plus the step's dispatch deadline). */
  readonly leaseUntil?: T;
  /** The delivery that holds the lease: `<task id>/<retry count>`. */
  readonly leaseOwner?: string;
  /** The message the shard received, as JSON text (absent when too large to keep: see messageNote). */
  readonly message?: string;
  readonly messageNote?: string;
  /** Where the message came from, for shards created by a parent's emit. */
  readonly from?: { readonly step: string; readonly shard: string; readonly index: number };
  /** First attempt of this generation (the retry budget counts from it). */
  readonly firstAttemptAt: T;
  /** Start of the latest attempt. */
  readonly startedAt: T;
  readonly updatedAt: T;
  readonly finishedAt?: T;
  /** `ctx.output(name, uri)`: artifact URIs. */
  readonly outputs?: Readonly<Record<string, string>>;
  /** Messages for each next step, as JSON text, in emit order. */
  readonly emits?: Readonly<Record<string, readonly string[]>>;
  /** How many messages for each next step (summed by aggregation when the step completes). */
  readonly emitCounts?: Readonly<Record<string, number>>;
  readonly error?: ShardError;
}

/** `.../claims/{claim}`: created only if absent; the owner is the delivery that may act on it. */
export interface ClaimDocument<T = Date> {
  /** `<step>/<shard>` of the delivery that won it, or `redrive-<n>` for a re-drive. */
  readonly owner: string;
  readonly createdAt: T;
}

/**
 * Composite indexes the readers need (single-field indexes are automatic): listing a stack's runs by status, newest
 * first. The stack creates them (google_firestore_index); the emulator needs none.
 */
export const LEDGER_INDEXES = [
  {
    collectionGroup: COLLECTIONS.runs,
    queryScope: 'COLLECTION',
    fields: [
      { fieldPath: 'status', order: 'ASCENDING' },
      { fieldPath: 'createdAt', order: 'DESCENDING' },
    ],
  },
] as const;

// ------------------------------------------------------------------ the task envelope

/** The value of `envelope` in the body of every task the ledger creates. */
export const ENVELOPE_FORMAT = 'cloud-tasks-pipelines/run-v1';

/**
 * The JSON body of a task the ledger creates. A body without `envelope` (a seed, a scheduled firing, a task from
 * `gcloud tasks create-http-task`) is a payload that starts a run: the SDK derives the run id from the task name.
 */
export interface TaskEnvelope {
  readonly envelope: typeof ENVELOPE_FORMAT;
  /** Absent when the task starts a run whose id comes from its task name (e.g. a schedule's firing). */
  readonly runId?: string;
  /** The step the task is for (its queue's step). */
  readonly step: string;
  readonly shard: string;
  /** 0, or the re-drive that created this task. */
  readonly generation: number;
  readonly payload: unknown;
  /** Which parent emit this task carries (join: each). */
  readonly from?: { readonly step: string; readonly shard: string; readonly index: number };
  /** Who started the run, for tasks that start one. */
  readonly source?: RunSource;
}

export function isTaskEnvelope(v: unknown): v is { readonly envelope: typeof ENVELOPE_FORMAT } {
  return (
    typeof v === 'object' &&
    v !== null &&
    !Array.isArray(v) &&
    (v as { envelope?: unknown }).envelope === ENVELOPE_FORMAT
  );
}

/** What is wrong with an envelope (an object whose `envelope` is ENVELOPE_FORMAT), as "field: message" lines. */
export function envelopeProblems(v: Record<string, unknown>): string[] {
  const out: string[] = [];
  if (v.runId !== undefined && (typeof v.runId !== 'string' || runIdProblem(v.runId)))
    out.push(`runId: ${typeof v.runId === 'string' ? runIdProblem(v.runId) : 'must be a string'}`);
  if (typeof v.step !== 'string' || v.step === '') out.push('step: must be the step name');
  if (typeof v.shard !== 'string' || v.shard === '' || v.shard.includes('/')) out.push('shard: must be a shard id');
  if (!Number.isInteger(v.generation) || (v.generation as number) < 0) out.push('generation: must be a whole number');
  if (!('payload' in v)) out.push('payload: is missing');
  if (v.runId === undefined && v.source === undefined)
    out.push('runId: is missing (and no source says the task starts a run)');
  const from = v.from as Record<string, unknown> | undefined;
  if (
    from !== undefined &&
    (typeof from !== 'object' ||
      typeof from?.step !== 'string' ||
      typeof from?.shard !== 'string' ||
      !Number.isInteger(from?.index))
  )
    out.push('from: must be { step, shard, index }');
  return out;
}

/** What an envelope is made of: its fields, and the payload as the JSON text the ledger stores. */
export interface EnvelopeParts {
  readonly runId?: string;
  readonly step: string;
  readonly shard: string;
  readonly generation: number;
  /** The payload as JSON text. */
  readonly payloadJson: string;
  readonly from?: TaskEnvelope['from'];
  readonly source?: RunSource;
}

/**
 * The envelope text: built by hand around the stored payload text, so a large payload is not parsed again. The one
 * writer of the envelope: the ledger's tasks, and the seed manifest's job requests (PIPELINE_MESSAGE).
 */
export function envelopeJson(t: EnvelopeParts): string {
  const head: Omit<TaskEnvelope, 'payload'> = {
    envelope: ENVELOPE_FORMAT,
    ...(t.runId !== undefined ? { runId: t.runId } : {}),
    step: t.step,
    shard: t.shard,
    generation: t.generation,
    ...(t.from ? { from: t.from } : {}),
    ...(t.source ? { source: t.source } : {}),
  };
  const text = JSON.stringify(head);
  return `${text.slice(0, -1)},"payload":${t.payloadJson}}`;
}

function sha256Hex(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}
