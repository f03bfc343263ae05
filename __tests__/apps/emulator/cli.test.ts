/**
 * The command line as users run it: `npx tsx bin/emulator.ts --port 0` in a child process.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { main } from '../../../lib/apps/emulator/cli';
import { DATABASE_FILE } from '../../../lib/emulator/persistence';
import { startEmulator } from '../../../lib/emulator/server';
import { PARENT, officialClient, queueName } from '../../emulator/helpers';

const ROOT = path.resolve(__dirname, '../../..');

interface Run {
  readonly child: ChildProcessWithoutNullStreams;
  stdout: string;
  stderr: string;
  readonly exited: Promise<number | null>;
}

function run(args: string[]): Run {
  // Own process group, so the test can signal npx, tsx and node together, as a terminal's Ctrl-C does.
  const child = spawn('npx', ['tsx', 'bin/emulator.ts', ...args], { cwd: ROOT, detached: true });
  const r: Run = {
    child,
    stdout: '',
    stderr: '',
    exited: new Promise((resolve) => child.on('close', (code) => resolve(code))),
  };
  child.stdout.on('data', (d: Buffer) => (r.stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (r.stderr += d.toString()));
  return r;
}

async function waitFor(r: Run, pattern: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const m = pattern.exec(r.stdout);
    if (m) return m;
    if (r.child.exitCode !== null || Date.now() > until)
      throw new Error(`no ${pattern} in output:\n${r.stdout}\n${r.stderr}`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

let dataDir: string;
beforeAll(() => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'emulator-cli-'));
});
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

test('prints where it listens and the env var, serves the API, and stops cleanly on SIGTERM, closing its data dir', async () => {
  const r = run(['--port', '0', '--data-dir', dataDir]);
  try {
    const [, address, port] = await waitFor(
      r,
      /^Cloud Tasks emulator listening on (127\.0\.0\.1:(\d+)) \(gRPC\) and http:\/\/127\.0\.0\.1:\d+\/ \(REST\)$/m,
    );
    expect(r.stdout).toContain(`export CLOUD_TASKS_EMULATOR_HOST=${address}\n`);
    const [, restUrl] = /^export CLOUD_TASKS_EMULATOR_REST_URL=(http:\/\/127\.0\.0\.1:\d+\/)$/m.exec(r.stdout)!;

    const client = officialClient(Number(port));
    const [queue] = await client.createQueue({ parent: PARENT, queue: { name: queueName('from-cli') } });
    expect(queue.state).toBe('RUNNING');
    await client.close();
    // The same queue over REST, as curl sees it.
    const res = await fetch(`${restUrl}v2/${PARENT}/queues`);
    expect(((await res.json()) as { queues: Array<{ name: string }> }).queues.map((q) => q.name)).toEqual([
      queueName('from-cli'),
    ]);

    process.kill(-r.child.pid!, 'SIGTERM');
    await r.exited;
    expect(r.stdout).toMatch(/SIGTERM: stopping the emulator\nCloud Tasks emulator stopped\n/);
    expect(existsSync(path.join(dataDir, DATABASE_FILE))).toBe(true);
  } finally {
    if (r.child.exitCode === null) process.kill(-r.child.pid!, 'SIGKILL');
  }
});

test('a data dir held by another emulator: exit code 1, naming its pid', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'emulator-locked-'));
  const holder = await startEmulator({ dataDir: dir, log: () => undefined });
  let stderr = '';
  const spy = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += chunk.toString();
    return true;
  });
  try {
    expect(await main(['node', 'emulator', '--port', '0', '--no-dispatch', '--data-dir', dir])).toBe(1);
    expect(stderr).toMatch(new RegExp(`in use by another emulator \\(pid ${process.pid}`));
  } finally {
    spy.mockRestore();
    await holder.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a bad option exits with code 2 and says what is expected', async () => {
  // In process: commander's parsing needs no child process (and no second tsx start-up).
  let stderr = '';
  const spy = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += chunk.toString();
    return true;
  });
  try {
    expect(await main(['node', 'emulator', '--fail-rate', '2'])).toBe(2);
    expect(await main(['node', 'emulator', '--port', '99999'])).toBe(2);
  } finally {
    spy.mockRestore();
  }
  expect(stderr).toMatch(/--fail-rate <fraction>.*expected a fraction from 0 to 1.*got "2"/s);
  expect(stderr).toMatch(/--port <port>.*expected a TCP port from 0 \(pick a free one\) to 65535, got "99999"/s);
});
