/**
 * globalSetup of `npm run test:ui` (jest.ui.config.js): the bundles the browser tests use, built when stale (the
 * seeder for the local run's seeding, the dashboard's page), and Chromium present, or one line saying how to get it.
 */
import { existsSync } from 'node:fs';
import { buildDashboardBundle } from '../scripts/dashboard-bundle';
import { buildSeederBundle } from '../scripts/seeder-bundle';

/** Debian's Chromium; the browser tests never download a browser. */
export const CHROMIUM = process.env.DASHBOARD_TEST_CHROMIUM ?? '/usr/bin/chromium';

export default function browserSetup(): void {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `${CHROMIUM} is missing: the dashboard's browser tests drive Debian's Chromium. Install it with \`apt-get install -y chromium\` (.ci/run does when it is absent), or set DASHBOARD_TEST_CHROMIUM to a Chromium binary.`,
    );
  buildSeederBundle();
  buildDashboardBundle();
}
