/**
 * Typed access to one stack's ledger documents (lib/core/ledger-layout.ts), and the two write disciplines the ledger
 * uses instead of transactions:
 *
 * - create-if-absent (`create`): claims, run documents, step openings; a second writer gets `false`;
 * - compare-and-set (`compareAndSet`): read, decide, write with the read's update time as precondition, and on a
 *   conflict read again. Optimistic: the server client's transactions lock what they read, and two of them on one
 *   document cost seconds in Google's emulator (measured: 2.8 s for 2, docs/decisions/run-ledger.md); a precondition
 *   conflict costs one more read.
 *
 * Times are milliseconds in the records this returns (Firestore Timestamps converted), Dates when written.
 * Every committed write is reported to `onWrite(path)`, so tests and the bench count writes per document.
 */
import type { DocumentReference, DocumentSnapshot, Firestore, Timestamp } from '@google-cloud/firestore';
import {
  ledgerPaths,
  type ClaimDocument,
  type RunDocument,
  type ShardDocument,
  type StepDocument,
} from '../core/ledger-layout';
import { firestoreLibrary } from './firestore';

/** Documents as read: timestamps as milliseconds since the epoch. */
export type RunRecord = RunDocument<number>;
export type StepRecord = StepDocument<number>;
export type ShardRecord = ShardDocument<number>;
export type ClaimRecord = ClaimDocument<number>;

/** A field value a write sets: data, Dates, or the store's `deleteField()`. */
export type WriteData = Record<string, unknown>;

/** gRPC codes the client library reports (google.rpc.Code). */
const ALREADY_EXISTS = 6;
const FAILED_PRECONDITION = 9;
const ABORTED = 10;

/** What a compare-and-set decides from the current document (undefined: absent). */
export interface Decision<R> {
  /** Fields to write; absent: no write, return `result`. A create when the document is absent, else an update. */
  readonly write?: WriteData;
  readonly result: R;
}

export interface CompareAndSetResult<R> {
  readonly result: R;
  /** The write's commit time (undefined when nothing was written): the precondition of the next update. */
  readonly writeTime?: Timestamp;
}

const MAX_CAS_ROUNDS = 25;

export class LedgerStore {
  constructor(
    readonly db: Firestore,
    readonly stack: string,
    private readonly onWrite: (path: string) => void = () => undefined,
  ) {}

  // ---------------------------------------------------------------- paths

  runRef(runId: string): DocumentReference {
    return this.db.doc(ledgerPaths.run(this.stack, runId));
  }
  stepRef(runId: string, step: string): DocumentReference {
    return this.db.doc(ledgerPaths.step(this.stack, runId, step));
  }
  shardRef(runId: string, step: string, shard: string): DocumentReference {
    return this.db.doc(ledgerPaths.shard(this.stack, runId, step, shard));
  }
  claimRef(runId: string, claim: string): DocumentReference {
    return this.db.doc(ledgerPaths.claim(this.stack, runId, claim));
  }
  shardsOf(runId: string, step: string) {
    return this.db.collection(ledgerPaths.shards(this.stack, runId, step));
  }
  runs() {
    return this.db.collection(ledgerPaths.runs(this.stack));
  }

  // ---------------------------------------------------------------- reads

  async get<T>(ref: DocumentReference): Promise<T | undefined> {
    const snap = await ref.get();
    return snap.exists ? (toRecord(snap.data()) as T) : undefined;
  }

  async getRun(runId: string): Promise<RunRecord | undefined> {
    return this.get<RunRecord>(this.runRef(runId));
  }

  /** Step documents of a run, in the order asked (undefined: no document yet). One round trip. */
  async getSteps(runId: string, steps: readonly string[]): Promise<Array<StepRecord | undefined>> {
    if (steps.length === 0) return [];
    const snaps = await this.db.getAll(...steps.map((s) => this.stepRef(runId, s)));
    return snaps.map((s) => (s.exists ? (toRecord(s.data()) as unknown as StepRecord) : undefined));
  }

  /** Several documents in one round trip, as snapshots (for a compare-and-set that follows) and records. */
  async getMany(
    refs: readonly DocumentReference[],
  ): Promise<Array<{ snap: DocumentSnapshot; record?: Record<string, unknown> }>> {
    if (refs.length === 0) return [];
    const snaps = await this.db.getAll(...refs);
    return snaps.map((snap) => ({ snap, ...(snap.exists ? { record: toRecord(snap.data()) } : {}) }));
  }

  async getShard(runId: string, step: string, shard: string): Promise<ShardRecord | undefined> {
    return this.get<ShardRecord>(this.shardRef(runId, step, shard));
  }

  /** Every shard of a step (optionally only some fields). */
  async listShards(runId: string, step: string, fields?: readonly string[]): Promise<ShardRecord[]> {
    const col = this.shardsOf(runId, step);
    const snap = await (fields ? col.select(...fields) : col).get();
    return snap.docs.map((d) => toRecord({ shard: d.id, ...d.data() }) as unknown as ShardRecord);
  }

  /**
   * Shards of a step in state `done`, counted, and the sum of their `emitCounts.<next>` for each next step: one
   * aggregation query (billed as one read per 1,000 index entries), however many shards there are.
   */
  async countDone(
    runId: string,
    step: string,
    nextSteps: readonly string[],
  ): Promise<{ done: number; emitted: Record<string, number> }> {
    const { AggregateField, FieldPath } = firestoreLibrary();
    const spec: Record<string, ReturnType<typeof AggregateField.count>> = { done: AggregateField.count() };
    nextSteps.forEach((n, i) => (spec[`e${i}`] = AggregateField.sum(new FieldPath('emitCounts', n))));
    const snap = await this.shardsOf(runId, step).where('state', '==', 'done').aggregate(spec).get();
    const data = snap.data() as Record<string, number | null>;
    return {
      done: data.done ?? 0,
      emitted: Object.fromEntries(nextSteps.map((n, i) => [n, data[`e${i}`] ?? 0])),
    };
  }

  /**
   * Whether any of a step's shards is claimed but not done (or failed): one index lookup (limit 1). Completions check
   * it before counting, so a fan-in's shards finishing while others run do not each count every shard.
   */
  async anyUnfinished(runId: string, step: string): Promise<boolean> {
    const snap = await this.shardsOf(runId, step)
      .where('state', 'in', ['pending', 'running', 'failed'])
      .select()
      .limit(1)
      .get();
    return !snap.empty;
  }

  /** The messages a step's done shards emitted to `next`, per shard (only that field is read). */
  async emitsOf(runId: string, step: string, next: string): Promise<Array<{ shard: string; messages: string[] }>> {
    const { FieldPath } = firestoreLibrary();
    const snap = await this.shardsOf(runId, step)
      .where('state', '==', 'done')
      .select(new FieldPath('emits', next))
      .get();
    return snap.docs.map((d) => ({
      shard: d.id,
      messages: ((d.get(new FieldPath('emits', next)) as string[] | undefined) ?? []).slice(),
    }));
  }

  /** The latest `updatedAt` among a step's shards (the last progress of that step), or undefined without shards. */
  async lastShardUpdate(runId: string, step: string): Promise<number | undefined> {
    const snap = await this.shardsOf(runId, step).orderBy('updatedAt', 'desc').limit(1).select('updatedAt').get();
    const t = snap.docs[0]?.get('updatedAt') as Timestamp | undefined;
    return t?.toMillis();
  }

  // ---------------------------------------------------------------- writes

  /** Creates the document if it does not exist; false when it did. */
  async create(ref: DocumentReference, data: WriteData): Promise<boolean> {
    try {
      await ref.create(data);
      this.onWrite(ref.path);
      return true;
    } catch (err) {
      if (codeOf(err) === ALREADY_EXISTS) return false;
      throw err;
    }
  }

  async set(ref: DocumentReference, data: WriteData, merge = true): Promise<void> {
    await ref.set(data, { merge });
    this.onWrite(ref.path);
  }

  /** An update that applies only if the document was last written at `writeTime`; false on a conflict. */
  async updateIfUnchanged(ref: DocumentReference, data: WriteData, writeTime: Timestamp): Promise<Timestamp | false> {
    try {
      const r = await ref.update(data, { lastUpdateTime: writeTime });
      this.onWrite(ref.path);
      return r.writeTime;
    } catch (err) {
      if ([FAILED_PRECONDITION, ABORTED].includes(codeOf(err) ?? -1)) return false;
      throw err;
    }
  }

  async delete(ref: DocumentReference): Promise<void> {
    await ref.delete();
    this.onWrite(ref.path);
  }

  /** See the file comment. `decide` must be a pure function of the document it is given. */
  async compareAndSet<T, R>(
    ref: DocumentReference,
    decide: (current: T | undefined) => Decision<R>,
    /** A snapshot of `ref` read just before (saves the first read). */
    initial?: DocumentSnapshot,
  ): Promise<CompareAndSetResult<R>> {
    for (let round = 0; round < MAX_CAS_ROUNDS; round++) {
      const snap: DocumentSnapshot = round === 0 && initial ? initial : await ref.get();
      const current = snap.exists ? (toRecord(snap.data()) as T) : undefined;
      const decision = decide(current);
      if (!decision.write) return { result: decision.result };
      if (!snap.exists) {
        try {
          const r = await ref.create(decision.write);
          this.onWrite(ref.path);
          return { result: decision.result, writeTime: r.writeTime };
        } catch (err) {
          if (codeOf(err) === ALREADY_EXISTS) continue;
          throw err;
        }
      }
      const writeTime = await this.updateIfUnchanged(ref, decision.write, snap.updateTime!);
      if (writeTime) return { result: decision.result, writeTime };
    }
    throw new Error(`${ref.path}: still contended after ${MAX_CAS_ROUNDS} compare-and-set rounds`);
  }

  /** A sentinel that removes a field in an update. */
  deleteField(): unknown {
    return firestoreLibrary().FieldValue.delete();
  }
}

/** Top-level Timestamp fields to milliseconds (the layout keeps timestamps at the top level). */
function toRecord(data: Record<string, unknown> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(data ?? {})) out[k] = isTimestamp(v) ? v.toMillis() : v;
  return out;
}

function isTimestamp(v: unknown): v is Timestamp {
  return typeof v === 'object' && v !== null && typeof (v as Timestamp).toMillis === 'function';
}

function codeOf(err: unknown): number | undefined {
  return (err as { code?: number }).code;
}
