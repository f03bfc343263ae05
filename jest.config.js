/**
 * ts-jest transpiles only (tsconfig.json sets isolatedModules, which ts-jest 29.2+ reads as transpile-only): type-checking runs once, in `npm run typecheck` (tsc --noEmit), instead
 * of once per test file. That is what keeps a test file at ~1.5 s instead of ~12 s (../shared/docs/cdktf-notes.md).
 */
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/__tests__'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { diagnostics: false }],
    // jose is ESM-only and jest 29 loads CommonJS: transpile just that package (the emulator's OIDC tokens, the worker).
    '/node_modules/jose/.+\\.js$': [
      'ts-jest',
      { diagnostics: false, tsconfig: { allowJs: true, isolatedModules: true } },
    ],
  },
  // The package's own name, as examples/ import it, is its sources (tsconfig.json "paths" does the same for tsc and tsx).
  moduleNameMapper: {
    '^cloud-tasks-pipelines$': '<rootDir>/lib/index.ts',
    '^cloud-tasks-pipelines/(worker|emulator)$': '<rootDir>/lib/$1/index.ts',
  },
  transformIgnorePatterns: ['/node_modules/(?!jose/)'],
  setupFilesAfterEnv: ['<rootDir>/__tests__/setup.ts'],
  // Builds the seeder bundle when stale, and starts Google's Firestore emulator for the run-ledger suites (without
  // blocking); stopped at the end.
  globalSetup: '<rootDir>/__tests__/global-setup.ts',
  globalTeardown: '<rootDir>/__tests__/global-teardown.ts',
  // ...and the suites that use it run last, while the JVM boots during the others.
  testSequencer: '<rootDir>/__tests__/sequencer.js',
  snapshotFormat: { escapeString: false, printBasicPrototype: false },
  testTimeout: 30000,
  // One test file per core. jest's default keeps a core for itself (cores - 1), which on a 2-core machine ran the
  // files one at a time: 163 s wall for 160 s of summed file time, most suites waiting on child processes, sockets
  // and the Firestore emulator rather than computing. Two workers: 124 s (`time npx jest`, docs/BENCHMARKS.md).
  maxWorkers: '100%',
};
