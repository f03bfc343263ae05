/**
 * The dashboard in a real browser (`npm run test:ui`): a local run with `ui` in process, as `npm run local -- --ui`
 * starts it, and Debian's Chromium driven by playwright-core. As a user would: see the steps of the DAG, watch a run
 * reach `succeeded` without reloading, open its timeline, pause a queue from the page and see the emulator (its
 * gRPC API) report it paused, reach a step by keyboard, find no HTML made of a hostile payload key, and use it in a
 * narrow window. The run page's screenshot goes to docs/dashboard-run.png (the README shows it).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { DashboardInfo } from '../../../lib/apps/dashboard/api-types';
import { runLocal, type LocalRunResult } from '../../../lib/apps/local/run';
import { EMULATOR_HOST_ENV } from '../../../lib/core/env';
import { createTasksClient } from '../../../lib/worker/index';
import { CHROMIUM } from '../../browser-setup';

process.env.METADATA_SERVER_DETECTION ??= 'none';

const ROOT = path.resolve(__dirname, '../../..');

/** What the page.evaluate callbacks read in the browser (this test is type-checked without the DOM types). */
interface Browser {
  readonly document: {
    readonly activeElement: { getAttribute(name: string): string | null } | null;
    readonly documentElement: { readonly scrollWidth: number };
    querySelector(selector: string): { readonly textContent: string | null } | null;
  };
  readonly innerWidth: number;
  marker?: number;
}
const HOSTILE_KEY = '<img src=x onerror=alert(1)>';
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

let dir: string;
let context: BrowserContext;
let page: Page;
let url: string;
const dialogs: string[] = [];
const pageErrors: string[] = [];
const interrupt = new AbortController();
let run: Promise<LocalRunResult>;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'dashboard-browser-'));
  const spec = path.join(dir, 'recsys.yaml');
  writeFileSync(
    spec,
    `project: acme-ml-dev
region: us-central1
environment: ui
pipeline:
  name: recsys
  steps:
    - name: preprocess
      target: { url: https://preprocess.example.com/tasks }
      next: [train]
    - name: train
      target: { url: https://train.example.com/tasks }
      next: [infer]
    - name: infer
      target: { url: https://infer.example.com/tasks }
  seedTasks:
    - step: preprocess
      id: nightly-1
      payload: { dataset: gs://acme/raw/, "${HOSTILE_KEY}": "<script>alert(2)</script>" }
`,
  );
  let resolveUrl: (u: string) => void;
  const started = new Promise<string>((r) => (resolveUrl = r));
  run = runLocal({
    specPath: spec,
    workDir: dir,
    // Slow enough steps that the run is seen running before it succeeds.
    workMs: 400,
    timeoutMs: 60_000,
    ui: { port: 0 },
    signal: interrupt.signal,
    log: (line) => {
      const m = /^Dashboard: (http:\/\/127\.0\.0\.1:\d+\/)$/.exec(line);
      if (m) resolveUrl(m[1]);
    },
  });
  url = await Promise.race([started, run.then(() => Promise.reject(new Error('the run ended before its dashboard')))]);
  context = await chromium.launchPersistentContext(path.join(dir, 'chromium-profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    viewport: { width: 1280, height: 800 },
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  page.on('pageerror', (e) => pageErrors.push(e.message));
});

afterAll(async () => {
  await context?.close();
  interrupt.abort();
  await run?.catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

test('the pipeline page shows the steps of the DAG, each with its kind and what starts it', async () => {
  await page.goto(url);
  const nodes = page.locator('svg.dag a.node');
  await nodes.first().waitFor();
  expect(await nodes.evaluateAll((els) => els.map((e) => e.getAttribute('data-step')))).toEqual([
    'preprocess',
    'train',
    'infer',
  ]);
  await expect(page.locator('svg.dag a.node[data-step="preprocess"]').textContent()).resolves.toContain(
    'started by 1 seed',
  );
  expect(await page.locator('svg.dag path.edge').count()).toBe(2);
});

test('a run started from the page is watched to succeeded as it happens (no reload), then its timeline', async () => {
  await page.goto(url);
  await page.locator('.start-run select').selectOption('preprocess');
  await page.locator('.start-run textarea').fill('{ "dataset": "gs://acme-ml-dev-raw/2030-01-01/", "shards": 4 }');
  await page.getByRole('button', { name: 'Start run' }).click();
  const link = page.locator('.start-run a');
  const runId = (await link.textContent())!;
  await link.click();
  // A reload would drop this marker: the updates must arrive by themselves (server-sent events).
  await page.evaluate(() => ((globalThis as unknown as Browser).marker = 1));
  const status = page.locator('dl.facts .badge').first();
  await status.waitFor();
  const seen: string[] = [];
  const until = Date.now() + 60_000;
  while (seen.at(-1) !== 'succeeded' && Date.now() < until) {
    const text = (await status.textContent()) ?? '';
    if (seen.at(-1) !== text) seen.push(text);
    await page.waitForTimeout(40);
  }
  expect(seen).toEqual(['running', 'succeeded']);
  expect(await page.evaluate(() => (globalThis as unknown as Browser).marker)).toBe(1);
  // The example worker splits the payload's 4 shards: one preprocess task, then 4 train and 4 infer tasks.
  await page.locator('svg.timeline .timeline-row').nth(8).waitFor();
  expect(await page.locator('svg.timeline .timeline-row').count()).toBe(9);
  const outcomes = await page
    .locator('tr[data-outcome]')
    .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-outcome')));
  expect(outcomes).toEqual(Array(9).fill('succeeded')); // one row per task
  expect(await page.locator('tr[data-step] .badge').allTextContents()).toEqual(['complete', 'complete', 'complete']);
  await page.screenshot({ path: path.join(ROOT, 'docs', 'dashboard-run.png'), fullPage: true });

  await page.getByRole('link', { name: 'Runs' }).click();
  const row = page.locator(`tr[data-run="${runId}"]`);
  await row.waitFor();
  expect(await row.locator('td').allTextContents()).toEqual(
    expect.arrayContaining(['manual (dashboard)', 'succeeded', 'infer']),
  );
});

test('a hostile payload key is shown as text: no element, no script, no dialog', async () => {
  await page.goto(`${url}#/runs/nightly-1`);
  const input = page.locator('pre.body');
  await input.waitFor();
  expect(await input.textContent()).toContain(`"${HOSTILE_KEY}": "<script>alert(2)</script>"`);
  expect(await page.locator('img').count()).toBe(0);
  expect(await page.locator('main script').count()).toBe(0);
  expect(dialogs).toEqual([]);
  expect(pageErrors).toEqual([]);
});

test('pausing a queue from the page: the emulator reports it paused', async () => {
  await page.goto(`${url}#/queues`);
  const row = page.locator('tr[data-queue="recsys-ui-train"]');
  await row.getByRole('button', { name: 'Pause' }).click();
  await row.getByRole('button', { name: 'Resume' }).waitFor();
  expect(await row.locator('.badge').textContent()).toBe('PAUSED');
  const info = (await (await fetch(`${url}api/info`)).json()) as DashboardInfo;
  const client = createTasksClient({ [EMULATOR_HOST_ENV]: info.emulator });
  try {
    const [queue] = await client.getQueue({
      name: 'projects/acme-ml-dev/locations/us-central1/queues/recsys-ui-train',
    });
    expect(queue.state).toBe('PAUSED');
  } finally {
    await client.close();
  }
});

test('keyboard: Tab reaches a step of the DAG and Enter opens its queue', async () => {
  await page.goto(url);
  await page.locator('svg.dag a.node').first().waitFor();
  let focused: string | null = null;
  for (let i = 0; i < 20 && focused === null; i++) {
    await page.keyboard.press('Tab');
    focused = await page.evaluate(
      () => (globalThis as unknown as Browser).document.activeElement?.getAttribute('data-step') ?? null,
    );
  }
  expect(focused).toBe('preprocess');
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Queue recsys-ui-preprocess' }).waitFor();
});

test('a narrow window: nothing wider than the window, the pages still reachable', async () => {
  await page.setViewportSize({ width: 390, height: 800 });
  for (const hash of ['#/', '#/runs/nightly-1', '#/queues']) {
    await page.goto(`${url}${hash}`);
    await page.locator('main .panel').first().waitFor();
    const [scroll, width] = await page.evaluate(() => {
      const w = globalThis as unknown as Browser;
      return [w.document.documentElement.scrollWidth, w.innerWidth];
    });
    expect({ hash, scroll }).toEqual({ hash, scroll: width });
  }
  await page.getByRole('link', { name: 'Runs' }).click();
  await page.locator('tr[data-run="nightly-1"]').waitFor();
  await page.setViewportSize({ width: 1280, height: 800 });
});
