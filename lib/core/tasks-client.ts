/**
 * Cloud Tasks clients for the seeder: Application Default Credentials against the real service, or insecure gRPC to
 * the local emulator when CLOUD_TASKS_EMULATOR_HOST is set. Loaded only when tasks are created, so a dry run or an
 * invalid manifest does not pay for loading the client library.
 */
import { CloudTasksClient } from '@google-cloud/tasks';
// The same @grpc/grpc-js copy google-gax uses: credentials from a second copy are rejected (docs/cloud-tasks-facts).
import * as grpc from '@grpc/grpc-js';
// The google-gax copy @google-cloud/tasks uses (a direct dependency at the same exact version, so npm dedupes it).
import { GoogleError } from 'google-gax';
import type { SeedTarget } from './env';

/**
 * `count` clients, each on its own gRPC channel and TCP connection (a local subchannel pool; by default grpc-js
 * would share one connection among channels to the same address). They share one GoogleAuth, so credentials are
 * looked up and tokens refreshed once.
 */
export function createClients(target: SeedTarget, count: number): CloudTasksClient[] {
  decodeStatusDetailsOnlyWhenPresent();
  const base =
    target.kind === 'emulator'
      ? {
          servicePath: target.host,
          port: target.port,
          sslCreds: grpc.credentials.createInsecure(),
          // Set, so google-auth-library does not look for credentials (and probe the metadata server) to learn it.
          universeDomain: 'googleapis.com',
        }
      : {};
  const clients: CloudTasksClient[] = [];
  for (let i = 0; i < Math.max(1, count); i++) {
    const shared = clients.length > 0 ? { auth: clients[0].auth } : {};
    clients.push(new CloudTasksClient({ ...base, ...shared, 'grpc.use_local_subchannel_pool': 1 }));
  }
  return clients;
}

/**
 * Looks up Application Default Credentials once, before any call: without credentials every CreateTask would fail
 * the same way, and the client library would leave a rejected stub promise behind. Returns a message to show, or
 * undefined when credentials were found. The emulator needs none.
 */
export async function credentialsProblem(target: SeedTarget, client: CloudTasksClient): Promise<string | undefined> {
  if (target.kind !== 'cloud') return undefined;
  try {
    await client.auth.getClient();
    return undefined;
  } catch (err) {
    return (
      `no Google Cloud credentials (Application Default Credentials: ${(err as Error).message.split('\n')[0]}). ` +
      'Run `gcloud auth application-default login`, set GOOGLE_APPLICATION_CREDENTIALS, or authenticate the CI job ' +
      '(google-github-actions/auth); for the local emulator set CLOUD_TASKS_EMULATOR_HOST=host:port'
    );
  }
}

/**
 * google-gax 6 builds a protobuf Root from JSON (a new GoogleErrorDecoder) for every failed call, to decode
 * `grpc-status-details-bin`, even when the error carries none: about 0.2 ms of CPU per error. An idempotent re-run
 * fails every call with ALREADY_EXISTS, so that was most of its CPU (docs/BENCHMARKS.md). Errors without status
 * details are returned as they are, which is what the original does for them after building the decoder; errors with
 * details still go through the original. Installed once per process.
 */
export function decodeStatusDetailsOnlyWhenPresent(): void {
  type Parse = (err: { metadata?: { get(key: string): unknown[] } }) => unknown;
  const target = GoogleError as unknown as { parseGRPCStatusDetails: Parse & { fastPath?: true } };
  const original = target.parseGRPCStatusDetails;
  if (original.fastPath) return;
  const parse: Parse & { fastPath?: true } = (err) =>
    err?.metadata && err.metadata.get('grpc-status-details-bin').length > 0 ? original.call(GoogleError, err) : err;
  parse.fastPath = true;
  target.parseGRPCStatusDetails = parse;
}
