/**
 * The bin, `cloud-tasks-pipelines <command>` (lib/apps/cli.ts): its help, its errors, `synth` with its options in
 * process, and one child process for a command whose own CLI parses the arguments.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runCli, type CliIo } from '../../lib/apps/cli';

const ROOT = resolve(__dirname, '..', '..');
const VERSION = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version as string;

function cli(...args: string[]): { code: number | undefined; stdout: string; stderr: string } {
  let stdout = '';
  let stderr = '';
  let code: number | undefined;
  const io: CliIo = {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    env: {},
    exit: (c) => (code = c),
  };
  runCli(['node', 'cloud-tasks-pipelines', ...args], io);
  return { code, stdout, stderr };
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ctp-cli-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

test('--help lists every command with its arguments', () => {
  const r = cli('--help');
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/^Usage: cloud-tasks-pipelines \[options\] \[command\]/);
  for (const term of [
    'synth [options]',
    'local [options]',
    'emulator [options]',
    'seed [options] <manifest>',
    'tasks list [options]',
    'review [options] <base> <head>',
    'runs <list|show|start|retry|cancel> [options]',
  ])
    expect(r.stdout).toContain(`\n  ${term} `);
});

test('--version prints the package version', () => {
  expect(cli('--version')).toEqual({ code: 0, stdout: `${VERSION}\n`, stderr: '' });
});

test('GIVEN a misspelt command THEN exit 2 with a suggestion', () => {
  const r = cli('synt');
  expect(r.code).toBe(2);
  expect(r.stderr).toBe("error: unknown command 'synt'\n(Did you mean synth?)\n");
});

test('synth --help shows its options', () => {
  const r = cli('synth', '--help');
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/^Usage: cloud-tasks-pipelines synth \[options\]/);
  expect(r.stdout).toMatch(/--spec <file>[\s\S]*--dir <dir>[\s\S]*--outdir <dir>/);
});

test('GIVEN --dir and --outdir THEN synth writes one stack per spec there and prints one line each', () => {
  cpSync(join(ROOT, 'pipelines'), join(dir, 'specs'), { recursive: true });
  const out = join(dir, 'out');
  const r = cli('synth', '--dir', join(dir, 'specs'), '--outdir', out);
  expect(r).toMatchObject({ code: 0, stderr: '' });
  expect(r.stdout.trim().split('\n')).toEqual([
    expect.stringMatching(/^recsys-dev: 5 queues, 3 seed tasks -> .*out\/stacks\/recsys-dev/),
    expect.stringMatching(/^recsys-prod: 5 queues, 1 seed task -> .*out\/stacks\/recsys-prod/),
  ]);
  expect(readdirSync(join(out, 'stacks')).sort()).toEqual(['recsys-dev', 'recsys-prod']);
});

test('GIVEN an invalid --spec THEN synth exits 1 naming the file, and writes nothing', () => {
  const spec = join(dir, 'bad.yaml');
  writeFileSync(
    spec,
    'project: acme-ml-dev\nregion: us-central1\nenvironment: dev\npipeline: { name: x, steps: [] }\n',
  );
  const r = cli('synth', '--spec', spec, '--outdir', join(dir, 'out'));
  expect(r.code).toBe(1);
  expect(r.stderr).toContain(':4:22: pipeline.steps: a pipeline needs at least one step');
  expect(r.stderr).toContain('Nothing was written.');
  expect(existsSync(join(dir, 'out'))).toBe(false);
});

test("GIVEN a command with its own CLI THEN its arguments and --help reach it, under the bin's name", () => {
  const r = spawnSync(
    process.execPath,
    ['--require', 'tsx/cjs', join(ROOT, 'bin', 'cloud-tasks-pipelines.ts'), 'seed', '--help'],
    {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 30_000,
    },
  );
  expect(r.status).toBe(0);
  expect(r.stdout).toMatch(/^Usage: cloud-tasks-pipelines seed \[options\] <manifest>\n/);
  expect(r.stdout).toContain('--dry-run');
  const runs = spawnSync(
    process.execPath,
    ['--require', 'tsx/cjs', join(ROOT, 'bin', 'cloud-tasks-pipelines.ts'), 'runs', 'show', '--help'],
    { cwd: ROOT, encoding: 'utf8', timeout: 30_000 },
  );
  expect(runs.status).toBe(0);
  expect(runs.stdout).toMatch(/^Usage: cloud-tasks-pipelines runs show \[options\] <runId>\n/);
});
