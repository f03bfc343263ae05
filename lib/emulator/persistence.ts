/**
 * --data-dir: the state in SQLite (better-sqlite3, WAL journal, synchronous=FULL), written by group commit before any
 * call is acknowledged. Every change marks its rows dirty (queue, task, reservation, IAM policy); the dirty rows go
 * to the writer thread (persistence-writer.cjs) as one batch, committed in one transaction, and only then are the
 * calls that made them answered (`whenDurable`). While a batch is being synced the main thread keeps serving calls;
 * their changes form the next batch, sent when the writer answers. A crash loses only calls that were never answered;
 * a restart loads exactly the acknowledged state.
 *
 * Why a thread: a commit with synchronous=FULL waits for the disk (0.5-1.2 ms here), and on the main thread that
 * wait stopped every call, dispatch and timer: with 200 CreateTasks in flight the emulator sat a fifth of the time in
 * SQLite (docs/decisions/emulator-durability.md).
 *
 * The data dir is locked: the writer holds the database in EXCLUSIVE locking mode (a second process cannot read or
 * write it) and `LOCK` names the holder's pid for the error message. SQLite's write-ahead log checksums its frames:
 * after a crash the last whole transaction is kept and a torn tail is dropped; the start reports that it recovered.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type BetterSqlite3 from 'better-sqlite3';
import type { EmulatorEvent, Queue, Task } from './model';
import type { EmulatorState, IamPolicy, StateRows } from './state';

export const DATABASE_FILE = 'cloud-tasks-emulator.sqlite';
export const LOCK_FILE = 'LOCK';
/** The JSON snapshot of emulators before the database; imported once, then renamed `.imported`. */
export const LEGACY_SNAPSHOT_FILE = 'cloud-tasks-emulator.json';

export interface OpenedStore {
  readonly store: DurableStore;
  /** Lines to tell the user: a recovered crash, a stale lock, an imported snapshot. */
  readonly notices: string[];
}

type SerializedTask = Omit<Task, 'httpRequest'> & {
  readonly httpRequest: Omit<Task['httpRequest'], 'body'> & { readonly body: string };
};

/** The writer thread's module: the schema and the batch format are defined once, there. */
interface WriterModule {
  readonly SCHEMA: string;
  batchWriter(db: BetterSqlite3.Database): (ops: ReadonlyArray<string | number>) => void;
}
const WRITER_FILE = path.join(__dirname, 'persistence-writer.cjs');
const writerModule = (): WriterModule => require(WRITER_FILE) as WriterModule;

export class DataDirLockedError extends Error {}

export interface OpenStoreOptions {
  /**
   * The writer thread's script. Tests pass one that fails, to see what the callers get.
   * @default persistence-writer.cjs
   */
  readonly writerFile?: string;
}

/**
 * Opens (or creates) the store in `dataDir`, locks it, reads it into `state` (which must be empty) and starts the
 * writer thread. Throws DataDirLockedError when another emulator holds it, naming its pid.
 *
 * The main thread reads the database first (recovery, quick_check, the legacy import, loading) on its own connection,
 * closes it, and the writer opens it with the exclusive lock. In the gap another emulator could take the lock; then
 * this one refuses to start, as it would have a moment earlier.
 */
export async function openStore(
  dataDir: string,
  state: EmulatorState,
  options: OpenStoreOptions = {},
): Promise<OpenedStore> {
  const notices: string[] = [];
  mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, DATABASE_FILE);
  const lockFile = path.join(dataDir, LOCK_FILE);
  /** The pid in LOCK, when there is one. */
  const lockHolder = (): string | undefined =>
    existsSync(lockFile) ? readFileSync(lockFile, 'utf8').trim() : undefined;
  const locked = (): DataDirLockedError =>
    new DataDirLockedError(
      `the data dir ${dataDir} is in use by another emulator (pid ${lockHolder() ?? 'unknown'}, from ${lockFile}); stop it, or pass another --data-dir`,
    );
  const wal = `${file}-wal`;
  const walBytes = existsSync(wal) ? statSync(wal).size : 0;
  const Database = require('better-sqlite3') as typeof BetterSqlite3;
  // timeout 0: a data dir another emulator holds is refused at once, not after SQLite's busy wait.
  const db = new Database(file, { timeout: 0 });
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    db.pragma('journal_mode = WAL');
    // Taking the write lock now: a second emulator fails here instead of at its first write.
    db.exec('BEGIN EXCLUSIVE; COMMIT');
  } catch (err) {
    db.close();
    if (isBusy(err)) throw locked();
    throw new Error(`cannot open ${file}: ${(err as Error).message}; move it away to start empty`);
  }
  const previous = lockHolder();
  if (previous && previous !== String(process.pid))
    notices.push(
      `the emulator with pid ${previous} did not stop cleanly (its ${LOCK_FILE} was left); taking over the data dir`,
    );
  writeFileSync(lockFile, `${process.pid}\n`);
  if (walBytes > 0)
    notices.push(
      `recovered ${file} after an unclean stop: the write-ahead log (${walBytes.toLocaleString('en-US')} bytes) was replayed up to its last whole transaction; a torn tail, if any, was dropped`,
    );
  try {
    const check = db.pragma('quick_check', { simple: true }) as string;
    if (check !== 'ok')
      throw new Error(
        `${file} is corrupt (SQLite quick_check: ${check}); move it away to start empty, or restore it from a copy`,
      );
    db.pragma('synchronous = FULL');
    const { SCHEMA, batchWriter } = writerModule();
    db.exec(SCHEMA);
    const legacy = path.join(dataDir, LEGACY_SNAPSHOT_FILE);
    const empty = (db.prepare('SELECT count(*) AS n FROM queues').get() as { n: number }).n === 0;
    if (empty && existsSync(legacy)) {
      importLegacySnapshot(legacy, state, batchWriter(db));
      notices.push(`imported ${legacy} (the earlier snapshot format) and renamed it ${LEGACY_SNAPSHOT_FILE}.imported`);
    } else loadInto(db, state);
  } finally {
    db.close();
  }
  // Interrupted snapshot temp files of the earlier format must not outlive a crash.
  for (const name of readdirSafe(dataDir)) if (name.endsWith('.tmp')) rmSync(path.join(dataDir, name), { force: true });
  const store = await DurableStore.start(file, state, dataDir, options.writerFile ?? WRITER_FILE).catch(
    (err: Error & { code?: string }) => {
      // Our LOCK goes with the failed start; another emulator's (it took the lock in the gap) stays.
      if (lockHolder() === String(process.pid)) rmSync(lockFile);
      throw isBusy(err) ? locked() : new Error(`cannot open ${file}: ${err.message}; move it away to start empty`);
    },
  );
  return { store, notices };
}

function isBusy(err: unknown): boolean {
  return (err as { code?: string }).code === 'SQLITE_BUSY' || /locked/.test((err as Error).message);
}

function readdirSafe(dir: string): string[] {
  try {
    return require('node:fs').readdirSync(dir) as string[];
  } catch {
    return [];
  }
}

/** Reads the database into the (empty) state. */
function loadInto(db: BetterSqlite3.Database, state: EmulatorState): void {
  const queues = (db.prepare('SELECT doc FROM queues').all() as Array<{ doc: string }>).map(
    (r) => JSON.parse(r.doc) as Queue,
  );
  const tasks = (db.prepare('SELECT doc FROM tasks ORDER BY seq').all() as Array<{ doc: string }>).map((r) =>
    deserializeTask(r.doc),
  );
  const reservations = db.prepare('SELECT kind, name, until_ms FROM reservations').all() as Array<{
    kind: string;
    name: string;
    until_ms: number;
  }>;
  const iam = (db.prepare('SELECT queue, doc FROM iam').all() as Array<{ queue: string; doc: string }>).map(
    (r) => [r.queue, JSON.parse(r.doc) as IamPolicy] as const,
  );
  const seq = db.prepare("SELECT value FROM meta WHERE key = 'next_seq'").get() as { value: string } | undefined;
  state.load({
    queues,
    tasks,
    taskNameReservations: reservations.filter((r) => r.kind === 'task').map((r) => [r.name, r.until_ms] as const),
    queueNameReservations: reservations.filter((r) => r.kind === 'queue').map((r) => [r.name, r.until_ms] as const),
    iamPolicies: iam,
    nextSeq: seq ? Number(seq.value) : 1,
  });
}

/** Imports the earlier JSON snapshot format into the state and the database, and renames the file. */
function importLegacySnapshot(
  file: string,
  state: EmulatorState,
  write: (ops: ReadonlyArray<string | number>) => void,
): void {
  const snapshot = JSON.parse(readFileSync(file, 'utf8')) as {
    nextSeq: number;
    queues: Array<{ queue: Queue; tasks: Array<SerializedTask> }>;
    taskNameReservations: Array<[string, number]>;
    queueNameReservations: Array<[string, number]>;
  };
  const rows: StateRows = {
    queues: snapshot.queues.map((q) => q.queue),
    tasks: snapshot.queues.flatMap((q) => q.tasks.map((t) => deserializeTask(JSON.stringify(t)))),
    taskNameReservations: snapshot.taskNameReservations,
    queueNameReservations: snapshot.queueNameReservations,
    iamPolicies: [],
    nextSeq: snapshot.nextSeq,
  };
  state.load(rows);
  const dirty = new DirtyRows();
  for (const q of rows.queues) dirty.queues.add(q.name);
  for (const t of rows.tasks) dirty.tasks.add(t.name);
  for (const [n] of rows.taskNameReservations) dirty.taskNames.add(n);
  for (const [n] of rows.queueNameReservations) dirty.queueNames.add(n);
  write(dirty.take(state));
  renameSync(file, `${file}.imported`);
}

/** Rows changed since the last batch, by kind; `take` turns them into the writer's operations (persistence-writer.cjs). */
class DirtyRows {
  readonly queues = new Set<string>();
  readonly tasks = new Set<string>();
  readonly taskNames = new Set<string>();
  readonly queueNames = new Set<string>();
  /** Queues whose tasks all went at once (DeleteQueue, PurgeQueue): one DELETE instead of one per task. */
  readonly clearedQueues = new Set<string>();

  /** The operations that write every dirty row as the state has it now; clears the sets. */
  take(state: EmulatorState): Array<string | number> {
    const ops: Array<string | number> = [];
    for (const name of this.clearedQueues) ops.push('delQueueTasks', name, 'delIam', name);
    this.clearedQueues.clear();
    for (const name of this.queues) {
      const queue = state.findQueue(name);
      if (queue) ops.push('putQueue', name, JSON.stringify(queue));
      else ops.push('delQueue', name);
      const policy = state.findIamPolicy(name);
      if (policy) ops.push('putIam', name, JSON.stringify(policy));
    }
    this.queues.clear();
    for (const name of this.tasks) {
      const task = state.findTask(name);
      if (task) ops.push('putTask', name, task.queueName, task.seq, serializeTask(task));
      else ops.push('delTask', name);
    }
    this.tasks.clear();
    for (const name of this.taskNames) {
      const until = state.taskNameReservedUntil(name);
      if (until !== undefined) ops.push('putReservation', 'task', name, until);
      else ops.push('delReservation', 'task', name);
    }
    this.taskNames.clear();
    for (const name of this.queueNames) {
      const until = state.queueNameReservedUntil(name);
      if (until !== undefined) ops.push('putReservation', 'queue', name, until);
      else ops.push('delReservation', 'queue', name);
    }
    this.queueNames.clear();
    ops.push('putMeta', 'next_seq', String(state.nextTaskSeq));
    return ops;
  }
}

/** Calls waiting for one batch to be committed. */
interface Batch {
  readonly durable: Promise<void>;
  resolve(): void;
  reject(err: Error): void;
}

function newBatch(): Batch {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const durable = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A failed batch is reported to every call that waits on it; nobody waiting is no unhandled rejection.
  durable.catch(() => undefined);
  return { durable, resolve, reject };
}

type WriterMessage =
  | { readonly type: 'ready' }
  | { readonly type: 'error'; readonly code: string; readonly message: string }
  | { readonly type: 'committed' }
  | { readonly type: 'failed'; readonly message: string }
  | { readonly type: 'closed' };

export class DurableStore {
  private readonly dirty = new DirtyRows();
  /** Changes not sent to the writer yet: the calls that made them wait on this batch. */
  private open: Batch | undefined;
  /** The batch the writer is committing. */
  private committing: Batch | undefined;
  private sendQueued = false;
  private readonly unsubscribe: () => void;
  private closed: Promise<void> | undefined;
  private failure: Error | undefined;
  private onClosed: (() => void) | undefined;
  private exited = false;
  /** Transactions committed, for tests and the benchmark. */
  commits = 0;

  private constructor(
    private readonly writer: Worker,
    private readonly state: EmulatorState,
    private readonly dataDir: string,
  ) {
    writer.on('message', (m: WriterMessage) => this.onWriterMessage(m));
    writer.on('error', (err) => this.fail(new Error(`the writer thread failed: ${err.message}`)));
    writer.on('exit', (code) => {
      this.exited = true;
      if (!this.closed) this.fail(new Error(`the writer thread exited (${code})`));
      this.onClosed?.();
    });
    // The writer alone does not keep a process alive; close() holds it until the last batch is on disk.
    writer.unref();
    this.unsubscribe = state.onEvent((e) => this.record(e));
  }

  /** Starts the writer thread on `file` and resolves once it holds the lock; records the state's changes from then. */
  static start(file: string, state: EmulatorState, dataDir: string, writerFile: string): Promise<DurableStore> {
    const writer = new Worker(writerFile, { workerData: { role: 'cloud-tasks-emulator-writer', file } });
    return new Promise((resolve, reject) => {
      const first = (m: WriterMessage): void => {
        writer.off('error', failed);
        writer.off('exit', exited);
        if (m.type === 'ready') resolve(new DurableStore(writer, state, dataDir));
        else {
          void writer.terminate();
          reject(
            Object.assign(new Error(m.type === 'error' ? m.message : `unexpected ${m.type}`), {
              code: m.type === 'error' ? m.code : undefined,
            }),
          );
        }
      };
      const failed = (err: Error): void => reject(err);
      // A thread that ends before it is ready (its module failed to load the SQLite binding, say) must not hang the start.
      const exited = (code: number): void =>
        reject(new Error(`the writer thread exited (${code}) before it was ready`));
      writer.once('message', first);
      writer.once('error', failed);
      writer.once('exit', exited);
    });
  }

  /** The database file. */
  get path(): string {
    return path.join(this.dataDir, DATABASE_FILE);
  }

  /**
   * Resolves once every change made so far is committed (at once when nothing is pending); rejects when the commit
   * failed (the disk is full, the file was removed), so the call reports an error instead of a lost write.
   */
  whenDurable(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    return (this.open ?? this.committing)?.durable ?? Promise.resolve();
  }

  /**
   * Commits what is pending, closes the database (the writer checkpoints the log into it) and removes the lock.
   */
  close(): Promise<void> {
    this.closed ??= (async () => {
      this.unsubscribe();
      this.writer.ref();
      while (!this.failure && (this.open || this.committing)) {
        if (!this.committing) this.send();
        await this.committing?.durable.catch(() => undefined);
      }
      if (!this.exited) {
        const exited = new Promise<void>((resolve) => (this.onClosed = resolve));
        this.writer.postMessage({ type: 'close' });
        await exited;
      }
      rmSync(path.join(this.dataDir, LOCK_FILE), { force: true });
    })();
    return this.closed;
  }

  private record(e: EmulatorEvent): void {
    if ('queue' in e) {
      this.dirty.queues.add(e.queue.name);
      if (e.type === 'queue-deleted') {
        this.dirty.clearedQueues.add(e.queue.name);
        this.dirty.queueNames.add(e.queue.name);
      }
    } else {
      this.dirty.tasks.add(e.task.name);
      if (e.type === 'task-removed') this.dirty.taskNames.add(e.task.name);
    }
    if (this.failure) return;
    this.open ??= newBatch();
    // Group commit: every change made until the event loop turns goes into one batch; while the writer is busy,
    // until it answers.
    if (!this.committing && !this.sendQueued) {
      this.sendQueued = true;
      setImmediate(() => {
        this.sendQueued = false;
        this.send();
      });
    }
  }

  /** Sends the open batch to the writer, unless it is still committing the previous one. */
  private send(): void {
    if (this.committing || !this.open || this.failure) return;
    this.committing = this.open;
    this.open = undefined;
    this.writer.postMessage({ type: 'batch', ops: this.dirty.take(this.state) });
  }

  private onWriterMessage(m: WriterMessage): void {
    if (m.type === 'committed') {
      const batch = this.committing;
      this.committing = undefined;
      this.commits++;
      batch?.resolve();
      // What changed during the commit is the next batch.
      this.send();
    } else if (m.type === 'failed') this.fail(new Error(`cannot write ${this.path}: ${m.message}`));
    else if (m.type === 'closed') this.onClosed?.();
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    console.error(`cloud-tasks emulator: ${err.message}; calls that change the state now fail`);
    this.committing?.reject(err);
    this.open?.reject(err);
    this.committing = undefined;
    this.open = undefined;
  }
}

function serializeTask(task: Task): string {
  const t: SerializedTask = {
    ...task,
    httpRequest: { ...task.httpRequest, body: task.httpRequest.body.toString('base64') },
  };
  return JSON.stringify(t);
}

function deserializeTask(doc: string): Task {
  const t = JSON.parse(doc) as SerializedTask;
  return { ...t, httpRequest: { ...t.httpRequest, body: Buffer.from(t.httpRequest.body, 'base64') } };
}
