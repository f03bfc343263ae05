/**
 * ts-jest transpiles only (isolatedModules): type-checking runs once, in `npm run typecheck` (tsc --noEmit), instead
 * of once per test file. That is what keeps a test file at ~1.5 s instead of ~12 s (../shared/docs/cdktf-notes.md).
 */
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/__tests__'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { isolatedModules: true, diagnostics: false }],
    // jose is ESM-only and jest 29 loads CommonJS: transpile just that package (the emulator's OIDC tokens, the worker).
    '/node_modules/jose/.+\\.js$': ['ts-jest', { isolatedModules: true, diagnostics: false, tsconfig: { allowJs: true } }],
  },
  transformIgnorePatterns: ['/node_modules/(?!jose/)'],
  setupFilesAfterEnv: ['<rootDir>/__tests__/setup.ts'],
  snapshotFormat: { escapeString: false, printBasicPrototype: false },
  testTimeout: 30000,
};
