/**
 * --data-dir: the state in SQLite (better-sqlite3, WAL journal, synchronous=FULL), written by group commit before any
 * call is acknowledged. Every change marks its rows dirty (queue, task, reservation, IAM policy); the next turn of
 * the event loop writes all dirty rows in one transaction and only then are the calls that made them answered
 * (`whenDurable`). A crash loses only calls that were never answered; a restart loads exactly the acknowledged state.
 *
 * The data dir is locked: the database is opened in EXCLUSIVE locking mode (a second process cannot read or write it)
 * and `LOCK` names the holder's pid for the error message. SQLite's write-ahead log checksums its frames: after a
 * crash the last whole transaction is kept and a torn tail is dropped; the start reports that it recovered.
 * docs/decisions/emulator-durability.md has the measurements and the alternatives.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
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

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS queues (name TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tasks (name TEXT PRIMARY KEY, queue TEXT NOT NULL, seq INTEGER NOT NULL, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS tasks_by_queue ON tasks (queue);
CREATE TABLE IF NOT EXISTS reservations (kind TEXT NOT NULL, name TEXT NOT NULL, until_ms REAL NOT NULL, PRIMARY KEY (kind, name));
CREATE TABLE IF NOT EXISTS iam (queue TEXT PRIMARY KEY, doc TEXT NOT NULL);
`;

export class DataDirLockedError extends Error {}

/**
 * Opens (or creates) the store in `dataDir`, locks it and reads it into `state` (which must be empty). Throws
 * DataDirLockedError when another emulator holds it, naming its pid.
 */
export function openStore(dataDir: string, state: EmulatorState): OpenedStore {
  const notices: string[] = [];
  mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, DATABASE_FILE);
  const lockFile = path.join(dataDir, LOCK_FILE);
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
    if ((err as { code?: string }).code === 'SQLITE_BUSY' || /locked/.test((err as Error).message)) {
      const holder = existsSync(lockFile) ? readFileSync(lockFile, 'utf8').trim() : 'unknown';
      throw new DataDirLockedError(
        `the data dir ${dataDir} is in use by another emulator (pid ${holder}, from ${lockFile}); stop it, or pass another --data-dir`,
      );
    }
    throw new Error(`cannot open ${file}: ${(err as Error).message}; move it away to start empty`);
  }
  const previous = existsSync(lockFile) ? readFileSync(lockFile, 'utf8').trim() : undefined;
  if (previous && previous !== String(process.pid))
    notices.push(
      `the emulator with pid ${previous} did not stop cleanly (its ${LOCK_FILE} was left); taking over the data dir`,
    );
  writeFileSync(lockFile, `${process.pid}\n`);
  if (walBytes > 0)
    notices.push(
      `recovered ${file} after an unclean stop: the write-ahead log (${walBytes.toLocaleString('en-US')} bytes) was replayed up to its last whole transaction; a torn tail, if any, was dropped`,
    );
  const check = db.pragma('quick_check', { simple: true }) as string;
  if (check !== 'ok') {
    db.close();
    throw new Error(
      `${file} is corrupt (SQLite quick_check: ${check}); move it away to start empty, or restore it from a copy`,
    );
  }
  db.pragma('synchronous = FULL');
  db.exec(SCHEMA);
  const store = new DurableStore(db, state, dataDir);
  const legacy = path.join(dataDir, LEGACY_SNAPSHOT_FILE);
  const empty = (db.prepare('SELECT count(*) AS n FROM queues').get() as { n: number }).n === 0;
  if (empty && existsSync(legacy)) {
    store.importLegacySnapshot(legacy);
    notices.push(`imported ${legacy} (the earlier snapshot format) and renamed it ${LEGACY_SNAPSHOT_FILE}.imported`);
  } else store.loadInto();
  // Interrupted snapshot temp files of the earlier format must not outlive a crash.
  for (const name of readdirSafe(dataDir)) if (name.endsWith('.tmp')) rmSync(path.join(dataDir, name), { force: true });
  store.start();
  return { store, notices };
}

function readdirSafe(dir: string): string[] {
  try {
    return require('node:fs').readdirSync(dir) as string[];
  } catch {
    return [];
  }
}

export class DurableStore {
  private readonly dirtyQueues = new Set<string>();
  private readonly dirtyTasks = new Set<string>();
  private readonly dirtyTaskNames = new Set<string>();
  private readonly dirtyQueueNames = new Set<string>();
  /** Queues whose tasks all went at once (DeleteQueue, PurgeQueue): one DELETE instead of one per task. */
  private readonly clearedQueues = new Set<string>();
  private pending: Promise<void> | undefined;
  private resolvePending: (() => void) | undefined;
  private rejectPending: ((err: Error) => void) | undefined;
  private unsubscribe: (() => void) | undefined;
  private closed = false;
  private failure: Error | undefined;
  private readonly stmt: Record<string, BetterSqlite3.Statement>;
  private readonly writeBatch: () => void;
  /** Transactions committed, for tests and the benchmark. */
  commits = 0;

  constructor(
    private readonly db: BetterSqlite3.Database,
    private readonly state: EmulatorState,
    private readonly dataDir: string,
  ) {
    db.exec(SCHEMA);
    this.stmt = {
      putQueue: db.prepare('INSERT OR REPLACE INTO queues (name, doc) VALUES (?, ?)'),
      delQueue: db.prepare('DELETE FROM queues WHERE name = ?'),
      delQueueTasks: db.prepare('DELETE FROM tasks WHERE queue = ?'),
      putTask: db.prepare('INSERT OR REPLACE INTO tasks (name, queue, seq, doc) VALUES (?, ?, ?, ?)'),
      delTask: db.prepare('DELETE FROM tasks WHERE name = ?'),
      putReservation: db.prepare('INSERT OR REPLACE INTO reservations (kind, name, until_ms) VALUES (?, ?, ?)'),
      delReservation: db.prepare('DELETE FROM reservations WHERE kind = ? AND name = ?'),
      putIam: db.prepare('INSERT OR REPLACE INTO iam (queue, doc) VALUES (?, ?)'),
      delIam: db.prepare('DELETE FROM iam WHERE queue = ?'),
      putMeta: db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)'),
    };
    this.writeBatch = db.transaction(() => this.writeDirty());
  }

  /** The database file. */
  get path(): string {
    return path.join(this.dataDir, DATABASE_FILE);
  }

  /** Reads the database into the (empty) state. */
  loadInto(): void {
    const queues = (this.db.prepare('SELECT doc FROM queues').all() as Array<{ doc: string }>).map(
      (r) => JSON.parse(r.doc) as Queue,
    );
    const tasks = (this.db.prepare('SELECT doc FROM tasks ORDER BY seq').all() as Array<{ doc: string }>).map((r) =>
      deserializeTask(r.doc),
    );
    const reservations = this.db.prepare('SELECT kind, name, until_ms FROM reservations').all() as Array<{
      kind: string;
      name: string;
      until_ms: number;
    }>;
    const iam = (this.db.prepare('SELECT queue, doc FROM iam').all() as Array<{ queue: string; doc: string }>).map(
      (r) => [r.queue, JSON.parse(r.doc) as IamPolicy] as const,
    );
    const seq = this.db.prepare("SELECT value FROM meta WHERE key = 'next_seq'").get() as { value: string } | undefined;
    this.state.load({
      queues,
      tasks,
      taskNameReservations: reservations.filter((r) => r.kind === 'task').map((r) => [r.name, r.until_ms] as const),
      queueNameReservations: reservations.filter((r) => r.kind === 'queue').map((r) => [r.name, r.until_ms] as const),
      iamPolicies: iam,
      nextSeq: seq ? Number(seq.value) : 1,
    });
  }

  /** Imports the earlier JSON snapshot format, writes it to the database, and renames the file. */
  importLegacySnapshot(file: string): void {
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
    this.state.load(rows);
    for (const q of rows.queues) this.dirtyQueues.add(q.name);
    for (const t of rows.tasks) this.dirtyTasks.add(t.name);
    for (const [n] of rows.taskNameReservations) this.dirtyTaskNames.add(n);
    for (const [n] of rows.queueNameReservations) this.dirtyQueueNames.add(n);
    this.writeBatch();
    renameSync(file, `${file}.imported`);
  }

  /** Starts recording the state's changes. */
  start(): void {
    this.unsubscribe = this.state.onEvent((e) => this.record(e));
  }

  /**
   * Resolves once every change made so far is committed (at once when nothing is pending); rejects when the commit
   * failed (the disk is full, the file was removed), so the call reports an error instead of a lost write.
   */
  whenDurable(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    return this.pending ?? Promise.resolve();
  }

  /** Commits what is pending and closes the database (checkpointing the log into it) and removes the lock. */
  close(): void {
    if (this.closed) return;
    this.unsubscribe?.();
    this.flush();
    this.closed = true;
    this.db.pragma('wal_checkpoint(TRUNCATE)');
    this.db.close();
    rmSync(path.join(this.dataDir, LOCK_FILE), { force: true });
  }

  private record(e: EmulatorEvent): void {
    if ('queue' in e) {
      this.dirtyQueues.add(e.queue.name);
      if (e.type === 'queue-deleted') {
        this.clearedQueues.add(e.queue.name);
        this.dirtyQueueNames.add(e.queue.name);
      }
    } else {
      this.dirtyTasks.add(e.task.name);
      if (e.type === 'task-removed') this.dirtyTaskNames.add(e.task.name);
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.pending || this.closed) return;
    this.pending = new Promise<void>((resolve, reject) => {
      this.resolvePending = resolve;
      this.rejectPending = reject;
    });
    // Group commit: every change made until the event loop turns goes into one transaction.
    setImmediate(() => this.flush());
  }

  /** Writes the dirty rows in one transaction (synchronous=FULL: on disk when it returns) and answers their calls. */
  flush(): void {
    const resolve = this.resolvePending;
    const reject = this.rejectPending;
    this.pending = undefined;
    this.resolvePending = undefined;
    this.rejectPending = undefined;
    if (this.closed) return;
    try {
      this.writeBatch();
      this.commits++;
      resolve?.();
    } catch (err) {
      this.failure = new Error(`cannot write ${this.path}: ${(err as Error).message}`);
      console.error(`cloud-tasks emulator: ${this.failure.message}; calls that change the state now fail`);
      reject?.(this.failure);
    }
  }

  private writeDirty(): void {
    const s = this.stmt;
    for (const name of this.clearedQueues) {
      s.delQueueTasks.run(name);
      s.delIam.run(name);
    }
    this.clearedQueues.clear();
    for (const name of this.dirtyQueues) {
      const queue = this.state.findQueue(name);
      if (queue) s.putQueue.run(name, JSON.stringify(queue));
      else s.delQueue.run(name);
      const policy = this.state.findIamPolicy(name);
      if (policy) s.putIam.run(name, JSON.stringify(policy));
    }
    this.dirtyQueues.clear();
    for (const name of this.dirtyTasks) {
      const task = this.state.findTask(name);
      if (task) s.putTask.run(name, task.queueName, task.seq, serializeTask(task));
      else s.delTask.run(name);
    }
    this.dirtyTasks.clear();
    for (const name of this.dirtyTaskNames) {
      const until = this.state.taskNameReservedUntil(name);
      if (until !== undefined) s.putReservation.run('task', name, until);
      else s.delReservation.run('task', name);
    }
    this.dirtyTaskNames.clear();
    for (const name of this.dirtyQueueNames) {
      const until = this.state.queueNameReservedUntil(name);
      if (until !== undefined) s.putReservation.run('queue', name, until);
      else s.delReservation.run('queue', name);
    }
    this.dirtyQueueNames.clear();
    s.putMeta.run('next_seq', String(this.state.nextTaskSeq));
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
