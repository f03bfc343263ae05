/**
 * The examples a user copies: examples/typescript-app/main.ts is the README's TypeScript section (the README shows
 * the file, checked here byte for byte) and runs here from the sources (`cloud-tasks-pipelines` maps to lib/ in
 * jest.config.js and tsconfig.json). scripts/pack-test.ts runs the same files against the packed package.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { prebuiltSeederBundle } from '../../lib/core/seeder-bundle';

const ROOT = resolve(__dirname, '..', '..');

/** Each `<!-- example: <file> -->` line in the README and the fenced code block right below it. */
function readmeExamples(): Array<{ file: string; code: string }> {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  return [...readme.matchAll(/^<!-- example: (\S+) -->\n```\w*\n([\s\S]*?)^```$/gm)].map((m) => ({
    file: m[1],
    code: m[2],
  }));
}

test("the README's TypeScript and JavaScript examples are the example files, unchanged", () => {
  const examples = readmeExamples();
  expect(examples.map((e) => e.file)).toEqual(['examples/typescript-app/main.ts', 'examples/javascript-app/main.js']);
  for (const { file, code } of examples) expect(code).toBe(readFileSync(join(ROOT, file), 'utf8'));
});

describe('GIVEN examples/typescript-app/main.ts WHEN it runs as a cdktf app', () => {
  let outdir: string;
  let json: any;
  beforeAll(() => {
    outdir = mkdtempSync(join(tmpdir(), 'example-ts-'));
    const before = process.env.CDKTF_OUTDIR;
    process.env.CDKTF_OUTDIR = outdir;
    try {
      jest.isolateModules(() => require('../../examples/typescript-app/main'));
    } finally {
      if (before === undefined) delete process.env.CDKTF_OUTDIR;
      else process.env.CDKTF_OUTDIR = before;
    }
    json = JSON.parse(readFileSync(join(outdir, 'stacks', 'recsys-dev', 'cdk.tf.json'), 'utf8'));
  });
  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  test('THEN it writes one stack with a queue per step and the seeding resource', () => {
    expect(readdirSync(join(outdir, 'stacks'))).toEqual(['recsys-dev']);
    expect(Object.keys(json.resource.google_cloud_tasks_queue)).toHaveLength(2);
    expect(Object.keys(json.resource.terraform_data)).toHaveLength(1);
  });

  test('THEN the extra grant is roles/cloudtasks.enqueuer on the infer queue only', () => {
    const grants = Object.values(json.resource.google_cloud_tasks_queue_iam_member ?? {}) as any[];
    const scorer = grants.filter((g) => g.member.includes('batch-scorer'));
    expect(scorer).toEqual([
      expect.objectContaining({
        role: 'roles/cloudtasks.enqueuer',
        member: 'serviceAccount:batch-scorer@acme-ml-dev.iam.gserviceaccount.com',
        name: expect.stringMatching(/^\$\{google_cloud_tasks_queue\.queue-infer_[0-9A-F]+\.name\}$/),
      }),
    ]);
  });

  test("THEN the seeding runs the package's prebuilt seeder, named by its recorded sha256", () => {
    const [seeding] = Object.values(json.resource.terraform_data) as any[];
    const [interpreter, seeder] = seeding.provisioner[0]['local-exec'].interpreter;
    expect(interpreter).toBe('node');
    expect(seeder).toContain(`/${prebuiltSeederBundle().sha256}/seeder.cjs`);
  });

  test('THEN the Terraform JSON is as recorded (seeder hash elided)', () => {
    const text = JSON.stringify(json, null, 2).split(prebuiltSeederBundle().sha256).join('<seeder sha256>');
    expect(text).toMatchSnapshot();
  });
});
