#!/usr/bin/env -S npx tsx
/**
 * `npm run local [-- --spec <file>] [--report <file>] [--timeout 10m] ...`: see lib/apps/local/cli.ts (the package's
 * `cloud-tasks-pipelines local`). From the repository it first rebuilds the bundled seeder if its sources changed (and
 * with --ui the dashboard's page).
 */
import { runMain } from '../lib/apps/local/cli';
import { buildSeederBundle } from '../scripts/seeder-bundle';

buildSeederBundle();
if (process.argv.some((a) => a === '--ui' || a.startsWith('--ui-port')))
  (require('../scripts/dashboard-bundle') as typeof import('../scripts/dashboard-bundle')).buildDashboardBundle();
runMain(process.argv);
