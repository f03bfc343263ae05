/**
 * Terraform itself sees the literal text. The spec with a template in every string field that accepts one
 * (__tests__/fixtures/template-spec.ts) is synthesized; its stack is reduced to `terraform_data` resources (built into
 * Terraform: no provider, no network), one per resource, provider and output, whose `input` is that block's
 * configuration as synthesized (references to other resources replaced by a placeholder, since those resources are
 * not there). `terraform apply` evaluates every string as it would for the real stack; the outputs must hold exactly
 * the spec's text, and nothing Terraform could have read (a file, the working directory).
 * The backend is checked the same way: the synthesized prefix as a local backend path is used literally.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { synthPipelines } from '../../lib/apps/synth';
import { readSynthesizedStack } from '../../lib/core/synthesized-stack';
import { BACKEND_PREFIX, LITERAL_FIELDS, templateSpec } from '../fixtures/template-spec';

/** References the constructs make on purpose (their resources are not in the reduced stack). */
const OWN_REFERENCE = /\$\{(?:google_[a-z0-9_]+|terraform_data)\.[A-Za-z0-9_-]+\.[a-z_]+\}|\$\{path\.module\}/;
/** Meta-arguments and comments: not values a resource evaluates for its attributes. */
const META = new Set(['//', 'depends_on', 'provisioner', 'lifecycle', 'provider', 'count', 'for_each']);

function terraform(dir: string, args: string[]): string {
  return execFileSync('terraform', args, {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, TF_IN_AUTOMATION: '1', CHECKPOINT_DISABLE: '1', TF_CLI_CONFIG_FILE: '/dev/null' },
  });
}

function reduce(value: unknown): unknown {
  if (typeof value === 'string') return OWN_REFERENCE.test(value) ? '(reference)' : value;
  if (Array.isArray(value)) return value.map(reduce);
  if (value && typeof value === 'object')
    return Object.fromEntries(
      Object.entries(value)
        .filter(([k]) => !META.has(k))
        .map(([k, v]) => [k, reduce(v)]),
    );
  return value;
}

function strings(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) value.forEach((v) => strings(v, out));
  else if (value && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) {
      out.push(k);
      strings(v, out);
    }
  return out;
}

let dir: string;
beforeAll(() => {
  try {
    execFileSync('terraform', ['version'], { stdio: 'ignore' });
  } catch {
    throw new Error('terraform is not on PATH: npm run test:terraform needs terraform 1.4 or later (terraform_data)');
  }
  dir = mkdtempSync(join(tmpdir(), 'ctp-terraform-literal-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('GIVEN a spec with a template in every string field THEN terraform evaluates each one to the literal text', () => {
  const specFile = join(dir, 'recsys-dev.json');
  writeFileSync(specFile, JSON.stringify(templateSpec()));
  synthPipelines({
    specPath: specFile,
    outdir: join(dir, 'out'),
    stateDir: dir,
    now: new Date('2026-01-15T00:00:00Z'),
  });
  const { config } = readSynthesizedStack(join(dir, 'out', 'stacks', 'recsys-dev'));

  const blocks: Record<string, unknown> = {};
  for (const [type, byName] of Object.entries(config.resource as Record<string, Record<string, unknown>>))
    for (const [name, body] of Object.entries(byName)) blocks[`${type}__${name}`] = reduce(body);
  for (const [name, body] of Object.entries(config.provider as Record<string, unknown>))
    blocks[`provider__${name}`] = reduce(body);
  for (const [name, body] of Object.entries(config.output as Record<string, unknown>))
    blocks[`output__${name}`] = reduce(body);

  const work = join(dir, 'terraform');
  mkdirSync(work);
  const prefix = (config.terraform as { backend: { gcs: { prefix: string } } }).backend.gcs.prefix;
  const reduced = {
    terraform: { backend: { local: { path: `${prefix}.tfstate` } } },
    resource: {
      terraform_data: Object.fromEntries(Object.entries(blocks).map(([key, input]) => [key, { input }])),
    },
    output: {
      all: { value: Object.fromEntries(Object.keys(blocks).map((key) => [key, `\${terraform_data.${key}.output}`])) },
    },
  };
  writeFileSync(join(work, 'main.tf.json'), JSON.stringify(reduced, null, 2));

  terraform(work, ['init', '-input=false', '-no-color']);
  terraform(work, ['apply', '-auto-approve', '-input=false', '-no-color']);
  const evaluated = JSON.parse(terraform(work, ['output', '-json', 'all'])) as Record<string, unknown>;
  const seen = strings(evaluated);

  // Every template-looking value of the spec is, to Terraform, exactly the text the spec wrote.
  for (const [field, value] of Object.entries(LITERAL_FIELDS))
    expect({ field, seen: seen.includes(value) }).toEqual({ field, seen: true });
  // Nothing was read or interpolated: no file content, no working directory, no live template left.
  const hostname = existsSync('/etc/hostname') ? readFileSync('/etc/hostname', 'utf8').trim() : undefined;
  const text = JSON.stringify(evaluated);
  if (hostname && hostname.length >= 8) expect(text).not.toContain(hostname);
  expect(text).not.toContain(work);
  // The backend setting is not a template to Terraform either: the state went to the literal path.
  expect(prefix).toBe(BACKEND_PREFIX);
  expect(existsSync(join(work, `${BACKEND_PREFIX}.tfstate`))).toBe(true);
});
