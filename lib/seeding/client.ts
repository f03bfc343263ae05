/**
 * Cloud Tasks clients for the seeder: Application Default Credentials against the real service, or insecure gRPC to
 * the local emulator when CLOUD_TASKS_EMULATOR_HOST is set.
 */
import { CloudTasksClient } from '@google-cloud/tasks';
// The same @grpc/grpc-js copy google-gax uses: credentials from a second copy are rejected (docs/cloud-tasks-facts).
import * as grpc from '@grpc/grpc-js';

export const EMULATOR_HOST_VARIABLE = 'CLOUD_TASKS_EMULATOR_HOST';

export type SeedTarget =
  | { readonly kind: 'cloud' }
  | { readonly kind: 'emulator'; readonly host: string; readonly port: number };

/** Where the seeder sends its calls, from the environment. Throws a message naming the variable when it is malformed. */
export function seedTargetFromEnv(env: NodeJS.ProcessEnv): SeedTarget {
  const value = env[EMULATOR_HOST_VARIABLE];
  if (value === undefined || value === '') return { kind: 'cloud' };
  // host:port, with IPv6 hosts in brackets ([::1]:8123), as for the other Google emulators' *_EMULATOR_HOST.
  const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[2]) : 0;
  if (!m || port < 1 || port > 65535)
    throw new Error(`${EMULATOR_HOST_VARIABLE}="${value}" is not host:port (e.g. 127.0.0.1:8123 or [::1]:8123)`);
  return { kind: 'emulator', host: m[1], port };
}

/** A readable name for where the calls go, for the run's first line. */
export function describeTarget(target: SeedTarget): string {
  return target.kind === 'cloud'
    ? 'Cloud Tasks (cloudtasks.googleapis.com, Application Default Credentials)'
    : `the Cloud Tasks emulator at ${target.host}:${target.port} (${EMULATOR_HOST_VARIABLE})`;
}

/**
 * `count` clients, each on its own gRPC channel and TCP connection (a local subchannel pool; by default grpc-js
 * would share one connection among channels to the same address). They share one GoogleAuth, so credentials are
 * looked up and tokens refreshed once.
 */
export function createClients(target: SeedTarget, count: number): CloudTasksClient[] {
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
