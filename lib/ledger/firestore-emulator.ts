/**
 * Google's Firestore emulator for the test suite and `npm run local`: started when FIRESTORE_EMULATOR_HOST is not set,
 * on 127.0.0.1 and a free port, in its own process group (gcloud and the launcher run the emulator as a child JVM;
 * stopping only the parent leaves the JVM holding the port), and stopped as a group.
 *
 * It runs the emulator's own launcher (`platform/cloud-firestore-emulator/cloud_firestore_emulator` in the Cloud SDK)
 * when it can find it, and `gcloud emulators firestore start` otherwise: the launcher skips gcloud's Python start-up
 * (measured here: ready in 4.4 s against 4.7-5.1 s through gcloud; docs/decisions/run-ledger.md). When neither is
 * installed it fails with one line saying how to install it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import path from 'node:path';
import { FIRESTORE_EMULATOR_HOST_ENV } from '../core/env';

/** The one line shown when the emulator is missing. */
export const FIRESTORE_EMULATOR_INSTALL_HINT =
  "Google's Firestore emulator is not installed: install the Debian package google-cloud-cli-firestore-emulator (apt-get install google-cloud-cli-firestore-emulator, from Google's Cloud SDK apt repository) or run `gcloud components install cloud-firestore-emulator`; it needs Java 17+. Or set FIRESTORE_EMULATOR_HOST to a running emulator";

export class FirestoreEmulatorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FirestoreEmulatorError';
  }
}

export interface FirestoreEmulatorOptions {
  /** TCP port; 0 picks a free one. @default 0 */
  readonly port?: number;
  /** Where PATH, CLOUDSDK_ROOT_DIR and JAVA are read. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  /** How long `ready` waits for the emulator to answer. @default 60_000 */
  readonly readyTimeoutMs?: number;
}

export interface RunningFirestoreEmulator {
  /** `127.0.0.1:<port>`: what FIRESTORE_EMULATOR_HOST holds. */
  readonly host: string;
  /** Resolves when the emulator answers HTTP; rejects with its last output lines if it exits first. */
  readonly ready: Promise<void>;
  /** Whether this process started it (false: FIRESTORE_EMULATOR_HOST named one already running). */
  readonly started: boolean;
  /** Stops the emulator's process group (nothing when it was already running). */
  stop(): Promise<void>;
}

/** The emulator FIRESTORE_EMULATOR_HOST names, or a new one. Throws FirestoreEmulatorError when none is installed. */
export async function ensureFirestoreEmulator(o: FirestoreEmulatorOptions = {}): Promise<RunningFirestoreEmulator> {
  const env = o.env ?? process.env;
  const existing = env[FIRESTORE_EMULATOR_HOST_ENV];
  if (existing) {
    return {
      host: existing,
      started: false,
      ready: waitForFirestoreEmulator(existing, o.readyTimeoutMs ?? 60_000),
      stop: async () => undefined,
    };
  }
  return launchFirestoreEmulator(o);
}

/** The command that runs the emulator on `port`, or undefined when it is not installed. */
export function emulatorCommand(env: NodeJS.ProcessEnv, port: number): { file: string; args: string[] } | undefined {
  const hostPort = `127.0.0.1:${port}`;
  const gcloud = which('gcloud', env);
  const roots = [env.CLOUDSDK_ROOT_DIR, gcloud ? path.dirname(path.dirname(safeRealpath(gcloud))) : undefined];
  for (const root of roots) {
    if (!root) continue;
    const launcher = path.join(root, 'platform', 'cloud-firestore-emulator', 'cloud_firestore_emulator');
    if (existsSync(launcher) && existsSync(path.join(path.dirname(launcher), 'cloud-firestore-emulator.jar')))
      return { file: launcher, args: ['--host=127.0.0.1', `--port=${port}`] };
  }
  if (!gcloud) return undefined;
  return { file: gcloud, args: ['emulators', 'firestore', 'start', `--host-port=${hostPort}`, '--quiet'] };
}

async function launchFirestoreEmulator(o: FirestoreEmulatorOptions): Promise<RunningFirestoreEmulator> {
  const env = o.env ?? process.env;
  const port = o.port || (await freePort());
  const command = emulatorCommand(env, port);
  if (!command) throw new FirestoreEmulatorError(FIRESTORE_EMULATOR_INSTALL_HINT);
  const host = `127.0.0.1:${port}`;
  const child = spawn(command.file, command.args, {
    env: { ...env, CLOUDSDK_CORE_DISABLE_PROMPTS: '1' },
    // Its own process group, so stop() reaches the JVM too (argv array, no shell).
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const keep = (chunk: Buffer) => {
    output.push(...chunk.toString().split('\n').filter(Boolean));
    if (output.length > 40) output.splice(0, output.length - 40);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  // The emulator must not keep a CLI or test process alive on its own; stop() and the exit hook end it.
  child.unref();
  (child.stdout as unknown as { unref?: () => void }).unref?.();
  (child.stderr as unknown as { unref?: () => void }).unref?.();
  const killGroup = () => killProcessGroup(child, 'SIGKILL');
  process.once('exit', killGroup);

  const abort = new AbortController();
  child.once('exit', () => abort.abort());
  const exited = new Promise<never>((_, reject) => {
    child.once('error', (err) => reject(new FirestoreEmulatorError(`cannot start ${command.file}: ${err.message}`)));
    child.once('exit', (code, signal) =>
      reject(
        new FirestoreEmulatorError(
          // gcloud without the component says so and exits: that is the missing emulator, in one line.
          /not installed|components install/i.test(output.join('\n'))
            ? FIRESTORE_EMULATOR_INSTALL_HINT
            : `the Firestore emulator exited (${signal ?? `code ${code}`}) before it was ready:\n${output.slice(-10).join('\n')}`,
        ),
      ),
    );
  });
  const ready = Promise.race([waitForFirestoreEmulator(host, o.readyTimeoutMs ?? 60_000, abort.signal), exited]);
  ready.catch(() => undefined);
  let stopping: Promise<void> | undefined;
  return {
    host,
    ready,
    started: true,
    stop: () =>
      (stopping ??= (async () => {
        process.removeListener('exit', killGroup);
        if (child.exitCode !== null || child.signalCode !== null) return;
        const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        killProcessGroup(child, 'SIGTERM');
        const timer = setTimeout(() => killProcessGroup(child, 'SIGKILL'), 5000);
        await gone;
        clearTimeout(timer);
        // The launcher is gone; a JVM still booting may have missed the SIGTERM (seen here): end the group for sure.
        killProcessGroup(child, 'SIGKILL');
      })()),
  };
}

/**
 * Polls `GET http://<host>/` (the emulator answers "Ok") until it answers, `timeoutMs` passes, or `signal` aborts
 * (the emulator exited).
 */
export async function waitForFirestoreEmulator(host: string, timeoutMs = 60_000, signal?: AbortSignal): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (signal?.aborted)
      throw new FirestoreEmulatorError(`the Firestore emulator at ${host} stopped before it answered`);
    if (await answers(host)) return;
    if (Date.now() > until)
      throw new FirestoreEmulatorError(
        `the Firestore emulator at ${host} did not answer within ${Math.round(timeoutMs / 1000)} s`,
      );
    await new Promise((r) => setTimeout(r, 100));
  }
}

function answers(host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(`http://${host}/`, { method: 'GET', timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

/** Deletes every document of a project's database in the emulator (its documented DELETE endpoint). */
export function clearFirestoreEmulator(host: string, project: string, database = '(default)'): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(
      `http://${host}/emulator/v1/projects/${encodeURIComponent(project)}/databases/${encodeURIComponent(database)}/documents`,
      { method: 'DELETE' },
      (res) => {
        res.resume();
        if (res.statusCode === 200) resolve();
        else
          reject(
            new FirestoreEmulatorError(`clearing ${project} in the Firestore emulator answered ${res.statusCode}`),
          );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

function killProcessGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function which(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const file = path.join(dir, name);
    if (existsSync(file)) return file;
  }
  return undefined;
}

function safeRealpath(file: string): string {
  try {
    return realpathSync(file);
  } catch {
    return file;
  }
}
