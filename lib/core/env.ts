/**
 * The environment variables that point clients at local emulators instead of Google Cloud: one definition for the
 * seeder, the worker SDK, the CLIs and `npm run local`, which all read or print them.
 */

/** `host:port` of the Cloud Tasks emulator's gRPC API (as the other Google emulators' `*_EMULATOR_HOST`). */
export const EMULATOR_HOST_ENV = 'CLOUD_TASKS_EMULATOR_HOST';
/** The emulator's OIDC issuer URL, for workers that verify dispatched tokens (worker SDK verifyTaskRequest). */
export const EMULATOR_ISSUER_ENV = 'CLOUD_TASKS_EMULATOR_OIDC_ISSUER';
/**
 * `http://host:port/` of the Cloud Tasks emulator's REST API: what gcloud's `api_endpoint_overrides/cloudtasks` and
 * REST clients (google-gax `fallback: 'rest'`, curl) point at.
 */
export const EMULATOR_REST_URL_ENV = 'CLOUD_TASKS_EMULATOR_REST_URL';

/**
 * `host:port` of Google's Firestore emulator (the run ledger): the variable Google's client libraries read, so the
 * worker SDK, the ledger readers and `npm run local` switch to the emulator the same way.
 */
export const FIRESTORE_EMULATOR_HOST_ENV = 'FIRESTORE_EMULATOR_HOST';
/** The emulator's gRPC port when none is chosen (`npm run emulator`, `npm run tasks`). */
export const DEFAULT_EMULATOR_PORT = 8123;

export type SeedTarget =
  { readonly kind: 'cloud' } | { readonly kind: 'emulator'; readonly host: string; readonly port: number };

/** Where the seeder sends its calls, from the environment. Throws a message naming the variable when it is malformed. */
export function seedTargetFromEnv(env: NodeJS.ProcessEnv): SeedTarget {
  const value = env[EMULATOR_HOST_ENV];
  if (value === undefined || value === '') return { kind: 'cloud' };
  // host:port, with IPv6 hosts in brackets ([::1]:8123), as for the other Google emulators' *_EMULATOR_HOST.
  const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[2]) : 0;
  if (!m || port < 1 || port > 65535)
    throw new Error(`${EMULATOR_HOST_ENV}="${value}" is not host:port (e.g. 127.0.0.1:8123 or [::1]:8123)`);
  return { kind: 'emulator', host: m[1], port };
}

/** A readable name for where the calls go, for the run's first line. */
export function describeTarget(target: SeedTarget): string {
  return target.kind === 'cloud'
    ? 'Cloud Tasks (cloudtasks.googleapis.com, Application Default Credentials)'
    : `the Cloud Tasks emulator at ${target.host}:${target.port} (${EMULATOR_HOST_ENV})`;
}
