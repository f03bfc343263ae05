/**
 * `npm run test:gcloud`: gcloud itself (528 on the build machine) against the emulator's REST API, through every
 * command issue 13 lists, with a private CLOUDSDK_CONFIG (auth/disable_credentials, api_endpoint_overrides/cloudtasks),
 * and each result compared with what the official Node client reads over gRPC from the same emulator.
 *
 * Prints one line per check and `N passed, N failed`; exits 1 on a failure, 0 otherwise. Skips (exit 0, saying so)
 * when gcloud is not installed. Commands run as argv arrays, never through a shell.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { CloudTasksClient } from '@google-cloud/tasks';

process.env.METADATA_SERVER_DETECTION ??= 'none';
const ROOT = path.resolve(__dirname, '..');
const PROJECT = 'gcloud-conformance';
const LOCATION = 'us-central1';
const PARENT = `projects/${PROJECT}/locations/${LOCATION}`;
const L = [`--location=${LOCATION}`];

let passed = 0;
let failed = 0;
function check(what: string, ok: boolean, detail = ''): void {
  if (ok) passed++;
  else failed++;
  process.stdout.write(
    `${ok ? 'ok  ' : 'FAIL'} ${what}${!ok && detail ? `\n     ${detail.split('\n').join('\n     ')}` : ''}\n`,
  );
}

interface Result {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  json<T = Record<string, unknown>>(): T;
}

function gcloud(config: string, args: readonly string[]): Result {
  const r = spawnSync('gcloud', [...args, '--quiet'], {
    env: { ...process.env, CLOUDSDK_CONFIG: config, CLOUDSDK_CORE_DISABLE_PROMPTS: '1' },
    encoding: 'utf8',
  });
  return {
    code: r.status ?? -1,
    stdout: r.stdout,
    stderr: r.stderr,
    json: <T>() => JSON.parse(r.stdout) as T,
  };
}

async function startEmulator(
  dataDir: string,
): Promise<{ child: ChildProcessWithoutNullStreams; grpcPort: number; restUrl: string }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'bin/emulator.ts', '--port', '0', '--no-dispatch', '--data-dir', dataDir],
    {
      cwd: ROOT,
    },
  );
  let out = '';
  child.stderr.on('data', (d: Buffer) => process.stderr.write(d));
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const grpcPort = /CLOUD_TASKS_EMULATOR_HOST=127\.0\.0\.1:(\d+)/.exec(out);
      const rest = /CLOUD_TASKS_EMULATOR_REST_URL=(\S+)/.exec(out);
      if (grpcPort && rest) resolve({ child, grpcPort: Number(grpcPort[1]), restUrl: rest[1] });
    });
    child.on('exit', (code) => reject(new Error(`the emulator exited with ${code} before listening:\n${out}`)));
  });
}

async function main(): Promise<number> {
  if (spawnSync('gcloud', ['--version'], { encoding: 'utf8' }).status !== 0) {
    process.stdout.write('gcloud is not installed: skipped (0 passed, 0 failed)\n');
    return 0;
  }
  const config = mkdtempSync(path.join(tmpdir(), 'gcloud-config-'));
  const dataDir = mkdtempSync(path.join(tmpdir(), 'gcloud-emulator-'));
  const emulator = await startEmulator(dataDir);
  const client = new CloudTasksClient({
    servicePath: '127.0.0.1',
    port: emulator.grpcPort,
    sslCreds: grpc.credentials.createInsecure(),
  });
  try {
    for (const [key, value] of [
      ['auth/disable_credentials', 'true'],
      ['api_endpoint_overrides/cloudtasks', emulator.restUrl],
      ['core/project', PROJECT],
    ])
      gcloud(config, ['config', 'set', key, value]);
    const q = `${PARENT}/queues/conformance`;

    // queues create, with every retry and rate flag and the --http-*-override family
    const created = gcloud(config, [
      'tasks',
      'queues',
      'create',
      'conformance',
      ...L,
      '--max-dispatches-per-second=10',
      '--max-concurrent-dispatches=5',
      '--max-attempts=3',
      '--min-backoff=1s',
      '--max-backoff=10s',
      '--max-doublings=2',
      '--max-retry-duration=60s',
      '--http-uri-override=scheme:http,host:127.0.0.1,port:9,path:/buffered,query:a=b,mode:always',
      '--http-oidc-service-account-email-override=invoker@gcloud-conformance.iam.gserviceaccount.com',
      '--http-oidc-token-audience-override=https://worker.example.com',
      '--http-method-override=PUT',
      '--http-header-override=X-Team: ml',
      '--format=json',
    ]);
    check('gcloud tasks queues create (rate, retry and --http-*-override flags)', created.code === 0, created.stderr);
    const [viaGrpc] = await client.getQueue({ name: q });
    check(
      'the queue gcloud created reads the same over gRPC',
      viaGrpc.rateLimits?.maxDispatchesPerSecond === 10 &&
        viaGrpc.rateLimits?.maxConcurrentDispatches === 5 &&
        viaGrpc.retryConfig?.maxAttempts === 3 &&
        Number(viaGrpc.retryConfig?.maxRetryDuration?.seconds) === 60 &&
        Number(viaGrpc.retryConfig?.minBackoff?.seconds) === 1 &&
        viaGrpc.retryConfig?.maxDoublings === 2,
      JSON.stringify(viaGrpc),
    );
    const described = gcloud(config, ['tasks', 'queues', 'describe', 'conformance', ...L, '--format=json']);
    const dq = described.code === 0 ? described.json<{ httpTarget?: Record<string, unknown>; state?: string }>() : {};
    check(
      'gcloud tasks queues describe shows the http target',
      JSON.stringify(dq.httpTarget ?? {}).includes('"host":"127.0.0.1"') &&
        JSON.stringify(dq.httpTarget ?? {}).includes('"httpMethod":"PUT"') &&
        JSON.stringify(dq.httpTarget ?? {}).includes('invoker@'),
      described.stdout + described.stderr,
    );
    const listed = gcloud(config, ['tasks', 'queues', 'list', ...L, '--format=json']);
    check(
      'gcloud tasks queues list',
      listed.code === 0 && listed.json<Array<{ name: string }>>().some((x) => x.name === q),
      listed.stdout + listed.stderr,
    );
    const updated = gcloud(config, [
      'tasks',
      'queues',
      'update',
      'conformance',
      ...L,
      '--max-attempts=5',
      '--clear-max-retry-duration',
      '--format=json',
    ]);
    const [afterUpdate] = await client.getQueue({ name: q });
    check(
      'gcloud tasks queues update (update mask: only the named fields change)',
      updated.code === 0 &&
        afterUpdate.retryConfig?.maxAttempts === 5 &&
        Number(afterUpdate.retryConfig?.maxRetryDuration?.seconds ?? 0) === 0 &&
        afterUpdate.rateLimits?.maxDispatchesPerSecond === 10,
      updated.stderr + JSON.stringify(afterUpdate),
    );
    const paused = gcloud(config, ['tasks', 'queues', 'pause', 'conformance', ...L]);
    check(
      'gcloud tasks queues pause',
      paused.code === 0 && (await client.getQueue({ name: q }))[0].state === 'PAUSED',
      paused.stderr,
    );
    const resumed = gcloud(config, ['tasks', 'queues', 'resume', 'conformance', ...L]);
    check(
      'gcloud tasks queues resume',
      resumed.code === 0 && (await client.getQueue({ name: q }))[0].state === 'RUNNING',
      resumed.stderr,
    );
    gcloud(config, ['tasks', 'queues', 'pause', 'conformance', ...L]);

    // tasks
    const eta = new Date(Date.now() + 24 * 3600 * 1000);
    const etaText = `${eta.toISOString().slice(0, 19)}.123456Z`;
    const task = gcloud(config, [
      'tasks',
      'create-http-task',
      'first',
      '--queue=conformance',
      ...L,
      '--url=http://127.0.0.1:9/work',
      '--method=PUT',
      '--header=X-Run: 7',
      '--header=Content-Type: application/json',
      '--body-content={"item":1}',
      `--schedule-time=${etaText}`,
      '--oidc-service-account-email=invoker@gcloud-conformance.iam.gserviceaccount.com',
      '--oidc-token-audience=https://worker.example.com',
      '--format=json',
    ]);
    const t =
      task.code === 0 ? task.json<{ scheduleTime?: string; httpRequest?: { headers?: Record<string, string> } }>() : {};
    check(
      'gcloud tasks create-http-task (task id, method, headers, body, schedule time, OIDC)',
      task.code === 0 && t.scheduleTime === etaText && t.httpRequest?.headers?.['User-Agent'] === 'Google-Cloud-Tasks',
      task.stdout + task.stderr,
    );
    const [grpcTask] = await client.getTask({ name: `${q}/tasks/first`, responseView: 'FULL' });
    check(
      'the task gcloud created reads the same over gRPC (body, microseconds)',
      Buffer.from(grpcTask.httpRequest?.body ?? '').toString() === '{"item":1}' &&
        grpcTask.scheduleTime?.nanos === 123456000 &&
        grpcTask.httpRequest?.httpMethod === 'PUT',
      JSON.stringify(grpcTask),
    );
    const generated = gcloud(config, [
      'tasks',
      'create-http-task',
      '--queue=conformance',
      ...L,
      '--url=http://127.0.0.1:9/x',
      '--format=json',
    ]);
    check(
      'gcloud tasks create-http-task without a task id gets a generated one',
      generated.code === 0 && /\/tasks\/\d+$/.test(generated.json<{ name: string }>().name),
      generated.stderr,
    );
    const tasks = gcloud(config, ['tasks', 'list', '--queue=conformance', ...L, '--format=json']);
    check('gcloud tasks list', tasks.code === 0 && tasks.json<unknown[]>().length === 2, tasks.stdout + tasks.stderr);
    const describedTask = gcloud(config, [
      'tasks',
      'describe',
      'first',
      '--queue=conformance',
      ...L,
      '--response-view=full',
      '--format=json',
    ]);
    check(
      'gcloud tasks describe --response-view=full',
      describedTask.code === 0 &&
        describedTask.json<{ httpRequest: { body: string } }>().httpRequest.body ===
          Buffer.from('{"item":1}').toString('base64'),
      describedTask.stdout + describedTask.stderr,
    );
    const ran = gcloud(config, ['tasks', 'run', 'first', '--queue=conformance', ...L, '--format=json']);
    check(
      'gcloud tasks run (a paused queue too)',
      ran.code === 0 && ran.json<{ dispatchCount: number }>().dispatchCount === 1,
      ran.stdout + ran.stderr,
    );
    const duplicate = gcloud(config, [
      'tasks',
      'create-http-task',
      'first',
      '--queue=conformance',
      ...L,
      '--url=http://127.0.0.1:9/x',
    ]);
    check(
      'a duplicate task id is refused (409 ALREADY_EXISTS)',
      duplicate.code !== 0 && /ALREADY_EXISTS/.test(duplicate.stderr),
      duplicate.stderr,
    );
    const deleted = gcloud(config, ['tasks', 'delete', 'first', '--queue=conformance', ...L]);
    check(
      'gcloud tasks delete',
      deleted.code === 0 && (await client.listTasks({ parent: q }))[0].length === 1,
      deleted.stderr,
    );
    const buffered = gcloud(config, ['tasks', 'buffer', '--queue=conformance', ...L]);
    const bufferedNamed = gcloud(config, ['tasks', 'buffer', '--task-id=buffered-1', '--queue=conformance', ...L]);
    const [afterBuffer] = await client.getTask({ name: `${q}/tasks/buffered-1` }).catch(() => [undefined]);
    check(
      'gcloud tasks buffer (generated id and --task-id), sent to the queue http target',
      buffered.code === 0 &&
        bufferedNamed.code === 0 &&
        afterBuffer?.httpRequest?.url === 'http://127.0.0.1:9/buffered?a=b',
      buffered.stderr + bufferedNamed.stderr + JSON.stringify(afterBuffer),
    );
    const purged = gcloud(config, ['tasks', 'queues', 'purge', 'conformance', ...L]);
    check(
      'gcloud tasks queues purge',
      purged.code === 0 && (await client.listTasks({ parent: q }))[0].length === 0,
      purged.stderr,
    );
    const iam = gcloud(config, [
      'tasks',
      'queues',
      'add-iam-policy-binding',
      'conformance',
      ...L,
      '--member=serviceAccount:seeder@gcloud-conformance.iam.gserviceaccount.com',
      '--role=roles/cloudtasks.enqueuer',
      '--format=json',
    ]);
    const [policy] = await client.getIamPolicy({ resource: q });
    check(
      'gcloud tasks queues add-iam-policy-binding (GetIamPolicy + SetIamPolicy with the etag)',
      iam.code === 0 && policy.bindings?.[0]?.role === 'roles/cloudtasks.enqueuer',
      iam.stderr,
    );
    const locations = gcloud(config, ['tasks', 'locations', 'list', '--format=json']);
    check(
      'gcloud tasks locations list',
      locations.code === 0 &&
        locations.json<Array<{ name: string }>>().some((x) => x.name === `projects/${PROJECT}/locations/${LOCATION}`),
      locations.stdout + locations.stderr,
    );
    const removed = gcloud(config, ['tasks', 'queues', 'delete', 'conformance', ...L]);
    const again = gcloud(config, ['tasks', 'queues', 'create', 'conformance', ...L]);
    check(
      'gcloud tasks queues delete, then create inside the tombstone window is refused',
      removed.code === 0 && again.code !== 0 && /existed too recently/.test(again.stderr),
      removed.stderr + again.stderr,
    );
    const missing = gcloud(config, ['tasks', 'queues', 'describe', 'no-such-queue', ...L]);
    check(
      'a missing queue is NOT_FOUND with the service text',
      missing.code !== 0 && /Queue does not exist/.test(missing.stderr),
      missing.stderr,
    );
  } finally {
    await client.close();
    emulator.child.kill('SIGTERM');
    await new Promise((resolve) => emulator.child.once('exit', resolve));
    rmSync(config, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  }
  process.stdout.write(`gcloud: ${passed} passed, ${failed} failed\n`);
  return failed > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
