/**
 * Finding the bundled seeder the package ships (dist/seeder/seeder.cjs + seeder.json): what synth uses by default.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { packageRoot, packageVersion } from '../../lib/core/package';
import { prebuiltSeederBundle, readSeederBundleRecord, seederBundleDir } from '../../lib/core/seeder-bundle';

const ROOT = resolve(__dirname, '..', '..');
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'seeder-bundle-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

test('the package root is the folder of the package.json named cloud-tasks-pipelines', () => {
  expect(packageRoot()).toBe(ROOT);
  expect(packageVersion()).toBe(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version);
  expect(seederBundleDir()).toBe(join(ROOT, 'dist', 'seeder'));
});

test('GIVEN the bundle built by the test setup THEN its record holds the sha256 of its exact bytes', () => {
  const bundle = prebuiltSeederBundle();
  expect(bundle.path).toBe(join(ROOT, 'dist', 'seeder', 'seeder.cjs'));
  expect(bundle.sha256).toBe(createHash('sha256').update(readFileSync(bundle.path)).digest('hex'));
  expect(readSeederBundleRecord(seederBundleDir())).toMatchObject({ file: 'seeder.cjs', sha256: bundle.sha256 });
});

test('GIVEN a folder without the bundle THEN the error names the file and how to build it', () => {
  expect(() => prebuiltSeederBundle(dir)).toThrow(
    `the bundled seeder ${join(dir, 'seeder.cjs')} is missing. In a clone of cloud-tasks-pipelines run \`npm run build:seeder\``,
  );
});

test('GIVEN a bundle whose size is not the recorded one THEN it is refused rather than shipped with a wrong hash', () => {
  copyFileSync(join(seederBundleDir(), 'seeder.json'), join(dir, 'seeder.json'));
  writeFileSync(join(dir, 'seeder.cjs'), '// edited by hand\n');
  expect(() => prebuiltSeederBundle(dir)).toThrow(/is 18 bytes, not the \d+ its seeder\.json records/);
});

test('GIVEN the bundle without a valid record THEN it is refused', () => {
  copyFileSync(join(seederBundleDir(), 'seeder.cjs'), join(dir, 'seeder.cjs'));
  writeFileSync(join(dir, 'seeder.json'), JSON.stringify({ file: 'seeder.cjs', sha256: 'abc', bytes: 1 }));
  expect(readSeederBundleRecord(dir)).toBeUndefined();
  expect(() => prebuiltSeederBundle(dir)).toThrow(/is there, but seeder\.json is missing or invalid/);
});
