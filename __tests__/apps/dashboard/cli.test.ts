/**
 * `--ui` on the command lines: `npm run emulator -- --ui --stack <dir>` as a user runs it (a child process), and the
 * local CLI's options.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import type { DashboardInfo, PipelineResponse } from '../../../lib/apps/dashboard/api-types';
import { main as localMain } from '../../../lib/apps/local/cli';
import { writeStackFixture } from './fixtures';

const ROOT = path.resolve(__dirname, '../../..');

test('npm run emulator -- --ui --stack: prints the dashboard URL, serves the stack pipeline, stops on SIGTERM', async () => {
  const stack = writeStackFixture({ seeds: [{ step: 'ingest', seedId: 'nightly-1' }] });
  const child = spawn(
    process.execPath,
    [require.resolve('tsx/cli'), 'bin/emulator.ts', '--port', '0', '--no-dispatch', '--stack', stack, '--ui'],
    { cwd: ROOT, env: { ...process.env, PATH: '/usr/bin:/bin' } },
  );
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      const m = /^Dashboard: (http:\/\/127\.0\.0\.1:\d+\/)$/m.exec(stdout);
      if (m) resolve(m[1]);
    });
    child.on('close', (code) => reject(new Error(`the emulator exited (${code}) before its dashboard: ${stderr}`)));
  });
  try {
    const info = (await (await fetch(`${url}api/info`)).json()) as DashboardInfo;
    expect(info).toMatchObject({ stack: 'dag-dev', dispatching: false, runs: 'tasks' });
    expect(stdout).toContain(`export CLOUD_TASKS_EMULATOR_HOST=${info.emulator}`);
    const pipeline = (await (await fetch(`${url}api/pipeline`)).json()) as PipelineResponse;
    expect(pipeline.steps.map((s) => s.name)).toEqual(['ingest', 'featurize-a', 'featurize-b', 'train']);
    expect(pipeline.steps[0].seeds).toEqual(['nightly-1']);
  } finally {
    child.kill('SIGTERM');
  }
  const code = await new Promise<number | null>((resolve) =>
    child.exitCode !== null ? resolve(child.exitCode) : child.on('close', resolve),
  );
  expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  expect(stdout).toContain('Cloud Tasks emulator stopped');
});

test('npm run local --help lists --ui and --ui-port; a bad --ui-port is a usage error', async () => {
  let out = '';
  let err = '';
  const io = { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, env: {} };
  expect(await localMain(['node', 'local', '--help'], io)).toBe(0);
  expect(out).toMatch(/--ui\s+serve the dashboard on 127\.0\.0\.1/);
  expect(out).toMatch(/--ui-port <port>\s+port of the dashboard \(implies --ui\)/);
  expect(await localMain(['node', 'local', '--ui-port', 'eighty'], io)).toBe(2);
  expect(err).toContain('expected a TCP port from 0 (pick a free one) to 65535, got "eighty"');
});
