/**
 * The seeder against the local emulator, through the official client: what Terraform's provisioner does at deploy
 * time, minus Google. Small manifests; the emulator runs in this process on a free port.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudTasksClient } from '@google-cloud/tasks';
import * as grpc from '@grpc/grpc-js';
import { startEmulator, type RunningEmulator } from '../../lib/emulator/server';
import { EXIT_INCOMPLETE, EXIT_INVALID, EXIT_OK, main, type CliIo } from '../../lib/seeder/cli';
import type { ManifestTask, SeedManifest } from '../../lib/core/manifest';
import { LOCATION, PROJECT, captureStream, manifestOf, manyTasks, queueName, seedTask } from './fixtures';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'seed-e2e-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** An emulator, an official client pointed at it, and paused queues (so nothing is dispatched while we look). */
async function emulatorWith(queueIds: readonly string[], options: { failRate?: number; random?: () => number } = {}) {
  const emulator = await startEmulator({ port: 0, ...options });
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
  return { emulator, client, stop: async () => (await client.close(), await emulator.stop()) };
}

async function taskNames(client: CloudTasksClient, queueIds: readonly string[]): Promise<string[]> {
  const names: string[] = [];
  for (const id of queueIds) {
    const [tasks] = await client.listTasks({ parent: queueName(id) });
    names.push(...tasks.map((t) => t.name ?? ''));
  }
  return names.sort();
}

const expectedNames = (tasks: readonly ManifestTask[]) => tasks.map((t) => `${t.queue}/tasks/${t.taskId}`).sort();

let fileCount = 0;
async function seed(
  emulator: RunningEmulator,
  manifest: SeedManifest | string,
  flags: string[] = [],
  seedOptions: CliIo['seedOptions'] = undefined,
) {
  const file = join(dir, `manifest-${++fileCount}.json`);
  writeFileSync(file, typeof manifest === 'string' ? manifest : JSON.stringify(manifest));
  const stdout = captureStream();
  const stderr = captureStream();
  const code = await main(['node', 'seed', file, ...flags], {
    stdout,
    stderr,
    env: { CLOUD_TASKS_EMULATOR_HOST: emulator.address },
    seedOptions,
  });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

test('GIVEN a manifest THEN every task is created with its name; a re-run finds all present and adds no duplicate', async () => {
  const queues = ['demo-dev-ingest', 'demo-dev-train'];
  const { emulator, client, stop } = await emulatorWith(queues);
  try {
    const tasks = manyTasks(40, queues);

    const first = await seed(emulator, manifestOf(tasks));
    expect(first.code).toBe(EXIT_OK);
    expect(first.stdout).toMatch(
      /^Seeded 40 task\(s\) in [\d.]+ s \([\d,]+ tasks\/s\): 40 created, 0 already present, 0 failed\.\n$/,
    );
    expect(await taskNames(client, queues)).toEqual(expectedNames(tasks));

    const again = await seed(emulator, manifestOf(tasks));
    expect(again.code).toBe(EXIT_OK);
    expect(again.stdout).toMatch(/: 0 created, 40 already present, 0 failed\.\n$/);
    expect(await taskNames(client, queues)).toEqual(expectedNames(tasks));
  } finally {
    await stop();
  }
});

test('GIVEN an emulator that fails calls with UNAVAILABLE THEN retries still create every task exactly once', async () => {
  // A seeded generator for the emulator's failures; about 30% of calls fail (higher rates make long retry streaks,
  // and with them slow tests, likely).
  let state = 42;
  const random = () => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const { emulator, client, stop } = await emulatorWith(['demo-dev-ingest'], { failRate: 0.3, random });
  try {
    const tasks = manyTasks(30);
    const result = await seed(emulator, manifestOf(tasks));
    expect(result.code).toBe(EXIT_OK);
    expect(result.stdout).toMatch(/: 30 created, 0 already present, 0 failed \(\d+ retries\)\.\n$/);
    expect(await taskNames(client, ['demo-dev-ingest'])).toEqual(expectedNames(tasks));
  } finally {
    await stop();
  }
});

test('GIVEN too few attempts for a flaky service THEN it exits 1 with a summary, and a re-run completes without duplicates', async () => {
  let state = 7;
  const random = () => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const { emulator, client, stop } = await emulatorWith(['demo-dev-ingest'], { failRate: 0.25, random });
  try {
    const tasks = manyTasks(30);

    const partial = await seed(emulator, manifestOf(tasks), ['--max-attempts', '1']);
    expect(partial.code).toBe(EXIT_INCOMPLETE);
    const failed = Number(/, (\d+) failed\./.exec(partial.stdout)?.[1]);
    expect(failed).toBeGreaterThan(0);
    expect(partial.stderr).toMatch(
      new RegExp(
        `${failed} task\\(s\\) failed with UNAVAILABLE \\(14\\): .+ \\(after up to 1 attempt\\(s\\)\\); e\\.g\\. demo-dev-ingest/`,
      ),
    );
    expect(partial.stderr).toMatch(
      new RegExp(`${failed} task\\(s\\) were not created\\. Fix the cause above and run the seeder again`),
    );
    expect(await taskNames(client, ['demo-dev-ingest'])).toHaveLength(30 - failed);

    const rerun = await seed(emulator, manifestOf(tasks));
    expect(rerun.code).toBe(EXIT_OK);
    expect(rerun.stdout).toMatch(new RegExp(`: ${failed} created, ${30 - failed} already present, 0 failed`));
    expect(await taskNames(client, ['demo-dev-ingest'])).toEqual(expectedNames(tasks));
  } finally {
    await stop();
  }
});

/** A seeded generator (the emulator's failures repeat from run to run). */
function lcg(seed: number): () => number {
  let state = seed;
  return () => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
}

describe('GIVEN an emulator failing 60% of calls (--fail-rate 0.6)', () => {
  // Fast backoff keeps the test short; the retry policy (no attempt cap, deadline) is the one the CLI runs with. With
  // the former cap of 8 attempts, each task failed with probability 0.6^8 (1.7%): of 120 tasks, 2 on average.
  const fastRetries = { initialBackoffMs: 1, maxBackoffMs: 8 };
  const COUNT = 120;

  test('THEN a run creates every task and exits 0, and a re-run finds them all present and exits 0', async () => {
    const { emulator, client, stop } = await emulatorWith(['demo-dev-ingest'], { failRate: 0.6, random: lcg(11) });
    try {
      const tasks = manyTasks(COUNT);
      const first = await seed(emulator, manifestOf(tasks), [], fastRetries);
      expect(first.code).toBe(EXIT_OK);
      expect(first.stdout).toMatch(
        new RegExp(`: ${COUNT} created, 0 already present, 0 failed \\(\\d+ retries\\)\\.\\n$`),
      );
      const again = await seed(emulator, manifestOf(tasks), [], fastRetries);
      expect(again.code).toBe(EXIT_OK);
      expect(again.stdout).toMatch(
        new RegExp(`: 0 created, ${COUNT} already present, 0 failed \\(\\d+ retries\\)\\.\\n$`),
      );
      expect(await taskNames(client, ['demo-dev-ingest'])).toEqual(expectedNames(tasks));
    } finally {
      await stop();
    }
  });

  test('THEN a re-run after a partial run creates only what is missing', async () => {
    const { emulator, client, stop } = await emulatorWith(['demo-dev-ingest'], { failRate: 0.6, random: lcg(5) });
    try {
      const tasks = manyTasks(COUNT);
      const partial = await seed(emulator, manifestOf(tasks), ['--max-attempts', '1'], fastRetries);
      expect(partial.code).toBe(EXIT_INCOMPLETE);
      const created = Number(/: (\d+) created/.exec(partial.stdout)?.[1]);
      expect(created).toBeGreaterThan(0);
      expect(created).toBeLessThan(COUNT);
      const rerun = await seed(emulator, manifestOf(tasks), [], fastRetries);
      expect(rerun.code).toBe(EXIT_OK);
      expect(rerun.stdout).toMatch(new RegExp(`: ${COUNT - created} created, ${created} already present, 0 failed`));
      expect(await taskNames(client, ['demo-dev-ingest'])).toEqual(expectedNames(tasks));
    } finally {
      await stop();
    }
  });
});

test('GIVEN a manifest edited after synth with a ghp_ token THEN exit 2, the finding without the value, nothing created', async () => {
  const { emulator, client, stop } = await emulatorWith(['demo-dev-ingest']);
  try {
    const token = 'ghp_' + 'F'.repeat(30) + 'AKE123';
    const tasks = [seedTask('a'), seedTask('b', { httpRequest: { headers: { 'X-Note': token } } })];
    const r = await seed(emulator, manifestOf(tasks));
    expect(r.code).toBe(EXIT_INVALID);
    expect(r.stderr).toMatch(
      /tasks\[1\]\.httpRequest\.headers\.X-Note: value looks like a GitHub token \(ghp_\.\.\.\) \(policy rule CTP002/,
    );
    expect(r.stderr + r.stdout).not.toContain(token.slice(4));
    expect(await taskNames(client, ['demo-dev-ingest'])).toEqual([]);
  } finally {
    await stop();
  }
});

test('GIVEN a payload full of shell metacharacters THEN it arrives byte for byte and runs nothing', async () => {
  const { emulator, client, stop } = await emulatorWith(['demo-dev-ingest']);
  try {
    const marker = join(dir, 'pwned');
    const body = JSON.stringify({
      subst: `$(touch ${marker}-1)`,
      backticks: `\`touch ${marker}-2\``,
      chain: `; touch ${marker}-3; rm -rf "${dir}/nothing" && echo hi | cat > ${marker}-4`,
      quotes: `'"\\'\\"`,
      lines: 'one\ntwo\r\nthree\ttab\u0000nul',
      unicode: 'naïve café 日本語 🚀 \u202e',
    });
    const task = seedTask('hostile', {
      httpRequest: { body, headers: { 'Content-Type': 'application/json', 'X-Note': '$(id) `id` ;|&' } },
    });

    expect((await seed(emulator, manifestOf([task]))).code).toBe(EXIT_OK);

    const [stored] = await client.getTask({ name: `${task.queue}/tasks/${task.taskId}`, responseView: 'FULL' });
    expect(Buffer.from(stored.httpRequest?.body as Uint8Array)).toEqual(Buffer.from(body, 'utf8'));
    expect(stored.httpRequest?.headers?.['X-Note']).toBe('$(id) `id` ;|&');
    for (const n of [1, 2, 3, 4]) expect(existsSync(`${marker}-${n}`)).toBe(false);
  } finally {
    await stop();
  }
});

test('the created task carries the manifest request: method, url, headers, OIDC token, schedule time, deadline', async () => {
  const { emulator, client, stop } = await emulatorWith(['demo-dev-ingest']);
  try {
    const scheduleTime = new Date(Date.now() + 3_600_000).toISOString();
    const task = seedTask('full', { scheduleTime, dispatchDeadlineSeconds: 120 });
    expect((await seed(emulator, manifestOf([task]))).code).toBe(EXIT_OK);

    const [stored] = await client.getTask({ name: `${task.queue}/tasks/${task.taskId}`, responseView: 'FULL' });
    expect(stored.httpRequest).toMatchObject({
      url: task.httpRequest.url,
      httpMethod: 'POST',
      headers: expect.objectContaining({ 'Content-Type': 'application/json' }),
      oidcToken: task.httpRequest.oidcToken,
    });
    expect(Number(stored.scheduleTime?.seconds)).toBe(Math.floor(Date.parse(scheduleTime) / 1000));
    expect(Number(stored.dispatchDeadline?.seconds)).toBe(120);
  } finally {
    await stop();
  }
});
