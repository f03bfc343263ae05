/**
 * scripts/seeder-bundle.ts, the build of dist/seeder/seeder.cjs: skipped when the inputs are unchanged (what every
 * `npm run synth` in the repository pays), rebuilt when they are not, byte for byte the same from the same inputs.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSeederBundleRecord, seederBundleDir } from '../../lib/core/seeder-bundle';
import { buildSeederBundle } from '../../scripts/seeder-bundle';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'seeder-build-'));
  for (const f of ['seeder.cjs', 'seeder.json']) copyFileSync(join(seederBundleDir(), f), join(dir, f));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('GIVEN a bundle built from the current inputs THEN the build is skipped and reports the recorded hash', () => {
  const recorded = readSeederBundleRecord(dir)!;
  const result = buildSeederBundle({ outDir: dir });
  expect(result).toEqual({
    path: join(dir, 'seeder.cjs'),
    sha256: recorded.sha256,
    bytes: recorded.bytes,
    inputHash: recorded.inputHash,
    built: false,
  });
});

test('GIVEN a record of other inputs THEN it rebuilds, to the same bytes, and records their sha256', () => {
  const before = readSeederBundleRecord(dir)!;
  writeFileSync(join(dir, 'seeder.json'), JSON.stringify({ ...before, inputHash: '0000000000000000' }));

  const result = buildSeederBundle({ outDir: dir });

  expect(result.built).toBe(true);
  const bytes = readFileSync(join(dir, 'seeder.cjs'));
  expect(result.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
  expect(result.sha256).toBe(before.sha256);
  expect(readSeederBundleRecord(dir)).toEqual({ ...before, bytes: bytes.length });
  // Only the bundle and its record: the work folder is gone.
  expect(readdirSync(dir).sort()).toEqual(['seeder.cjs', 'seeder.json']);
});
