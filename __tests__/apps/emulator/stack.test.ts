/**
 * `npm run emulator -- --stack <dir>`: the pieces around the walkthrough (walkthrough.test.ts): clear exit-2 errors
 * for folders that are not synthesized stacks, queues updated to the stack's config when --data-dir restored them,
 * and ListQueues over every location (`projects/-/locations/-`), which `npm run tasks -- list` uses.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { main, seedCommandLine } from '../../../lib/apps/emulator/cli';
import { startEmulator } from '../../../lib/emulator/server';
import { EmulatorState } from '../../../lib/emulator/state';
import { createStackQueues, readLocalStack } from '../../../lib/apps/local/terraform';
import { grpcError, officialClient } from '../../emulator/helpers';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'emulator-stack-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const queueResource = (name: string) => ({
  name,
  project: 'acme',
  location: 'us-central1',
  rate_limits: { max_dispatches_per_second: 5, max_concurrent_dispatches: 2 },
  retry_config: { max_attempts: 3, min_backoff: '1s', max_backoff: '10s', max_doublings: 2 },
  http_target: {
    http_method: 'POST',
    uri_override: {
      scheme: 'HTTPS',
      host: `${name}.example.com`,
      path_override: { path: '/tasks' },
      uri_override_enforce_mode: 'ALWAYS',
    },
    oidc_token: {
      service_account_email: 'inv@acme.iam.gserviceaccount.com',
      audience: `https://${name}.example.com/tasks`,
    },
  },
});

/** A stack folder under `dir` holding `json` as cdk.tf.json. */
function stackDir(name: string, json: unknown): string {
  const d = path.join(dir, name);
  mkdirSync(d, { recursive: true });
  writeFileSync(path.join(d, 'cdk.tf.json'), typeof json === 'string' ? json : JSON.stringify(json));
  return d;
}

async function emulatorExit(args: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  const spy = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += chunk.toString();
    return true;
  });
  try {
    return { code: await main(['node', 'emulator', '--port', '0', ...args]), stderr };
  } finally {
    spy.mockRestore();
  }
}

test('GIVEN a --stack that is not a synthesized stack THEN exit 2 naming the path and what is missing, before anything starts', async () => {
  const missing = path.join(dir, 'nope');
  expect(await emulatorExit(['--stack', missing])).toEqual({
    code: 2,
    stderr: `cloud-tasks emulator: --stack ${missing}: no such folder; run \`npm run synth\` and pass a folder cdktf.out/stacks/<stack>\n`,
  });

  // The output folder instead of one stack: the stacks below it are named.
  const outdir = path.join(dir, 'out');
  const inside = stackDir('out/stacks/p-dev', {
    resource: { google_cloud_tasks_queue: { q: queueResource('p-dev-a') } },
  });
  expect((await emulatorExit(['--stack', outdir])).stderr).toBe(
    `cloud-tasks emulator: --stack ${outdir} is not a synthesized stack: it has no cdk.tf.json; the stacks below it: ${inside}\n`,
  );
  const file = path.join(inside, 'cdk.tf.json');
  expect((await emulatorExit(['--stack', file])).stderr).toMatch(
    `--stack ${file} is a file, not a stack folder: pass the folder that holds cdk.tf.json`,
  );

  const broken = stackDir('broken', '{"resource": ');
  expect(await emulatorExit(['--stack', broken])).toMatchObject({
    code: 2,
    stderr: expect.stringContaining(`--stack ${path.join(broken, 'cdk.tf.json')} is not Terraform JSON (`),
  });
  const empty = stackDir('empty', { resource: { google_storage_bucket: { b: { name: 'x' } } } });
  expect(await emulatorExit(['--stack', empty])).toMatchObject({
    code: 2,
    stderr: expect.stringContaining(
      `${path.join(empty, 'cdk.tf.json')} has no resource.google_cloud_tasks_queue: it is not a pipeline stack`,
    ),
  });

  // Two stacks that own the same queue.
  const twin = stackDir('twin', { resource: { google_cloud_tasks_queue: { other: queueResource('p-dev-a') } } });
  expect((await emulatorExit(['--stack', inside, '--stack', twin])).stderr).toBe(
    `cloud-tasks emulator: --stack ${twin}: queue projects/acme/locations/us-central1/queues/p-dev-a is also in --stack ${inside}; a queue belongs to one stack\n`,
  );
});

test('GIVEN queues restored from --data-dir THEN the stack updates them to exactly its config and production http_target', async () => {
  const stack = readLocalStack(
    stackDir('restore', {
      resource: { google_cloud_tasks_queue: { a: queueResource('p-dev-a'), b: queueResource('p-dev-b') } },
    }),
  );
  const dataDir = path.join(dir, 'data');
  const first = await startEmulator({ dataDir });
  expect(createStackQueues(first.state, stack.queues)).toEqual({
    created: [
      'projects/acme/locations/us-central1/queues/p-dev-a',
      'projects/acme/locations/us-central1/queues/p-dev-b',
    ],
    updated: [],
  });
  // Someone changed a queue by hand (and routed it locally) during the first session.
  first.state.updateQueue(
    { name: 'projects/acme/locations/us-central1/queues/p-dev-a', rateLimits: { maxDispatchesPerSecond: 100 } },
    ['rate_limits.max_dispatches_per_second'],
  );
  first.state.setQueueHttpTarget('projects/acme/locations/us-central1/queues/p-dev-a', {
    uriOverride: { host: '127.0.0.1', port: 8080, scheme: 'HTTP' },
  });
  await first.stop();

  const second = await startEmulator({ dataDir });
  try {
    expect(createStackQueues(second.state, stack.queues)).toEqual({
      created: [],
      updated: [
        'projects/acme/locations/us-central1/queues/p-dev-a',
        'projects/acme/locations/us-central1/queues/p-dev-b',
      ],
    });
    const a = second.state.getQueue('projects/acme/locations/us-central1/queues/p-dev-a');
    expect(a.rateLimits).toEqual({ maxDispatchesPerSecond: 5, maxConcurrentDispatches: 2, maxBurstSize: 10 });
    expect(a.retryConfig).toEqual({
      maxAttempts: 3,
      minBackoffSeconds: 1,
      maxBackoffSeconds: 10,
      maxDoublings: 2,
      maxRetryDurationSeconds: 0,
    });
    expect(a.httpTarget).toEqual(stack.queues[0].httpTarget);
  } finally {
    await second.stop();
  }
});

test('createStackQueues takes a replacement http_target (npm run local routes to its workers)', () => {
  const stack = readLocalStack(
    stackDir('routed', { resource: { google_cloud_tasks_queue: { a: queueResource('p-dev-a') } } }),
  );
  const state = new EmulatorState();
  createStackQueues(state, stack.queues, (q) => ({
    ...q.httpTarget,
    uriOverride: { host: '127.0.0.1', port: 9000, scheme: 'HTTP' },
  }));
  expect(state.getQueue('projects/acme/locations/us-central1/queues/p-dev-a').httpTarget).toEqual({
    httpMethod: 'POST',
    uriOverride: { host: '127.0.0.1', port: 9000, scheme: 'HTTP' },
    oidcToken: {
      serviceAccountEmail: 'inv@acme.iam.gserviceaccount.com',
      audience: 'https://p-dev-a.example.com/tasks',
    },
  });
});

test('the printed seeding command pastes into a shell as the same words, without running anything', () => {
  const line = seedCommandLine(
    {
      address: 'terraform_data.seed',
      argv: ['node', 'assets/s/seeder.cjs', "it's here/seed-manifest.json"],
      cwd: '/tmp/a b',
      environment: {},
    },
    '127.0.0.1:8123',
  );
  expect(line).toBe(
    `(cd '/tmp/a b' && CLOUD_TASKS_EMULATOR_HOST=127.0.0.1:8123 node assets/s/seeder.cjs 'it'\\''s here/seed-manifest.json')`,
  );
});

test('ListQueues with projects/-/locations/- lists every location; a project with locations/- lists that project', async () => {
  const emulator = await startEmulator({ port: 0 });
  const client = officialClient(emulator.port);
  try {
    for (const parent of [
      'projects/p1/locations/us-central1',
      'projects/p1/locations/europe-west1',
      'projects/p2/locations/us-central1',
    ])
      await client.createQueue({ parent, queue: { name: `${parent}/queues/q` } });
    const [all] = await client.listQueues({ parent: 'projects/-/locations/-' });
    expect(all.map((q) => q.name)).toEqual([
      'projects/p1/locations/europe-west1/queues/q',
      'projects/p1/locations/us-central1/queues/q',
      'projects/p2/locations/us-central1/queues/q',
    ]);
    const [p1] = await client.listQueues({ parent: 'projects/p1/locations/-' });
    expect(p1.map((q) => q.name)).toEqual([
      'projects/p1/locations/europe-west1/queues/q',
      'projects/p1/locations/us-central1/queues/q',
    ]);
    const [page, , response] = await client.listQueues(
      { parent: 'projects/-/locations/-', pageSize: 2 },
      { autoPaginate: false },
    );
    expect(page).toHaveLength(2);
    const [rest] = await client.listQueues(
      { parent: 'projects/-/locations/-', pageSize: 2, pageToken: response!.nextPageToken! },
      { autoPaginate: false },
    );
    expect(rest.map((q) => q.name)).toEqual(['projects/p2/locations/us-central1/queues/q']);
    const bad = await grpcError(client.listQueues({ parent: 'projects/-/locations/not_a_region' }));
    expect(bad).toMatchObject({
      code: 3,
      details: expect.stringContaining('LOCATION_ID "not_a_region" is not a Cloud Tasks location'),
    });
  } finally {
    await client.close();
    await emulator.stop();
  }
});
