/**
 * Builds the seeder as ONE self-contained file, `dist/seeder/seeder.cjs`, that Terraform's local-exec provisioner
 * runs with plain `node` at deploy time: no node_modules, no tsx, no network. Writes its record, `seeder.json`
 * (sha256, size, input hash; lib/core/seeder-bundle.ts), next to it. Synth reads the record and copies the file.
 *
 * Run by `npm run build` (and so at `npm pack`) and `npm run build:seeder`; in the repository also by main.ts
 * (`npm run synth`, `cdktf synth`), bin/local.ts and jest's globalSetup, which is why it skips the build when the
 * inputs (lib/seeder, lib/core, the lock file, esbuild's version, this file) hash to what the record says: editing
 * the seeder never leaves a stale bundle in use, and an unchanged tree costs one hash of ~30 files. Not in the package.
 *
 * esbuild's buildSync takes no plugins, so the one thing that does not bundle as is, @google-cloud/tasks loading its
 * JSON by computed path, is fixed by bundling a patched copy of that one file (patchedTasksClient below).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import {
  SEEDER_BUNDLE_FILE,
  SEEDER_RECORD_FILE,
  type SeederBundle,
  type SeederBundleRecord,
  readSeederBundleRecord,
  seederBundleDir,
} from '../lib/core/seeder-bundle';

export interface SeederBuild extends SeederBundle {
  /** False when the bundle on disk was already built from the same inputs. */
  readonly built: boolean;
  readonly bytes: number;
  readonly inputHash: string;
}

export interface SeederBuildOptions {
  /**
   * Where `seeder.cjs` and `seeder.json` go.
   * @default - `dist/seeder` in the repository (gitignored)
   */
  readonly outDir?: string;
  /**
   * Build even when the record says the inputs are unchanged.
   * @default false
   */
  readonly force?: boolean;
}

/** Repository root (this file is scripts/seeder-bundle.ts). */
const ROOT = resolve(__dirname, '..');
const ENTRY = join(ROOT, 'lib', 'seeder', 'bundle-entry.ts');

/** Builds the bundled seeder unless the one in outDir was built from the same inputs. Throws esbuild's messages. */
export function buildSeederBundle(options: SeederBuildOptions = {}): SeederBuild {
  const outDir = resolve(options.outDir ?? seederBundleDir(ROOT));
  const inputs = bundleInputs();
  const inputHash = inputHashOf(inputs);
  const file = join(outDir, SEEDER_BUNDLE_FILE);
  const current = readSeederBundleRecord(outDir);
  if (!options.force && current?.inputHash === inputHash && sizeOf(file) === current.bytes)
    return { path: file, sha256: current.sha256, bytes: current.bytes, inputHash, built: false };
  const record = build(outDir, inputHash, inputs);
  return { path: file, sha256: record.sha256, bytes: record.bytes, inputHash, built: true };
}

/**
 * Files whose content decides the bundle: the seeder's sources, the core layer it builds on, the locked dependencies,
 * and this file (the recipe).
 */
function bundleInputs(): string[] {
  const files = [...listFiles(join(ROOT, 'lib', 'seeder')), ...listFiles(join(ROOT, 'lib', 'core'))].filter((f) =>
    f.endsWith('.ts'),
  );
  files.push(join(ROOT, 'package-lock.json'), __filename);
  return files.sort();
}

function inputHashOf(inputs: readonly string[]): string {
  // esbuild's version from its package.json: loading esbuild itself is left to a build that is needed.
  const esbuild = (JSON.parse(readFileSync(require.resolve('esbuild/package.json'), 'utf8')) as { version: string })
    .version;
  const h = createHash('sha256').update(`esbuild ${esbuild}\0`);
  for (const f of inputs) h.update(relative(ROOT, f)).update('\0').update(readFileSync(f)).update('\0');
  return h.digest('hex').slice(0, 16);
}

function sizeOf(file: string): number | undefined {
  try {
    return statSync(file).size;
  } catch {
    return undefined;
  }
}

function build(outDir: string, key: string, inputs: readonly string[]): SeederBundleRecord {
  // Loaded only for a build: the check above is what every synth in the repository pays.
  const { buildSync } = require('esbuild') as typeof import('esbuild');
  const { PRECOMPILED_VALIDATORS } = require('../lib/seeder/validate') as typeof import('../lib/seeder/validate');
  mkdirSync(outDir, { recursive: true });
  // Build in a private folder, then rename: a concurrent synth (or jest worker) never sees half a file.
  const work = join(outDir, `.build-${key}-${process.pid}-${Date.now()}`);
  mkdirSync(join(work, 'gen'), { recursive: true });
  try {
    const client = join(work, 'gen', 'cloud_tasks_client.cjs');
    writeFileSync(client, patchedTasksClient());
    const validators = join(work, 'gen', 'manifest_validators.cjs');
    writeFileSync(validators, precompiledValidators());
    const out = join(work, SEEDER_BUNDLE_FILE);
    const result = buildSync({
      entryPoints: [ENTRY],
      outfile: out,
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      minify: true,
      // Bundles CloudTasksClient alone (the v2 client), not the v2beta2/v2beta3 clients and the 4 MB static protos
      // module that the package's index also loads.
      // The manifest validators precompiled (below) in place of compiling the schemas with ajv at every start.
      alias: { '@google-cloud/tasks': client, [PRECOMPILED_VALIDATORS]: validators },
      absWorkingDir: ROOT,
      // The generated files sit in the work folder, which may be outside the repository (an outDir elsewhere).
      nodePaths: [join(ROOT, 'node_modules')],
      metafile: true,
      logLevel: 'silent',
      // No input hash in the banner: the bytes (and so the asset hash in cdk.tf.json) change only with the code, not
      // with a lock-file change that bundles the same modules.
      banner: {
        js: '// Cloud Tasks seeder, bundled by scripts/seeder-bundle.ts. Run: node seeder.cjs <seed-manifest.json>',
      },
    });
    checkInputsAreHashed(Object.keys(result.metafile?.inputs ?? {}), inputs, work);
    const bytes = readFileSync(out);
    const record: SeederBundleRecord = {
      file: SEEDER_BUNDLE_FILE,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      bytes: bytes.length,
      inputHash: key,
    };
    writeFileSync(join(work, SEEDER_RECORD_FILE), `${JSON.stringify(record, null, 2)}\n`);
    // The bundle first, then its record: a reader that finds the new record finds the new file.
    renameSync(out, join(outDir, SEEDER_BUNDLE_FILE));
    renameSync(join(work, SEEDER_RECORD_FILE), join(outDir, SEEDER_RECORD_FILE));
    return record;
  } finally {
    rmSync(work, { recursive: true, force: true });
    removeAbandonedBuilds(outDir);
  }
}

/**
 * lib/seeder/validate.ts's two validators as ajv standalone code (a CommonJS module exporting `manifest` and
 * `task`), compiled from the schemas and options of the very sources being bundled, so they cannot drift apart.
 */
export function precompiledValidators(): string {
  const Ajv = (require('ajv') as typeof import('ajv')).default;
  const standaloneCode = (require('ajv/dist/standalone') as typeof import('ajv/dist/standalone')).default;
  const { AJV_OPTIONS, manifestSchema, taskSchema } =
    require('../lib/seeder/validate') as typeof import('../lib/seeder/validate');
  const ajv = new Ajv({ ...AJV_OPTIONS, code: { source: true } });
  ajv.addSchema(manifestSchema, 'manifest').addSchema(taskSchema, 'task');
  return standaloneCode(ajv, { manifest: 'manifest', task: 'task' });
}

/**
 * @google-cloud/tasks' v2 client reads its config, its protos and its package.json with `require(path.join(
 * __dirname, ...))` through a helper, which no bundler can follow: the bundle would look for those files next to
 * itself at run time. The copy turns each into a literal `require("<absolute path>.json")` that esbuild inlines, and
 * points the file's other requires at the originals. It fails loudly if the generated code no longer looks as
 * expected (after a dependency upgrade), rather than building a seeder that breaks at deploy time.
 */
export function patchedTasksClient(): string {
  const clientDir = join(dirname(require.resolve('@google-cloud/tasks')), 'v2');
  const source = readFileSync(join(clientDir, 'cloud_tasks_client.cjs'), 'utf8');
  let jsonLoads = 0;
  const getJson = /\(0, _jsonHelper\.getJSON\)\(_path\["default"\]\.join\(dirname((?:, '[^']*')+)\)\)/g;
  let patched = source.replace(getJson, (_match, args: string) => {
    jsonLoads++;
    const parts = [...args.matchAll(/'([^']*)'/g)].map((m) => m[1]);
    return `require(${JSON.stringify(join(clientDir, ...parts))})`;
  });
  const expected = ['cloud_tasks_client_config.json', 'protos.json', 'package.json'];
  const missing = expected.filter((name) => !patched.includes(`${name}")`));
  if (jsonLoads !== expected.length || missing.length > 0 || /getJSON\)\(/.test(patched))
    throw new Error(
      `scripts/seeder-bundle.ts: @google-cloud/tasks' v2 client no longer loads its JSON files as this build expects ` +
        `(found ${jsonLoads} of ${expected.length} getJSON(path.join(dirname, ...)) calls). Update patchedTasksClient for the new version.`,
    );
  // The LocationsClient (for getLocation/listLocations, which the seeder never calls) is created on first use, not in
  // the constructor: building it parses gax's locations protos, ~45 ms of CPU per client. close() closes it if created.
  patched = replaceOnce(
    patched,
    'this.locationsClient = new this._gaxModule.LocationsClient(this._gaxGrpc, opts);',
    'var _self = this, _locationsGrpc = this._gaxGrpc, _locations;\n' +
      'Object.defineProperty(this, "_locationsClientIfCreated", { value: function () { return _locations; } });\n' +
      'Object.defineProperty(this, "locationsClient", { configurable: true, enumerable: true, ' +
      'get: function () { return _locations !== undefined ? _locations : (_locations = new _self._gaxModule.LocationsClient(_locationsGrpc, opts)); }, ' +
      'set: function (value) { _locations = value; } });',
  );
  patched = replaceOnce(
    patched,
    '_this16.locationsClient.close()["catch"]',
    '(_this16._locationsClientIfCreated() !== undefined ? _this16.locationsClient.close() : Promise.resolve())["catch"]',
  );
  patched = patched.replace(/require\("([^"]+)"\)/g, (match, spec: string) => {
    if (isBuiltin(spec) || spec.startsWith('/')) return match;
    const target = spec.startsWith('.') ? resolve(clientDir, spec) : require.resolve(spec, { paths: [clientDir] });
    return `require(${JSON.stringify(target)})`;
  });
  return patched;
}

function replaceOnce(text: string, from: string, to: string): string {
  const count = text.split(from).length - 1;
  if (count !== 1)
    throw new Error(
      `scripts/seeder-bundle.ts: @google-cloud/tasks' v2 client no longer contains, exactly once, ${JSON.stringify(from)} ` +
        `(found ${count}). Update patchedTasksClient for the new version.`,
    );
  return text.replace(from, () => to);
}

/** Every project file esbuild bundled must be one the cache key hashes; otherwise a change would not rebuild. */
function checkInputsAreHashed(bundled: readonly string[], hashed: readonly string[], work: string): void {
  const known = new Set(hashed.map((f) => resolve(f)));
  const unhashed = bundled
    .map((f) => resolve(ROOT, f))
    .filter((f) => !f.includes(`${join('node_modules', '')}`) && !f.startsWith(work) && !known.has(f));
  if (unhashed.length > 0)
    throw new Error(
      `scripts/seeder-bundle.ts: the seeder imports ${unhashed.map((f) => relative(ROOT, f)).join(', ')}, which the bundle cache key does not cover; add it to bundleInputs()`,
    );
}

/** Work folders of builds that died (older than 10 minutes); those of builds in progress are kept. */
function removeAbandonedBuilds(outDir: string): void {
  for (const name of readdirSync(outDir)) {
    if (!name.startsWith('.build-')) continue;
    try {
      const path = join(outDir, name);
      if (Date.now() - statSync(path).mtimeMs >= 10 * 60_000) rmSync(path, { recursive: true, force: true });
    } catch {
      // Best effort: a folder that another process just removed is dealt with.
    }
  }
}

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listFiles(join(dir, e.name)) : e.isFile() ? [join(dir, e.name)] : [],
  );
}
