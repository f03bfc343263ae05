/**
 * `npm run build` (also `prepack`, so `npm pack` runs it): the package's
 * compiled JavaScript and `.d.ts` in dist/lib and dist/bin (tsc -p tsconfig.build.json), the precompiled spec
 * validator next to them, the bundled seeder in dist/seeder (scripts/seeder-bundle.ts) and the dashboard's page in
 * dist/dashboard (scripts/dashboard-bundle.ts).
 *
 * Skipped when the inputs hash to what dist/.build-inputs records (about 40 ms); `--force` builds anyway. A real
 * build starts from an empty dist/lib and dist/bin, so a deleted source never leaves its old .js in the package.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { buildDashboardBundle } from './dashboard-bundle';
import { buildSeederBundle } from './seeder-bundle';

const ROOT = join(__dirname, '..');
const DIST = join(ROOT, 'dist');
const RECORD = join(DIST, '.build-inputs');
/**
 * Files tsc does not copy: the ajv standalone validator of the spec schema (lib/spec/schema.ts loads it) and the
 * emulator's database writer thread (lib/emulator/persistence.ts starts it by path).
 */
const COPIED = ['lib/spec/schema-validator.generated.js', 'lib/emulator/persistence-writer.cjs'];

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listFiles(join(dir, e.name)) : e.isFile() ? [join(dir, e.name)] : [],
  );
}

/** Everything the output depends on: the sources, both tsconfigs, the locked TypeScript, and this file (the recipe). */
function inputHash(): string {
  const files = [
    ...listFiles(join(ROOT, 'lib')),
    join(ROOT, 'bin', 'cloud-tasks-pipelines.ts'),
    join(ROOT, 'tsconfig.json'),
    join(ROOT, 'tsconfig.build.json'),
    join(ROOT, 'package-lock.json'),
    __filename,
  ].sort();
  const h = createHash('sha256');
  for (const f of files) h.update(relative(ROOT, f)).update('\0').update(readFileSync(f)).update('\0');
  return h.digest('hex');
}

function compile(): void {
  rmSync(join(DIST, 'lib'), { recursive: true, force: true });
  rmSync(join(DIST, 'bin'), { recursive: true, force: true });
  const tsc = require.resolve('typescript/bin/tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json')], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  if (result.status !== 0)
    throw new Error(`tsc -p tsconfig.build.json failed (exit ${result.status ?? result.signal})`);
  for (const file of COPIED) {
    mkdirSync(join(DIST, file, '..'), { recursive: true });
    copyFileSync(join(ROOT, file), join(DIST, file));
  }
}

function main(): void {
  const started = Date.now();
  const force = process.argv.includes('--force');
  const hash = inputHash();
  const upToDate =
    !force &&
    existsSync(RECORD) &&
    readFileSync(RECORD, 'utf8').trim() === hash &&
    existsSync(join(DIST, 'lib', 'index.js')) &&
    existsSync(join(DIST, 'bin', 'cloud-tasks-pipelines.js'));
  if (!upToDate) {
    rmSync(RECORD, { force: true });
    compile();
    writeFileSync(RECORD, `${hash}\n`);
  }
  const seeder = buildSeederBundle({ force });
  const dashboard = buildDashboardBundle({ force });
  process.stdout.write(
    `build: dist/lib, dist/bin ${upToDate ? 'up to date' : 'compiled'}; dist/seeder/seeder.cjs ${seeder.built ? 'bundled' : 'up to date'} ` +
      `(${(seeder.bytes / 1024 / 1024).toFixed(2)} MiB, sha256 ${seeder.sha256.slice(0, 12)}...); ` +
      `dist/dashboard ${dashboard.built ? 'bundled' : 'up to date'} (${(dashboard.bytes.script / 1024).toFixed(0)} KiB); ${Date.now() - started} ms\n`,
  );
}

try {
  main();
} catch (err) {
  process.stderr.write(`build failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
}
