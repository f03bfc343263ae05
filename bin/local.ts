#!/usr/bin/env -S npx tsx
/**
 * `npm run local [-- --spec <file>] [--report <file>] [--timeout 10m] ...`: see lib/apps/local/cli.ts (the package's
 * `cloud-tasks-pipelines local`). From the repository it first rebuilds the bundled seeder if its sources changed.
 */
import { runMain } from '../lib/apps/local/cli';
import { buildSeederBundle } from '../scripts/seeder-bundle';

buildSeederBundle();
runMain(process.argv);
