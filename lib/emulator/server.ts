/**
 * Starts the local Cloud Tasks emulator: the v2 gRPC API on @grpc/grpc-js, backed by an EmulatorState, optionally
 * persisted to a data directory, and optionally dispatching tasks over HTTP (lib/emulator/dispatch). `bin/emulator.ts`
 * is the command-line wrapper; tests and the local runner call `startEmulator` in process.
 */
import { Server, ServerCredentials } from '@grpc/grpc-js';
import type { Clock } from './clock';
import type { Dispatcher } from './dispatch/dispatcher';
import type { DispatchEventListener } from './dispatch/events';
import type { TokenIssuer } from './dispatch/oidc';
import { cloudTasksHandlers } from './grpc-service';
import { SnapshotWriter, readSnapshot } from './persistence';
import { cloudTasksServiceDefinition } from './protos';
import { EmulatorState } from './state';

export interface EmulatorOptions {
  /** Interface to listen on. Anything but loopback exposes an unauthenticated API to the network. @default '127.0.0.1' */
  readonly host?: string;
  /** TCP port; 0 picks a free one (read it from `port` / `address`). @default 0 */
  readonly port?: number;
  /** Fraction (0..1) of CreateTask calls that fail with UNAVAILABLE before any state change. @default 0 */
  readonly failRate?: number;
  /** Directory for the JSON snapshot (queues, pending tasks, reserved names); loaded at start. @default - in memory only */
  readonly dataDir?: string;
  /** @default systemClock */
  readonly clock?: Clock;
  /** Randomness for failRate (pass a seeded generator for repeatable tests). @default Math.random */
  readonly random?: () => number;
  /** How often, at most, the snapshot is rewritten while the state changes. @default 500 */
  readonly persistIntervalMs?: number;
  /**
   * Send due tasks to their HTTP targets with Cloud Tasks' rate limits, retries and tokens. Off, the emulator only
   * stores tasks (what the seeder's tests want: nothing leaves the machine). The CLI turns it on.
   * @default false
   */
  readonly dispatch?: boolean;
  /** Port of the OIDC discovery / JWKS server when dispatching; 0 picks a free one. @default 0 */
  readonly oidcPort?: number;
  /** Dispatch timeline listeners (log lines, the event log file, the local runner), attached before the first dispatch. @default - none */
  readonly dispatchListeners?: readonly DispatchEventListener[];
}

export interface RunningEmulator {
  readonly host: string;
  readonly port: number;
  /** `host:port`, what CLOUD_TASKS_EMULATOR_HOST holds (IPv6 hosts in brackets). */
  readonly address: string;
  /** The store, for the dispatcher and tests. */
  readonly state: EmulatorState;
  /** Present when started with `dispatch: true`. */
  readonly dispatcher?: Dispatcher;
  /** The OIDC issuer (JWKS server) of dispatched tokens; present with `dispatch: true`. */
  readonly tokens?: TokenIssuer;
  /** Stops accepting calls, waits for calls in flight (at most 2 s), and writes the final snapshot. */
  stop(): Promise<void>;
}

/** How long stop() lets calls in flight finish before it closes connections. */
const SHUTDOWN_GRACE_MS = 2000;

export async function startEmulator(options: EmulatorOptions = {}): Promise<RunningEmulator> {
  const host = options.host ?? '127.0.0.1';
  const requestedPort = options.port ?? 0;
  const failRate = options.failRate ?? 0;
  if (!Number.isInteger(requestedPort) || requestedPort < 0 || requestedPort > 65535)
    throw new RangeError(
      `port ${requestedPort} is not a TCP port: use a whole number from 0 (pick a free one) to 65535`,
    );
  if (!(failRate >= 0 && failRate <= 1))
    throw new RangeError(`failRate ${failRate} is not a fraction: use a number from 0 to 1`);

  const state = new EmulatorState({ clock: options.clock });
  let writer: SnapshotWriter | undefined;
  if (options.dataDir) {
    const snapshot = await readSnapshot(options.dataDir);
    if (snapshot) state.restore(snapshot);
    writer = new SnapshotWriter(state, options.dataDir, { intervalMs: options.persistIntervalMs });
  }

  let dispatcher: Dispatcher | undefined;
  let tokens: TokenIssuer | undefined;
  if (options.dispatch) {
    // Loaded only when dispatching: jose and the HTTP client are not needed by a store-only emulator.
    const { TokenIssuer } = await import('./dispatch/oidc');
    const { Dispatcher } = await import('./dispatch/dispatcher');
    try {
      tokens = await TokenIssuer.start({ host, port: options.oidcPort ?? 0, clock: state.clock });
    } catch (err) {
      await writer?.close();
      throw new Error(
        `cannot serve the OIDC keys on ${host}:${options.oidcPort ?? 0}: ${(err as Error).message} (pick another port: --oidc-port)`,
      );
    }
    dispatcher = new Dispatcher(state, { tokens });
    for (const listener of options.dispatchListeners ?? []) dispatcher.onDispatchEvent(listener);
  }

  const server = new Server();
  server.addService(cloudTasksServiceDefinition(), cloudTasksHandlers(state, { failRate, random: options.random }));
  const bindHost = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`${bindHost}:${requestedPort}`, ServerCredentials.createInsecure(), (err, boundPort) =>
        err ? reject(err) : resolve(boundPort),
      ),
    );
  } catch (err) {
    await dispatcher?.stop();
    await tokens?.close();
    await writer?.close();
    throw new Error(`cannot listen on ${bindHost}:${requestedPort}: ${(err as Error).message}`);
  }

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, SHUTDOWN_GRACE_MS);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
      // After the API: no call can add work; attempts in flight finish and their outcome is recorded and saved.
      await dispatcher?.stop();
      await tokens?.close();
      await writer?.close();
    })();
    return stopping;
  };

  return {
    host,
    port,
    address: `${bindHost}:${port}`,
    state,
    ...(dispatcher ? { dispatcher } : {}),
    ...(tokens ? { tokens } : {}),
    stop,
  };
}
