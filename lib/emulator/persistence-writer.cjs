// @ts-check
/**
 * The --data-dir database's writer (lib/emulator/persistence.ts has the design). Loaded two ways:
 *
 * - as a worker thread (workerData.role === 'cloud-tasks-emulator-writer'): it owns the only connection to the
 *   database, holds its exclusive lock, and commits the batches the main thread sends, one transaction each
 *   (synchronous=FULL: on disk when the transaction returns), answering `committed` or `failed` per batch. The main
 *   thread keeps serving calls while a batch is being synced; the changes made meanwhile form the next batch.
 * - as a module, by persistence.ts: the schema and applyOps, for the one-time import of the earlier snapshot format.
 *
 * Plain CommonJS, not TypeScript: a worker thread loads it by path under node, tsx, ts-jest and from dist alike,
 * without a loader (the package build copies it next to persistence.js).
 *
 * A batch is a flat array of operations, each an opcode followed by its arguments (OPS below): structured clone
 * copies flat arrays of strings and numbers cheaply.
 */
'use strict';
const { isMainThread, parentPort, workerData } = require('node:worker_threads');

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS queues (name TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tasks (name TEXT PRIMARY KEY, queue TEXT NOT NULL, seq INTEGER NOT NULL, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS tasks_by_queue ON tasks (queue);
CREATE TABLE IF NOT EXISTS reservations (kind TEXT NOT NULL, name TEXT NOT NULL, until_ms REAL NOT NULL, PRIMARY KEY (kind, name));
CREATE TABLE IF NOT EXISTS iam (queue TEXT PRIMARY KEY, doc TEXT NOT NULL);
`;

/** Opcode -> [SQL, number of arguments]. */
const OPS = {
  putQueue: ['INSERT OR REPLACE INTO queues (name, doc) VALUES (?, ?)', 2],
  delQueue: ['DELETE FROM queues WHERE name = ?', 1],
  delQueueTasks: ['DELETE FROM tasks WHERE queue = ?', 1],
  putTask: ['INSERT OR REPLACE INTO tasks (name, queue, seq, doc) VALUES (?, ?, ?, ?)', 4],
  delTask: ['DELETE FROM tasks WHERE name = ?', 1],
  putReservation: ['INSERT OR REPLACE INTO reservations (kind, name, until_ms) VALUES (?, ?, ?)', 3],
  delReservation: ['DELETE FROM reservations WHERE kind = ? AND name = ?', 2],
  putIam: ['INSERT OR REPLACE INTO iam (queue, doc) VALUES (?, ?)', 2],
  delIam: ['DELETE FROM iam WHERE queue = ?', 1],
  putMeta: ['INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)', 2],
};

/**
 * The statements of OPS, prepared on `db`, and a function that runs a batch of operations in one transaction.
 * @param {import('better-sqlite3').Database} db
 * @returns {(ops: ReadonlyArray<string | number>) => void}
 */
function batchWriter(db) {
  /** @type {Record<string, [import('better-sqlite3').Statement, number]>} */
  const statements = {};
  for (const [op, [sql, arity]] of Object.entries(OPS))
    statements[op] = [db.prepare(sql), /** @type {number} */ (arity)];
  return db.transaction((/** @type {ReadonlyArray<string | number>} */ ops) => {
    for (let i = 0; i < ops.length;) {
      const entry = statements[/** @type {string} */ (ops[i])];
      if (!entry) throw new Error(`unknown operation ${String(ops[i])} in a batch`);
      const [statement, arity] = entry;
      statement.run(...ops.slice(i + 1, i + 1 + arity));
      i += 1 + arity;
    }
  });
}

/** The worker thread: open, lock, then commit batches until told to close. */
function runWriter() {
  const port = /** @type {import('node:worker_threads').MessagePort} */ (parentPort);
  const Database = require('better-sqlite3');
  let db;
  try {
    // timeout 0: a database another emulator holds is refused at once, not after SQLite's busy wait.
    db = new Database(workerData.file, { timeout: 0 });
    db.pragma('locking_mode = EXCLUSIVE');
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    // Taking the write lock now: a second emulator fails at its start, not at its first write.
    db.exec('BEGIN EXCLUSIVE; COMMIT');
    db.exec(SCHEMA);
  } catch (err) {
    const e = /** @type {Error & { code?: string }} */ (err);
    port.postMessage({ type: 'error', code: e.code ?? '', message: e.message });
    return;
  }
  const write = batchWriter(db);
  port.postMessage({ type: 'ready' });
  port.on('message', (/** @type {{ type: string, ops?: Array<string | number> }} */ m) => {
    if (m.type === 'batch') {
      try {
        write(m.ops ?? []);
        port.postMessage({ type: 'committed' });
      } catch (err) {
        port.postMessage({ type: 'failed', message: /** @type {Error} */ (err).message });
      }
    } else if (m.type === 'close') {
      // Checkpoint the log into the database, so a clean stop leaves one file.
      db.pragma('wal_checkpoint(TRUNCATE)');
      db.close();
      port.postMessage({ type: 'closed' });
      port.close();
    }
  });
}

if (!isMainThread && workerData && workerData.role === 'cloud-tasks-emulator-writer') runWriter();

module.exports = { SCHEMA, batchWriter };
