/**
 * The bundled seeder (dist/seeder/seeder.cjs, built by jest's globalSetup) as Terraform runs it: `node seeder.cjs <manifest>` from a folder holding nothing else, with only
 * /usr/bin:/bin on PATH. If the bundle still needed node_modules, a file next to it or tsx, this is where it shows.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CloudTasksClient } from '@google-cloud/tasks';
import * as grpc from '@grpc/grpc-js';
import { startEmulator } from '../../lib/emulator/server';
import { prebuiltSeederBundle } from '../../lib/core/seeder-bundle';
import { patchedTasksClient } from '../../scripts/seeder-bundle';
import { LOCATION, PROJECT, manifestOf, manyTasks, queueName } from './fixtures';

const ROOT = resolve(__dirname, '..', '..');
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'seed-bundle-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function runNode(
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) =>
    execFile('/usr/bin/node', args, { cwd, env: { PATH: '/usr/bin:/bin', ...env } }, (err, stdout, stderr) =>
      done({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ),
  );
}

test('the bundle is self-contained: no require of a file path, no path of this checkout', () => {
  const text = readFileSync(prebuiltSeederBundle().path, 'utf8');
  expect(text).not.toMatch(/require\("[./]/);
  expect(text).not.toContain(ROOT);
});

test('GIVEN only the bundle in an empty folder and plain node THEN it seeds the emulator, and a re-run adds nothing', async () => {
  const emulator = await startEmulator({ port: 0 });
  const client = new CloudTasksClient({
    servicePath: emulator.host,
    port: emulator.port,
    sslCreds: grpc.credentials.createInsecure(),
    universeDomain: 'googleapis.com',
  });
  try {
    const queue = queueName('demo-dev-bundle');
    await client.createQueue({ parent: `projects/${PROJECT}/locations/${LOCATION}`, queue: { name: queue } });
    await client.pauseQueue({ name: queue });
    const stackDir = join(dir, 'stack');
    const assets = join(stackDir, 'assets');
    require('node:fs').mkdirSync(assets, { recursive: true });
    copyFileSync(prebuiltSeederBundle().path, join(assets, 'seeder.cjs'));
    const tasks = manyTasks(20, ['demo-dev-bundle']);
    writeFileSync(join(assets, 'seed-manifest.json'), JSON.stringify(manifestOf(tasks)));
    expect(readdirSync(assets).sort()).toEqual(['seed-manifest.json', 'seeder.cjs']);

    // As the provisioner runs it: interpreter ['node', seeder], command = manifest, working dir = the stack folder.
    const first = await runNode(['assets/seeder.cjs', 'assets/seed-manifest.json'], stackDir, {
      CLOUD_TASKS_EMULATOR_HOST: emulator.address,
    });
    expect(first.stderr).not.toMatch(/Error|Cannot find module/);
    expect(first).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/: 20 created, 0 already present, 0 failed\.\n$/),
    });

    const [listed] = await client.listTasks({ parent: queue });
    expect(listed.map((t) => t.name).sort()).toEqual(tasks.map((t) => `${queue}/tasks/${t.taskId}`).sort());

    const again = await runNode(['assets/seeder.cjs', 'assets/seed-manifest.json'], stackDir, {
      CLOUD_TASKS_EMULATOR_HOST: emulator.address,
    });
    expect(again).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/: 0 created, 20 already present, 0 failed\.\n$/),
    });
    expect((await client.listTasks({ parent: queue }))[0]).toHaveLength(20);
  } finally {
    await client.close();
    await emulator.stop();
  }
});

test('GIVEN an invalid manifest THEN the bundle exits 2 naming the file and path, without contacting anything', async () => {
  const folder = join(dir, 'invalid');
  require('node:fs').mkdirSync(folder);
  copyFileSync(prebuiltSeederBundle().path, join(folder, 'seeder.cjs'));
  const bad = manifestOf(manyTasks(1));
  writeFileSync(
    join(folder, 'm.json'),
    JSON.stringify({ ...bad, tasks: [{ ...bad.tasks[0], dispatchDeadlineSeconds: 3600 }] }),
  );

  // Port 9 (discard) on loopback: nothing listens there, and nothing must try.
  const result = await runNode(['seeder.cjs', 'm.json'], folder, { CLOUD_TASKS_EMULATOR_HOST: '127.0.0.1:9' });

  expect(result.code).toBe(2);
  expect(result.stderr).toContain(
    "m.json: tasks[0].dispatchDeadlineSeconds: 3600s is outside Cloud Tasks' range for HTTP dispatch deadlines",
  );
  expect(result.stderr).toContain('nothing was created');
});

test('GIVEN a manifest with shape errors THEN the bundle (precompiled validators) reports exactly what the sources (ajv at run time) report', async () => {
  const folder = join(dir, 'shape');
  require('node:fs').mkdirSync(folder);
  copyFileSync(prebuiltSeederBundle().path, join(folder, 'seeder.cjs'));
  const good = manifestOf(manyTasks(2)).tasks[0];
  const { oidcToken: _oidc, ...httpRequest } = good.httpRequest;
  const tasks = [
    { ...good, step: '', extra: true },
    { ...good, httpRequest: { ...httpRequest, httpMethod: 'FETCH', headers: { a: 1 }, oidcToken: { audience: '' } } },
    { ...good, dispatchDeadlineSeconds: 1.5, seedId: 7 },
  ];
  const text = JSON.stringify({ ...manifestOf(manyTasks(1)), tasks });
  writeFileSync(join(folder, 'm.json'), text);

  const result = await runNode(['seeder.cjs', 'm.json'], folder, { CLOUD_TASKS_EMULATOR_HOST: '127.0.0.1:9' });

  const { formatProblems, parseManifest } = await import('../../lib/seeder/validate');
  const parsed = parseManifest(text, new Date());
  expect(parsed.ok).toBe(false);
  expect(result.code).toBe(2);
  expect(result.stderr).toContain(formatProblems('m.json', parsed.ok ? [] : parsed.problems));
  expect(result.stderr).toContain('tasks[1].httpRequest.httpMethod');
});

test('the bundled v2 client creates its LocationsClient on first use, and close() works whether or not it was created', async () => {
  const client = join(dir, 'patched_cloud_tasks_client.cjs');
  writeFileSync(client, patchedTasksClient());
  const script = `
    const { CloudTasksClient } = require(${JSON.stringify(client)});
    const grpc = require(${JSON.stringify(require.resolve('@grpc/grpc-js'))});
    const opts = { servicePath: '127.0.0.1', port: 1, sslCreds: grpc.credentials.createInsecure(), universeDomain: 'googleapis.com' };
    (async () => {
      const unused = new CloudTasksClient(opts);
      const before = unused._locationsClientIfCreated();
      await unused.initialize();
      await unused.close();
      const used = new CloudTasksClient(opts);
      const locations = used.locationsClient;
      const same = used.locationsClient === locations;
      await used.initialize();
      await used.close();
      console.log(JSON.stringify({ before: before === undefined, type: locations.constructor.name, getLocation: typeof locations.getLocation, same, after: used._locationsClientIfCreated() === locations }));
    })().catch((e) => { console.error(e); process.exit(1); });`;
  const r = await runNode(['-e', script], dir, {});
  expect(r.stderr).toBe('');
  expect(JSON.parse(r.stdout)).toEqual({
    before: true,
    type: 'LocationsClient',
    getLocation: 'function',
    same: true,
    after: true,
  });
});
