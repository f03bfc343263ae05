/**
 * The policy pack in the real synth path: `npx tsx main.ts` (what `npm run synth` runs) in a child process with
 * PATH=/usr/bin:/bin, and synthPipelines() in-process for a folder where one spec is compliant and one is not.
 * `npx cdktf synth` takes the same path (it runs main.ts) and fails the same way; see docs/policy.md.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PolicyError } from '../../lib/policy/errors';
import { synthPipelines } from '../../lib/apps/synth';
import { SECRET_MARKER } from './fixtures';

const ROOT = resolve(__dirname, '..', '..');
let temp: string;
beforeAll(() => {
  temp = mkdtempSync(join(tmpdir(), 'ctp-policy-synth-'));
});
afterAll(() => rmSync(temp, { recursive: true, force: true }));

/** The dev example with one line changed; fails the test if the line is not there (examples changed). */
function devSpecWith(from: string, to: string, name: string): string {
  const text = readFileSync(join(ROOT, 'pipelines', 'recsys-dev.yaml'), 'utf8');
  expect(text).toContain(from);
  const file = join(temp, name);
  writeFileSync(file, text.replace(from, to));
  return file;
}

test('GIVEN a spec with a secret header WHEN `npx tsx main.ts` THEN exit 1, rule messages on stderr without the secret, and no output folder', () => {
  const spec = devSpecWith(
    'headers: { X-Pipeline: recsys }',
    `headers: { X-Pipeline: recsys, X-Api-Key: ${SECRET_MARKER} }`,
    'secret.yaml',
  );
  const outdir = join(temp, 'out-secret');
  const r = spawnSync('/usr/bin/npx', ['tsx', 'main.ts'], {
    cwd: ROOT,
    env: { PATH: '/usr/bin:/bin', HOME: process.env.HOME ?? temp, PIPELINE_SPEC: spec, CDKTF_OUTDIR: outdir },
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(r.status).toBe(1);
  expect(r.stderr).toMatch(
    /secret\.yaml: \[CTP002\] pipeline\.steps\[\d\]\.target\.headers\.X-Api-Key: header name "X-Api-Key" says it holds an API key/,
  );
  expect(r.stderr).toContain('Nothing was written.');
  expect(r.stderr + r.stdout).not.toContain(SECRET_MARKER);
  expect(existsSync(outdir)).toBe(false);
});

test('GIVEN two specs, one compliant and one not THEN synthPipelines throws PolicyError and writes neither stack', () => {
  const dir = join(temp, 'pipelines');
  mkdirSync(dir);
  cpSync(join(ROOT, 'pipelines', 'recsys-dev.yaml'), join(dir, 'recsys-dev.yaml'));
  const url = 'url: https://ingest-def456-uc.a.run.app/tasks';
  const staging = readFileSync(devSpecWith(url, `${url}\n        auth: none`, 'staging.yaml'), 'utf8').replace(
    'environment: dev',
    'environment: staging',
  );
  writeFileSync(join(dir, 'recsys-staging.yaml'), staging);
  const outdir = join(temp, 'out-two');
  let error: unknown;
  try {
    synthPipelines({ dir, outdir, stateDir: temp });
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(PolicyError);
  expect((error as PolicyError).lines[0]).toMatch(
    /recsys-staging\.yaml: \[CTP001\] pipeline\.steps\[0\]\.target\.auth: "none"/,
  );
  expect(existsSync(outdir)).toBe(false);
});
