/**
 * `npm run local`: the example pipeline end to end as users run it (a child process with PATH=/usr/bin:/bin, so no
 * terraform), a fan-in DAG with a step served from its `local.url` (in process), and the pieces: reading the
 * synthesized Terraform JSON, the local routing rule, and the run statistics.
 */
import { spawn } from 'node:child_process';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { DispatchEvent } from '../../../lib/emulator/dispatch/events';
import type { Task } from '../../../lib/emulator/model';
import { localHttpTarget, runLocal } from '../../../lib/apps/local/run';
import { RunRecorder, formatStepTable, percentile, type LocalReport } from '../../../lib/apps/local/summary';
import { parseTerraformDuration, readLocalStack } from '../../../lib/apps/local/terraform';
import { buildRoutes } from '../../../lib/core/routes';
import { createLedger } from '../../../lib/ledger/index';
import { loadSpecs } from '../../../lib/spec/load';
import { FIRESTORE_READY_MS, testFirestore } from '../../ledger/helpers';

const ROOT = path.resolve(__dirname, '../../..');
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'local-run-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test(
  'npm run local runs the example pipeline to the end without terraform on PATH and writes the report',
  async () => {
    // train is a Cloud Run job of 3 tasks (docs/jobs.md): the run needs the run ledger on the suite's Firestore emulator.
    const { firestore } = await testFirestore('local');
    await firestore.terminate();
    const report = path.join(dir, 'report.json');
    const outputs = path.join(dir, 'outputs');
    const child = spawn(
      process.execPath,
      [
        require.resolve('tsx/cli'),
        'bin/local.ts',
        '--spec',
        'pipelines/recsys-dev.yaml',
        '--report',
        report,
        '--timeout',
        '60s',
      ],
      {
        cwd: ROOT,
        env: { ...process.env, PATH: '/usr/bin:/bin', PIPELINE_OUTPUT_DIR: outputs },
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });

    const r = JSON.parse(readFileSync(report, 'utf8')) as LocalReport;
    // 2 preprocess seeds -> 2 train -> 2 infer, plus the infer smoke-test seed: 7 tasks, each done on its first attempt.
    expect(r).toMatchObject({
      steps: {
        preprocess: { succeeded: 2, failed: 0, attempts: 2 },
        train: { succeeded: 2, failed: 0, attempts: 2 },
        infer: { succeeded: 3, failed: 0, attempts: 3 },
      },
      tasks: 7,
      ok: true,
      pending: 0,
    });
    expect(r.durationSeconds).toBeGreaterThan(0);
    expect(r.runs['sample-2026-11'].map((s) => s.step)).toEqual(['preprocess', 'train', 'infer']);
    expect(r.runs['smoke-test'].map((s) => s.step)).toEqual(['infer']);
    // Each train task ran the example job once, as a child process, its output prefixed with step and shard.
    for (const shard of [0, 1, 2]) expect(stderr).toContain(`[train 0.0#${shard}] INFO fitted 200 samples`);
    expect(readdirSync(path.join(outputs, 'sample-2026-11')).sort()).toEqual([
      'train-0-of-3.json',
      'train-1-of-3.json',
      'train-2-of-3.json',
    ]);
    // What `runs show` reads: the train shards of the run, each done once, and infer once after the last of them.
    const [{ spec }] = loadSpecs({ specPath: path.join(ROOT, 'pipelines/recsys-dev.yaml') });
    const ledger = createLedger({ routes: buildRoutes(spec), env: process.env });
    try {
      const run = (await ledger.getRun('sample-2026-11'))!;
      expect(run.status).toBe('succeeded');
      const train = run.steps.find((s) => s.step === 'train')!;
      expect(train.shards.map((s) => [s.shard, s.state, s.attempts])).toEqual([
        ['0.0#0', 'done', 1],
        ['0.0#1', 'done', 1],
        ['0.0#2', 'done', 1],
      ]);
      expect(train.outputs.map((o) => o.uri)).toEqual(
        [0, 1, 2].map((i) => path.join(outputs, 'sample-2026-11', `train-${i}-of-3.json`)),
      );
      expect(run.steps.find((s) => s.step === 'infer')).toMatchObject({ join: 'all', expected: 1, succeeded: 1 });
    } finally {
      await ledger.close();
    }
    expect(stdout).toContain('Seeded 3 task(s)');
    expect(stdout).toMatch(/^preprocess\s+2\s+2\s+0\s+2\s/m);
    expect(stdout).toContain('Every task succeeded.');
    // Not a TTY: plain progress lines.
    expect(stderr).toMatch(/^running: \d+\/\d+ task\(s\) done/m);
    // The Firestore emulator's JVM and six job processes on a shared 2-core machine: generous.
  },
  180_000 + FIRESTORE_READY_MS,
);

test('a fan-in DAG with one step at its local.url: one task per parent delivery, routed with the synthesized path', async () => {
  const received: Array<{ url: string; headers: IncomingHttpHeaders; body: string }> = [];
  const own = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push({ url: req.url ?? '', headers: req.headers, body });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => own.listen(0, '127.0.0.1', r));
  const port = (own.address() as { port: number }).port;
  const spec = path.join(dir, 'dag.yaml');
  writeFileSync(
    spec,
    `project: demo-local-1
region: us-central1
environment: test
pipeline:
  name: dag
  steps:
    - name: split
      target: { url: https://split.example.com/run }
      next: [left, right]
    - name: left
      target: { url: https://left.example.com/run }
      next: [join]
    - name: right
      target: { url: https://right.example.com/run }
      next: [join]
    - name: join
      target: { url: "https://join.example.com/v1/join?mode=all" }
      local: { url: "http://127.0.0.1:${port}" }
  seedTasks:
    - { step: split, id: run-a, payload: { n: 1 } }
    - { step: split, id: run-b, payload: { n: 2 } }
`,
  );
  try {
    const { report } = await runLocal({ specPath: spec, workMs: 1, timeoutMs: 30_000, log: () => undefined });
    expect(report).toMatchObject({
      ok: true,
      tasks: 10,
      steps: {
        split: { succeeded: 2 },
        left: { succeeded: 2 },
        right: { succeeded: 2 },
        join: { succeeded: 4, attempts: 4 },
      },
    });
    expect(report.runs['run-a'].find((s) => s.step === 'join')?.tasks).toBe(2);
    expect(received).toHaveLength(4);
    for (const r of received) {
      expect(r.url).toBe('/v1/join?mode=all');
      expect(r.headers['user-agent']).toBe('Google-Cloud-Tasks');
      expect(r.headers.authorization).toMatch(/^Bearer ey/);
    }
    const lineages = received
      .map((r) => JSON.parse(r.body) as { runId: string; lineage: string[] })
      .map((m) => `${m.runId}:${m.lineage.join('>')}`);
    expect(lineages.sort()).toEqual(['run-a:split>left', 'run-a:split>right', 'run-b:split>left', 'run-b:split>right']);
  } finally {
    own.close();
  }
});

describe('reading the synthesized stack', () => {
  const stackDir = () => {
    const d = mkdtempSync(path.join(dir, 'stack-'));
    writeFileSync(
      path.join(d, 'cdk.tf.json'),
      JSON.stringify({
        resource: {
          google_cloud_tasks_queue: {
            q_1: {
              name: 'p-dev-train',
              project: 'acme',
              location: 'us-central1',
              rate_limits: { max_concurrent_dispatches: 1 },
              retry_config: { max_attempts: 3, min_backoff: '60s', max_backoff: '1800s', max_doublings: 2 },
              http_target: {
                http_method: 'POST',
                uri_override: {
                  host: 'train.example.com',
                  scheme: 'HTTPS',
                  path_override: { path: '/tasks' },
                  uri_override_enforce_mode: 'ALWAYS',
                },
                header_overrides: [{ header: { key: 'X-Pipeline', value: 'p' } }],
                oidc_token: {
                  service_account_email: 'inv@acme.iam.gserviceaccount.com',
                  audience: 'https://train.example.com/tasks',
                },
              },
            },
          },
          terraform_data: {
            seed_1: {
              provisioner: [
                {
                  'local-exec': {
                    interpreter: ['node', 'assets/s/seeder.cjs'],
                    command: 'assets/m/seed-manifest.json',
                    working_dir: '${path.module}',
                  },
                },
              ],
            },
          },
        },
      }),
    );
    return d;
  };

  test('queues and the seeding command, in the emulator terms', () => {
    const d = stackDir();
    const stack = readLocalStack(d);
    expect(stack.queues).toEqual([
      {
        address: 'google_cloud_tasks_queue.q_1',
        project: 'acme',
        location: 'us-central1',
        queueId: 'p-dev-train',
        queueName: 'projects/acme/locations/us-central1/queues/p-dev-train',
        input: {
          name: 'projects/acme/locations/us-central1/queues/p-dev-train',
          rateLimits: { maxConcurrentDispatches: 1, maxDispatchesPerSecond: undefined },
          retryConfig: {
            maxAttempts: 3,
            minBackoffSeconds: 60,
            maxBackoffSeconds: 1800,
            maxDoublings: 2,
            maxRetryDurationSeconds: undefined,
          },
        },
        httpTarget: {
          httpMethod: 'POST',
          uriOverride: {
            scheme: 'HTTPS',
            host: 'train.example.com',
            pathOverride: { path: '/tasks' },
            uriOverrideEnforceMode: 'ALWAYS',
          },
          headerOverrides: [{ header: { key: 'X-Pipeline', value: 'p' } }],
          oidcToken: {
            serviceAccountEmail: 'inv@acme.iam.gserviceaccount.com',
            audience: 'https://train.example.com/tasks',
          },
        },
      },
    ]);
    expect(stack.seedCommands).toEqual([
      {
        address: 'terraform_data.seed_1',
        argv: ['node', 'assets/s/seeder.cjs', 'assets/m/seed-manifest.json'],
        cwd: d,
        environment: {},
      },
    ]);
  });

  test('durations and the routing rule', () => {
    expect(parseTerraformDuration('600s', 'x')).toBe(600);
    expect(parseTerraformDuration('0.5s', 'x')).toBe(0.5);
    expect(() => parseTerraformDuration('10m', 'retry_config.min_backoff')).toThrow(
      'retry_config.min_backoff = "10m" is not a duration in seconds',
    );
    const q = readLocalStack(stackDir()).queues[0];
    // The example worker: its origin, the synthesized path.
    expect(localHttpTarget(q, { url: 'http://127.0.0.1:4000', own: false }).uriOverride).toEqual({
      scheme: 'HTTP',
      host: '127.0.0.1',
      port: 4000,
      pathOverride: { path: '/tasks' },
      uriOverrideEnforceMode: 'ALWAYS',
    });
    // A local.url with its own path and query keeps them; token and headers stay as synthesized.
    const own = localHttpTarget(q, { url: 'https://localhost/work?x=1', own: true });
    expect(own.uriOverride).toEqual({
      scheme: 'HTTPS',
      host: 'localhost',
      port: 443,
      pathOverride: { path: '/work' },
      queryOverride: { queryParams: 'x=1' },
      uriOverrideEnforceMode: 'ALWAYS',
    });
    expect(own.oidcToken).toEqual(q.httpTarget!.oidcToken);
  });
});

test('RunRecorder: per-step counts, latency percentiles and the per-run timeline', () => {
  const queue = 'projects/p/locations/l1/queues/p-dev-a';
  const rec = new RunRecorder(new Map([[queue, 'a']]));
  rec.start(Date.parse('2030-01-01T00:00:00.000Z'));
  const task = {
    name: `${queue}/tasks/0123456789abcdef-seed1`,
    taskId: '0123456789abcdef-seed1',
    httpRequest: { body: Buffer.from('{"x":1}') },
  } as unknown as Task;
  const ev = (event: DispatchEvent['event'], ts: string, extra: Partial<DispatchEvent> = {}): DispatchEvent => ({
    ts,
    queue,
    task: task.taskId,
    event,
    ...extra,
  });
  rec.listener(ev('created', '2030-01-01T00:00:00.000Z'), task);
  rec.listener(ev('dispatched', '2030-01-01T00:00:00.100Z', { attempt: 1 }), task);
  rec.listener(ev('failed', '2030-01-01T00:00:00.150Z', { latencyMs: 50, status: 503 }), task);
  rec.listener(ev('dispatched', '2030-01-01T00:00:01.150Z', { attempt: 2 }), task);
  rec.listener(ev('succeeded', '2030-01-01T00:00:01.160Z', { latencyMs: 10, status: 200 }), task);
  expect(rec.stepStats()).toEqual({
    a: { succeeded: 1, failed: 0, attempts: 2, tasks: 1, failedAttempts: 1, p50LatencyMs: 10, p95LatencyMs: 50 },
  });
  expect(rec.timeline()).toEqual({ seed1: [{ step: 'a', tasks: 1, startSeconds: 0.1, endSeconds: 1.16 }] });
  expect(formatStepTable(rec.stepStats())).toBe(
    'STEP  TASKS  SUCCEEDED  FAILED  ATTEMPTS  P50 MS  P95 MS\na     1      1          0       2         10      50',
  );
  expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 95)).toBe(10);
  expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50)).toBe(5);
  expect(percentile([], 50)).toBeNull();
});

test('the CLI refuses a bad option or an invalid spec with exit code 2, before running anything', async () => {
  const { main } = await import('../../../lib/apps/local/cli');
  let stderr = '';
  const io = { stdout: { write: () => true }, stderr: { write: (s: string) => ((stderr += s), true) }, env: {} };
  expect(await main(['node', 'local', '--timeout', '5x'], io)).toBe(2);
  expect(stderr).toContain('expected a whole number followed by s, m or h');
  const bad = path.join(dir, 'bad.yaml');
  writeFileSync(
    bad,
    'project: demo-local-1\nregion: us-central1\nenvironment: test\npipeline:\n  name: bad\n  steps:\n    - name: a\n      target: { url: "http://plain.example.com" }\n',
  );
  stderr = '';
  expect(await main(['node', 'local', '--spec', bad], io)).toBe(2);
  expect(stderr).toMatch(/bad\.yaml:8:\d+: pipeline\.steps\[0\]\.target\.url: .*https[\s\S]*Nothing ran/);
});
