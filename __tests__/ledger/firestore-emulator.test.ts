/**
 * Starting and stopping Google's Firestore emulator, with stand-ins for the Cloud SDK (a launcher that serves HTTP
 * from a child process, as the real one runs a JVM): found under CLOUDSDK_ROOT_DIR, ready when it answers, stopped
 * as a whole process group, and one line saying how to install it when it is missing.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  FIRESTORE_EMULATOR_INSTALL_HINT,
  FirestoreEmulatorError,
  emulatorCommand,
  ensureFirestoreEmulator,
} from '../../lib/ledger/firestore-emulator';

let root: string;
beforeAll(() => {
  root = mkdtempSync(path.join(tmpdir(), 'fake-sdk-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A Cloud SDK folder whose emulator launcher runs `body` (a shell script). */
function fakeSdk(name: string, body: string): string {
  const dir = path.join(root, name, 'platform', 'cloud-firestore-emulator');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'cloud-firestore-emulator.jar'), '');
  const launcher = path.join(dir, 'cloud_firestore_emulator');
  writeFileSync(launcher, `#!/bin/sh\ncd "$(dirname "$0")"\n${body}\n`);
  chmodSync(launcher, 0o755);
  return path.join(root, name);
}

/** Running, and not a zombie (an exited process that this container's init has not reaped yet). */
const alive = (pid: number) => {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

test('GIVEN a launcher under CLOUDSDK_ROOT_DIR THEN it is run with --host=127.0.0.1 --port=<free port>, and stop() ends its children too', async () => {
  const sdk = fakeSdk(
    'serving',
    [
      'for a in "$@"; do case "$a" in --port=*) port="${a#--port=}";; esac; done',
      'python3 -m http.server "$port" --bind 127.0.0.1 >/dev/null 2>&1 &',
      'echo $! > child.pid',
      'wait',
    ].join('\n'),
  );
  const env = { PATH: process.env.PATH, CLOUDSDK_ROOT_DIR: sdk };
  expect(emulatorCommand(env, 8555)).toEqual({
    file: path.join(sdk, 'platform', 'cloud-firestore-emulator', 'cloud_firestore_emulator'),
    args: ['--host=127.0.0.1', '--port=8555'],
  });
  const emulator = await ensureFirestoreEmulator({ env, readyTimeoutMs: 20_000 });
  expect(emulator.started).toBe(true);
  expect(emulator.host).toMatch(/^127\.0\.0\.1:\d+$/);
  await emulator.ready;
  const child = Number(readFileSync(path.join(sdk, 'platform', 'cloud-firestore-emulator', 'child.pid'), 'utf8'));
  expect(alive(child)).toBe(true);

  await emulator.stop();
  await new Promise((r) => setTimeout(r, 200));
  expect(alive(child)).toBe(false); // the grandchild (the JVM, for the real emulator) went with the group
});

test('GIVEN a launcher that exits THEN ready rejects with its last output lines', async () => {
  const sdk = fakeSdk('broken', 'echo "Exception: Java 17 or later is required" >&2\nexit 1');
  const emulator = await ensureFirestoreEmulator({ env: { PATH: process.env.PATH, CLOUDSDK_ROOT_DIR: sdk } });
  await expect(emulator.ready).rejects.toThrow(
    /the Firestore emulator exited \(code 1\) before it was ready:\nException: Java 17 or later is required/,
  );
});

test('GIVEN neither the emulator nor gcloud THEN one line says how to install it', async () => {
  await expect(ensureFirestoreEmulator({ env: { PATH: '/nonexistent' } })).rejects.toThrow(
    new FirestoreEmulatorError(FIRESTORE_EMULATOR_INSTALL_HINT),
  );
  expect(FIRESTORE_EMULATOR_INSTALL_HINT).not.toContain('\n');
  expect(FIRESTORE_EMULATOR_INSTALL_HINT).toMatch(
    /google-cloud-cli-firestore-emulator.*gcloud components install cloud-firestore-emulator/,
  );
});

test('GIVEN gcloud without the emulator component THEN the same one line', async () => {
  const bin = path.join(root, 'bin');
  mkdirSync(bin, { recursive: true });
  writeFileSync(
    path.join(bin, 'gcloud'),
    '#!/bin/sh\necho "ERROR: (gcloud.emulators.firestore.start) The component [cloud-firestore-emulator] is not installed." >&2\nexit 1\n',
  );
  chmodSync(path.join(bin, 'gcloud'), 0o755);
  const emulator = await ensureFirestoreEmulator({ env: { PATH: `${bin}:/usr/bin:/bin` } });
  await expect(emulator.ready).rejects.toThrow(new FirestoreEmulatorError(FIRESTORE_EMULATOR_INSTALL_HINT));
});

test('GIVEN FIRESTORE_EMULATOR_HOST THEN that emulator is used and nothing is started', async () => {
  const emulator = await ensureFirestoreEmulator({
    env: { FIRESTORE_EMULATOR_HOST: '127.0.0.1:1' },
    readyTimeoutMs: 300,
  });
  expect(emulator).toMatchObject({ host: '127.0.0.1:1', started: false });
  await expect(emulator.ready).rejects.toThrow('the Firestore emulator at 127.0.0.1:1 did not answer within 0 s');
  await emulator.stop();
});
