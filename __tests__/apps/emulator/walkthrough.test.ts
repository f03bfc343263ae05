/**
 * The emulator's acceptance test, done literally as a new user would: synthesize the example stack, start the
 * emulator (a child process, no terraform on PATH) with the stack's queues and a flaky CreateTask, run the stack's
 * seeding command exactly as Terraform's local-exec would, and see exactly the spec's tasks, however often it is run.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { CloudTasksClient } from '@google-cloud/tasks';
import { main as tasksMain } from '../../../lib/apps/tasks/cli';
import type { SeedManifest } from '../../../lib/core/manifest';
import { officialClient } from '../../emulator/helpers';

const ROOT = path.resolve(__dirname, '../../..');
const PATH = '/usr/bin:/bin';

interface LocalExec {
  readonly interpreter: string[];
  readonly command: string;
  readonly working_dir: string;
}

let work: string;
let stackDir: string;
let emulator: { child: ChildProcessWithoutNullStreams; stdout: string; stderr: string; exited: Promise<number | null> };
let address: string;
let client: CloudTasksClient;
let tf: {
  resource: {
    terraform_data: Record<string, { provisioner: Array<{ 'local-exec': LocalExec }> }>;
    google_cloud_tasks_queue: Record<string, Record<string, unknown>>;
  };
};

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'walkthrough-'));
  // `npm run synth`, in process (main.ts is a thin wrapper around synthPipelines).
  const { synthPipelines } = require('../../../lib/apps/synth') as typeof import('../../../lib/apps/synth');
  const [stack] = synthPipelines({
    specPath: path.join(ROOT, 'pipelines/recsys-dev.yaml'),
    outdir: path.join(work, 'cdktf.out'),
    stateDir: work,
  });
  stackDir = path.resolve(stack.path);
  tf = JSON.parse(readFileSync(path.join(stackDir, 'cdk.tf.json'), 'utf8'));

  // `npm run emulator -- ...`, in its own process group so the whole npx/tsx/node chain can be stopped together.
  const child = spawn(
    'npx',
    ['tsx', 'bin/emulator.ts', '--port', '0', '--no-dispatch', '--stack', stackDir, '--fail-rate', '0.3'],
    {
      cwd: ROOT,
      env: { ...process.env, PATH },
      detached: true,
    },
  );
  emulator = { child, stdout: '', stderr: '', exited: new Promise((resolve) => child.on('close', resolve)) };
  child.stdout.on('data', (d: Buffer) => (emulator.stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (emulator.stderr += d.toString()));
  const until = Date.now() + 20_000;
  while (!/^Failing 30% of CreateTask calls/m.test(emulator.stdout)) {
    if (child.exitCode !== null || Date.now() > until)
      throw new Error(`the emulator did not start:\n${emulator.stdout}\n${emulator.stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  address = /^Cloud Tasks emulator listening on (\S+) \(gRPC\)/m.exec(emulator.stdout)![1];
  client = officialClient(Number(address.split(':')[1]));
});

afterAll(async () => {
  await client?.close();
  if (emulator && emulator.child.exitCode === null) {
    process.kill(-emulator.child.pid!, 'SIGTERM');
    await emulator.exited;
  }
  rmSync(work, { recursive: true, force: true });
});

/** The seeding command as Terraform runs it: the local-exec's interpreter list + command, no shell, in working_dir. */
function seedingCommand(): { file: string; args: string[]; cwd: string; manifest: string } {
  const [seed] = Object.values(tf.resource.terraform_data);
  const exec = seed.provisioner[0]['local-exec'];
  const cwd = exec.working_dir.split('${path.module}').join(stackDir);
  return {
    file: exec.interpreter[0],
    args: [...exec.interpreter.slice(1), exec.command],
    cwd,
    manifest: path.resolve(cwd, exec.command),
  };
}

function runSeeding(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const c = seedingCommand();
  const child = spawn(c.file, c.args, { cwd: c.cwd, env: { PATH, CLOUD_TASKS_EMULATOR_HOST: address }, shell: false });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

/** Seeds; under --fail-rate a run may leave tasks undone (exit 1, "re-run to finish"): one re-run completes. */
async function seedToCompletion(): Promise<Array<{ code: number | null; stdout: string; stderr: string }>> {
  const runs = [await runSeeding()];
  if (runs[0].code === 1) runs.push(await runSeeding());
  const last = runs[runs.length - 1];
  expect({ code: last.code, stderr: last.code === 0 ? '' : last.stderr }).toEqual({ code: 0, stderr: '' });
  return runs;
}

function manifest(): SeedManifest {
  return JSON.parse(readFileSync(seedingCommand().manifest, 'utf8')) as SeedManifest;
}

async function tasksInEmulator() {
  const [queues] = await client.listQueues({
    parent: `projects/${manifest().project}/locations/${manifest().location}`,
  });
  const tasks = [];
  for (const q of queues) tasks.push(...(await client.listTasks({ parent: q.name!, responseView: 'FULL' }))[0]);
  return tasks
    .map((t) => ({
      name: t.name,
      url: t.httpRequest!.url,
      httpMethod: t.httpRequest!.httpMethod,
      headers: t.httpRequest!.headers,
      body: Buffer.from(t.httpRequest!.body as Uint8Array),
      oidcToken: t.httpRequest!.oidcToken,
    }))
    .sort((a, b) => a.name!.localeCompare(b.name!));
}

function manifestTasks() {
  return manifest()
    .tasks.map((t) => ({
      name: `${t.queue}/tasks/${t.taskId}`,
      url: t.httpRequest.url,
      httpMethod: t.httpRequest.httpMethod,
      // The service stores its User-Agent with the task's headers.
      headers: { ...t.httpRequest.headers, 'User-Agent': 'Google-Cloud-Tasks' },
      body: Buffer.from(t.httpRequest.body ?? '', 'utf8'),
      oidcToken: {
        serviceAccountEmail: t.httpRequest.oidcToken!.serviceAccountEmail,
        audience: t.httpRequest.oidcToken!.audience,
      },
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

test('start the emulator with the stack, seed as Terraform would under a 30% CreateTask failure rate, see exactly the spec tasks, re-seed: nothing changes', async () => {
  // The emulator says what it created and how to seed.
  expect(emulator.stdout).toContain(
    `Stack recsys-dev (${stackDir}): created 5 queues (recsys-dev-evaluate, recsys-dev-ingest, recsys-dev-item-features, recsys-dev-train, recsys-dev-user-features)\n`,
  );
  expect(emulator.stdout).toMatch(
    /^ {2}seed it: \(cd \S+ && CLOUD_TASKS_EMULATOR_HOST=\S+ node assets\/\S+\/seeder\.cjs assets\/\S+\/seed-manifest\.json\)$/m,
  );

  // The queues are the stack's: rate limits and retry config from cdk.tf.json.
  const [queues] = await client.listQueues({
    parent: `projects/${manifest().project}/locations/${manifest().location}`,
  });
  const synthesized = Object.values(tf.resource.google_cloud_tasks_queue) as Array<{
    name: string;
    rate_limits: { max_dispatches_per_second: number; max_concurrent_dispatches: number };
    retry_config: { max_attempts: number; min_backoff: string; max_backoff: string; max_doublings: number };
  }>;
  expect(
    queues
      .map((q) => ({
        id: q.name!.split('/').pop(),
        rate: q.rateLimits!.maxDispatchesPerSecond,
        concurrent: q.rateLimits!.maxConcurrentDispatches,
        retry: q.retryConfig,
      }))
      .sort((a, b) => a.id!.localeCompare(b.id!)),
  ).toEqual(
    synthesized
      .map((r) => ({
        id: r.name,
        rate: r.rate_limits.max_dispatches_per_second,
        concurrent: r.rate_limits.max_concurrent_dispatches,
        retry: expect.objectContaining({
          maxAttempts: r.retry_config.max_attempts,
          // Unset in the spec (evaluate has no preset): the service default.
          maxDoublings: r.retry_config.max_doublings ?? 16,
          minBackoff: expect.objectContaining({ seconds: String(parseInt(r.retry_config.min_backoff, 10)) }),
          maxBackoff: expect.objectContaining({ seconds: String(parseInt(r.retry_config.max_backoff, 10)) }),
        }),
      }))
      .sort((a, b) => a.id.localeCompare(b.id)),
  );

  const first = await seedToCompletion();
  const created = first.map((r) => Number(/(\d+) created/.exec(r.stdout)?.[1] ?? 0)).reduce((a, b) => a + b, 0);
  expect(created).toBe(3);
  const expected = manifestTasks();
  expect(expected).toHaveLength(3);
  expect(await tasksInEmulator()).toEqual(expected);

  // However often it is run: the third run finds every task and creates none.
  const again = await seedToCompletion();
  expect(again[again.length - 1].stdout).toMatch(/: 0 created, 3 already present, 0 failed/);
  expect(await tasksInEmulator()).toEqual(expected);
});

test('npm run tasks -- list shows each task: id, method, URL, token, body size and sha256; --show-body adds bodies, never Authorization', async () => {
  await seedToCompletion(); // idempotent: this test needs the seeded tasks whatever ran before it
  const io = () => {
    const o = { out: '', err: '' };
    return {
      o,
      io: { stdout: { write: (s: string) => (o.out += s) }, stderr: { write: (s: string) => (o.err += s) }, env: {} },
    };
  };
  const listing = io();
  expect(await tasksMain(['node', 'tasks', 'list', '--emulator', address], listing.io)).toBe(0);
  expect(listing.o.err).toBe('');
  expect(listing.o.out).toMatch(
    new RegExp(`^Cloud Tasks emulator at ${address.replace(/\./g, '\\.')}: 5 queues, 3 tasks$`, 'm'),
  );
  for (const t of manifest().tasks) {
    const body = Buffer.from(t.httpRequest.body ?? '', 'utf8');
    const row = listing.o.out.split('\n').find((l) => l.includes(t.taskId));
    expect(row?.trim().split(/\s+/)).toEqual([
      t.taskId,
      expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      t.httpRequest.httpMethod,
      t.httpRequest.url,
      'oidc',
      t.httpRequest.oidcToken!.serviceAccountEmail,
      `aud=${t.httpRequest.oidcToken!.audience}`,
      String(body.length),
      'B',
      `sha256:${createHash('sha256').update(body).digest('hex').slice(0, 12)}`,
    ]);
  }
  expect(listing.o.out).not.toContain(manifest().tasks[0].httpRequest.body!);

  // A task of the user's own code with a static Authorization header (the fail rate applies: retry UNAVAILABLE).
  const train = manifest()
    .tasks.find((t) => t.step === 'ingest')!
    .queue.replace(/ingest$/, 'train');
  for (let attempt = 1; ; attempt++) {
    try {
      await client.createTask({
        parent: train,
        task: {
          name: `${train}/tasks/mine`,
          httpRequest: {
            url: 'https://example.com/x',
            headers: { Authorization: 'Bearer secret-in-header' },
            body: Buffer.from('{"k":1}'),
          },
        },
      });
      break;
    } catch (err) {
      if ((err as { code?: number }).code !== 14 || attempt === 20) throw err;
    }
  }
  const bodies = io();
  expect(
    await tasksMain(
      ['node', 'tasks', 'list', '--emulator', address, '--queue', 'recsys-dev-train', '--show-body'],
      bodies.io,
    ),
  ).toBe(0);
  expect(bodies.o.out).toMatch(/: 1 queue, 1 task\n/);
  expect(bodies.o.out).toContain(
    '      Authorization: (hidden)\n      User-Agent: Google-Cloud-Tasks\n      {"k":1}\n',
  );
  expect(bodies.o.out).not.toContain('secret-in-header');
  const ingest = io();
  expect(
    await tasksMain(['node', 'tasks', 'list', '--queue', 'recsys-dev-ingest', '--show-body'], {
      ...ingest.io,
      env: { CLOUD_TASKS_EMULATOR_HOST: address },
    }),
  ).toBe(0);
  for (const t of manifest().tasks.filter((t) => t.step === 'ingest'))
    expect(ingest.o.out).toContain(`      ${t.httpRequest.body}\n`);

  const missing = io();
  expect(await tasksMain(['node', 'tasks', 'list', '--emulator', address, '--queue', 'nope'], missing.io)).toBe(1);
  expect(missing.o.err).toBe(
    `no queue nope in the emulator at ${address}; its queues: recsys-dev-evaluate, recsys-dev-ingest, recsys-dev-item-features, recsys-dev-train, recsys-dev-user-features\n`,
  );
});
