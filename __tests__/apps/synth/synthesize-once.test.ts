/**
 * synthesizeOnce (lib/constructs/synthesize-once.ts) lets the policy pack and cdktf's synthesizer share each stack's
 * resolved Terraform JSON. What it writes must be byte for byte what an ordinary policy check and `app.synth()` of the
 * same stacks write: for the example specs and for a spec with a Terraform template in every string field (the
 * literal-strings escaping is applied before the JSON is kept).
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { App } from '../../../lib/cdktf/core';
import { stackNameFor } from '../../../lib/core/naming';
import { PipelineStack } from '../../../lib/constructs/pipeline-stack';
import { synthesizeOnce } from '../../../lib/constructs/synthesize-once';
import { assertPolicy } from '../../../lib/policy/report';
import { loadSpecs } from '../../../lib/spec/load';
import { fakeSeeder } from '../../constructs/fixtures';
import { templateSpec } from '../../fixtures/template-spec';

const NOW = new Date('2026-11-01T00:00:00Z');
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ctp-synth-once-'));
  writeFileSync(join(dir, 'recsys-dev.json'), JSON.stringify(templateSpec()));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Synthesizes `specs` into `outdir` (through synthesizeOnce or not); returns each stack's cdk.tf.json text. */
function synth(specs: ReturnType<typeof loadSpecs>, outdir: string, once: boolean): Record<string, string> {
  const app = new App({ outdir, stackTraces: false });
  const stacks = specs.map(
    ({ file, spec }) =>
      new PipelineStack(app, stackNameFor(spec), { spec, source: file, now: NOW, seeder: fakeSeeder() }),
  );
  const run = (): void => {
    assertPolicy(app, () => undefined);
    app.synth();
  };
  if (once) synthesizeOnce(stacks, run);
  else run();
  const out: Record<string, string> = {};
  for (const name of readdirSync(join(outdir, 'stacks')))
    out[name] = readFileSync(join(outdir, 'stacks', name, 'cdk.tf.json'), 'utf8');
  return out;
}

test.each([
  ['the example specs', () => loadSpecs({ dir: resolve(__dirname, '..', '..', '..', 'pipelines'), now: NOW })],
  [
    'a spec with a template in every string field',
    () => loadSpecs({ specPath: join(dir, 'recsys-dev.json'), now: NOW }),
  ],
])('GIVEN %s WHEN synthesized once THEN cdk.tf.json is what an ordinary synth writes', (_what, load) => {
  const once = synth(load(), join(dir, `once-${_what.length}`), true);
  const ordinary = synth(load(), join(dir, `ordinary-${_what.length}`), false);
  expect(Object.keys(once).length).toBeGreaterThan(0);
  expect(once).toEqual(ordinary);
});

test('GIVEN a stack inside synthesizeOnce THEN its JSON is resolved once, and afresh after it', () => {
  const [{ file, spec }] = loadSpecs({ dir: resolve(__dirname, '..', '..', '..', 'pipelines'), now: NOW });
  const app = new App({ outdir: join(dir, 'count'), stackTraces: false });
  const stack = new PipelineStack(app, 'count', { spec, source: file, now: NOW, seeder: fakeSeeder() });
  const [first, second] = synthesizeOnce([stack], () => [stack.toTerraform(), stack.toTerraform()]);
  expect(second).toBe(first);
  expect(stack.toTerraform()).not.toBe(first);
  expect(stack.toTerraform()).toEqual(first);
});
