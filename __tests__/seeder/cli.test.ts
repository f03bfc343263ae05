import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXIT_INVALID, EXIT_OK, failureReport, main } from '../../lib/seeder/cli';
import { NOT_ATTEMPTED } from '../../lib/seeder/seeder';
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
  const PRIVATE_BODY = '{"note":"do-not-print-me"}';
  const manifest = manifestOf([
    seedTask('first', { httpRequest: { body: PRIVATE_BODY } }),
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
      `${Buffer.byteLength(PRIVATE_BODY)} B`,
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

describe('seed: hostile text in a manifest', () => {
  test('GIVEN a URL with a bidi override THEN --dry-run shows it escaped, never raw', async () => {
    const file = writeManifest(
      'bidi.json',
      manifestOf([seedTask('a', { httpRequest: { url: 'https://worker.example.com/in\u202evoice\u2066' } })]),
    );
    const { code, stdout } = await run([file, '--dry-run']);
    expect(code).toBe(EXIT_OK);
    expect(stdout).not.toMatch(/[\u202e\u2066]/);
    expect(stdout).toContain('https://worker.example.com/in\\u202evoice\\u2066');
  });

  test('GIVEN header names and values with CR, LF or NUL THEN the re-validation refuses them: exit 2, nothing printed raw', async () => {
    const file = writeManifest(
      'headers.json',
      manifestOf([
        seedTask('a', { httpRequest: { headers: { 'X-Trace': 'ok\r\nX-Injected: 1' } } }),
        seedTask('b', { httpRequest: { headers: { 'X-\u0000': 'v' } } }),
      ]),
    );
    const { code, stdout, stderr } = await run([file, '--dry-run']);
    expect(code).toBe(EXIT_INVALID);
    expect(stdout).toBe('');
    expect(stderr).toContain(
      'tasks[0].httpRequest.headers.X-Trace: the header value contains the control character \\x0d',
    );
    expect(stderr).toContain('the header name contains the control character \\x00');
    expect(stderr).not.toContain('X-Injected');
    expect(stderr).not.toMatch(/[\u0000\r]/);
  });
});

describe('seed: a manifest is trusted only as synth wrote it', () => {
  const TOKEN = 'ghp_' + 'F'.repeat(30) + 'AKE123';
  const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
  /** Writes `text` where cdktf puts an asset: `<dir>/<folder>/seed-manifest.json`. */
  function asAsset(name: string, folder: string, text: string): string {
    mkdirSync(join(dir, name, folder), { recursive: true });
    const file = join(dir, name, folder, 'seed-manifest.json');
    writeFileSync(file, text);
    return file;
  }

  test('GIVEN a manifest in the folder named after its sha256 THEN it is accepted', async () => {
    const text = JSON.stringify(manifestOf([seedTask('a')]));
    const { code, stderr } = await run([asAsset('intact', sha256(text), text), '--dry-run']);
    expect(stderr).toBe('');
    expect(code).toBe(EXIT_OK);
  });

  test('GIVEN a manifest edited after synth to carry a ghp_ token THEN exit 2, both refusals named, no value printed, nothing contacted', async () => {
    const original = JSON.stringify(manifestOf([seedTask('a'), seedTask('b')]));
    const edited = JSON.stringify(
      manifestOf([seedTask('a'), seedTask('b', { httpRequest: { body: JSON.stringify({ repo: 'x', pat: TOKEN }) } })]),
    );
    const file = asAsset('tampered', sha256(original), edited);
    const before = connections;

    const { code, stdout, stderr } = await run([file]);

    expect(code).toBe(EXIT_INVALID);
    expect(stdout).toBe('');
    expect(stderr.split('\n')).toEqual([
      `${file}: its sha256 is ${sha256(edited)}, but it sits in the asset folder ${sha256(original)}, named after the sha256 synth wrote it with: the file was changed after synth. Synthesize the stack again and deploy that`,
      `${file}: tasks[1].httpRequest.body.pat: value looks like a GitHub token (ghp_...) (policy rule CTP003, docs/policy.md); a credential must not be put into Cloud Tasks: keep it in Secret Manager and let the worker read it`,
      '1 secret(s) and a sha256 mismatch in the seed manifest; nothing was created.',
      '',
    ]);
    expect(stderr).not.toContain(TOKEN.slice(4));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(connections).toBe(before);
  });

  test('GIVEN a manifest run by hand (no hash folder) with secrets in headers, URL and audience THEN each is refused by its rule', async () => {
    const apiKey = 'AIza' + 'F'.repeat(35);
    const task = seedTask('a', {
      httpRequest: {
        url: `https://maps.example.com/geo?key=${apiKey}`,
        headers: { 'Content-Type': 'application/json', 'X-Api-Key': 'fake-key-123456' },
        oidcToken: {
          serviceAccountEmail: 'i@demo-project.iam.gserviceaccount.com',
          audience: `https://x.example.com/?key=${apiKey}`,
        },
      },
    });
    const { code, stderr } = await run([writeManifest('by-hand.json', manifestOf([task])), '--dry-run']);
    expect(code).toBe(EXIT_INVALID);
    expect(stderr.split('\n').map((l) => l.replace(/ \(policy rule (CTP\d+).*$/, ' $1'))).toEqual([
      expect.stringMatching(
        /tasks\[0\]\.httpRequest\.headers\.X-Api-Key: header name "X-Api-Key" says it holds an API key CTP002$/,
      ),
      expect.stringMatching(/tasks\[0\]\.httpRequest\.url: value looks like a Google API key \(AIza\.\.\.\) CTP007$/),
      expect.stringMatching(
        /tasks\[0\]\.httpRequest\.oidcToken\.audience: value looks like a Google API key \(AIza\.\.\.\) CTP007$/,
      ),
      '3 secret(s) in the seed manifest; nothing was created.',
      '',
    ]);
    expect(stderr).not.toContain(apiKey.slice(4));
    expect(stderr).not.toContain('fake-key-123456');
  });

  test('GIVEN the spec suppressed the rule (secretsAllowed) THEN the finding is let through, said so, and the dry run hides the key', async () => {
    const apiKey = 'AIza' + 'F'.repeat(35);
    const manifest = {
      ...manifestOf([seedTask('a', { httpRequest: { url: `https://maps.example.com/geo?key=${apiKey}&q=1` } })]),
      secretsAllowed: [{ rule: 'CTP007', reason: 'public demo key of a sandbox, rotated daily' }],
    };
    const file = writeManifest('allowed.json', manifest);
    const { code, stdout, stderr } = await run([file, '--dry-run']);
    expect(code).toBe(EXIT_OK);
    expect(stderr).toBe(
      `${file}: 1 secret finding(s) of CTP007 let through: the spec suppresses CTP007 ("public demo key of a sandbox, rotated daily")\n`,
    );
    expect(stdout).toContain('https://maps.example.com/geo?key=***&q=1');
    expect(stdout + stderr).not.toContain(apiKey.slice(4));
  });

  test('GIVEN a manifest that is not JSON THEN the error shows no text from it', async () => {
    const { code, stderr } = await run([writeManifest('broken.json', `{"tasks": ${TOKEN}}`)]);
    expect(code).toBe(EXIT_INVALID);
    expect(stderr).toMatch(/broken\.json: is not valid JSON \(Unexpected token 'g'\); re-run synth/);
    expect(stderr).not.toContain(TOKEN.slice(4));
  });
});

describe('seed: input errors exit 2 before anything is contacted', () => {
  test('a missing file', async () => {
    const { code, stderr } = await run([join(dir, 'missing.json')]);
    expect(code).toBe(EXIT_INVALID);
    expect(stderr).toBe(`${join(dir, 'missing.json')}: cannot read the seed manifest (ENOENT)\n`);
  });

  test.each([
    ['0s', /--deadline <duration>' argument '0s' is invalid. expected a duration from 1s to 24h/],
    ['ten', /argument 'ten' is invalid. expected a duration from 1s to 24h, a whole number followed by s, m or h/],
    ['25h', /argument '25h' is invalid/],
  ])('a bad --deadline %s', async (value, message) => {
    const { code, stderr } = await run([writeManifest('dl.json', manifestOf([seedTask('a')])), '--deadline', value]);
    expect(code).toBe(EXIT_INVALID);
    expect(stderr).toMatch(message);
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
    expect(stdout).toMatch(
      /Exit codes: 0 done, 1 some tasks left undone \(re-run to finish\), 2 invalid, tampered or secret-carrying manifest/,
    );
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
        { task: seedTask('d'), code: undefined, message: NOT_ATTEMPTED, attempts: 0 },
      ],
    },
    1,
    '10m',
  );
  expect(report.split('\n')).toEqual([
    `  2 task(s) failed with PERMISSION_DENIED (7): caller lacks cloudtasks.tasks.create (after up to 1 attempt(s)); e.g. demo-dev-ingest/${a.taskId}, and 1 more`,
    `  1 task(s) failed with UNAVAILABLE (14): connection refused (after up to 8 attempt(s)); e.g. demo-dev-ingest/${c.taskId}`,
    `  1 task(s) were not attempted: the run's --deadline of 10m passed before they were started; e.g. demo-dev-ingest/${seedTask('d').taskId}`,
    '',
  ]);
});
