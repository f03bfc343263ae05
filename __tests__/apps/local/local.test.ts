/**
 * `npm run local`: the example pipeline end to end as users run it (a child process with PATH=/usr/bin:/bin, so no
 * terraform), the run ledger in the suite's Firestore emulator: the fan-in step runs once per run, also with failing
 * attempts and duplicate deliveries; a step served from its `local.url` by a worker on the SDK, and one that is not;
 * and the pieces: reading the synthesized Terraform JSON, the local routing rule, and the run statistics.
 */
import { spawn } from 'node:child_process';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Firestore } from '@google-cloud/firestore';
import { ledgerPaths } from '../../../lib/core/ledger-layout';
import type { DispatchEvent } from '../../../lib/emulator/dispatch/events';
import type { Task } from '../../../lib/emulator/model';
import { localHttpTarget, runLocal } from '../../../lib/apps/local/run';
import { formatRunOutcomes } from '../../../lib/apps/local/ledger';
import { RunRecorder, formatStepTable, percentile, type LocalReport } from '../../../lib/apps/local/summary';
import { parseTerraformDuration, readLocalStack } from '../../../lib/apps/local/terraform';
import { createStepHandler, type StepHandler } from '../../../lib/worker/step-handler';
import { FIRESTORE_READY_MS, testFirestore } from '../../ledger/helpers';

const ROOT = path.resolve(__dirname, '../../..');
let dir: string;
let firestore: Firestore;
beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'local-run-'));
  // The suite's Firestore emulator (FIRESTORE_EMULATOR_HOST, set by jest's global setup), ready.
  ({ firestore } = await testFirestore('local'));
}, 150_000);
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await firestore?.terminate();
});

/** A repeatable random sequence (mulberry32), so a failure rate fails the same attempts every time. */
function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The shards a step recorded in a run, from the ledger (project and database of the spec). */
async function shardsOf(project: string, database: string, stack: string, runId: string, step: string) {
  const { Firestore: Client } = require('@google-cloud/firestore') as typeof import('@google-cloud/firestore');
  const db = new Client({
    projectId: project,
    databaseId: database,
    host: process.env.FIRESTORE_EMULATOR_HOST,
    ssl: false,
  });
  try {
    const snap = await db.collection(ledgerPaths.shards(stack, runId, step)).get();
    return snap.docs.map((d) => ({ shard: d.id, state: d.get('state') as string }));
  } finally {
    await db.terminate();
  }
}

test(
  'npm run local runs the example fan-in pipeline to the end without terraform on PATH: train (a Cloud Run job of 3 tasks) and evaluate once per run',
  async () => {
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
        '150s',
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
    // 2 ingest seeds, each split into 4 shards for user-features and item-features, then ONE train and ONE evaluate per
    // run; plus the evaluate smoke-test seed: 23 tasks, each done on its first attempt.
    expect(r).toMatchObject({
      steps: {
        ingest: { succeeded: 2, failed: 0, attempts: 2 },
        'user-features': { succeeded: 8, failed: 0, attempts: 8 },
        'item-features': { succeeded: 8, failed: 0, attempts: 8 },
        train: { succeeded: 2, failed: 0, attempts: 2, tasks: 2 },
        evaluate: { succeeded: 3, failed: 0, tasks: 3 },
      },
      tasks: 23,
      ok: true,
      pending: 0,
    });
    // evaluate once saw a retried attempt in a full, loaded jest run (cause not pinned down; never alone, in 10 runs):
    // Cloud Tasks is at-least-once, and what must hold is that it ran once per run, which the ledger's counts below say.
    expect(r.steps.evaluate.attempts).toBeGreaterThanOrEqual(3);
    const sample = {
      status: 'succeeded',
      steps: {
        ingest: { succeeded: 1, failed: 0 },
        'user-features': { succeeded: 4, failed: 0 },
        'item-features': { succeeded: 4, failed: 0 },
        // The ledger counts shards: train's one message per run ran as the job's 3 tasks.
        train: { succeeded: 3, failed: 0 },
        evaluate: { succeeded: 1, failed: 0 },
      },
    };
    expect(r.runs).toEqual({
      'sample-2026-11': expect.objectContaining(sample),
      'sample-2026-12': expect.objectContaining(sample),
      'smoke-test': expect.objectContaining({ status: 'succeeded', steps: { evaluate: { succeeded: 1, failed: 0 } } }),
    });
    expect(Object.keys(r.runs['sample-2026-11'].steps)).toEqual([
      'ingest',
      'user-features',
      'item-features',
      'train',
      'evaluate',
    ]);
    expect(r.durationSeconds).toBeGreaterThan(0);
    expect(r.timeline['sample-2026-11'].map((s) => s.step)).toEqual(
      expect.arrayContaining(['ingest', 'user-features', 'item-features', 'train', 'evaluate']),
    );
    expect(r.timeline['smoke-test'].map((s) => s.step)).toEqual(['evaluate']);
    // train is a job (docs/jobs.md): its one message per run ('all', the join) ran as 3 tasks, each the example job
    // once, as a child process with its output prefixed with step and shard, each writing its part of the model.
    expect(await shardsOf('acme-ml-dev', 'recsys-dev-runs', 'recsys-dev', 'sample-2026-11', 'train')).toEqual([
      { shard: 'all#0', state: 'done' },
      { shard: 'all#1', state: 'done' },
      { shard: 'all#2', state: 'done' },
    ]);
    for (const shard of [0, 1, 2])
      expect(stderr).toMatch(new RegExp(`\\[train all#${shard}\\] INFO fitted \\d+ samples`));
    expect(readdirSync(path.join(outputs, 'sample-2026-11')).sort()).toEqual([
      'train-0-of-3.json',
      'train-1-of-3.json',
      'train-2-of-3.json',
    ]);
    expect(stdout).toContain('Seeded 3 task(s)');
    expect(stdout).toContain('Run ledger: 3 run(s) started, 0 already there (not started again).');
    expect(stdout).toMatch(/^ingest\s+2\s+2\s+0\s+2\s/m);
    expect(stdout).toMatch(
      /^sample-2026-11\s+succeeded\s+[\d.]+s\s+ingest 1, user-features 4, item-features 4, train 3, evaluate 1$/m,
    );
    expect(stdout).toContain('npm run runs -- show sample-2026-11');
    expect(stdout).toContain('Every task succeeded.');
    // Not a TTY: plain progress lines.
    expect(stderr).toMatch(/^running: \d+\/\d+ task\(s\) done/m);
    // A child process on a busy 2-core machine: tsx, synth, the SDK, six job processes and 23 tasks through both
    // emulators.
  },
  180_000 + FIRESTORE_READY_MS,
);

/** A fan-in spec with quick retries: a split -> [left, right] -> merge -> report DAG. */
function fanInSpec(
  name: string,
  extra: { readonly mergeLocalUrl?: string; readonly shards?: readonly [number, number] } = {},
): string {
  const [a, b] = extra.shards ?? [3, 2];
  const file = path.join(dir, `${name}.yaml`);
  const retry = '      retry: { maxAttempts: 20, minBackoff: 1s, maxBackoff: 1s }';
  writeFileSync(
    file,
    `project: demo-local-1
region: us-central1
environment: ${name}
pipeline:
  name: dag
  steps:
    - name: split
      target: { url: https://split.example.com/run }
${retry}
      next: [left, right]
    - name: left
      target: { url: https://left.example.com/run }
${retry}
      next: [merge]
    - name: right
      target: { url: https://right.example.com/run }
${retry}
      next: [merge]
    - name: merge
      target: { url: "https://merge.example.com/v1/merge?mode=all" }
${retry}
${extra.mergeLocalUrl ? `      local: { url: "${extra.mergeLocalUrl}" }\n` : ''}      next: [report]
    - name: report
      target: { url: https://report.example.com/run }
${retry}
  seedTasks:
    - { step: split, id: run-a, payload: { shards: ${a} } }
    - { step: split, id: run-b, payload: { shards: ${b} } }
`,
  );
  return file;
}

test('GIVEN failing attempts and duplicate deliveries THEN the fan-in step still runs exactly once per run', async () => {
  const { report } = await runLocal({
    specPath: fanInSpec('flaky', { shards: [2, 1] }),
    workMs: 1,
    failureRate: 0.3,
    duplicateRate: 0.3,
    random: seeded(7),
    timeoutMs: 90_000,
    env: process.env,
    log: () => undefined,
  });
  expect(report.problems).toEqual([]);
  expect(report.ok).toBe(true);
  // The failure rate did fail attempts; the queues retried them.
  expect(Object.values(report.steps).reduce((n, s) => n + s.failedAttempts, 0)).toBeGreaterThan(0);
  for (const [runId, shards] of [
    ['run-a', 2],
    ['run-b', 1],
  ] as const)
    expect(report.runs[runId]).toMatchObject({
      status: 'succeeded',
      steps: {
        split: { succeeded: 1, failed: 0 },
        left: { succeeded: shards, failed: 0 },
        right: { succeeded: shards, failed: 0 },
        merge: { succeeded: 1, failed: 0 },
        report: { succeeded: 1, failed: 0 },
      },
    });
  // One merge task and one report task per run, whatever was retried or delivered twice.
  expect(report.steps.merge.tasks).toBe(2);
  expect(report.steps.report.tasks).toBe(2);
  expect(await shardsOf('demo-local-1', 'dag-flaky-runs', 'dag-flaky', 'run-a', 'merge')).toEqual([
    { shard: 'all', state: 'done' },
  ]);
});

test('a join step at its local.url on the worker SDK: once per run with every parent message, routed with the synthesized path', async () => {
  const requests: Array<{ url: string; headers: IncomingHttpHeaders }> = [];
  const calls: Array<{ runId: string; payload: unknown }> = [];
  let handler: StepHandler | undefined;
  const own = createServer((req: IncomingMessage, res: ServerResponse) => {
    requests.push({ url: req.url ?? '', headers: req.headers });
    handler!(req, res);
  });
  await new Promise<void>((r) => own.listen(0, '127.0.0.1', r));
  const port = (own.address() as { port: number }).port;
  let printed = '';
  try {
    const { report } = await runLocal({
      specPath: fanInSpec('own', { mergeLocalUrl: `http://127.0.0.1:${port}` }),
      workMs: 1,
      timeoutMs: 60_000,
      env: process.env,
      log: (line) => (printed += `${line}\n`),
      // What the run prints for local.url workers is all such a worker needs: routes, both emulators, the issuer.
      onWorkerEnv: (env) => {
        handler = createStepHandler({
          env,
          handlers: {
            merge: (payload: { left: unknown[]; right: unknown[] }, ctx) => {
              calls.push({ runId: ctx.runId, payload });
              return { merged: payload.left.length + payload.right.length };
            },
          },
          log: () => undefined,
        });
      },
    });
    expect(report.problems).toEqual([]);
    expect(report.runs['run-a']).toMatchObject({ status: 'succeeded', steps: { merge: { succeeded: 1 } } });
    expect(report.runs['run-b']).toMatchObject({ status: 'succeeded', steps: { report: { succeeded: 1 } } });
    expect(calls.map((c) => c.runId).sort()).toEqual(['run-a', 'run-b']);
    // Both parents' messages, in shard order: the example worker's outputs, one per shard of the split.
    const uri = (step: string, shard: string) => ({ input: `gs://local-artifacts/dag/run-a/${step}/${shard}` });
    expect(calls.find((c) => c.runId === 'run-a')!.payload).toEqual({
      left: ['0.0', '0.1', '0.2'].map((shard) => uri('left', shard)),
      right: ['0.0', '0.1', '0.2'].map((shard) => uri('right', shard)),
    });
    expect(requests).toHaveLength(2);
    for (const r of requests) {
      expect(r.url).toBe('/v1/merge?mode=all');
      expect(r.headers['user-agent']).toBe('Google-Cloud-Tasks');
      expect(r.headers.authorization).toMatch(/^Bearer ey/);
    }
    expect(printed).toMatch(
      /^for local\.url workers: CLOUD_TASKS_PIPELINE_ROUTES_FILE=\S+dag-own\.routes\.json FIRESTORE_EMULATOR_HOST=\S+ CLOUD_TASKS_EMULATOR_HOST=\S+ CLOUD_TASKS_EMULATOR_OIDC_ISSUER=http:\/\/127\.0\.0\.1:\d+$/m,
    );
  } finally {
    await handler?.close();
    own.close();
  }
});

test('GIVEN a local.url worker that does not record in the ledger THEN its runs are reported as stuck, not as succeeded', async () => {
  const plain = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(204).end());
  });
  await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
  try {
    const { report } = await runLocal({
      specPath: fanInSpec('plain', { mergeLocalUrl: `http://127.0.0.1:${(plain.address() as { port: number }).port}` }),
      workMs: 1,
      timeoutMs: 60_000,
      env: process.env,
      log: () => undefined,
    });
    expect(report.ok).toBe(false);
    expect(report.runs['run-a'].status).toBe('running');
    expect(report.problems).toContain(
      'run run-a is still running, but none of its tasks is left in the queues: a task reached a worker that did not record it in the run ledger (a local.url worker not built on the worker SDK?); npm run runs -- show run-a tells where it stopped',
    );
    expect(formatRunOutcomes(report.runs)).toMatch(/^run-a\s+running\s+/m);
  } finally {
    plain.close();
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
  // A task the run ledger created: its envelope names the run.
  const ledgerTask = {
    name: `${queue}/tasks/0f0f`,
    taskId: '0f0f',
    httpRequest: {
      body: Buffer.from(
        '{"envelope":"cloud-tasks-pipelines/run-v1","runId":"seed1","step":"a","shard":"0.1","generation":0,"payload":{}}',
      ),
    },
  } as unknown as Task;
  rec.listener({ ...ev('created', '2030-01-01T00:00:02.000Z'), task: '0f0f' }, ledgerTask);
  rec.listener({ ...ev('dispatched', '2030-01-01T00:00:02.100Z', { attempt: 1 }), task: '0f0f' }, ledgerTask);
  expect(rec.timeline().seed1[0].tasks).toBe(2);
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
