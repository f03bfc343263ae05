/**
 * Starts the local Cloud Tasks emulator: the v2 API over gRPC (@grpc/grpc-js) and REST (node:http) on one
 * EmulatorState, optionally durable in a data directory (SQLite, acknowledged means on disk), and optionally
 * dispatching tasks over HTTP (lib/emulator/dispatch). `bin/emulator.ts` is the command-line wrapper; tests, the local
 * runner and users' own tests (lib/emulator/index.ts) call `startEmulator` in process.
 */
import type { Clock } from './clock';
import type { Dispatcher } from './dispatch/dispatcher';
import type { DispatchEventListener } from './dispatch/events';
import type { TokenIssuer } from './dispatch/oidc';
import type { DurableStore } from './persistence';
import { EmulatorState } from './state';

export interface EmulatorOptions {
  /** Interface to listen on. Anything but loopback exposes an unauthenticated API to the network. @default '127.0.0.1' */
  readonly host?: string;
  /** gRPC TCP port; 0 picks a free one (read it from `port` / `address`). @default 0 */
  readonly port?: number;
  /** REST TCP port; 0 picks a free one (read it from `restPort` / `restUrl`); `false` serves no REST. @default 0 */
  readonly restPort?: number | false;
  /** Fraction (0..1) of CreateTask and BufferTask calls that fail with UNAVAILABLE before any state change. @default 0 */
  readonly failRate?: number;
  /**
   * Fraction (0..1) of successful dispatches that are delivered a second time (Cloud Tasks delivers at least once), so
   * workers prove they are idempotent. Needs `dispatch`. @default 0
   */
  readonly duplicateRate?: number;
  /**
   * Directory for the durable state (queues, tasks, reserved names, IAM policies): loaded at start, every change on
   * disk before its call is answered, locked against a second emulator. @default - in memory only
   */
  readonly dataDir?: string;
  /** @default systemClock */
  readonly clock?: Clock;
  /** Randomness for failRate and duplicateRate (pass a seeded generator for repeatable tests). @default Math.random */
  readonly random?: () => number;
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
  /** Notices at start (a recovered crash, a stale lock). @default - stderr */
  readonly log?: (line: string) => void;
}

export interface RunningEmulator {
  readonly host: string;
  /** The gRPC port. */
  readonly port: number;
  /** gRPC `host:port`, what CLOUD_TASKS_EMULATOR_HOST holds (IPv6 hosts in brackets). */
  readonly address: string;
  /** Alias of `address`. */
  readonly grpcAddress: string;
  /** The REST port, when REST is served. */
  readonly restPort?: number;
  /** `http://host:port/`, what CLOUD_TASKS_EMULATOR_REST_URL and gcloud's api_endpoint_overrides/cloudtasks hold. */
  readonly restUrl?: string;
  /** The store, for the dispatcher and tests. */
  readonly state: EmulatorState;
  /** Present when started with `dispatch: true`. */
  readonly dispatcher?: Dispatcher;
  /** The OIDC issuer (JWKS server) of dispatched tokens; present with `dispatch: true`. */
  readonly tokens?: TokenIssuer;
  /** The durable store, with `dataDir`. */
  readonly store?: DurableStore;
  /** Stops accepting calls, waits for calls in flight (at most 2 s), stops dispatching and closes the data dir. */
  stop(): Promise<void>;
}

/** How long stop() lets calls in flight finish before it closes connections. */
const SHUTDOWN_GRACE_MS = 2000;

function fractionOption(name: string, value: number): void {
  if (!(value >= 0 && value <= 1)) throw new RangeError(`${name} ${value} is not a fraction: use a number from 0 to 1`);
}

export async function startEmulator(options: EmulatorOptions = {}): Promise<RunningEmulator> {
  const host = options.host ?? '127.0.0.1';
  const requestedPort = options.port ?? 0;
  const failRate = options.failRate ?? 0;
  const duplicateRate = options.duplicateRate ?? 0;
  const log = options.log ?? ((line: string) => process.stderr.write(`cloud-tasks emulator: ${line}\n`));
  for (const [name, p] of [
    ['port', requestedPort],
    ['restPort', options.restPort === false ? 0 : (options.restPort ?? 0)],
  ] as const)
    if (!Number.isInteger(p) || p < 0 || p > 65535)
      throw new RangeError(`${name} ${p} is not a TCP port: use a whole number from 0 (pick a free one) to 65535`);
  fractionOption('failRate', failRate);
  fractionOption('duplicateRate', duplicateRate);

  const state = new EmulatorState({ clock: options.clock });
  let store: DurableStore | undefined;
  if (options.dataDir) {
    const { openStore } = await import('./persistence');
    const opened = await openStore(options.dataDir, state);
    store = opened.store;
    for (const notice of opened.notices) log(notice);
  }
  const whenDurable = store ? () => store.whenDurable() : () => Promise.resolve();
  const closers: Array<() => Promise<void> | void> = [];
  const cleanup = async (): Promise<void> => {
    for (const close of closers.reverse()) await close();
    await store?.close();
  };

  try {
    let dispatcher: Dispatcher | undefined;
    let tokens: TokenIssuer | undefined;
    if (options.dispatch) {
      // Loaded only when dispatching: jose and the HTTP client are not needed by a store-only emulator.
      const { TokenIssuer } = await import('./dispatch/oidc');
      const { Dispatcher } = await import('./dispatch/dispatcher');
      try {
        tokens = await TokenIssuer.start({ host, port: options.oidcPort ?? 0, clock: state.clock });
      } catch (err) {
        throw new Error(
          `cannot serve the OIDC keys on ${host}:${options.oidcPort ?? 0}: ${(err as Error).message} (pick another port: --oidc-port)`,
        );
      }
      const issuer = tokens;
      closers.push(() => issuer.close());
      dispatcher = new Dispatcher(state, { tokens, duplicateRate, random: options.random });
      const d = dispatcher;
      closers.push(() => d.stop());
      for (const listener of options.dispatchListeners ?? []) dispatcher.onDispatchEvent(listener);
    }

    const { cloudTasksMethods } = await import('./api/handlers');
    const handlers = cloudTasksMethods(state, { failRate, random: options.random });
    const { Server, ServerCredentials } = await import('@grpc/grpc-js');
    const { grpcServices } = await import('./api/grpc');
    // channelz (gRPC's live call statistics) is not served by the emulator, and tracking it cost 4 % of the main
    // thread per CreateTask at 2,000 calls/s.
    const server = new Server({ 'grpc.enable_channelz': 0 });
    for (const s of grpcServices(handlers, whenDurable)) server.addService(s.definition, s.implementation);
    const bindHost = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
    let port: number;
    try {
      port = await new Promise<number>((resolve, reject) =>
        server.bindAsync(`${bindHost}:${requestedPort}`, ServerCredentials.createInsecure(), (err, boundPort) =>
          err ? reject(err) : resolve(boundPort),
        ),
      );
    } catch (err) {
      throw new Error(`cannot listen on ${bindHost}:${requestedPort}: ${(err as Error).message}`);
    }
    const grpcStop = (): Promise<void> =>
      new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, SHUTDOWN_GRACE_MS);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
    closers.push(grpcStop);

    let restPort: number | undefined;
    if (options.restPort !== false) {
      const { startRestServer } = await import('./api/rest');
      try {
        const rest = await startRestServer({ host, port: options.restPort ?? 0, handlers, whenDurable });
        restPort = rest.port;
        closers.push(() => rest.close());
      } catch (err) {
        throw new Error(
          `cannot serve REST on ${bindHost}:${options.restPort ?? 0}: ${(err as Error).message} (pick another port: --rest-port)`,
        );
      }
    }

    let stopping: Promise<void> | undefined;
    const stop = (): Promise<void> => {
      // The API first (no call can add work), then the dispatcher (attempts in flight record their outcome), then the
      // token server, and the data dir last, so every recorded change is committed.
      stopping ??= (async () => {
        const grpc = closers.indexOf(grpcStop);
        await Promise.all(closers.splice(grpc).map((close) => close()));
        await cleanup();
      })();
      return stopping;
    };

    const address = `${bindHost}:${port}`;
    return {
      host,
      port,
      address,
      grpcAddress: address,
      ...(restPort !== undefined ? { restPort, restUrl: `http://${bindHost}:${restPort}/` } : {}),
      state,
      ...(dispatcher ? { dispatcher } : {}),
      ...(tokens ? { tokens } : {}),
      ...(store ? { store } : {}),
      stop,
    };
  } catch (err) {
    await cleanup().catch(() => undefined);
    throw err;
  }
}
