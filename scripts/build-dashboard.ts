/** `npm run build:dashboard [-- --force]`: the dashboard's page bundle in dist/dashboard (scripts/dashboard-bundle.ts). */
import { buildDashboardBundle } from './dashboard-bundle';

try {
  const started = Date.now();
  const b = buildDashboardBundle({ force: process.argv.includes('--force') });
  process.stdout.write(
    `dashboard: ${b.dir}/dashboard.js ${b.built ? 'bundled' : 'up to date'} (${(b.bytes.script / 1024).toFixed(1)} KiB script, ${(b.bytes.styles / 1024).toFixed(1)} KiB styles); ${Date.now() - started} ms\n`,
  );
} catch (err) {
  process.stderr.write(`build:dashboard failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
}
