/**
 * The seeder as ONE self-contained file, `seeder.cjs`, that Terraform's local-exec provisioner runs with plain
 * `node` at deploy time: no node_modules, no tsx, no network. Built with esbuild, cached under `build/seeder/` by a
 * hash of everything that goes in, rebuilt when any of it changes.
 *
 * Synchronous because synth is (constructs are built in constructors). esbuild's buildSync takes no plugins, so the
 * one thing that does not bundle as is, @google-cloud/tasks loading its JSON by computed path, is fixed by
 * bundling a patched copy of that one file (patchedTasksClient below).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import Ajv from 'ajv';
import standaloneCode from 'ajv/dist/standalone';
import { buildSync, version as esbuildVersion } from 'esbuild';
import { AJV_OPTIONS, PRECOMPILED_VALIDATORS, manifestSchema, taskSchema } from './validate';

export interface SeederBundle {
  /** Absolute path of `seeder.cjs`. */
  readonly path: string;
  /** sha256 (hex) of the file's bytes: changes exactly when the bundle changes. */
  readonly sha256: string;
}

export interface SeederBundleOptions {
  /**
   * Cache folder; each build goes to `<outDir>/<input hash>/seeder.cjs`.
   * @default - `build/seeder` in the repository (gitignored)
   */
  readonly outDir?: string;
}

/** Repository root (this file is lib/seeder/bundle.ts). */
const ROOT = resolve(__dirname, '..', '..');
const ENTRY = join(ROOT, 'lib', 'seeder', 'bundle-entry.ts');
/** Bump when the build recipe below changes in a way the hashed inputs do not show. */
const RECIPE = 'seeder-bundle/3';

const memo = new Map<string, SeederBundle>();

/** Builds (or reuses) the bundled seeder. Throws with esbuild's messages if the build fails. */
export function seederBundle(options: SeederBundleOptions = {}): SeederBundle {
  const outDir = resolve(options.outDir ?? join(ROOT, 'build', 'seeder'));
  const inputs = bundleInputs();
  const key = inputHash(inputs);
  const file = join(outDir, key, 'seeder.cjs');
  const known = memo.get(file);
  if (known) return known;
  if (!existsSync(file)) build(outDir, key, file, inputs);
  const result = { path: file, sha256: createHash('sha256').update(readFileSync(file)).digest('hex') };
  memo.set(file, result);
  return result;
}

/** Files whose content decides the bundle: the seeder's sources, the core layer it builds on, the locked dependencies. */
function bundleInputs(): string[] {
  const files = [...listFiles(join(ROOT, 'lib', 'seeder')), ...listFiles(join(ROOT, 'lib', 'core'))].filter((f) =>
    f.endsWith('.ts'),
  );
  files.push(join(ROOT, 'package-lock.json'));
  return files.sort();
}

function inputHash(inputs: readonly string[]): string {
  const h = createHash('sha256').update(`${RECIPE}\0esbuild ${esbuildVersion}\0`);
  for (const f of inputs) h.update(relative(ROOT, f)).update('\0').update(readFileSync(f)).update('\0');
  return h.digest('hex').slice(0, 16);
}

function build(outDir: string, key: string, file: string, inputs: readonly string[]): void {
  mkdirSync(outDir, { recursive: true });
  // Build in a private folder, then rename: a concurrent synth (or jest worker) never sees half a file.
  const work = join(outDir, `.build-${key}-${process.pid}-${Date.now()}`);
  mkdirSync(join(work, 'gen'), { recursive: true });
  try {
    const client = join(work, 'gen', 'cloud_tasks_client.cjs');
    writeFileSync(client, patchedTasksClient());
    const validators = join(work, 'gen', 'manifest_validators.cjs');
    writeFileSync(validators, precompiledValidators());
    const out = join(work, 'seeder.cjs');
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
      metafile: true,
      logLevel: 'silent',
      banner: {
        js: `// Cloud Tasks seeder, bundled by lib/seeder/bundle.ts (${key}). Run: node seeder.cjs <seed-manifest.json>`,
      },
    });
    checkInputsAreHashed(Object.keys(result.metafile?.inputs ?? {}), inputs, work);
    mkdirSync(dirname(file), { recursive: true });
    renameSync(out, file);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  removeStaleBuilds(outDir, key);
}

/**
 * lib/seeder/validate.ts's two validators as ajv standalone code (a CommonJS module exporting `manifest` and
 * `task`), compiled from the schemas and options of the very sources being bundled, so they cannot drift apart.
 */
export function precompiledValidators(): string {
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
      `lib/seeder/bundle.ts: @google-cloud/tasks' v2 client no longer loads its JSON files as this build expects ` +
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
      `lib/seeder/bundle.ts: @google-cloud/tasks' v2 client no longer contains, exactly once, ${JSON.stringify(from)} ` +
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
      `lib/seeder/bundle.ts: the seeder imports ${unhashed.map((f) => relative(ROOT, f)).join(', ')}, which the bundle cache key does not cover; add it to bundleInputs()`,
    );
}

/**
 * Old builds are dead weight once a new one exists (cdktf copied what it needed into cdktf.out at synth). Work folders
 * of builds in progress are kept; those older than 10 minutes belong to a process that died.
 */
function removeStaleBuilds(outDir: string, key: string): void {
  for (const name of readdirSync(outDir)) {
    if (name === key) continue;
    try {
      const path = join(outDir, name);
      if (name.startsWith('.build-') && Date.now() - statSync(path).mtimeMs < 10 * 60_000) continue;
      rmSync(path, { recursive: true, force: true });
    } catch {
      // Best effort: a folder that another process just removed, or still reads, is dealt with next time.
    }
  }
}

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listFiles(join(dir, e.name)) : e.isFile() ? [join(dir, e.name)] : [],
  );
}
