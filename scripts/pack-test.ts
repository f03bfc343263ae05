/**
 * `npm run test:pack` (run by .ci/run): the package as a user gets it. Packs the repository (`npm pack`, which
 * builds), installs the tarball into a fresh cdktf app with its own cdktf and constructs (the versions this repository
 * pins, from the npm registry through npm's cache), and checks:
 *
 *   (a) examples/typescript-app/main.ts, the README's TypeScript section, type-checks with tsc under the cdktf init
 *       tsconfig and, run with node, writes the same Terraform JSON and assets as the same file run from the sources;
 *   (b) plain JavaScript with node: examples/javascript-app/main.js writes what the repository's `npm run synth`
 *       writes for pipelines/recsys-dev.yaml; require() and import of the three entry points run nothing; the
 *       in-process emulator and the worker SDK's client talk to each other;
 *   (c) `npx cloud-tasks-pipelines synth` over a pipelines/ folder in the app writes what the repository's synth of
 *       the same specs writes, into the app's own cdktf.out/; `--help` works; an invalid spec exits 1, writing nothing.
 *
 * Also: one copy of cdktf and of constructs in the app, no tsx or esbuild, nothing written inside the installed
 * package, only dist/, the schema and the README in the tarball. Compared byte for byte: nothing needs ignoring,
 * because both sides run the same bundle (npm pack built it from this tree) and a cdktf.out/ in the working directory.
 * Prints the time of each phase and the installed sizes. Exit code 0 when every check passed.
 *
 * `--keep` keeps the temporary folder (printed) for a look.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
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

const ROOT = resolve(__dirname, '..');
const repoPackage = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  devDependencies: Record<string, string>;
};
const TSX_CJS = require.resolve('tsx/cjs');
const keep = process.argv.includes('--keep');

const failures: string[] = [];
const timings: Array<[string, number]> = [];

function check(ok: boolean, what: string, detail = ''): void {
  process.stdout.write(
    `${ok ? 'ok  ' : 'FAIL'} ${what}${!ok && detail ? `\n     ${detail.split('\n').join('\n     ')}` : ''}\n`,
  );
  if (!ok) failures.push(what);
}

function phase<T>(name: string, fn: () => T): T {
  const started = Date.now();
  process.stdout.write(`== ${name}\n`);
  try {
    return fn();
  } finally {
    timings.push([name, (Date.now() - started) / 1000]);
  }
}

interface RunResult {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command without a shell; CHECKPOINT_DISABLE keeps cdktf from calling home. */
function run(command: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = {}): RunResult {
  const r = spawnSync(command, args, {
    cwd,
    env: { ...process.env, CHECKPOINT_DISABLE: '1', ...env },
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  return { status: r.status ?? 1, stdout: r.stdout ?? '', stderr: r.stderr ?? String(r.error ?? '') };
}

function mustRun(command: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = {}): RunResult {
  const r = run(command, args, cwd, env);
  if (r.status !== 0)
    throw new Error(
      `${command} ${args.join(' ')} (in ${cwd}) exited ${r.status}:\n${r.stderr.slice(-4000)}${r.stdout.slice(-2000)}`,
    );
  return r;
}

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listFiles(join(dir, e.name)).map((f) => join(e.name, f)) : [e.name],
  );
}

/** Every file of a folder with its size and sha256: equal listings mean nothing was written there. */
function fingerprint(dir: string): string {
  return listFiles(dir)
    .sort()
    .map(
      (f) =>
        `${f} ${statSync(join(dir, f)).size} ${createHash('sha256')
          .update(readFileSync(join(dir, f)))
          .digest('hex')}`,
    )
    .join('\n');
}

/** JSON paths where two values differ (at most `max`). */
function jsonDifferences(a: unknown, b: unknown, path = '$', out: string[] = [], max = 20): string[] {
  if (out.length >= max) return out;
  if (
    typeof a !== 'object' ||
    typeof b !== 'object' ||
    a === null ||
    b === null ||
    Array.isArray(a) !== Array.isArray(b)
  ) {
    if (JSON.stringify(a) !== JSON.stringify(b))
      out.push(`${path}: ${JSON.stringify(a)?.slice(0, 120)} != ${JSON.stringify(b)?.slice(0, 120)}`);
    return out;
  }
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys)
    jsonDifferences((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`, out, max);
  return out;
}

/** Compares two synthesized stack folders: cdk.tf.json as JSON, every asset byte for byte. */
function compareStacks(what: string, installed: string, repo: string): void {
  const read = (dir: string) => JSON.parse(readFileSync(join(dir, 'cdk.tf.json'), 'utf8')) as unknown;
  if (!existsSync(join(installed, 'cdk.tf.json')) || !existsSync(join(repo, 'cdk.tf.json'))) {
    check(false, what, `missing cdk.tf.json in ${installed} or ${repo}`);
    return;
  }
  const differences = jsonDifferences(read(installed), read(repo));
  const assets = (dir: string) => (existsSync(join(dir, 'assets')) ? fingerprint(join(dir, 'assets')) : '');
  if (assets(installed) !== assets(repo))
    differences.push(`assets differ:\n${assets(installed)}\n--- vs ---\n${assets(repo)}`);
  check(differences.length === 0, what, differences.join('\n'));
}

function dirSize(dir: string): string {
  return execFileSync('du', ['-sh', dir], { encoding: 'utf8' }).split('\t')[0];
}

/**
 * JavaScript run in the app (PACKAGE is the package name): the emulator dispatching with OIDC tokens, a local handler
 * verifying them with the worker SDK, both from the installed package (so jose, an ES module, loads through require).
 * The emulator keeps its state in a data dir, so its writer thread (a file the build copies) loads from the package.
 */
const EMULATOR_ROUND_TRIP = `
const http = require('node:http');
const { mkdtempSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { startEmulator } = require('PACKAGE/emulator');
const { createTasksClient, verifyTaskRequest } = require('PACKAGE/worker');
(async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'ctp-pack-data-'));
  const emulator = await startEmulator({ port: 0, oidcPort: 0, dispatch: true, dataDir, log: () => undefined });
  const invoker = 'recsys-dev@acme-ml-dev.iam.gserviceaccount.com';
  let done;
  const verified = new Promise((resolve) => (done = resolve));
  const server = http.createServer((req, res) => {
    const audience = 'http://127.0.0.1:' + server.address().port + '/tasks';
    verifyTaskRequest(req.headers, { audience, serviceAccountEmail: invoker, issuer: emulator.tokens.issuer }).then(
      ({ claims }) => { res.end('ok'); done('verified ' + claims.email); },
      (err) => { res.statusCode = 500; res.end(); done('rejected: ' + err.message); },
    );
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = 'http://127.0.0.1:' + server.address().port + '/tasks';
  const client = createTasksClient({ CLOUD_TASKS_EMULATOR_HOST: emulator.address });
  const parent = 'projects/acme-ml-dev/locations/us-central1';
  const queue = parent + '/queues/pack-test';
  await client.createQueue({ parent, queue: { name: queue } });
  await client.createTask({ parent: queue, task: { httpRequest: { url, httpMethod: 'POST', body: Buffer.from('{}'), oidcToken: { serviceAccountEmail: invoker, audience: url } } } });
  const result = await Promise.race([verified, new Promise((resolve) => setTimeout(resolve, 20000, 'no task arrived in 20 s').unref())]);
  await client.close();
  await emulator.stop();
  server.close();
  console.log(result);
})().catch((e) => { console.error(e); process.exit(1); });
`;

function main(): void {
  const work = mkdtempSync(join(tmpdir(), 'ctp-pack-test-'));
  process.stdout.write(`pack test in ${work}\n`);
  try {
    // ---------------------------------------------------------------------------------------------------------
    const tarball = phase('npm pack (builds dist/ in prepack)', () => {
      const r = mustRun('npm', ['pack', '--json', '--pack-destination', work], ROOT);
      const [info] = JSON.parse(r.stdout.slice(r.stdout.indexOf('[\n  {'))) as Array<{
        filename: string;
        files: Array<{ path: string }>;
        size: number;
        unpackedSize: number;
      }>;
      const files = info.files.map((f) => f.path);
      const allowed =
        /^(dist\/lib\/.+\.(js|d\.ts)|dist\/lib\/emulator\/persistence-writer\.cjs|dist\/bin\/cloud-tasks-pipelines\.(js|d\.ts)|dist\/seeder\/seeder\.(cjs|json)|dist\/dashboard\/dashboard\.(js|css|json)|pipelines\/pipeline\.schema\.json|README\.md|package\.json)$/;
      check(
        files.every((f) => allowed.test(f)),
        'the tarball holds only dist/, the JSON schema, README.md and package.json',
        files.filter((f) => !allowed.test(f)).join('\n'),
      );
      const required = [
        'dist/lib/index.js',
        'dist/lib/index.d.ts',
        'dist/lib/worker/index.js',
        'dist/lib/worker/index.d.ts',
        'dist/lib/emulator/index.js',
        'dist/lib/emulator/index.d.ts',
        'dist/lib/emulator/persistence-writer.cjs',
        'dist/bin/cloud-tasks-pipelines.js',
        'dist/seeder/seeder.cjs',
        'dist/seeder/seeder.json',
        'dist/dashboard/dashboard.js',
        'dist/dashboard/dashboard.css',
        'dist/dashboard/dashboard.json',
        'dist/lib/spec/schema-validator.generated.js',
        'pipelines/pipeline.schema.json',
      ];
      check(
        required.every((f) => files.includes(f)),
        'the tarball holds the entry points, the bin, the bundled seeder, the dashboard page and the precompiled validator',
        required.filter((f) => !files.includes(f)).join(', '),
      );
      process.stdout.write(
        `     ${info.filename}: ${(info.size / 1024).toFixed(0)} KiB packed, ${(info.unpackedSize / 1024).toFixed(0)} KiB unpacked, ${files.length} files\n`,
      );
      return join(work, info.filename);
    });

    // ---------------------------------------------------------------------------------------------------------
    // The repository's side, from the TypeScript sources: the same files, the same working-directory layout.
    const repoSide = join(work, 'repo');
    phase("the repository's synth of the same specs and examples (from the sources)", () => {
      mkdirSync(repoSide);
      cpSync(join(ROOT, 'pipelines'), join(repoSide, 'pipelines'), { recursive: true });
      cpSync(join(ROOT, 'cdktf.json'), join(repoSide, 'cdktf.json'));
      mustRun(process.execPath, ['--require', TSX_CJS, join(ROOT, 'main.ts')], repoSide);
      const tsconfig = { TSX_TSCONFIG_PATH: join(ROOT, 'tsconfig.json') };
      mustRun(process.execPath, ['--require', TSX_CJS, join(ROOT, 'examples', 'typescript-app', 'main.ts')], repoSide, {
        ...tsconfig,
        CDKTF_OUTDIR: join(repoSide, 'out-ts'),
      });
    });

    // ---------------------------------------------------------------------------------------------------------
    const app = join(work, 'app');
    const pkgDir = join(app, 'node_modules', repoPackage.name);
    phase('npm install of the tarball into a fresh cdktf app (npm cache, --prefer-offline)', () => {
      mkdirSync(app);
      const dev = repoPackage.devDependencies;
      writeFileSync(
        join(app, 'package.json'),
        `${JSON.stringify(
          {
            name: 'pack-test-app',
            version: '0.0.0',
            private: true,
            dependencies: { [repoPackage.name]: `file:${tarball}`, cdktf: dev.cdktf, constructs: dev.constructs },
            devDependencies: { typescript: dev.typescript, '@types/node': dev['@types/node'] },
          },
          null,
          2,
        )}\n`,
      );
      const r = mustRun('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], app);
      check(!/EBADENGINE/.test(r.stderr + r.stdout), 'npm install prints no engine warning', r.stderr);
      check(!/ERESOLVE|peer dep/i.test(r.stderr), 'npm install reports no peer-dependency conflict', r.stderr);
      check(
        !r.stderr.includes(`${repoPackage.name}@`),
        'npm lists no install script of this package (it has none a consumer runs)',
        r.stderr,
      );
      const installed = listFiles(join(app, 'node_modules'));
      const copies = (name: string) =>
        installed.filter(
          (f) => f === join(name, 'package.json') || f.endsWith(join('node_modules', name, 'package.json')),
        );
      check(
        copies('constructs').length === 1,
        "one copy of constructs (the app's own): one construct tree",
        copies('constructs').join(', '),
      );
      check(copies('cdktf').length === 1, "one copy of cdktf (the app's own)", copies('cdktf').join(', '));
      const tools = ['tsx', 'esbuild', 'ts-node', 'ts-jest', 'jest'].filter((t) =>
        existsSync(join(app, 'node_modules', t)),
      );
      check(
        tools.length === 0,
        'the install needs neither tsx nor esbuild (no build tool installed)',
        tools.join(', '),
      );
      const binLink = join(app, 'node_modules', '.bin', 'cloud-tasks-pipelines');
      check(existsSync(binLink), 'the bin cloud-tasks-pipelines is linked in node_modules/.bin');
      process.stdout.write(
        `     installed package: ${dirSize(pkgDir)}; the app's node_modules: ${dirSize(join(app, 'node_modules'))}\n`,
      );
    });
    const before = fingerprint(pkgDir);

    // ---------------------------------------------------------------------------------------------------------
    phase('(a) the TypeScript example: tsc with the cdktf init tsconfig, then node', () => {
      for (const f of ['main.ts', 'tsconfig.json', 'cdktf.json'])
        cpSync(join(ROOT, 'examples', 'typescript-app', f), join(app, f));
      const tsc = run(process.execPath, [join(app, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', app], app);
      check(
        tsc.status === 0,
        'examples/typescript-app/main.ts type-checks against the installed .d.ts',
        tsc.stdout + tsc.stderr,
      );
      mustRun(process.execPath, ['main.js'], app, { CDKTF_OUTDIR: join(app, 'out-ts') });
      compareStacks(
        'the TypeScript example writes the same Terraform JSON and assets as from the sources',
        join(app, 'out-ts', 'stacks', 'recsys-dev'),
        join(repoSide, 'out-ts', 'stacks', 'recsys-dev'),
      );
    });

    // ---------------------------------------------------------------------------------------------------------
    phase('(b) plain JavaScript with node', () => {
      cpSync(join(ROOT, 'pipelines'), join(app, 'pipelines'), { recursive: true });
      mkdirSync(join(app, 'javascript'));
      cpSync(join(ROOT, 'examples', 'javascript-app', 'main.js'), join(app, 'javascript', 'main.js'));
      mustRun(process.execPath, [join('javascript', 'main.js')], app, { CDKTF_OUTDIR: join(app, 'out-js') });
      compareStacks(
        "examples/javascript-app/main.js writes what the repository's synth writes for pipelines/recsys-dev.yaml",
        join(app, 'out-js', 'stacks', 'recsys-dev'),
        join(repoSide, 'cdktf.out', 'stacks', 'recsys-dev'),
      );

      const quiet = join(app, 'quiet');
      mkdirSync(quiet);
      const cjs = run(
        process.execPath,
        ['-e', `for (const p of ['', '/worker', '/emulator']) require('${repoPackage.name}' + p);`],
        quiet,
        {
          NODE_PATH: join(app, 'node_modules'),
        },
      );
      check(
        cjs.status === 0 && cjs.stdout === '' && cjs.stderr === '' && readdirSync(quiet).length === 0,
        'require() of the three entry points prints nothing and writes nothing',
        cjs.stderr + cjs.stdout,
      );
      const esm = run(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `import { PipelineStack, parsePipelineSpec } from '${repoPackage.name}'; import { verifyTaskRequest } from '${repoPackage.name}/worker'; import { startEmulator } from '${repoPackage.name}/emulator'; console.log([PipelineStack, parsePipelineSpec, verifyTaskRequest, startEmulator].map((f) => typeof f).join(' '));`,
        ],
        app,
      );
      check(
        esm.stdout.trim() === 'function function function function',
        'ES module import of the named exports works',
        esm.stderr + esm.stdout,
      );

      const roundTrip = run(process.execPath, ['-e', EMULATOR_ROUND_TRIP.split('PACKAGE').join(repoPackage.name)], app);
      check(
        roundTrip.status === 0 &&
          roundTrip.stderr === '' &&
          roundTrip.stdout.trim() === 'verified recsys-dev@acme-ml-dev.iam.gserviceaccount.com',
        'a task dispatched by the in-process emulator (/emulator, with a data dir) reaches a handler that verifies its OIDC token with the worker SDK (/worker)',
        roundTrip.stderr + roundTrip.stdout,
      );
    });

    // ---------------------------------------------------------------------------------------------------------
    phase("(c) npx cloud-tasks-pipelines synth over the app's pipelines/", () => {
      const synth = run('npx', ['--no-install', 'cloud-tasks-pipelines', 'synth'], app);
      check(
        synth.status === 0 && /recsys-dev: 5 queues, 3 seed tasks -> cdktf\.out\/stacks\/recsys-dev/.test(synth.stdout),
        'synth exits 0 and writes ./cdktf.out/ in the app',
        synth.stderr + synth.stdout,
      );
      for (const stack of readdirSync(join(repoSide, 'cdktf.out', 'stacks')))
        compareStacks(
          `stack ${stack} is what the repository's synth writes`,
          join(app, 'cdktf.out', 'stacks', stack),
          join(repoSide, 'cdktf.out', 'stacks', stack),
        );

      const help = run('npx', ['--no-install', 'cloud-tasks-pipelines', '--help'], app);
      check(
        help.status === 0 &&
          ['synth', 'local', 'emulator', 'seed', 'tasks', 'review', 'runs'].every((c) =>
            help.stdout.includes(`\n  ${c} `),
          ),
        '--help lists every subcommand',
        help.stdout + help.stderr,
      );
      const subHelp = run('npx', ['--no-install', 'cloud-tasks-pipelines', 'seed', '--help'], app);
      check(
        subHelp.status === 0 && subHelp.stdout.startsWith('Usage: cloud-tasks-pipelines seed [options] <manifest>'),
        "a subcommand's --help is its own, under the bin's name",
        subHelp.stdout + subHelp.stderr,
      );

      const manifest = listFiles(join(app, 'cdktf.out', 'stacks', 'recsys-dev', 'assets')).find((f) =>
        f.endsWith('seed-manifest.json'),
      );
      const dry = run(
        'npx',
        [
          '--no-install',
          'cloud-tasks-pipelines',
          'seed',
          '--dry-run',
          join('cdktf.out', 'stacks', 'recsys-dev', 'assets', manifest ?? 'missing'),
        ],
        app,
      );
      check(
        dry.status === 0 && /3 task/.test(dry.stdout),
        'seed --dry-run reads the synthesized manifest',
        dry.stderr + dry.stdout,
      );

      writeFileSync(
        join(app, 'bad.yaml'),
        'project: acme\nregion: us-central1\nenvironment: dev\npipeline: { name: x, steps: [] }\n',
      );
      const bad = run(
        'npx',
        ['--no-install', 'cloud-tasks-pipelines', 'synth', '--spec', 'bad.yaml', '--outdir', 'out-bad'],
        app,
      );
      check(
        bad.status === 1 && bad.stderr.includes('bad.yaml') && !existsSync(join(app, 'out-bad')),
        'an invalid spec exits 1, names the file and writes nothing',
        bad.stderr + bad.stdout,
      );
    });

    check(fingerprint(pkgDir) === before, 'nothing was written inside node_modules/cloud-tasks-pipelines');
  } finally {
    if (keep) process.stdout.write(`kept ${work}\n`);
    else rmSync(work, { recursive: true, force: true });
  }
}

const started = Date.now();
try {
  main();
} catch (err) {
  failures.push((err as Error).message);
  process.stdout.write(`FAIL ${(err as Error).message}\n`);
}
process.stdout.write(
  `\n${timings.map(([name, s]) => `${s.toFixed(1).padStart(6)} s  ${name}`).join('\n')}\n${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s  total\n`,
);
process.stdout.write(failures.length === 0 ? 'pack test passed\n' : `pack test FAILED: ${failures.length} check(s)\n`);
process.exitCode = failures.length === 0 ? 0 : 1;
