/**
 * The GitHub workflows cannot run here (no GitHub, no Google Cloud), so these tests pin what can be checked offline:
 * they parse, every `npm run <script>` they call exists in package.json, every repository file they name exists,
 * actions are pinned to a major version, no `${{ }}` expression is spliced into a shell script (script injection),
 * and the deploy guarantees (one deploy per stack at a time, environment protection, WIF only) hold.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';

const ROOT = resolve(__dirname, '..', '..');
const DIR = join(ROOT, '.github', 'workflows');
const scripts: Record<string, string> = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts;

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  'working-directory'?: string;
}
interface Job {
  steps: Step[];
  permissions?: Record<string, string>;
  concurrency?: { group: string; 'cancel-in-progress': boolean };
  environment?: string;
  if?: string;
  needs?: string | string[];
  strategy?: { matrix: Record<string, unknown> };
}
interface Workflow {
  name: string;
  on: Record<string, unknown>;
  permissions: Record<string, string>;
  jobs: Record<string, Job>;
}

const files = readdirSync(DIR).filter((f) => f.endsWith('.yml'));
const load = (f: string): Workflow => parse(readFileSync(join(DIR, f), 'utf8'), { uniqueKeys: true }) as Workflow;
const steps = (w: Workflow): Step[] => Object.values(w.jobs).flatMap((j) => j.steps);

test('the workflows exist and parse as YAML with jobs', () => {
  expect(files.sort()).toEqual(['deploy.yml', 'pull-request.yml']);
  for (const f of files) expect(Object.keys(load(f).jobs).length).toBeGreaterThan(0);
});

test.each(files)('%s: every `npm run <script>` exists in package.json, and `npm test` has a test script', (f) => {
  const runs = steps(load(f)).map((s) => s.run ?? '');
  const called = runs.flatMap((r) => [...r.matchAll(/npm run ([\w:-]+)/g)].map((m) => m[1]!));
  expect(called.length).toBeGreaterThan(0);
  for (const name of called) expect(Object.keys(scripts)).toContain(name);
  if (runs.some((r) => /\bnpm test\b/.test(r))) expect(scripts.test).toBeDefined();
});

test.each(files)('%s: the repository files it names exist', (f) => {
  const text = readFileSync(join(DIR, f), 'utf8');
  const named = new Set<string>();
  for (const s of steps(load(f))) {
    const dep = s.with?.['cache-dependency-path'];
    if (typeof dep === 'string')
      for (const p of dep.split('\n').filter(Boolean)) named.add(p.replace(/^(head|base)\//, ''));
  }
  for (const m of text.matchAll(/\b(docs\/[\w./-]+\.md)/g)) named.add(m[1]!);
  expect(named.size).toBeGreaterThan(0);
  for (const p of named) expect(existsSync(join(ROOT, p)) ? p : `missing: ${p}`).toBe(p);
  // cdktf.json runs main.ts for `cdktf deploy`; the synth script runs it for `npm run synth`.
  expect(existsSync(join(ROOT, 'main.ts'))).toBe(true);
  expect(JSON.parse(readFileSync(join(ROOT, 'cdktf.json'), 'utf8')).app).toContain('main.ts');
});

test.each(files)('%s: actions are pinned to a major version, and no expression is spliced into a shell script', (f) => {
  for (const s of steps(load(f))) {
    if (s.uses) expect(s.uses).toMatch(/^[\w.-]+\/[\w.-]+@v\d+$/);
    if (s.run) expect(s.run).not.toContain('${{');
  }
});

test('pull-request: typecheck, test, synth of base and head, review into a sticky comment, validate, plan only with WIF', () => {
  const w = load('pull-request.yml');
  expect(Object.keys(w.on)).toEqual(['pull_request']);
  expect(w.permissions).toEqual({ contents: 'read' });
  const check = w.jobs.check!;
  const runs = check.steps.map((s) => s.run ?? '');
  expect(runs.join('\n')).toMatch(
    /npm ci[\s\S]*npm run typecheck[\s\S]*npm test[\s\S]*npm run synth[\s\S]*npm run synth[\s\S]*npm run review -- \.\.\/base\/cdktf\.out cdktf\.out/,
  );
  const checkouts = check.steps.filter((s) => s.uses?.startsWith('actions/checkout@'));
  expect(checkouts.map((s) => s.with?.path)).toEqual(['head', 'base']);
  expect(checkouts[1]!.with?.ref).toBe('${{ github.event.pull_request.base.sha }}');
  const node = check.steps.find((s) => s.uses?.startsWith('actions/setup-node@'))!;
  expect(node.with).toMatchObject({ 'node-version': 20, cache: 'npm' });
  expect(check.steps.find((s) => s.uses?.startsWith('marocchino/sticky-pull-request-comment@'))?.with).toMatchObject({
    path: 'review.md',
  });
  expect(w.jobs.validate!.steps.map((s) => s.run ?? '').join('\n')).toContain('terraform init -backend=false');
  expect(w.jobs.validate!.steps.map((s) => s.run ?? '').join('\n')).toContain('terraform validate');
  const plan = w.jobs.plan!;
  expect(plan.permissions).toMatchObject({ 'id-token': 'write' });
  expect(plan.if).toContain("vars.GCP_WORKLOAD_IDENTITY_PROVIDER != ''");
  expect(plan.steps.find((s) => s.uses?.startsWith('google-github-actions/auth@'))?.with).toMatchObject({
    workload_identity_provider: '${{ vars.GCP_WORKLOAD_IDENTITY_PROVIDER }}',
  });
  // Only the plan job can mint an identity token.
  for (const [name, job] of Object.entries(w.jobs))
    if (name !== 'plan') expect(job.permissions?.['id-token']).toBeUndefined();
});

test('deploy: on push to main, one concurrency group per stack that is never cancelled, environment protection, cdktf deploy --auto-approve', () => {
  const w = load('deploy.yml');
  expect(w.on.push).toEqual({ branches: ['main'] });
  const deploy = w.jobs.deploy!;
  expect(deploy.concurrency).toEqual({ group: 'deploy-${{ matrix.stack }}', 'cancel-in-progress': false });
  expect(deploy.environment).toBe('${{ matrix.environment }}');
  expect(deploy.permissions).toMatchObject({ 'id-token': 'write' });
  const runs = deploy.steps.map((s) => s.run ?? '').join('\n');
  expect(runs).toContain('npx cdktf deploy "$STACK" --auto-approve');
  expect(deploy.steps.some((s) => s.uses?.startsWith('hashicorp/setup-terraform@'))).toBe(true);
  expect(deploy.steps.some((s) => s.uses?.startsWith('google-github-actions/auth@'))).toBe(true);
  // The stack list comes from the review tool's JSON (stacksToDeploy, backend, environment).
  expect(w.jobs.changes!.steps.map((s) => s.run ?? '').join('\n')).toMatch(/npm run review -- .* --format json/);
});
