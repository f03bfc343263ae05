/**
 * The Firestore client for the ledger: Application Default Credentials against the routes' database, or Google's
 * Firestore emulator when FIRESTORE_EMULATOR_HOST is set (in the environment given, so tests and `npm run local` can
 * point one process at several). `@google-cloud/firestore` is loaded on first use: it costs a few hundred ms, and
 * code that only reads the routes or serves a health check never pays it.
 */
import type { Firestore, Settings } from '@google-cloud/firestore';
import { FIRESTORE_EMULATOR_HOST_ENV } from '../core/env';

export type FirestoreModule = typeof import('@google-cloud/firestore');

let firestoreModule: FirestoreModule | undefined;
/** The client library, loaded once. */
export function firestoreLibrary(): FirestoreModule {
  return (firestoreModule ??= require('@google-cloud/firestore') as FirestoreModule);
}

export interface LedgerFirestoreOptions {
  /** The project of the ledger database (routes `ledger.project`). */
  readonly project: string;
  /** `(default)` or a named database (routes `ledger.database`). */
  readonly database: string;
  /** Where FIRESTORE_EMULATOR_HOST is read. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
}

export function createLedgerFirestore(options: LedgerFirestoreOptions): Firestore {
  const env = options.env ?? process.env;
  const emulator = env[FIRESTORE_EMULATOR_HOST_ENV];
  const settings: Settings = {
    projectId: options.project,
    databaseId: options.database,
    // Known here, so google-auth-library does not probe the metadata server to learn it (as for Cloud Tasks).
    universeDomain: 'googleapis.com',
    ignoreUndefinedProperties: true,
    // Without ssl the client talks to the emulator with its `Bearer owner` token, as FIRESTORE_EMULATOR_HOST does.
    ...(emulator ? { host: emulator, ssl: false } : {}),
  };
  const { Firestore: FirestoreClient } = firestoreLibrary();
  return new FirestoreClient(settings);
}
