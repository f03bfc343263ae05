/**
 * The review tool on pairs of REAL synth outputs: the example specs synthesized into temp folders through
 * synthPipelines (what `npm run synth` runs), one change at a time, then reviewed through the CLI entry point.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { main } from '../../../lib/apps/review/cli';
import { MAX_COMMENT_CHARS, renderReviewMarkdown } from '../../../lib/apps/review/markdown';
import { reviewSynthOutputs } from '../../../lib/apps/review/review';
import { synthPipelines } from '../../../lib/apps/synth';

const ROOT = resolve(__dirname, '..', '..', '..');
const NOW = new Date('2026-11-20T00:00:00Z');
const DEV = readFileSync(join(ROOT, 'pipelines', 'recsys-dev.yaml'), 'utf8');
const PROD = readFileSync(join(ROOT, 'pipelines', 'recsys-prod.yaml'), 'utf8');

let temp: string;
let counter = 0;
beforeAll(() => {
  temp = mkdtempSync(join(tmpdir(), 'ctp-review-'));
});
afterAll(() => rmSync(temp, { recursive: true, force: true }));

/** Synthesizes the given spec files (name -> YAML text) into a fresh cdktf output folder and returns it. */
function synth(specs: Record<string, string>): string {
  const dir = join(temp, `specs-${++counter}`);
  mkdirSync(dir);
  for (const [name, text] of Object.entries(specs)) writeFileSync(join(dir, name), text);
  const outdir = join(temp, `out-${counter}`);
  // stateDir = outdir: the local backend path is then the same relative text in every output (as in CI checkouts).
  synthPipelines({ dir, outdir, stateDir: outdir, now: NOW });
  return outdir;
}

/** `DEV` with one exact piece of text replaced; fails if the example no longer has it. */
function edit(text: string, from: string, to: string): string {
  expect(text).toContain(from);
  return text.replace(from, to);
}

async function review(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t) });
  return { code, stdout, stderr };
}

let base: string;
beforeAll(() => {
  base = synth({ 'recsys-dev.yaml': DEV, 'recsys-prod.yaml': PROD });
});

test('GIVEN identical inputs THEN "No changes." and exit 0', async () => {
  const head = synth({ 'recsys-dev.yaml': DEV, 'recsys-prod.yaml': PROD });
  const r = await review(base, head);
  expect(r.code).toBe(0);
  expect(r.stdout).toContain('No changes.');
  expect(r.stdout).not.toContain('| Stack |');
  expect(r.stdout).toContain('`terraform plan`');
});

test('GIVEN a changed rate THEN the queue is updated in place with `attr: old -> new`', async () => {
  const head = synth({
    'recsys-dev.yaml': edit(
      DEV,
      'rateLimits: { maxDispatchesPerSecond: 5, maxConcurrentDispatches: 10 }',
      'rateLimits: { maxDispatchesPerSecond: 20, maxConcurrentDispatches: 10 }',
    ),
    'recsys-prod.yaml': PROD,
  });
  const { code, stdout } = await review(base, head);
  expect(code).toBe(0);
  expect(stdout).toContain('| `recsys-dev` | changed | +0 ~1 -0 | +0 ~0 -0 |');
  expect(stdout).toContain('| `recsys-prod` | no change | +0 ~0 -0 | +0 ~0 -0 |');
  expect(stdout).toMatch(
    /- update `google_cloud_tasks_queue\.queue-ingest_[0-9A-F]+`\n {2}```text\n {2}rate_limits\.max_dispatches_per_second: 5 -> 20\n {2}```/,
  );
  // The summary table comes before the details.
  expect(stdout.indexOf('| Stack |')).toBeLessThan(stdout.indexOf('<details>'));
});

test('GIVEN an added step THEN its queue and IAM are added, and the diagram highlights the new step and edge', async () => {
  const withPublish = edit(
    edit(DEV, '      dispatchDeadline: 15m\n', '      dispatchDeadline: 15m\n      next: [publish]\n'),
    '  # Created at deploy time,',
    [
      '    - name: publish',
      '      target:',
      '        url: https://publish-def456-uc.a.run.app/tasks',
      '        serviceAccount: recsys-publish@acme-ml-dev.iam.gserviceaccount.com',
      '',
      '  # Created at deploy time,',
    ].join('\n'),
  );
  const head = synth({ 'recsys-dev.yaml': withPublish, 'recsys-prod.yaml': PROD });
  const { stdout } = await review(base, head);
  expect(stdout).toMatch(/- add `google_cloud_tasks_queue\.queue-publish_[0-9A-F]+`/);
  expect(stdout).toMatch(/- add `google_cloud_tasks_queue_iam_member\.queue-publish_Enqueuer-/);
  expect(stdout).toContain('name = "recsys-dev-publish"');
  expect(stdout).toContain('```mermaid\nflowchart LR\n');
  expect(stdout).toContain('step_evaluate ==>|added| step_publish');
  expect(stdout).toMatch(/class step_publish added/);
  expect(stdout).toContain('step_user_2d_features --> step_train');
  expect(stdout).toMatch(/output\.queue_ids`\n {2}```text\n {2}value\.publish: \(none\) -> "recsys-dev-publish"/);
});

test('GIVEN a new policy suppression THEN the stack changed and the review lists it, its reason escaped', async () => {
  const head = synth({
    'recsys-dev.yaml': `${DEV}\npolicy:\n  suppress:\n    - rule: CTP004\n      reason: "warm-up | <b>retried</b> [until](https://x) it works"\n`,
    'recsys-prod.yaml': PROD,
  });
  const { stdout } = await review(base, head);
  expect(stdout).toMatch(/\| `recsys-dev` \| changed \|/);
  expect(stdout).toContain(
    '**Policy suppressions**\n\n| Rule | Scope | Change | Reason |\n|---|---|---|---|\n| `CTP004` | `recsys-dev` (spec) | added | warm\\-up \\| \\<b\\>retried\\</b\\> \\[until\\]\\(https://x\\) it works |',
  );
});

test('GIVEN a changed seed payload THEN the seed task is reported by step and id with summaries, never the payload, and the asset hash move is not noise', async () => {
  const marker = 'PAYLOAD-VALUE-MARKER-7f3a';
  const head = synth({
    'recsys-dev.yaml': edit(
      DEV,
      'payload: { dataset: gs://acme-ml-dev-raw/sample/2026-11/, shards: 4 }',
      `payload: { dataset: gs://acme-ml-dev-raw/sample/2026-11/, shards: 8, note: ${marker} }`,
    ),
    'recsys-prod.yaml': PROD,
  });
  const { stdout } = await review(base, head);
  expect(stdout).toContain('| `recsys-dev` | changed | +0 ~0 ±1 replaced -0 | +0 ~1 -0 |');
  expect(stdout).toMatch(
    /\| `ingest` \| `sample-2026-11` \| changed \| `\d+ bytes, object \{dataset, shards, note\}, sha256 [0-9a-f]{12}` \|/,
  );
  expect(stdout).toMatch(
    /payload: \d+ bytes, object \{dataset, shards\}, sha256 [0-9a-f]{12} -> \d+ bytes, object \{dataset, shards, note\}, sha256 [0-9a-f]{12}/,
  );
  expect(stdout).toContain('`ingest/sample-2026-11`: the task id is unchanged');
  // The seeding resource is replaced because the manifest hash changed (the seeder runs again) ...
  expect(stdout).toMatch(
    /- replace \(forced by `triggers_replace\.manifest_sha256`\) `terraform_data\.seed-tasks_[0-9A-F]+`/,
  );
  // ... but the moved asset folder is not a change of its own.
  expect(stdout).not.toMatch(/provisioner/);
  expect(stdout).not.toContain(marker);
  expect(stdout).not.toContain('gs://acme-ml-dev-raw');
});

test('GIVEN a removed stack THEN it is reported as removed, with a warning that deploy does not destroy it', async () => {
  const head = synth({ 'recsys-dev.yaml': DEV });
  const { stdout } = await review(base, head);
  expect(stdout).toContain('| `recsys-prod` | removed |');
  expect(stdout).toContain('`recsys-prod` is no longer synthesized');
  expect(stdout).toContain('npx cdktf destroy recsys-prod');
  expect(stdout).toMatch(/\*\*Resources left in place\*\*\n\n(- `[^`]+`\n)*- `google_cloud_tasks_queue\.queue-train_/);
  expect(stdout).not.toMatch(/ingest-2026-11/);
  expect(stdout).toMatch(
    /class step_ingest,step_user_2d_features,step_item_2d_features,step_train,step_evaluate removed/,
  );
});

test('GIVEN an added stack (first pull request) with --allow-missing-base THEN everything is added; JSON lists the stacks to deploy', async () => {
  const r = await review(join(temp, 'no-such-base'), base, '--allow-missing-base', '--format', 'json');
  expect(r.code).toBe(0);
  const json = JSON.parse(r.stdout);
  expect(json.stacksToDeploy).toEqual(['recsys-dev', 'recsys-prod']);
  expect(json.stacks[0]).toMatchObject({
    name: 'recsys-dev',
    status: 'added',
    environment: 'dev',
    backend: 'local',
    seedTasks: { add: 3, change: 0, remove: 0 },
  });
  expect(json.stacks[1]).toMatchObject({ name: 'recsys-prod', environment: 'prod', backend: 'gcs' });
});

test('--output writes the file and says so on stderr', async () => {
  const out = join(temp, 'review.md');
  const r = await review(base, base, '--output', out);
  expect(r.code).toBe(0);
  expect(readFileSync(out, 'utf8')).toContain('No changes.');
  expect(r.stderr).toBe(`review: wrote ${out} (no changes)\n`);
});

describe('bad inputs exit 2 with a message that says what to do', () => {
  test('missing directory', async () => {
    const r = await review(join(temp, 'missing'), base);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `review: ${join(temp, 'missing')}: no such directory; pass the cdktf output directory (run \`npm run synth\` first)\n`,
    );
  });
  test('a directory that is not a cdktf output', async () => {
    const dir = join(temp, 'not-cdktf');
    mkdirSync(dir);
    const r = await review(base, dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${dir}: not a cdktf output directory (no manifest.json)`);
  });
  test('an unreadable manifest', async () => {
    const dir = join(temp, 'broken');
    mkdirSync(dir);
    writeFileSync(join(dir, 'manifest.json'), '{ "stacks": ');
    const r = await review(base, dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/manifest\.json: unreadable cdktf manifest \(.+\); synthesize again/);
  });
  test('a missing argument', async () => {
    const r = await review(base);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("missing required argument 'head'");
  });
});

test('GIVEN a suppressed secret header that changes THEN the review shows the change as (redacted), never the value', async () => {
  const withKey = (key: string): string =>
    edit(
      edit(DEV, 'headers: { X-Pipeline: recsys }', `headers: { X-Pipeline: recsys, X-Api-Key: ${key} }`),
      'pipeline:\n  name: recsys',
      'policy:\n  suppress: [{ rule: CTP002, reason: "demo key of a public sandbox, rotated daily" }]\n\npipeline:\n  name: recsys',
    );
  const b = synth({ 'recsys-dev.yaml': withKey('OLD-KEY-MARKER-11111') });
  const h = synth({ 'recsys-dev.yaml': withKey('NEW-KEY-MARKER-22222') });
  const { stdout } = await review(b, h);
  expect(stdout).toContain('http_target.header_overrides[X-Api-Key].header.value: (redacted) -> (redacted)');
  expect(stdout).not.toMatch(/KEY-MARKER/);
});

test('GIVEN a review too long for a PR comment THEN added resources lose their attribute listings, then the text is cut', () => {
  const many = (n: number) =>
    ({
      dir: 'x',
      stacks: {
        big: {
          name: 'big',
          assets: {},
          config: {
            resource: {
              google_cloud_tasks_queue: Object.fromEntries(
                Array.from({ length: n }, (_, i) => [
                  `q${i}`,
                  { name: `queue-${i}`, location: 'us-central1', description: 'x'.repeat(70) },
                ]),
              ),
            },
          },
        },
      },
    }) as const;
  const empty = { dir: 'y', stacks: {} };
  const medium = renderReviewMarkdown(reviewSynthOutputs(empty, many(300)));
  expect(medium.length).toBeLessThanOrEqual(MAX_COMMENT_CHARS);
  expect(medium).toContain('attribute listings of added resources are left out');
  expect(medium).toContain('- add `google_cloud_tasks_queue.q299`');
  const huge = renderReviewMarkdown(reviewSynthOutputs(empty, many(3000)));
  expect(huge.length).toBeLessThanOrEqual(MAX_COMMENT_CHARS);
  expect(huge).toContain('The review was cut at 60,000 characters.');
});
