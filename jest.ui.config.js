/**
 * `npm run test:ui`: the dashboard's end-to-end tests in a real browser (playwright-core driving Debian's Chromium,
 * /usr/bin/chromium). Kept out of `npm test` so that it stays true on a machine without Chromium; `.ci/run` installs
 * Chromium when absent and runs this after `npm test`. Same transform as jest.config.js; files `*.browser.ts`.
 */
// eslint-disable-next-line @typescript-eslint/no-unused-vars
const { globalSetup, globalTeardown, testSequencer, ...base } = require('./jest.config.js');

/** @type {import('jest').Config} */
module.exports = {
  ...base,
  testMatch: ['**/*.browser.ts'],
  globalSetup: '<rootDir>/__tests__/browser-setup.ts',
  testTimeout: 120000,
};
