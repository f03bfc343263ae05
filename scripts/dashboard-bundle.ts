/**
 * Builds the dashboard's page (lib/apps/dashboard/ui: Preact, dagre) with esbuild into `dist/dashboard/`:
 * `dashboard.js` (one minified script, every library bundled: no CDN, no download at run time), `dashboard.css`, and
 * their record `dashboard.json` (sha256, sizes, input hash; lib/apps/dashboard/assets.ts reads it).
 *
 * Run by `npm run build` (so `npm pack` ships it) and `npm run build:dashboard`; in a clone also by
 * `npm run local -- --ui`, `npm run emulator -- --ui` and the browser tests, which is why it skips the build when
 * the inputs (the ui sources, the API types, the lock file, esbuild's version, this file) hash to what the record
 * says, like the seeder bundle (scripts/seeder-bundle.ts).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import {
  DASHBOARD_RECORD,
  DASHBOARD_SCRIPT,
  DASHBOARD_STYLES,
  dashboardBundleDir,
  readDashboardRecord,
  type DashboardBundleRecord,
} from '../lib/apps/dashboard/assets';

export interface DashboardBuild extends DashboardBundleRecord {
  readonly dir: string;
  /** False when the bundle on disk was already built from the same inputs. */
  readonly built: boolean;
}

export interface DashboardBuildOptions {
  /** @default - `dist/dashboard` in the repository (gitignored) */
  readonly outDir?: string;
  /** Build even when the record says the inputs are unchanged. @default false */
  readonly force?: boolean;
}

const ROOT = resolve(__dirname, '..');
const UI = join(ROOT, 'lib', 'apps', 'dashboard', 'ui');

export function buildDashboardBundle(options: DashboardBuildOptions = {}): DashboardBuild {
  const dir = resolve(options.outDir ?? dashboardBundleDir(ROOT));
  const inputs = bundleInputs();
  const inputHash = inputHashOf(inputs);
  const current = readDashboardRecord(dir);
  if (
    !options.force &&
    current?.inputHash === inputHash &&
    sizeOf(join(dir, DASHBOARD_SCRIPT)) === current.bytes.script &&
    sizeOf(join(dir, DASHBOARD_STYLES)) === current.bytes.styles
  )
    return { ...current, dir, built: false };
  return { ...build(dir, inputHash, inputs), dir, built: true };
}

function bundleInputs(): string[] {
  return [
    ...listFiles(UI),
    join(ROOT, 'lib', 'apps', 'dashboard', 'api-types.ts'),
    join(ROOT, 'package-lock.json'),
    __filename,
  ].sort();
}

function inputHashOf(inputs: readonly string[]): string {
  const esbuild = (JSON.parse(readFileSync(require.resolve('esbuild/package.json'), 'utf8')) as { version: string })
    .version;
  const h = createHash('sha256').update(`esbuild ${esbuild}\0`);
  for (const f of inputs) h.update(relative(ROOT, f)).update('\0').update(readFileSync(f)).update('\0');
  return h.digest('hex').slice(0, 16);
}

function build(dir: string, inputHash: string, inputs: readonly string[]): DashboardBundleRecord {
  const { buildSync } = require('esbuild') as typeof import('esbuild');
  mkdirSync(dir, { recursive: true });
  // Built in a private folder and renamed into place: a server reading the old bundle never sees half a file.
  const work = join(dir, `.build-${inputHash}-${process.pid}-${Date.now()}`);
  mkdirSync(work, { recursive: true });
  try {
    const result = buildSync({
      entryPoints: { dashboard: join(UI, 'main.tsx'), styles: join(UI, 'styles.css') },
      outdir: work,
      bundle: true,
      platform: 'browser',
      format: 'iife',
      target: ['chrome110', 'firefox110', 'safari16'],
      jsx: 'automatic',
      jsxImportSource: 'preact',
      minify: true,
      legalComments: 'none',
      absWorkingDir: ROOT,
      metafile: true,
      logLevel: 'silent',
      define: { 'process.env.NODE_ENV': '"production"' },
    });
    checkInputsAreHashed(Object.keys(result.metafile?.inputs ?? {}), inputs);
    renameSync(join(work, 'styles.css'), join(work, DASHBOARD_STYLES));
    const script = readFileSync(join(work, DASHBOARD_SCRIPT));
    const styles = readFileSync(join(work, DASHBOARD_STYLES));
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    const record: DashboardBundleRecord = {
      sha256: { script: sha(script), styles: sha(styles) },
      bytes: { script: script.length, styles: styles.length },
      inputHash,
    };
    writeFileSync(join(work, DASHBOARD_RECORD), `${JSON.stringify(record, null, 2)}\n`);
    // The files first, their record last: a reader that finds the new record finds the new files.
    for (const f of [DASHBOARD_SCRIPT, DASHBOARD_STYLES, DASHBOARD_RECORD]) renameSync(join(work, f), join(dir, f));
    return record;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Every project file esbuild bundled must be one the input hash covers; otherwise a change would not rebuild. */
function checkInputsAreHashed(bundled: readonly string[], hashed: readonly string[]): void {
  const known = new Set(hashed.map((f) => resolve(f)));
  const unhashed = bundled
    .map((f) => resolve(ROOT, f))
    .filter((f) => !f.includes(`${join('node_modules', '')}`) && !known.has(f));
  if (unhashed.length > 0)
    throw new Error(
      `scripts/dashboard-bundle.ts: the page imports ${unhashed.map((f) => relative(ROOT, f)).join(', ')}, which the input hash does not cover; add it to bundleInputs()`,
    );
}

function sizeOf(file: string): number | undefined {
  try {
    return statSync(file).size;
  } catch {
    return undefined;
  }
}

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listFiles(join(dir, e.name)) : e.isFile() ? [join(dir, e.name)] : [],
  );
}
