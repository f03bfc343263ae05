/**
 * Seeding through the run ledger: the seeder creates each seed's run document (run id = seed id) through Firestore's
 * REST API before its task, in Google's Firestore emulator, against the in-process Cloud Tasks emulator. A run that
 * exists is not started again, whatever the dedup window; a start interrupted between run document and task is
 * completed by the next seeding.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudTasksClient } from '@google-cloud/tasks';
import * as grpc from '@grpc/grpc-js';
import type { Firestore } from '@google-cloud/firestore';
import { FIRESTORE_EMULATOR_HOST_ENV } from '../../lib/core/env';
import { ledgerPaths, newRunDocument, startStepDocument } from '../../lib/core/ledger-layout';
import type { ManifestTask, SeedManifest } from '../../lib/core/manifest';
import { startEmulator } from '../../lib/emulator/server';
import { EXIT_INVALID, EXIT_OK, main } from '../../lib/seeder/cli';
import { restFields } from '../../lib/seeder/run-ledger';
import { testFirestore } from '../ledger/helpers';
import { LOCATION, PROJECT, captureStream, manifestOf, queueName, seedTask } from './fixtures';

const STACK = 'demo-dev';
let dir: string;
let firestore: Firestore;
let ledgerProject: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'seed-ledger-'));
  ({ firestore, project: ledgerProject } = await testFirestore('seeding'));
}, 150_000);
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await firestore?.terminate();
});

const withLedger = (tasks: readonly ManifestTask[]): SeedManifest => ({
  ...manifestOf(tasks),
  ledger: { pipeline: 'demo', project: ledgerProject, database: '(default)' },
});

/** A Cloud Tasks emulator with paused queues; a new one has forgotten every task name (as after the dedup hour). */
async function cloudTasks(queueIds: readonly string[] = ['demo-dev-ingest']) {
  const emulator = await startEmulator({ port: 0 });
  const client = new CloudTasksClient({
    servicePath: emulator.host,
    port: emulator.port,
    sslCreds: grpc.credentials.createInsecure(),
    universeDomain: 'googleapis.com',
  });
  for (const id of queueIds) {
    await client.createQueue({ parent: `projects/${PROJECT}/locations/${LOCATION}`, queue: { name: queueName(id) } });
    await client.pauseQueue({ name: queueName(id) });
  }
  const taskIds = async () =>
    (await client.listTasks({ parent: queueName(queueIds[0]) }))[0].map((t) => t.name!.split('/').pop()!).sort();
  return { emulator, taskIds, stop: async () => (await client.close(), await emulator.stop()) };
}

let files = 0;
async function seed(manifest: SeedManifest, env: NodeJS.ProcessEnv) {
  const file = join(dir, `manifest-${++files}.json`);
  writeFileSync(file, JSON.stringify(manifest));
  const stdout = captureStream();
  const stderr = captureStream();
  const code = await main(['node', 'seed', file], { stdout, stderr, env });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

const runDoc = async (runId: string) => (await firestore.doc(ledgerPaths.run(STACK, runId)).get()).data();
const envFor = (address: string) => ({
  CLOUD_TASKS_EMULATOR_HOST: address,
  [FIRESTORE_EMULATOR_HOST_ENV]: process.env[FIRESTORE_EMULATOR_HOST_ENV],
});

test('GIVEN a manifest with a ledger THEN each seed gets its run document before its task', async () => {
  const ct = await cloudTasks();
  try {
    const later = new Date(Math.floor(Date.now() / 1000) * 1000 + 10 * 86_400_000).toISOString();
    const tasks = [seedTask('nightly-a'), seedTask('nightly-b', { scheduleTime: later })];
    const r = await seed(withLedger(tasks), envFor(ct.emulator.address));
    expect({ code: r.code, stderr: r.code === EXIT_OK ? '' : r.stderr }).toEqual({ code: EXIT_OK, stderr: '' });
    expect(r.stdout).toContain('2 created, 0 already present, 0 failed.');
    expect(r.stdout).toContain('Run ledger: 2 run(s) started, 0 already there (not started again).');
    expect(await ct.taskIds()).toEqual(tasks.map((t) => t.taskId).sort());

    const a = (await runDoc('nightly-a'))!;
    expect(a).toMatchObject({
      layout: 1,
      runId: 'nightly-a',
      pipeline: 'demo',
      stack: STACK,
      status: 'running',
      source: { kind: 'seed', name: 'nightly-a' },
      startStep: 'ingest',
      startTaskId: tasks[0].taskId,
      input: JSON.stringify({ seedId: 'nightly-a' }),
      redrives: 0,
    });
    expect(a.createdAt.toMillis()).toBeGreaterThan(Date.now() - 60_000);
    // A seed scheduled later: stall detection waits for it.
    expect((await runDoc('nightly-b'))!.notBefore.toDate().toISOString()).toBe(later);
    const step = (await firestore.doc(ledgerPaths.step(STACK, 'nightly-a', 'ingest')).get()).data();
    expect(step).toMatchObject({ step: 'ingest', state: 'open', expected: 1 });
  } finally {
    await ct.stop();
  }
});

test('GIVEN runs that started long ago WHEN the manifest gains a seed THEN a re-seed starts only the new run', async () => {
  const old = [seedTask('weekly-1'), seedTask('weekly-2')];
  const first = await cloudTasks();
  try {
    expect((await seed(withLedger(old), envFor(first.emulator.address))).code).toBe(EXIT_OK);
  } finally {
    await first.stop();
  }
  // Their tasks reached a worker, which claimed the first shard (the SDK's first write for a run's task).
  for (const s of old)
    await firestore.doc(ledgerPaths.shard(STACK, s.seedId, 'ingest', '0')).set({ state: 'done', attempts: 1 });

  // Hours later Cloud Tasks has forgotten the names (a new emulator): only the ledger remembers.
  const later = await cloudTasks();
  try {
    const added = seedTask('weekly-3');
    const r = await seed(withLedger([...old, added]), envFor(later.emulator.address));
    expect(r.code).toBe(EXIT_OK);
    expect(r.stdout).toContain('1 created, 0 already present, 0 failed.');
    expect(r.stdout).toContain('Run ledger: 1 run(s) started, 2 already there (not started again).');
    expect(await later.taskIds()).toEqual([added.taskId]);
  } finally {
    await later.stop();
  }
});

test('GIVEN a seeding that stopped between run document and task THEN the next one creates the task; a finished run is left alone', async () => {
  const interrupted = seedTask('resume-1');
  const finished = seedTask('done-1');
  const now = new Date();
  for (const t of [interrupted, finished]) {
    const doc = newRunDocument(
      {
        runId: t.seedId,
        pipeline: 'demo',
        stack: STACK,
        startStep: 'ingest',
        source: { kind: 'seed', name: t.seedId },
        inputJson: t.httpRequest.body!,
        startTaskId: t.taskId,
      },
      now,
    );
    await firestore.doc(ledgerPaths.run(STACK, t.seedId)).create({ ...doc });
  }
  await firestore.doc(ledgerPaths.run(STACK, finished.seedId)).update({ status: 'succeeded' });
  await firestore
    .doc(ledgerPaths.step(STACK, finished.seedId, 'ingest'))
    .create({ ...startStepDocument('ingest', now) });

  const ct = await cloudTasks();
  try {
    const r = await seed(withLedger([interrupted, finished]), envFor(ct.emulator.address));
    expect(r.code).toBe(EXIT_OK);
    expect(r.stdout).toContain('Run ledger: 1 run(s) started, 1 already there (not started again).');
    expect(await ct.taskIds()).toEqual([interrupted.taskId]);
    // The start step's document, which the interrupted seeding had not written yet.
    expect((await firestore.doc(ledgerPaths.step(STACK, interrupted.seedId, 'ingest')).get()).exists).toBe(true);
    // A second seeding while that task waits: ALREADY_EXISTS, nothing new.
    const again = await seed(withLedger([interrupted, finished]), envFor(ct.emulator.address));
    expect(again.stdout).toContain('0 created, 1 already present, 0 failed.');
  } finally {
    await ct.stop();
  }
});

test('GIVEN the Cloud Tasks emulator without a Firestore emulator THEN the tasks are seeded without runs, saying so', async () => {
  const ct = await cloudTasks();
  try {
    const t = seedTask('no-ledger-1');
    const r = await seed(withLedger([t]), { CLOUD_TASKS_EMULATOR_HOST: ct.emulator.address });
    expect(r.code).toBe(EXIT_OK);
    expect(r.stderr).toContain(
      "FIRESTORE_EMULATOR_HOST is not set: the seeds' runs are not recorded in the run ledger",
    );
    expect(r.stdout).not.toContain('Run ledger:');
    expect(await ct.taskIds()).toEqual([t.taskId]);
    expect(await runDoc('no-ledger-1')).toBeUndefined();
  } finally {
    await ct.stop();
  }
});

test('GIVEN the Firestore emulator with real Cloud Tasks THEN nothing is created (exit 2)', async () => {
  const r = await seed(withLedger([seedTask('mixed-1')]), {
    [FIRESTORE_EMULATOR_HOST_ENV]: process.env[FIRESTORE_EMULATOR_HOST_ENV],
  });
  expect(r.code).toBe(EXIT_INVALID);
  expect(r.stderr).toBe(
    'FIRESTORE_EMULATOR_HOST is set but CLOUD_TASKS_EMULATOR_HOST is not: the tasks would go to Cloud Tasks and their runs to the local Firestore emulator. Set both (local) or neither (Google Cloud); nothing was created.\n',
  );
  expect(await runDoc('mixed-1')).toBeUndefined();
});

test('REST values: as the Node client writes them (integers, doubles, timestamps, maps, arrays; undefined left out)', () => {
  expect(
    restFields({
      a: 1,
      b: 1.5,
      c: 'x',
      d: new Date('2030-01-01T00:00:00Z'),
      e: { kind: 'seed', name: undefined },
      f: [true, null],
      g: undefined,
    }),
  ).toEqual({
    a: { integerValue: '1' },
    b: { doubleValue: 1.5 },
    c: { stringValue: 'x' },
    d: { timestampValue: '2030-01-01T00:00:00.000Z' },
    e: { mapValue: { fields: { kind: { stringValue: 'seed' } } } },
    f: { arrayValue: { values: [{ booleanValue: true }, { nullValue: null }] } },
  });
});
