#!/usr/bin/env -S npx tsx
/** `npm run emulator -- --port <p> [--rest-port <p>] [--fail-rate 0..1] [--duplicate-rate 0..1] [--data-dir <dir>] [--stack <dir>] [--ui]`: see lib/apps/emulator/cli.ts. */
import { runMain } from '../lib/apps/emulator/cli';

// From the repository, --ui first rebuilds the dashboard's page if its sources changed.
if (process.argv.some((a) => a === '--ui' || a.startsWith('--ui-port')))
  (require('../scripts/dashboard-bundle') as typeof import('../scripts/dashboard-bundle')).buildDashboardBundle();
runMain(process.argv);
