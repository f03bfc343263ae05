/**
 * A synthesized-stack folder written by hand (what the dashboard reads of one: the queues, the `pipeline_graph`
 * output, optionally a `routes` output and a Cloud Scheduler job, the seed manifest asset), and a running fixture:
 * the in-process emulator dispatching to a small worker that does what each task's payload asks (fail its first
 * attempts, or fail for good) and enqueues into the next steps with the worker helpers, the dashboard on top.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { CloudTasksClient } from '@google-cloud/tasks';
import { EMULATOR_HOST_ENV } from '../../../lib/core/env';
import { startEmulator, type RunningEmulator } from '../../../lib/emulator/server';
import { createStackQueues, readLocalStack } from '../../../lib/apps/local/terraform';
import { readSynthesizedStack } from '../../../lib/core/synthesized-stack';
import { startDashboard, type RunningDashboard } from '../../../lib/apps/dashboard/server';
import { createTasksClient, enqueueNext, readPipelineMessage, readTaskHeaders } from '../../../lib/worker/index';

process.env.METADATA_SERVER_DETECTION ??= 'none';

export const PROJECT = 'acme-ml-dev';
export const LOCATION = 'us-central1';
export const queueOf = (step: string) => `projects/${PROJECT}/locations/${LOCATION}/queues/dag-dev-${step}`;

/** ingest -> [featurize-a, featurize-b] -> train (a fan-in). */
export const STEPS: ReadonlyArray<{ name: string; next: string[] }> = [
  { name: 'ingest', next: ['featurize-a', 'featurize-b'] },
  { name: 'featurize-a', next: ['train'] },
  { name: 'featurize-b', next: ['train'] },
  { name: 'train', next: [] },
];

export interface StackFixtureOptions {
  /** Add a `routes` output (kinds, joins) as newer stacks publish it. */
  readonly routes?: boolean;
  /** Add a Cloud Scheduler job enqueueing into `ingest` through BufferTask. */
  readonly schedule?: boolean;
  readonly seeds?: ReadonlyArray<{ step: string; seedId: string }>;
}

export function writeStackFixture(o: StackFixtureOptions = {}): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'dashboard-stack-'));
  const queues = Object.fromEntries(
    STEPS.map((s) => [
      `queue-${s.name}`,
      {
        name: `dag-dev-${s.name}`,
        project: PROJECT,
        location: LOCATION,
        rate_limits: { max_dispatches_per_second: 50, max_concurrent_dispatches: 10 },
        retry_config: { max_attempts: 3, min_backoff: '0.05s', max_backoff: '0.05s', max_doublings: 0 },
        http_target: {
          http_method: 'POST',
          uri_override: { scheme: 'HTTPS', host: `${s.name}.example.com`, path_override: { path: '/tasks' } },
        },
      },
    ]),
  );
  const resource: Record<string, unknown> = { google_cloud_tasks_queue: queues };
  if (o.schedule)
    resource.google_cloud_scheduler_job = {
      nightly: {
        name: 'dag-dev-nightly-retrain',
        http_target: {
          uri: `https://cloudtasks.googleapis.com/v2/${queueOf('ingest')}/tasks:buffer`,
          http_method: 'POST',
        },
      },
    };
  const output: Record<string, { value: unknown }> = {
    pipeline_graph: {
      value: {
        pipeline: 'dag',
        environment: 'dev',
        steps: STEPS.map((s) => ({ name: s.name, queueId: `dag-dev-${s.name}`, next: s.next })),
      },
    },
  };
  if (o.routes)
    output.routes = {
      value: JSON.stringify({
        version: 1,
        pipeline: 'dag',
        stack: 'dag-dev',
        steps: Object.fromEntries(
          STEPS.map((s) => [
            s.name,
            {
              queue: queueOf(s.name),
              url: `https://${s.name}.example.com/tasks`,
              kind: s.name === 'train' ? 'cloudRunJob' : 'service',
              next: s.next,
              parents: STEPS.filter((p) => p.next.includes(s.name)).map((p) => p.name),
              join: s.name === 'train' ? 'all' : 'each',
              task: { dispatchDeadlineSeconds: s.name === 'train' ? 1800 : 60 },
            },
          ]),
        ),
      }),
    };
  writeFileSync(path.join(dir, 'cdk.tf.json'), JSON.stringify({ resource, output }));
  if (o.seeds) {
    const asset = path.join(dir, 'assets', 'seed-tasks_Manifest_1', 'ABC');
    mkdirSync(asset, { recursive: true });
    writeFileSync(
      path.join(asset, 'seed-manifest.json'),
      JSON.stringify({ version: 1, stack: 'dag-dev', project: PROJECT, location: LOCATION, tasks: o.seeds }),
    );
  }
  return dir;
}

export interface Fixture {
  readonly emulator: RunningEmulator;
  readonly client: CloudTasksClient;
  readonly dashboard: RunningDashboard;
  readonly stackDir: string;
  /** `http://127.0.0.1:<port>` without the trailing slash. */
  readonly base: string;
  /** Creates a task the way the seeder would (named `<hash>-<seed id>`), with this payload. */
  seed(step: string, seedId: string, payload: unknown): Promise<string>;
  close(): Promise<void>;
}

/**
 * Payloads the worker understands: `{ failFirst: n }` answers 503 to the first n attempts, `{ fail: true }` always
 * answers 500; otherwise 200, after enqueueing the payload into every next step.
 */
export async function startFixture(
  o: StackFixtureOptions & { readonly dispatch?: boolean; readonly ledger?: undefined } = {},
): Promise<Fixture> {
  const stackDir = writeStackFixture(o);
  const emulator = await startEmulator({ dispatch: o.dispatch ?? true, restPort: false });
  const client = createTasksClient({ [EMULATOR_HOST_ENV]: emulator.address });
  const worker: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      void (async () => {
        const task = readTaskHeaders(req.headers);
        const message = readPipelineMessage(body, task);
        const payload = (message.payload ?? {}) as { failFirst?: number; fail?: boolean };
        if (payload.fail) {
          res.writeHead(500).end('failing for good');
          return;
        }
        if ((payload.failFirst ?? 0) > task.retryCount) {
          res.writeHead(503).end('not yet');
          return;
        }
        const step = task.queueName.replace(/^dag-dev-/, '');
        for (const next of STEPS.find((s) => s.name === step)?.next ?? [])
          await enqueueNext(client, {
            queue: queueOf(next),
            url: `https://${next}.example.com/tasks`,
            parent: task,
            step,
            message: { ...message, payload: {} },
          });
        res.writeHead(200).end('ok');
      })().catch(() => res.writeHead(500).end());
    });
  });
  await new Promise<void>((r) => worker.listen(0, '127.0.0.1', r));
  const workerPort = (worker.address() as { port: number }).port;
  createStackQueues(emulator.state, readLocalStack(stackDir).queues, () => ({
    uriOverride: { scheme: 'HTTP', host: '127.0.0.1', port: workerPort, uriOverrideEnforceMode: 'ALWAYS' },
  }));
  const dashboard = await startDashboard({
    emulator,
    tasks: client,
    stack: readSynthesizedStack(stackDir),
    flushMs: 20,
  });
  const { taskIdFor } = await import('../../../lib/core/naming');
  return {
    emulator,
    client,
    dashboard,
    stackDir,
    base: dashboard.url.replace(/\/$/, ''),
    seed: async (step, seedId, payload) => {
      const queue = queueOf(step);
      const name = `${queue}/tasks/${taskIdFor(queue, seedId)}`;
      await client.createTask({
        parent: queue,
        task: {
          name,
          httpRequest: {
            url: `https://${step}.example.com/tasks`,
            httpMethod: 'POST',
            headers: { 'Content-Type': 'application/json' },
            body: Buffer.from(JSON.stringify(payload)),
          },
        },
      });
      return name;
    },
    close: async () => {
      await dashboard.close();
      await client.close();
      await emulator.stop();
      await new Promise<void>((r) => worker.close(() => r()));
    },
  };
}

/** Polls `read` until `done` says so (a condition, not a timing: the limit only bounds a broken test). */
export async function waitFor<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > until)
      throw new Error(`condition not met in ${timeoutMs} ms; last value: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
