import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { App, TerraformStack, Testing } from '../../lib/cdktf/core';
import { PipelineStack } from '../../lib/constructs/pipeline-stack';
import { SeedTasks } from '../../lib/constructs/seed-tasks';
import { sha256Hex } from '../../lib/constructs/build-manifest';
import type { PipelineSpec } from '../../lib/spec/types';
import { NOW, fakeSeeder, pipelineSpec } from './fixtures';

type Json = Record<string, any>;

const ROOT = resolve(__dirname, '..', '..');

/** A payload built to break anything that lets it near a shell, with a marker to search for. */
const MARKER = 'SEED-PAYLOAD-MARKER-7f3a9c';
const HOSTILE = {
  note: `${MARKER} $(touch /tmp/pwned) \`id\` ; rm -rf / && echo "quoted" 'single' | cat > /dev/null $HOME %PATH% \\ \n newline`,
  nested: [{ k: `${MARKER}-2 \${path.module} \${file("/etc/passwd")}` }],
};

function hostileSpec(): PipelineSpec {
  const base = pipelineSpec();
  return pipelineSpec({
    pipeline: {
      ...base.pipeline,
      seedTasks: [
        { step: 'preprocess', id: 'hostile-1', payload: HOSTILE },
        { step: 'train', id: 'hostile-2', payload: { again: MARKER } },
      ],
    },
  });
}

function seedResource(json: Json): Json {
  const all = Object.values((json.resource?.terraform_data ?? {}) as Json);
  expect(all).toHaveLength(1);
  return all[0] as Json;
}

let outdirs: string[] = [];
afterEach(() => {
  for (const d of outdirs) rmSync(d, { recursive: true, force: true });
  outdirs = [];
});
function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  outdirs.push(d);
  return d;
}

/**
 * A real `app.synth()` (validations, asset copies) to a temp outdir. Jest's sandboxed process.env does not reach
 * child processes, so synth without terraform on PATH is proven by the main.ts end-to-end test and the
 * DataResource test below, which run in child processes.
 */
function realSynth(spec: PipelineSpec, stackName = 'recsys-dev'): { outdir: string; stackDir: string; json: Json } {
  const outdir = tempDir('synth-');
  const app = new App({ outdir, stackTraces: false });
  new PipelineStack(app, stackName, { spec, now: NOW, seeder: fakeSeeder() });
  app.synth();
  const stackDir = join(outdir, 'stacks', stackName);
  return { outdir, stackDir, json: JSON.parse(readFileSync(join(stackDir, 'cdk.tf.json'), 'utf8')) };
}

describe('SeedTasks: one terraform_data resource per pipeline', () => {
  test('GIVEN two seed tasks THEN ONE resource whose local-exec runs node <seeder> <manifest> without a shell', () => {
    const json = JSON.parse(
      Testing.synth(
        new PipelineStack(Testing.app(), 'recsys-dev', { spec: pipelineSpec(), now: NOW, seeder: fakeSeeder() }),
      ),
    );
    const r = seedResource(json);
    expect(r.provisioner).toHaveLength(1);
    const exec = r.provisioner[0]['local-exec'];
    expect(Object.keys(exec).sort()).toEqual(['command', 'interpreter', 'working_dir']);
    expect(exec.interpreter).toEqual([
      'node',
      expect.stringMatching(/^assets\/seed-tasks_Seeder_[0-9A-F]{8}\/[0-9a-f]{64}\/seeder\.cjs$/),
    ]);
    expect(exec.command).toMatch(/^assets\/seed-tasks_Manifest_[0-9A-F]{8}\/[0-9a-f]{64}\/seed-manifest\.json$/);
    expect(exec.working_dir).toBe('${path.module}');
    expect(exec).not.toHaveProperty('environment');
    expect(exec).not.toHaveProperty('when');
  });

  test('triggers_replace holds only the manifest hash and the queue ids (not the seeder hash); no input attribute', () => {
    const stack = new PipelineStack(Testing.app(), 'recsys-dev', {
      spec: pipelineSpec(),
      now: NOW,
      seeder: fakeSeeder(),
    });
    const r = seedResource(JSON.parse(Testing.synth(stack)));
    expect(r.triggers_replace).toEqual({
      manifest_sha256: stack.seedTasks!.manifestSha256,
      queue_ids: [
        expect.stringMatching(/^\$\{google_cloud_tasks_queue\.queue-preprocess_\w+\.id\}$/),
        expect.stringMatching(/^\$\{google_cloud_tasks_queue\.queue-train_\w+\.id\}$/),
        expect.stringMatching(/^\$\{google_cloud_tasks_queue\.queue-infer_\w+\.id\}$/),
      ],
    });
    expect(r).not.toHaveProperty('input');
    expect(r.provisioner[0]['local-exec'].command).toContain(stack.seedTasks!.manifestSha256);
  });

  test('depends_on: the Cloud Tasks API, every queue, every IAM binding, the invoker account', () => {
    const r = seedResource(
      JSON.parse(
        Testing.synth(
          new PipelineStack(Testing.app(), 'recsys-dev', { spec: pipelineSpec(), now: NOW, seeder: fakeSeeder() }),
        ),
      ),
    );
    const deps: string[] = r.depends_on;
    const count = (type: string) => deps.filter((d) => d.startsWith(`${type}.`)).length;
    expect(deps).toContain('google_project_service.api-cloudtasks');
    expect(count('google_cloud_tasks_queue')).toBe(3);
    expect(count('google_cloud_tasks_queue_iam_member')).toBe(2);
    expect(count('google_service_account')).toBe(1);
    expect(count('google_service_account_iam_member')).toBe(2);
    expect(count('google_cloud_run_v2_service_iam_member')).toBe(1);
  });

  test('GIVEN 500 seed tasks THEN still one resource', () => {
    const base = pipelineSpec();
    const seeds = Array.from({ length: 500 }, (_, i) => ({
      step: 'preprocess',
      id: `shard-${i}`,
      payload: { shard: i },
    }));
    const stack = new PipelineStack(Testing.app(), 'recsys-dev', {
      spec: pipelineSpec({ pipeline: { ...base.pipeline, seedTasks: seeds } }),
      now: NOW,
      seeder: fakeSeeder(),
    });
    seedResource(JSON.parse(Testing.synth(stack)));
    expect(stack.seedTasks!.taskCount).toBe(500);
  });

  test('GIVEN no seed tasks THEN no terraform_data resource and no seeder is needed', () => {
    const base = pipelineSpec();
    const stack = new PipelineStack(Testing.app(), 'recsys-dev', {
      spec: pipelineSpec({ pipeline: { ...base.pipeline, seedTasks: [] } }),
      now: NOW,
      seeder: { path: '/nonexistent/seeder.cjs', sha256: 'x' },
    });
    expect(JSON.parse(Testing.synth(stack)).resource).not.toHaveProperty('terraform_data');
    expect(stack.seedTasks).toBeUndefined();
  });

  test('GIVEN an empty manifest THEN SeedTasks refuses, naming its path', () => {
    const stack = new TerraformStack(Testing.app(), 'test');
    expect(
      () =>
        new SeedTasks(stack, 'seed', {
          manifest: { version: 1, stack: 's', project: 'p', location: 'l', tasks: [] },
          seeder: fakeSeeder(),
          queues: [],
        }),
    ).toThrow(/SeedTasks at test\/seed: the manifest has no tasks/);
  });
});

describe('SeedTasks: payloads never reach the command, the environment or the resource', () => {
  test('GIVEN payloads full of shell metacharacters and a marker THEN the marker appears nowhere in cdk.tf.json', () => {
    const { json, stackDir } = realSynth(hostileSpec());
    const text = readFileSync(join(stackDir, 'cdk.tf.json'), 'utf8');
    expect(text).not.toContain(MARKER);
    expect(text).not.toContain('pwned');
    expect(text).not.toContain('/etc/passwd');
    // The command is the same constant shape as for any other spec.
    const exec = seedResource(json).provisioner[0]['local-exec'];
    expect(exec.command).toMatch(/^assets\/seed-tasks_Manifest_[0-9A-F]{8}\/[0-9a-f]{64}\/seed-manifest\.json$/);
    // ... and the payload is in the manifest asset, byte for byte.
    const manifest = JSON.parse(readFileSync(join(stackDir, exec.command), 'utf8'));
    expect(JSON.parse(manifest.tasks[0].httpRequest.body)).toEqual(HOSTILE);
  });

  test('the Testing.synth output (plan-visible attributes) does not hold the marker either', () => {
    const text = Testing.synth(
      new PipelineStack(Testing.app(), 'recsys-dev', { spec: hostileSpec(), now: NOW, seeder: fakeSeeder() }),
    );
    expect(text).not.toContain(MARKER);
  });
});

describe('SeedTasks: assets make the stack directory self-contained', () => {
  test('GIVEN a real synth to a temp outdir THEN the manifest and seeder are under assets/ with matching hashes', () => {
    const { stackDir, json } = realSynth(pipelineSpec());
    const r = seedResource(json);
    const exec = r.provisioner[0]['local-exec'];
    const manifestText = readFileSync(join(stackDir, exec.command), 'utf8');
    expect(sha256Hex(manifestText)).toBe(r.triggers_replace.manifest_sha256);
    const seederText = readFileSync(join(stackDir, exec.interpreter[1]), 'utf8');
    expect(exec.interpreter[1]).toContain(`/${sha256Hex(seederText)}/`);
    expect(readFileSync(join(stackDir, exec.interpreter[1]), 'utf8')).toBe(readFileSync(fakeSeeder().path, 'utf8'));
  });

  test('GIVEN the stack directory copied elsewhere THEN every path the provisioner uses resolves inside the copy', () => {
    const { stackDir, json } = realSynth(pipelineSpec());
    const copy = join(tempDir('copied-'), 'stack');
    cpSync(stackDir, copy, { recursive: true });
    rmSync(stackDir, { recursive: true });
    const exec = seedResource(json).provisioner[0]['local-exec'];
    for (const rel of [exec.command, exec.interpreter[1]]) {
      expect(rel.startsWith('/')).toBe(false);
      expect(rel).not.toContain('..');
      expect(existsSync(join(copy, rel))).toBe(true);
    }
  });

  test('GIVEN the same spec synthesized twice THEN the same manifest hash and the same asset paths', () => {
    const a = seedResource(realSynth(pipelineSpec()).json);
    const b = seedResource(realSynth(pipelineSpec()).json);
    expect(b.triggers_replace.manifest_sha256).toBe(a.triggers_replace.manifest_sha256);
    expect(b.provisioner).toEqual(a.provisioner);
  });
});

describe('why terraform_data is emitted by our own class', () => {
  /** Runs a plain-JS cdktf app in a child process with PATH=/usr/bin:/bin (no terraform), returns its exit and stderr. */
  function synthWithoutTerraform(resourceJs: string): { status: number | null; stderr: string; outdir: string } {
    const outdir = tempDir('dr-');
    const script = `
      const { App, TerraformStack } = require('cdktf');
      const app = new App({ outdir: process.argv[1], stackTraces: false });
      const stack = new TerraformStack(app, 's');
      ${resourceJs}
      app.synth();`;
    const r = spawnSync(process.execPath, ['-e', script, outdir], {
      cwd: ROOT,
      env: { PATH: '/usr/bin:/bin' },
      encoding: 'utf8',
    });
    return { status: r.status, stderr: r.stderr, outdir };
  }

  test("GIVEN cdktf's DataResource and no terraform on PATH THEN app.synth() fails", () => {
    const r = synthWithoutTerraform(
      `new (require('cdktf').DataResource)(stack, 'd', { triggersReplace: { a: 'b' } });`,
    );
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/Could not determine version of terraform/);
  });

  test('GIVEN our TerraformData and no terraform on PATH THEN synth succeeds with the same resource type', () => {
    // The child loads the TypeScript source through tsx's require hook.
    const r = synthWithoutTerraform(`
      require('tsx/cjs');
      const { TerraformData } = require('./lib/constructs/terraform-data.ts');
      new TerraformData(stack, 'd', { triggersReplace: { a: 'b' } });`);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const json = JSON.parse(readFileSync(join(r.outdir, 'stacks', 's', 'cdk.tf.json'), 'utf8'));
    expect(Object.values(json.resource.terraform_data)).toEqual([
      expect.objectContaining({ triggers_replace: { a: 'b' } }),
    ]);
  });
});
