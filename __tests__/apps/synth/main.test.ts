/**
 * main.ts end to end, as a user runs it: `npx tsx main.ts` in a child process with PATH=/usr/bin:/bin (no terraform),
 * writing to a temp folder through CDKTF_OUTDIR (what `cdktf synth` passes).
 */
import { spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..', '..', '..');

// Each run of main.ts is a fresh process (~1.5 s on an idle machine), so the good synth runs once and the tests that
// need an existing outdir work on copies of it.
let temp: string;
let goodOutdir: string;
let goodRun: { status: number | null; stdout: string; stderr: string };
beforeAll(() => {
  temp = mkdtempSync(join(tmpdir(), 'main-'));
  goodOutdir = join(temp, 'good');
  goodRun = runMain({ CDKTF_OUTDIR: goodOutdir });
});
afterAll(() => rmSync(temp, { recursive: true, force: true }));

function runMain(env: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('/usr/bin/npx', ['tsx', 'main.ts'], {
    cwd: ROOT,
    // Only what a user's shell would have; in particular no terraform and no inherited PIPELINE_SPEC.
    env: { PATH: '/usr/bin:/bin', HOME: process.env.HOME ?? temp, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Every file under `dir` with its size and mtime, to prove a failed run changed nothing. */
function listing(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(`${p} ${statSync(p).size} ${statSync(p).mtimeMs}`);
    }
  };
  walk(dir);
  return out.sort();
}

function badSpec(): string {
  const text = readFileSync(join(ROOT, 'pipelines', 'recsys-dev.yaml'), 'utf8').replace(
    'rateLimits: { maxDispatchesPerSecond: 5, maxConcurrentDispatches: 10 }',
    'rateLimits: { maxDispatchesPerSecond: 900, maxConcurrentDispatches: 10 }',
  );
  expect(text).toContain('maxDispatchesPerSecond: 900');
  const file = join(temp, 'bad.yaml');
  writeFileSync(file, text);
  return file;
}

test('GIVEN the example specs THEN one stack each is written, with its assets, and one line per stack is printed', () => {
  const outdir = goodOutdir;
  const r = goodRun;
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  const lines = r.stdout.trim().split('\n');
  expect(lines).toEqual([
    expect.stringMatching(
      /^recsys-dev: 5 queues, \d+ seed tasks? -> .*stacks\/recsys-dev \(from pipelines\/recsys-dev\.yaml\)$/,
    ),
    expect.stringMatching(
      /^recsys-prod: 5 queues, \d+ seed tasks? -> .*stacks\/recsys-prod \(from pipelines\/recsys-prod\.yaml\)$/,
    ),
  ]);
  const manifest = JSON.parse(readFileSync(join(outdir, 'manifest.json'), 'utf8'));
  expect(Object.keys(manifest.stacks).sort()).toEqual(['recsys-dev', 'recsys-prod']);

  for (const name of ['recsys-dev', 'recsys-prod']) {
    const stackDir = join(outdir, 'stacks', name);
    const json = JSON.parse(readFileSync(join(stackDir, 'cdk.tf.json'), 'utf8'));
    expect(Object.keys(json.resource.google_cloud_tasks_queue)).toHaveLength(5);
    const seed = Object.values(json.resource.terraform_data as Record<string, any>)[0];
    const exec = seed.provisioner[0]['local-exec'];
    // The real seeder bundle and the manifest are inside the stack folder.
    expect(readFileSync(join(stackDir, exec.interpreter[1]), 'utf8')).toMatch(/^\/\/ Cloud Tasks seeder, bundled/);
    expect(JSON.parse(readFileSync(join(stackDir, exec.command), 'utf8')).stack).toBe(name);
  }

  // dev keeps its state locally, in the project root (wherever the outdir is); prod uses its GCS bucket.
  const dev = JSON.parse(readFileSync(join(outdir, 'stacks', 'recsys-dev', 'cdk.tf.json'), 'utf8'));
  expect(resolve(outdir, 'stacks', 'recsys-dev', dev.terraform.backend.local.path)).toBe(
    join(ROOT, 'terraform.recsys-dev.tfstate'),
  );
  const prod = JSON.parse(readFileSync(join(outdir, 'stacks', 'recsys-prod', 'cdk.tf.json'), 'utf8'));
  expect(prod.terraform.backend.gcs).toEqual({ bucket: 'acme-tf-state', prefix: 'recsys/prod' });
});

test('GIVEN PIPELINE_SPEC THEN only that spec is synthesized, and stacks of other specs are removed from the outdir', () => {
  const outdir = join(temp, 'orphans');
  cpSync(goodOutdir, outdir, { recursive: true });
  mkdirSync(join(outdir, 'stacks', 'old-pipeline-dev'), { recursive: true });
  const r = runMain({ CDKTF_OUTDIR: outdir, PIPELINE_SPEC: 'pipelines/recsys-prod.yaml' });
  expect(r.status).toBe(0);
  expect(r.stdout.trim().split('\n')).toHaveLength(1);
  // As `cdktf synth` does: stack folders of specs not synthesized this time are removed.
  expect(readdirSync(join(outdir, 'stacks'))).toEqual(['recsys-prod']);
});

test('GIVEN a bad spec via PIPELINE_SPEC THEN exit 1, the message names file, field path and rule, and NO outdir is created', () => {
  const outdir = join(temp, 'never-created');
  const file = badSpec();
  const r = runMain({ CDKTF_OUTDIR: outdir, PIPELINE_SPEC: file });
  expect(r.status).toBe(1);
  expect(r.stdout).toBe('');
  expect(r.stderr).toContain('bad.yaml');
  expect(r.stderr).toMatch(/pipeline\.steps\[0\]\.rateLimits\.maxDispatchesPerSecond/);
  expect(r.stderr).toMatch(/900 exceeds Cloud Tasks' limit of 500/);
  expect(r.stderr).toMatch(/Nothing was written/);
  expect(existsSync(outdir)).toBe(false);
});

test('GIVEN an earlier synth in the outdir and then a bad spec THEN the outdir is left exactly as it was', () => {
  const outdir = join(temp, 'existing');
  cpSync(goodOutdir, outdir, { recursive: true, preserveTimestamps: true });
  const before = listing(outdir);
  const r = runMain({ CDKTF_OUTDIR: outdir, PIPELINE_SPEC: badSpec() });
  expect(r.status).toBe(1);
  expect(listing(outdir)).toEqual(before);
});
