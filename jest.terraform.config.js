/**
 * `npm run test:terraform`: tests that run terraform itself (1.4 or later; `terraform_data` is built in, so nothing is
 * downloaded). Kept out of `npm test`, which must pass on a machine without terraform; .ci/run runs this as its own
 * step with terraform on PATH. Files are named `*.terraform-test.ts`, which the main config does not match.
 */
const base = require('./jest.config');

/** @type {import('jest').Config} */
module.exports = {
  ...base,
  testMatch: ['**/*.terraform-test.ts'],
  testTimeout: 120000,
};
