/**
 * jest globalSetup: builds dist/seeder/seeder.cjs once before any test file runs, unless lib/seeder, lib/core and the
 * lock file are what it was built from (scripts/seeder-bundle.ts). Tests that synthesize a stack use that bundle, as
 * `npm run synth` does, so a change to the seeder is always what the tests see.
 */
import { buildSeederBundle } from '../scripts/seeder-bundle';

export default function globalSetup(): void {
  buildSeederBundle();
}
