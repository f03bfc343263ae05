/**
 * The layer rules (.dependency-cruiser.cjs, docs/decisions/layers.md) hold for the code, and they bite: a fixture tree
 * that breaks each kind of rule is reported, rule by rule. Runs the same command as `npm run check:layers`.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..');
const DEPCRUISE = join(ROOT, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');
const CONFIG = join(ROOT, '.dependency-cruiser.cjs');

function run(cwd: string, args: string[]) {
  return spawnSync(process.execPath, [DEPCRUISE, ...args, '--config', CONFIG], {
    cwd,
    encoding: 'utf8',
    timeout: 60_000,
    maxBuffer: 64 * 1024 * 1024,
  });
}

/** The violations in the report as `<rule>: <from> -> <to>`, sorted (a cycle is reported once, at its first step). */
function violations(report: string): string[] {
  return [...report.matchAll(/error (\S+): (\S+) →\s+(\S+)/g)]
    .map(([, rule, from, to]) => `${rule}: ${from} -> ${to.replace(/^.*node_modules\//, 'node_modules/')}`)
    .sort();
}

test('GIVEN the code WHEN `npm run check:layers` runs THEN it passes: no violation, no cycle', () => {
  const r = run(ROOT, ['lib', 'bin', 'main.ts']);
  // The check saw the tree (TypeScript resolved), not an empty set.
  expect(`${r.stdout}${r.stderr}`).toMatch(/no dependency violations found \(\d{3,} modules/);
  expect(r.status).toBe(0);
});

describe('GIVEN a tree that breaks the rules', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ctp-layers-'));
    // The real packages, so `cdktf` resolves to node_modules/cdktf as it does in the repository.
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
    const files: Record<string, string> = {
      'lib/spec/types.ts': 'export interface Spec { readonly name: string }\n',
      // core reaching up into spec.
      'lib/core/naming.ts': "import type { Spec } from '../spec/types';\nexport const nameOf = (s: Spec) => s.name;\n",
      // cdktf outside lib/cdktf.
      'lib/constructs/queue.ts': "import { TerraformStack } from 'cdktf';\nexport const Stack = TerraformStack;\n",
      // a runtime importing a sibling runtime, and a cycle.
      'lib/worker/a.ts':
        "import { b } from './b';\nimport { serve } from '../emulator/server';\nexport const a = () => [b, serve];\n",
      'lib/worker/b.ts': "import { a } from './a';\nexport const b = () => a;\n",
      'lib/emulator/server.ts': 'export const serve = 1;\n',
      // a library layer importing an application.
      'lib/apps/synth.ts': 'export const synth = 1;\n',
      'lib/policy/pack.ts': "import { synth } from '../apps/synth';\nexport const pack = synth;\n",
    };
    for (const [file, text] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, file)), { recursive: true });
      writeFileSync(join(dir, file), text);
    }
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('THEN the check fails, naming each violation and its rule', () => {
    const r = run(dir, ['lib']);
    expect(r.status).not.toBe(0);
    expect(violations(`${r.stdout}${r.stderr}`)).toEqual([
      'cdktf-only-through-lib-cdktf: lib/constructs/queue.ts -> node_modules/cdktf/lib/index.js',
      'core-imports-only-core: lib/core/naming.ts -> lib/spec/types.ts',
      'no-circular: lib/worker/a.ts -> lib/worker/b.ts',
      'nothing-below-imports-apps: lib/policy/pack.ts -> lib/apps/synth.ts',
      'policy-imports-spec-core-cdktf: lib/policy/pack.ts -> lib/apps/synth.ts',
      'worker-imports-ledger-core: lib/worker/a.ts -> lib/emulator/server.ts',
      'worker-stays-apart: lib/worker/a.ts -> lib/emulator/server.ts',
    ]);
  });
});
