/**
 * The dashboard's page: one static HTML document the server writes (no user data in it), and the front-end bundle
 * (`dashboard.js`, `dashboard.css`) that scripts/dashboard-bundle.ts builds with esbuild from lib/apps/dashboard/ui
 * into `dist/dashboard/` (shipped in the package, built at `npm run build`; in a clone `npm run local -- --ui` and
 * `npm run emulator -- --ui` rebuild it when its sources changed). Nothing is fetched at run time: it works offline.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../core/package';

export const DASHBOARD_SCRIPT = 'dashboard.js';
export const DASHBOARD_STYLES = 'dashboard.css';
export const DASHBOARD_RECORD = 'dashboard.json';

/** `dashboard.json`: what the bundle is and what it was built from. */
export interface DashboardBundleRecord {
  /** sha256 (hex) of the script and of the styles, in that order: cache-busting query of the page's two URLs. */
  readonly sha256: { readonly script: string; readonly styles: string };
  readonly bytes: { readonly script: number; readonly styles: number };
  /** Hash of the sources, the lock file and the recipe (scripts/dashboard-bundle.ts). */
  readonly inputHash: string;
}

/** `<package>/dist/dashboard`. */
export function dashboardBundleDir(root: string = packageRoot()): string {
  return join(root, 'dist', 'dashboard');
}

export function readDashboardRecord(dir: string): DashboardBundleRecord | undefined {
  try {
    const r = JSON.parse(readFileSync(join(dir, DASHBOARD_RECORD), 'utf8')) as Partial<DashboardBundleRecord>;
    return typeof r.inputHash === 'string' && r.sha256 && r.bytes ? (r as DashboardBundleRecord) : undefined;
  } catch {
    return undefined;
  }
}

export interface DashboardAssets {
  readonly index: string;
  /** Served under /assets/<name>. */
  readonly files: ReadonlyMap<string, { readonly type: string; readonly body: Buffer }>;
}

/**
 * The page and its two files, read once. Without a bundle the page says how to build one (the API works anyway).
 */
export function loadDashboardAssets(dir: string = dashboardBundleDir()): DashboardAssets {
  const record = readDashboardRecord(dir);
  const files = new Map<string, { type: string; body: Buffer }>();
  if (record) {
    try {
      files.set(DASHBOARD_SCRIPT, {
        type: 'text/javascript; charset=utf-8',
        body: readFileSync(join(dir, DASHBOARD_SCRIPT)),
      });
      files.set(DASHBOARD_STYLES, { type: 'text/css; charset=utf-8', body: readFileSync(join(dir, DASHBOARD_STYLES)) });
    } catch {
      files.clear();
    }
  }
  return { index: files.size === 2 ? indexHtml(record!) : missingBundleHtml(dir), files };
}

const HEAD = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Pipeline dashboard</title>
<link rel="icon" href="data:,">`;

function indexHtml(record: DashboardBundleRecord): string {
  return `${HEAD}
<link rel="stylesheet" href="/assets/${DASHBOARD_STYLES}?v=${record.sha256.styles.slice(0, 12)}">
</head>
<body>
<div id="app"><p class="loading">Loading the dashboard…</p></div>
<noscript>The dashboard needs JavaScript. Its data is also in the JSON API under /api/ (docs/dashboard.md).</noscript>
<script src="/assets/${DASHBOARD_SCRIPT}?v=${record.sha256.script.slice(0, 12)}"></script>
</body>
</html>
`;
}

function missingBundleHtml(dir: string): string {
  const escaped = dir.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return `${HEAD}
</head>
<body>
<h1>The dashboard's page is not built</h1>
<p>No bundle in <code>${escaped}</code>. In a clone of cloud-tasks-pipelines run <code>npm run build:dashboard</code>;
an installed package ships it, so reinstall the package. The JSON API under <code>/api/</code> works without it.</p>
</body>
</html>
`;
}
