/**
 * `npm run tasks -- list --rest`: the same listing over the client's REST transport as over gRPC.
 */
import { createServer } from 'node:net';
import { main } from '../../../lib/apps/tasks/cli';
import { startEmulator, type RunningEmulator } from '../../../lib/emulator';
import { PARENT, queueName, taskName } from '../../emulator/helpers';

let emulator: RunningEmulator;
beforeAll(async () => {
  emulator = await startEmulator();
  emulator.state.createQueue(PARENT, { name: queueName('listed') });
  emulator.state.createTask(queueName('listed'), {
    name: taskName('listed', 'one'),
    httpRequest: { url: 'https://worker.example.com/tasks', body: Buffer.from('{"k":1}'), headers: { 'X-Run': '7' } },
  });
});
afterAll(() => emulator.stop());

async function run(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(['node', 'tasks', ...argv], {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    env,
  });
  return { code, out: out.replace(/ at \S+:/, ' at <address>:'), err };
}

test('GIVEN one emulator WHEN listed over REST and over gRPC THEN the listings are the same', async () => {
  const grpc = await run(['list', '--show-body', '--emulator', emulator.address]);
  const rest = await run(['list', '--show-body', '--rest', emulator.restUrl!]);
  expect(grpc.code).toBe(0);
  expect(rest.code).toBe(0);
  expect(rest.out).toEqual(grpc.out);
  expect(rest.out).toMatch(/one .* POST +https:\/\/worker\.example\.com\/tasks +none +7 B sha256:/);
  // From the environment, as the emulator's banner prints it.
  expect((await run(['list', '--rest'], { CLOUD_TASKS_EMULATOR_REST_URL: emulator.restUrl })).code).toBe(0);
});

test('--rest with something that is not the REST URL is exit code 2; nothing listening is exit code 1', async () => {
  const bad = await run(['list', '--rest', 'ftp://x']);
  expect(bad.code).toBe(2);
  expect(bad.err).toMatch(/--rest "ftp:\/\/x" is not the emulator's REST URL/);
  const port = await freePort();
  const down = await run(['list', '--rest', `http://127.0.0.1:${port}/`]);
  expect(down.code).toBe(1);
  expect(down.err).toMatch(
    new RegExp(
      `cannot reach the Cloud Tasks emulator at http://127\\.0\\.0\\.1:${port}/ .*CLOUD_TASKS_EMULATOR_REST_URL`,
    ),
  );
});

/** A port nothing listens on (fetch refuses well-known ones such as 9, so pick a free one). */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
