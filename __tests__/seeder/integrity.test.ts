/**
 * The manifest is checked against the sha256 its asset folder is named after. GIVEN a real synth (the example
 * pipelines) WHEN the bundled seeder runs as Terraform's provisioner runs it THEN an intact manifest passes and an
 * edited one is refused with exit 2, contacting nothing.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { synthPipelines } from '../../lib/apps/synth';
import { checkManifestIntegrity } from '../../lib/seeder/integrity';

const ROOT = resolve(__dirname, '..', '..');
const sha256 = (bytes: string | Buffer) => createHash('sha256').update(bytes).digest('hex');

let temp: string;
beforeAll(() => {
  temp = mkdtempSync(join(tmpdir(), 'seed-integrity-'));
});
afterAll(() => rmSync(temp, { recursive: true, force: true }));

test('checkManifestIntegrity: verified, unverifiable outside a sha256 folder, mismatch when the bytes changed', () => {
  const bytes = Buffer.from('{"version":1}\n');
  const h = sha256(bytes);
  expect(checkManifestIntegrity(`/a/${h}/seed-manifest.json`, bytes)).toEqual({ status: 'verified', sha256: h });
  expect(checkManifestIntegrity('/a/manifests/seed-manifest.json', bytes)).toEqual({
    status: 'unverifiable',
    sha256: h,
  });
  const other = Buffer.from('{"version":1} \n');
  expect(checkManifestIntegrity(`/a/${h}/seed-manifest.json`, other)).toEqual({
    status: 'mismatch',
    sha256: sha256(other),
    expected: h,
  });
});

function runProvisioner(stackDir: string, interpreter: string[], command: string) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((done) =>
    execFile(
      '/usr/bin/node',
      [...interpreter.slice(1), command, '--dry-run'],
      // Port 9 (discard) on loopback: nothing listens there, and the dry run must not try.
      { cwd: stackDir, env: { PATH: '/usr/bin:/bin', CLOUD_TASKS_EMULATOR_HOST: '127.0.0.1:9' } },
      (err, stdout, stderr) => done({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ),
  );
}

test('GIVEN a synthesized stack THEN the manifest folder is the sha256 of its bytes; an edit after synth is refused (exit 2)', async () => {
  const outdir = join(temp, 'out');
  synthPipelines({ dir: join(ROOT, 'pipelines'), outdir, stateDir: temp, now: new Date('2026-01-15T00:00:00Z') });
  const stackDir = join(outdir, 'stacks', 'recsys-dev');
  const tf = JSON.parse(readFileSync(join(stackDir, 'cdk.tf.json'), 'utf8'));
  const seed = Object.values(tf.resource.terraform_data as Record<string, any>)[0];
  const { interpreter, command } = seed.provisioner[0]['local-exec'];
  const file = join(stackDir, command);

  // cdktf names the folder after the assetHash SeedTasks gives it: the sha256 of the file's exact bytes.
  expect(basename(dirname(file))).toBe(sha256(readFileSync(file)));
  expect(seed.triggers_replace.manifest_sha256).toBe(sha256(readFileSync(file)));
  const intact = await runProvisioner(stackDir, interpreter, command);
  expect(intact.code).toBe(0);

  const manifest = JSON.parse(readFileSync(file, 'utf8'));
  manifest.tasks[0].httpRequest.headers['X-Tenant'] = 'someone-else';
  writeFileSync(file, `${JSON.stringify(manifest, null, 2)}\n`);
  const edited = await runProvisioner(stackDir, interpreter, command);
  expect(edited.code).toBe(2);
  expect(edited.stderr).toContain(
    `${command}: its sha256 is ${sha256(readFileSync(file))}, but it sits in the asset folder`,
  );
  expect(edited.stderr).toContain('the file was changed after synth');
  expect(edited.stderr).toMatch(/a sha256 mismatch in the seed manifest; nothing was created\.\n$/);
  expect(edited.stdout).toBe('');
});
