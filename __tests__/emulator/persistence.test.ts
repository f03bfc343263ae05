/**
 * --data-dir: acknowledged means durable. In process: a restart keeps everything, a second emulator on the same dir
 * is refused naming the holder, the earlier snapshot format is imported, a corrupt database stops the start. In a
 * child process: `kill -9` during concurrent CreateTasks loses no acknowledged task, leaves no temp file, and a torn
 * log tail is dropped and reported.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { status } from '@grpc/grpc-js';
import { DATABASE_FILE, LEGACY_SNAPSHOT_FILE, LOCK_FILE, openStore } from '../../lib/emulator/persistence';
import { EmulatorState } from '../../lib/emulator/state';
import { startEmulator } from '../../lib/emulator/server';
import { PARENT, grpcError, httpTask, officialClient, queueName, taskName } from './helpers';

const ROOT = path.resolve(__dirname, '../..');
let dataDir: string;
beforeEach(() => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'emulator-data-'));
});
afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

const quiet = { log: () => undefined };

test('GIVEN a data dir WHEN the emulator restarts THEN queues, tasks, reserved names and IAM policies are still there', async () => {
  const first = await startEmulator({ dataDir, ...quiet });
  let client = officialClient(first.port);
  await client.createQueue({
    parent: PARENT,
    queue: { name: queueName('kept'), rateLimits: { maxDispatchesPerSecond: 7 } },
  });
  await client.pauseQueue({ name: queueName('kept') });
  await client.createTask({
    parent: queueName('kept'),
    task: {
      name: taskName('kept', 'pending'),
      httpRequest: { url: 'http://127.0.0.1:9/', body: Buffer.from('{"x":1}') },
    },
  });
  await client.createTask({ parent: queueName('kept'), task: { name: taskName('kept', 'deleted'), ...httpTask() } });
  await client.deleteTask({ name: taskName('kept', 'deleted') });
  await client.setIamPolicy({
    resource: queueName('kept'),
    policy: { bindings: [{ role: 'roles/cloudtasks.enqueuer', members: ['user:a@example.com'] }] },
  });
  await client.createQueue({ parent: PARENT, queue: { name: queueName('dropped') } });
  await client.deleteQueue({ name: queueName('dropped') });
  await client.close();
  await first.stop();

  // A clean stop leaves the database alone: its log checkpointed, no lock, no temp file.
  expect(readdirSync(dataDir)).toEqual([DATABASE_FILE]);

  const second = await startEmulator({ dataDir, ...quiet });
  client = officialClient(second.port);
  try {
    const [queue] = await client.getQueue({ name: queueName('kept') });
    expect(queue).toMatchObject({ state: 'PAUSED', rateLimits: { maxDispatchesPerSecond: 7 } });
    const [task] = await client.getTask({ name: taskName('kept', 'pending'), responseView: 'FULL' });
    expect(Buffer.from(task.httpRequest!.body!).toString()).toBe('{"x":1}');
    const [tasks] = await client.listTasks({ parent: queueName('kept') });
    expect(tasks.map((t) => t.name)).toEqual([taskName('kept', 'pending')]);
    const [policy] = await client.getIamPolicy({ resource: queueName('kept') });
    expect(policy.bindings?.[0]?.members).toEqual(['user:a@example.com']);

    const dedup = await grpcError(
      client.createTask({ parent: queueName('kept'), task: { name: taskName('kept', 'deleted'), ...httpTask() } }),
    );
    expect(dedup.code).toBe(status.ALREADY_EXISTS);
    const reuse = await grpcError(client.createQueue({ parent: PARENT, queue: { name: queueName('dropped') } }));
    expect(reuse.code).toBe(status.FAILED_PRECONDITION);
    const added = (await client.createTask({ parent: queueName('kept'), task: httpTask() }))[0];
    expect(second.state.tasksOf(queueName('kept')).map((t) => t.name)).toEqual([
      taskName('kept', 'pending'),
      added.name,
    ]);
  } finally {
    await client.close();
    await second.stop();
  }
});

test('a second emulator on the same data dir is refused, naming the holder', async () => {
  const first = await startEmulator({ dataDir, ...quiet });
  try {
    await expect(startEmulator({ dataDir, ...quiet })).rejects.toThrow(
      new RegExp(`the data dir .* is in use by another emulator \\(pid ${process.pid}, from .*${LOCK_FILE}\\)`),
    );
    // The first one is unharmed.
    first.state.createQueue(PARENT, { name: queueName('still-mine') });
    await first.store!.whenDurable();
  } finally {
    await first.stop();
  }
});

test.each([
  [
    'answers that the commit failed',
    'broken-writer.cjs',
    /cannot write .*cloud-tasks-emulator\.sqlite: SQLITE_FULL: database or disk is full/,
  ],
  ['dies', 'dying-writer.cjs', /the writer thread exited \(3\)/],
])(
  'GIVEN the writer thread %s THEN the calls waiting on that batch and every later change are refused, and the store still closes',
  async (_what, writer, error) => {
    const state = new EmulatorState({});
    const errors: unknown[] = [];
    const spy = jest.spyOn(console, 'error').mockImplementation((...args) => void errors.push(args.join(' ')));
    try {
      const { store } = await openStore(dataDir, state, {
        writerFile: path.join(ROOT, '__tests__', 'fixtures', writer),
      });
      state.createQueue(PARENT, { name: queueName('lost') });
      await expect(store.whenDurable()).rejects.toThrow(error);
      state.createQueue(PARENT, { name: queueName('later') });
      await expect(store.whenDurable()).rejects.toThrow(error);
      await store.close();
      // Said once, on the emulator's stderr, with what follows for the calls.
      expect(errors).toHaveLength(1);
      expect(String(errors[0])).toMatch(/calls that change the state now fail/);
    } finally {
      spy.mockRestore();
    }
  },
);

test('GIVEN a writer thread that ends before it is ready THEN the start fails, naming the database', async () => {
  await expect(
    openStore(dataDir, new EmulatorState({}), {
      writerFile: path.join(ROOT, '__tests__', 'fixtures', 'exiting-writer.cjs'),
    }),
  ).rejects.toThrow(/cannot open .*cloud-tasks-emulator\.sqlite: the writer thread exited \(4\) before it was ready/);
  // Nothing claims the data dir afterwards.
  expect(existsSync(path.join(dataDir, LOCK_FILE))).toBe(false);
});

test('the earlier JSON snapshot is imported once and renamed', async () => {
  writeFileSync(
    path.join(dataDir, LEGACY_SNAPSHOT_FILE),
    JSON.stringify({
      format: 'cloud-tasks-emulator/v1',
      savedAtMs: 0,
      nextSeq: 2,
      queues: [
        {
          queue: {
            name: queueName('old'),
            location: PARENT,
            queueId: 'old',
            rateLimits: { maxDispatchesPerSecond: 5, maxBurstSize: 10, maxConcurrentDispatches: 10 },
            retryConfig: {
              maxAttempts: 3,
              minBackoffSeconds: 1,
              maxBackoffSeconds: 10,
              maxDoublings: 2,
              maxRetryDurationSeconds: 0,
            },
            state: 'RUNNING',
            createTimeMs: 0,
          },
          tasks: [
            {
              name: taskName('old', 't'),
              queueName: queueName('old'),
              taskId: 't',
              seq: 1,
              httpRequest: {
                url: 'http://127.0.0.1:9/',
                httpMethod: 'POST',
                headers: {},
                body: Buffer.from('hi').toString('base64'),
              },
              scheduleTimeMs: Date.now(),
              createTimeMs: 0,
              dispatchDeadlineSeconds: 600,
              dispatchCount: 0,
              responseCount: 0,
            },
          ],
        },
      ],
      taskNameReservations: [],
      queueNameReservations: [],
    }),
  );
  const notices: string[] = [];
  const emulator = await startEmulator({ dataDir, log: (l) => notices.push(l) });
  try {
    expect(emulator.state.getTask(taskName('old', 't')).httpRequest.body.toString()).toBe('hi');
    expect(notices.join('\n')).toMatch(/imported .*cloud-tasks-emulator.json/);
    expect(existsSync(path.join(dataDir, `${LEGACY_SNAPSHOT_FILE}.imported`))).toBe(true);
  } finally {
    await emulator.stop();
  }
});

test('a corrupt database stops the start with the file to fix', async () => {
  writeFileSync(path.join(dataDir, DATABASE_FILE), 'this is not an SQLite database, just text '.repeat(200));
  await expect(startEmulator({ dataDir, ...quiet })).rejects.toThrow(new RegExp(`${DATABASE_FILE}.*move it away`));
});

// ------------------------------------------------------------------ crash test (a child emulator, kill -9)

interface Child {
  readonly process: ChildProcessWithoutNullStreams;
  readonly port: number;
  output(): string;
}

async function startChild(dir: string): Promise<Child> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'bin/emulator.ts', '--port', '0', '--no-dispatch', '--data-dir', dir],
    {
      cwd: ROOT,
    },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the emulator did not start:\n${out}`)), 30_000);
    child.stdout.on('data', () => {
      const m = /CLOUD_TASKS_EMULATOR_HOST=127\.0\.0\.1:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.on('exit', (code) => reject(new Error(`the emulator exited (${code}):\n${out}`)));
  });
  return { process: child, port, output: () => out };
}

async function stopChild(child: Child, signal: NodeJS.Signals): Promise<void> {
  if (child.process.exitCode !== null || child.process.signalCode !== null) return;
  const exited = new Promise((resolve) => child.process.once('exit', resolve));
  child.process.kill(signal);
  await exited;
}

test('GIVEN concurrent CreateTasks WHEN the emulator is killed with SIGKILL mid-write THEN every acknowledged task is there after restart, a torn log tail is dropped and reported', async () => {
  const first = await startChild(dataDir);
  const client = officialClient(first.port);
  const acknowledged: string[] = [];
  try {
    await client.createQueue({ parent: PARENT, queue: { name: queueName('crash') } });
    let stop = false;
    let i = 0;
    // 64 writers until the kill; the kill comes after 300 acknowledgements, with calls still in flight.
    const writers = Array.from({ length: 64 }, async () => {
      while (!stop) {
        const name = taskName('crash', `t-${i++}`);
        try {
          await client.createTask(
            {
              parent: queueName('crash'),
              task: { name, httpRequest: { url: 'http://127.0.0.1:9/', body: Buffer.alloc(256, 'x') } },
            },
            { retry: null, timeout: 5000 },
          );
          acknowledged.push(name);
          if (acknowledged.length === 300) {
            first.process.kill('SIGKILL');
            stop = true;
          }
        } catch {
          stop = true; // the emulator is gone: whatever was not acknowledged may or may not be there
        }
      }
    });
    await Promise.all(writers);
    await stopChild(first, 'SIGKILL');
  } finally {
    await client.close();
  }
  expect(acknowledged.length).toBeGreaterThanOrEqual(300);
  // Only the database, its write-ahead log and the stale lock: no temp file.
  expect(readdirSync(dataDir).sort()).toEqual(
    [DATABASE_FILE, `${DATABASE_FILE}-wal`, LOCK_FILE].filter((f) => existsSync(path.join(dataDir, f))).sort(),
  );
  expect(readdirSync(dataDir).some((f) => f.endsWith('.tmp'))).toBe(false);
  // A torn tail: half a frame of garbage after the last whole transaction.
  appendFileSync(path.join(dataDir, `${DATABASE_FILE}-wal`), Buffer.alloc(2000, 0xab));

  const second = await startChild(dataDir);
  const reader = officialClient(second.port);
  try {
    const stored = new Set(second ? await listAll(reader) : []);
    const missing = acknowledged.filter((name) => !stored.has(name));
    expect(missing).toEqual([]);
    expect(second.output()).toMatch(
      /recovered .*cloud-tasks-emulator.sqlite after an unclean stop: the write-ahead log .* was replayed up to its last whole transaction/,
    );
    expect(second.output()).toMatch(/did not stop cleanly .*taking over the data dir/);
  } finally {
    await reader.close();
    await stopChild(second, 'SIGTERM');
  }
}, 90_000);

async function listAll(client: ReturnType<typeof officialClient>): Promise<string[]> {
  const [tasks] = await client.listTasks({ parent: queueName('crash') });
  return tasks.map((t) => t.name!);
}
