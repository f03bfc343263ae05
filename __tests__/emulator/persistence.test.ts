/**
 * --data-dir: a restart loses nothing (queues, pending tasks, reserved task and queue names).
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { status } from '@grpc/grpc-js';
import { SNAPSHOT_FILE } from '../../lib/emulator/persistence';
import { startEmulator } from '../../lib/emulator/server';
import { PARENT, grpcError, httpTask, officialClient, queueName, taskName } from './helpers';

let dataDir: string;
beforeEach(() => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'emulator-data-'));
});
afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

test('GIVEN a data dir WHEN the emulator restarts THEN queues, pending tasks and reserved names are still there', async () => {
  const first = await startEmulator({ dataDir });
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
  await client.createQueue({ parent: PARENT, queue: { name: queueName('dropped') } });
  await client.deleteQueue({ name: queueName('dropped') });
  await client.close();
  await first.stop();

  // Written atomically: the snapshot and nothing else (no temp file left behind).
  expect(readdirSync(dataDir)).toEqual([SNAPSHOT_FILE]);

  const second = await startEmulator({ dataDir });
  client = officialClient(second.port);
  try {
    const [queue] = await client.getQueue({ name: queueName('kept') });
    expect(queue).toMatchObject({ state: 'PAUSED', rateLimits: { maxDispatchesPerSecond: 7 } });
    const [task] = await client.getTask({ name: taskName('kept', 'pending'), responseView: 'FULL' });
    expect(Buffer.from(task.httpRequest!.body!).toString()).toBe('{"x":1}');
    const [tasks] = await client.listTasks({ parent: queueName('kept') });
    expect(tasks.map((t) => t.name)).toEqual([taskName('kept', 'pending')]);

    const dedup = await grpcError(
      client.createTask({ parent: queueName('kept'), task: { name: taskName('kept', 'deleted'), ...httpTask() } }),
    );
    expect(dedup.code).toBe(status.ALREADY_EXISTS);
    const reuse = await grpcError(client.createQueue({ parent: PARENT, queue: { name: queueName('dropped') } }));
    expect(reuse.code).toBe(status.FAILED_PRECONDITION);
    await client.createTask({ parent: queueName('kept'), task: httpTask() });
    expect(second.state.tasksOf(queueName('kept'))).toHaveLength(2);
  } finally {
    await client.close();
    await second.stop();
  }
});

test('changes reach the disk while the emulator runs, not only on stop', async () => {
  const emulator = await startEmulator({ dataDir, persistIntervalMs: 20 });
  try {
    emulator.state.createQueue(PARENT, { name: queueName('early') });
    const file = path.join(dataDir, SNAPSHOT_FILE);
    for (let i = 0; i < 200 && !existsSync(file); i++) await new Promise((r) => setTimeout(r, 10));
    expect(existsSync(file)).toBe(true);
  } finally {
    await emulator.stop();
  }
});

test('a corrupt snapshot stops the start with the file to fix', async () => {
  writeFileSync(path.join(dataDir, SNAPSHOT_FILE), '{"format": "cloud-tasks-emu');
  await expect(startEmulator({ dataDir })).rejects.toThrow(
    new RegExp(`${SNAPSHOT_FILE} is not valid JSON .*move it away`),
  );
});
