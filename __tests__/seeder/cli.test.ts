import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXIT_INVALID, EXIT_OK, failureReport, main } from '../../lib/seeder/cli';
import { captureStream, manifestOf, queueName, seedTask } from './fixtures';

let dir: string;
let listener: Server;
let connections = 0;
let listenerAddress = '';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'seed-cli-'));
  // A port that counts connections: the dry run must not open any.
  listener = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const address = listener.address();
  listenerAddress = typeof address === 'object' && address ? `127.0.0.1:${address.port}` : '';
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await new Promise((resolve) => listener.close(resolve));
});

function writeManifest(name: string, content: unknown): string {
  const file = join(dir, name);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

async function run(args: string[], env: NodeJS.ProcessEnv = { CLOUD_TASKS_EMULATOR_HOST: listenerAddress }) {
  const stdout = captureStream();
  const stderr = captureStream();
  const code = await main(['node', 'seed', ...args], {
    stdout,
    stderr,
    env,
    now: () => new Date('2030-01-01T00:00:00Z'),
  });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

describe('seed --dry-run', () => {
  const SECRET_BODY = '{"apiKey":"do-not-print-me"}';
  const manifest = manifestOf([
    seedTask('first', { httpRequest: { body: SECRET_BODY } }),
    seedTask('later', {
      queue: queueName('demo-dev-train'),
      scheduleTime: '2030-01-02T00:00:00Z',
      httpRequest: { httpMethod: 'GET', body: undefined },
    }),
  ]);

  test('GIVEN a valid manifest THEN it lists queue, task id, method, url, schedule and body size, and contacts nothing', async () => {
    const file = writeManifest('dry.json', manifest);
    const before = connections;

    const { code, stdout, stderr } = await run([file, '--dry-run']);

    expect(code).toBe(EXIT_OK);
    expect(stderr).toBe('');
    const lines = stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(
      'Dry run: would create 2 task(s) in 2 queue(s) of project demo-project, us-central1. Nothing was contacted.',
    );
    expect(lines[1].split(/\s{2,}/)).toEqual(['QUEUE', 'TASK ID', 'METHOD', 'URL', 'SCHEDULE', 'BODY']);
    expect(lines[2].split(/\s{2,}/)).toEqual([
      'demo-dev-ingest',
      manifest.tasks[0].taskId,
      'POST',
      'https://worker.example.com/ingest',
      'now',
      `${Buffer.byteLength(SECRET_BODY)} B`,
    ]);
    expect(lines[3].split(/\s{2,}/)).toEqual([
      'demo-dev-train',
      manifest.tasks[1].taskId,
      'GET',
      'https://worker.example.com/ingest',
      '2030-01-02T00:00:00Z',
      '0 B',
    ]);
    expect(stdout).not.toContain('do-not-print-me');
    expect(stdout).not.toContain('invoker@');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(connections).toBe(before);
  });

  test('GIVEN an invalid manifest THEN the dry run fails like a real run: exit 2, every problem on stderr', async () => {
    const file = writeManifest(
      'bad.json',
      manifestOf([
        seedTask('a', { httpRequest: { url: 'http://x.example.com' } }),
        seedTask('b', { taskId: 'no spaces' }),
      ]),
    );

    const { code, stdout, stderr } = await run([file, '--dry-run']);

    expect(code).toBe(EXIT_INVALID);
    expect(stdout).toBe('');
    expect(stderr.split('\n')).toEqual([
      `${file}: tasks[0].httpRequest.url: "http://x.example.com" must use https: tasks carry identity tokens, which must not travel in clear text`,
      `${file}: tasks[1].taskId: "no spaces" is not a valid Cloud Tasks task id: use only letters, digits, hyphens and underscores`,
      '2 problem(s) in the seed manifest; nothing was created.',
      '',
    ]);
  });
});

describe('seed: input errors exit 2 before anything is contacted', () => {
  test('a missing file', async () => {
    const { code, stderr } = await run([join(dir, 'missing.json')]);
    expect(code).toBe(EXIT_INVALID);
    expect(stderr).toBe(`${join(dir, 'missing.json')}: cannot read the seed manifest (ENOENT)\n`);
  });

  test('a bad flag value', async () => {
    const { code, stderr } = await run([writeManifest('ok.json', manifestOf([seedTask('a')])), '--concurrency', '0']);
    expect(code).toBe(EXIT_INVALID);
    expect(stderr).toMatch(/--concurrency <n>' argument '0' is invalid. expected a whole number from 1 to 1,000/);
  });

  test('a malformed CLOUD_TASKS_EMULATOR_HOST', async () => {
    const before = connections;
    const { code, stderr } = await run([writeManifest('ok2.json', manifestOf([seedTask('a')]))], {
      CLOUD_TASKS_EMULATOR_HOST: 'localhost',
    });
    expect(code).toBe(EXIT_INVALID);
    expect(stderr).toBe(
      'CLOUD_TASKS_EMULATOR_HOST="localhost" is not host:port (e.g. 127.0.0.1:8123 or [::1]:8123); nothing was created.\n',
    );
    expect(connections).toBe(before);
  });

  test('no Application Default Credentials (cloud mode): exit 2 with what to do, before any call', async () => {
    const saved = process.env.GOOGLE_APPLICATION_CREDENTIALS;
    process.env.GOOGLE_APPLICATION_CREDENTIALS = join(dir, 'no-such-key.json');
    try {
      const { code, stdout, stderr } = await run([writeManifest('cloud.json', manifestOf([seedTask('a')]))], {});
      expect(code).toBe(EXIT_INVALID);
      expect(stdout).toBe('');
      expect(stderr).toMatch(/via Cloud Tasks \(cloudtasks.googleapis.com, Application Default Credentials\)/);
      expect(stderr).toMatch(
        /no Google Cloud credentials \(Application Default Credentials: .*no-such-key\.json.*\)\. Run `gcloud auth application-default login`/,
      );
      expect(stderr).toMatch(/nothing was created\.\n$/);
    } finally {
      if (saved === undefined) delete process.env.GOOGLE_APPLICATION_CREDENTIALS;
      else process.env.GOOGLE_APPLICATION_CREDENTIALS = saved;
    }
  });

  test('--help exits 0 and documents the environment and exit codes', async () => {
    const { code, stdout } = await run(['--help']);
    expect(code).toBe(EXIT_OK);
    expect(stdout).toMatch(/--dry-run/);
    expect(stdout).toMatch(/CLOUD_TASKS_EMULATOR_HOST=host:port/);
    expect(stdout).toMatch(/Exit codes: 0 done, 1 some tasks left undone \(re-run to finish\), 2 invalid input/);
  });

  test('an empty manifest is nothing to do', async () => {
    const { code, stdout } = await run([writeManifest('empty.json', manifestOf([]))]);
    expect(code).toBe(EXIT_OK);
    expect(stdout).toMatch(/no seed tasks; nothing to do/);
  });
});

test('failureReport groups failures by status and message, with example task ids', () => {
  const a = seedTask('a');
  const b = seedTask('b');
  const c = seedTask('c');
  const report = failureReport(
    {
      failures: [
        { task: a, code: 7, message: 'caller lacks cloudtasks.tasks.create', attempts: 1 },
        { task: b, code: 7, message: 'caller lacks cloudtasks.tasks.create', attempts: 1 },
        { task: c, code: 14, message: 'connection refused', attempts: 8 },
      ],
    },
    1,
  );
  expect(report.split('\n')).toEqual([
    `  2 task(s) failed with PERMISSION_DENIED (7): caller lacks cloudtasks.tasks.create (after up to 1 attempt(s)); e.g. demo-dev-ingest/${a.taskId}, and 1 more`,
    `  1 task(s) failed with UNAVAILABLE (14): connection refused (after up to 8 attempt(s)); e.g. demo-dev-ingest/${c.taskId}`,
    '',
  ]);
});
