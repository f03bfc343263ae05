/**
 * Strings stay strings in Terraform. A spec with a Terraform template in every string field that accepts one is
 * synthesized; every such value reaches cdk.tf.json escaped (`$${`, `%%{`), the readers of cdk.tf.json get the text
 * back, tokens the constructs create stay live, and the fields whose format cannot hold a template refuse it.
 * `npm run test:terraform` runs terraform itself on the same spec (__tests__/terraform/).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TerraformStack, TerraformVariable, Testing } from 'cdktf';
import { synthPipelines } from '../../lib/apps/synth';
import { localStackOf } from '../../lib/apps/local/terraform';
import { literalString } from '../../lib/constructs/literal-strings';
import { TaskQueue } from '../../lib/constructs/task-queue';
import { readSynthesizedStack } from '../../lib/core/synthesized-stack';
import { formatPath } from '../../lib/core/problem';
import { hasTerraformTemplate, terraformLiteralText } from '../../lib/core/terraform-string';
import { parsePipelineSpec, SpecError } from '../../lib/spec/load';
import {
  BACKEND_PREFIX,
  FILE,
  LITERAL_FIELDS,
  SUPPRESSION_REASON,
  TEMPLATE_REFUSED,
  templateSpec,
} from '../fixtures/template-spec';

const NOW = new Date('2026-01-15T00:00:00Z');
/** What the constructs write on purpose as live expressions: references to resources, and `${path.module}`. */
const OWN_EXPRESSION = /^\$\{(?:[a-z][a-z0-9_]*\.[A-Za-z0-9_-]+\.[a-z_]+|path\.module)\}$|^serviceAccount:\$\{google_/;

/** Every string and key Terraform evaluates: all but `"//"` comments (cdktf's metadata, which Terraform skips). */
function strings(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) value.forEach((v) => strings(v, out));
  else if (value && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) {
      if (k === '//') continue;
      out.push(k);
      strings(v, out);
    }
  return out;
}

describe('GIVEN a spec with a Terraform template in every string field WHEN synthesized', () => {
  let dir: string;
  let stack: ReturnType<typeof readSynthesizedStack>;
  let written: string[];
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ctp-literal-'));
    writeFileSync(join(dir, 'recsys-dev.json'), JSON.stringify(templateSpec()));
    synthPipelines({ specPath: join(dir, 'recsys-dev.json'), outdir: join(dir, 'out'), stateDir: dir, now: NOW });
    stack = readSynthesizedStack(join(dir, 'out', 'stacks', 'recsys-dev'));
    const { resource, provider, output } = stack.config;
    written = strings({ resource, provider, output });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('THEN each value is written escaped, and reads back as exactly what the spec says', () => {
    for (const [field, value] of Object.entries(LITERAL_FIELDS)) {
      const found = written.filter((s) => terraformLiteralText(s) === value);
      expect({ field, found: found.length > 0 }).toEqual({ field, found: true });
      expect(found.every((s) => s !== value)).toBe(true); // escaped, not as written
    }
  });

  test('THEN no string holds a live template except the references the constructs make', () => {
    const live = written.filter((s) => hasTerraformTemplate(s) && !OWN_EXPRESSION.test(s));
    expect(live).toEqual([]);
    // The seeding resource's working directory is still an expression: it is a token, not text.
    expect(JSON.stringify(stack.config.resource)).toContain('"working_dir":"${path.module}"');
  });

  test('THEN the backend prefix is written as given (Terraform reads backend settings literally)', () => {
    expect((stack.config.terraform as any).backend.gcs.prefix).toBe(BACKEND_PREFIX);
  });

  test('THEN the local run reads the queue exactly as the spec wrote it', () => {
    const train = localStackOf(stack).queues.find((q) => q.queueId === 'recsys-dev-train')!;
    expect(train.httpTarget?.headerOverrides?.[0].header).toEqual({ key: 'X-Note', value: LITERAL_FIELDS.headerValue });
    expect(train.httpTarget?.uriOverride?.host).toBe(LITERAL_FIELDS.urlHost);
    expect(train.httpTarget?.uriOverride?.queryOverride?.queryParams).toBe(LITERAL_FIELDS.urlQuery);
    expect(train.httpTarget?.oidcToken?.audience).toBe(LITERAL_FIELDS.audience);
  });

  test('THEN the seed payload stays in the manifest as text, and the suppression reason as written', () => {
    const manifest = JSON.parse(readFileSync(stack.seedManifestFile!, 'utf8'));
    expect(JSON.parse(manifest.tasks[0].httpRequest.body)).toEqual({ note: FILE });
    expect(stack.policySuppressions.map((s) => s.reason)).toEqual([SUPPRESSION_REASON]);
  });
});

describe('fields whose format cannot hold a template', () => {
  test.each(TEMPLATE_REFUSED.map(([path, edit]) => [path, edit] as const))(
    'GIVEN a template in %s THEN the spec is refused there',
    (path, edit) => {
      const raw = templateSpec();
      edit(raw);
      let error: unknown;
      try {
        parsePipelineSpec(raw, {}, { now: NOW });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(SpecError);
      expect((error as SpecError).problems.map((p) => formatPath(p.path)).some((p) => p.startsWith(path))).toBe(true);
    },
  );

  test("GIVEN cdktf's token marker in a spec string THEN it is refused: it would turn into a reference", () => {
    const raw = templateSpec() as any;
    raw.pipeline.steps[0].target.headers = { 'X-Note': 'a ${TfToken[TOKEN.1]} b' };
    raw.labels = { team: 'x' };
    expect(() => parsePipelineSpec(raw, {}, { now: NOW })).toThrow(
      /pipeline\.steps\[0\]\.target\.headers\.X-Note: contains "\$\{TfToken\[", cdktf's token marker/,
    );
  });
});

describe('TaskQueue from TypeScript: tokens stay live, text around them is literal', () => {
  function headerOf(value: string): string {
    const stack = new TerraformStack(Testing.app(), 'test');
    new TaskQueue(stack, 'q', {
      queueId: 'q',
      project: 'ml-platform-dev',
      location: 'us-central1',
      httpTarget: {
        url: 'https://w.example/',
        serviceAccountEmail: 'i@ml-platform-dev.iam.gserviceaccount.com',
        headers: { 'X-A': value },
      },
    });
    new TerraformVariable(stack, 'region', { type: 'string' });
    const json = JSON.parse(Testing.synth(stack));
    return (Object.values(json.resource.google_cloud_tasks_queue)[0] as any).http_target.header_overrides[0].header
      .value;
  }

  test('GIVEN a value mixing a variable and template text THEN the variable is a reference, the text escaped', () => {
    const stack = new TerraformStack(Testing.app(), 'v');
    const v = new TerraformVariable(stack, 'team', { type: 'string' });
    const value = `${FILE} for ${v.stringValue}`;
    new TaskQueue(stack, 'q', {
      queueId: 'q',
      project: 'ml-platform-dev',
      location: 'us-central1',
      httpTarget: {
        url: 'https://w.example/',
        serviceAccountEmail: 'i@ml-platform-dev.iam.gserviceaccount.com',
        headers: { 'X-A': value, 'X-B': `cost $${v.stringValue}` },
      },
    });
    const json = JSON.parse(Testing.synth(stack));
    const headers = (Object.values(json.resource.google_cloud_tasks_queue)[0] as any).http_target.header_overrides;
    expect(headers[0].header.value).toBe('$${file("/etc/hostname")} for ${var.team}');
    // A `$` right before a reference would make Terraform read `$${`: it is written as an interpolation of "$".
    expect(headers[1].header.value).toBe('cost ${"$"}${var.team}');
  });

  test("GIVEN an app with cdktf's hclOutput THEN synth reports an error: the escaping covers JSON only", () => {
    const app = Testing.app();
    (app as unknown as { hclOutput: boolean }).hclOutput = true;
    const stack = new TerraformStack(app, 'hcl');
    const queue = new TaskQueue(stack, 'q', {
      queueId: 'q',
      project: 'ml-platform-dev',
      location: 'us-central1',
      httpTarget: { url: 'https://w.example/', serviceAccountEmail: 'i@ml-platform-dev.iam.gserviceaccount.com' },
    });
    Testing.synth(stack); // runs the aspects
    const errors = queue.node.metadata.filter((m) => m.type === '@cdktf/error').map((m) => String(m.data));
    expect(errors).toEqual([expect.stringMatching(/^cdktf hclOutput is not supported by cloud-tasks-pipelines/)]);
  });

  test('GIVEN text that looks like a token marker but is none THEN it is text', () => {
    expect(headerOf('${TfToken[TOKEN.999999]}')).toBe('${"$"}{TfToken[TOKEN.999999]}');
    expect(literalString('plain')).toBe('plain');
  });
});
