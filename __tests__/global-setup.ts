/**
 * jest globalSetup, two jobs before any test file runs:
 * - builds dist/seeder/seeder.cjs unless lib/seeder, lib/core and the lock file are what it was built from
 *   (scripts/seeder-bundle.ts): tests that synthesize a stack use that bundle, as `npm run synth` does, so a change
 *   to the seeder is always what the tests see;
 * - starts one Firestore emulator for the whole suite (the run ledger's tests), started without waiting: the JVM boots while
 * the other suites run, and the ledger suites await readiness themselves (__tests__/ledger/helpers.ts). It is not
 * started when FIRESTORE_EMULATOR_HOST names one already, nor when the run's test path pattern selects no suite that
 * needs it (`npx jest __tests__/emulator` stays JVM-free: a suite needs it when it calls the ledger helpers'
 * testFirestore or startHarness). Each suite isolates its data with its own project id.
 */
import path from 'node:path';
import { FIRESTORE_EMULATOR_HOST_ENV } from '../lib/core/env';
import { ensureFirestoreEmulator, type RunningFirestoreEmulator } from '../lib/ledger/firestore-emulator';
import { buildSeederBundle } from '../scripts/seeder-bundle';

// The same test as the sequencer's (plain JavaScript: jest loads the sequencer untransformed).
const { firestoreSuites } = require('./sequencer') as { firestoreSuites(dir: string): string[] };

/** Why the emulator could not start, for the suites that need it (one line). */
export const FIRESTORE_ERROR_ENV = 'LEDGER_TEST_FIRESTORE_ERROR';

declare global {
  var __ledgerFirestoreEmulator: RunningFirestoreEmulator | undefined;
}

/** The part of Jest's GlobalConfig used here. */
interface JestGlobalConfig {
  readonly rootDir: string;
  readonly testPathPattern?: string;
}

export default async function globalSetup(config: JestGlobalConfig): Promise<void> {
  buildSeederBundle();
  if (process.env[FIRESTORE_EMULATOR_HOST_ENV] || !selectsFirestoreSuites(config)) return;
  try {
    const emulator = await ensureFirestoreEmulator();
    globalThis.__ledgerFirestoreEmulator = emulator;
    // Test workers start after this and inherit the variable.
    process.env[FIRESTORE_EMULATOR_HOST_ENV] = emulator.host;
  } catch (err) {
    process.env[FIRESTORE_ERROR_ENV] = (err as Error).message;
  }
}

function selectsFirestoreSuites(config: JestGlobalConfig): boolean {
  const suites = firestoreSuites(path.join(config.rootDir, '__tests__'));
  const pattern = config.testPathPattern;
  if (!pattern) return suites.length > 0;
  let re: RegExp;
  try {
    re = new RegExp(pattern, 'i');
  } catch {
    return true;
  }
  return suites.some((file) => re.test(file));
}
