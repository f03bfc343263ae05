/**
 * `npm run emulator -- --port <p> [--rest-port <p>] [--host 127.0.0.1] [--fail-rate 0..1] [--duplicate-rate 0..1]
 *  [--data-dir <dir>] [--no-dispatch] [--oidc-port <p>] [--log-level error|warn|info|debug] [--event-log <file.jsonl>]
 *  [--route <queue-id|*>=<url> ...] [--stack cdktf.out/stacks/<stack> ...] [--ui] [--ui-port <p>]`
 *
 * Creates the queues of each `--stack` (as `terraform apply` would, lib/apps/local/terraform.ts), prints where it listens,
 * the env var lines for the seeder, the client helpers, REST clients (gcloud, curl) and workers (the OIDC issuer whose
 * keys verify dispatched tokens) and each stack's seeding command, then dispatches due tasks over HTTP and serves until
 * SIGINT or SIGTERM, when it finishes calls in flight and closes the data dir. Exit codes: 0 stopped cleanly, 1 it
 * could not start or stop (e.g. a port is taken, the data dir is locked by another emulator), 2 the command line is
 * wrong (including a --stack folder that is not a synthesized stack).
 */
import path from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import {
  LOG_LEVELS,
  type DispatchEventListener,
  type EventLogWriter,
  type LogLevel,
} from '../../emulator/dispatch/events';
import type { RunningEmulator } from '../../emulator/server';
import type { LocalStack, SeedCommand } from '../local/terraform';
import { DEFAULT_EMULATOR_PORT, EMULATOR_HOST_ENV, EMULATOR_ISSUER_ENV, EMULATOR_REST_URL_ENV } from '../../core/env';
import { isLoopbackHost } from '../../core/loopback';
import { terminalSafe } from '../../core/text';

interface CliOptions {
  readonly port: number;
  readonly restPort?: number;
  readonly host: string;
  readonly failRate: number;
  readonly duplicateRate: number;
  readonly dataDir?: string;
  readonly dispatch: boolean;
  readonly oidcPort?: number;
  readonly logLevel: LogLevel;
  readonly eventLog?: string;
  readonly route: Array<[string, string]>;
  readonly stack?: string[];
  readonly ui?: boolean;
  readonly uiPort?: number;
}

function port(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n > 65535)
    throw new InvalidArgumentError(`expected a TCP port from 0 (pick a free one) to 65535, got "${text}"`);
  return n;
}

function fraction(example: string): (text: string) => number {
  return (text) => {
    const n = Number(text);
    if (text.trim() === '' || !(n >= 0 && n <= 1))
      throw new InvalidArgumentError(`expected a fraction from 0 to 1 (e.g. ${example}), got "${text}"`);
    return n;
  };
}

function route(text: string, previous: Array<[string, string]>): Array<[string, string]> {
  try {
    // Loaded lazily like the rest of the dispatcher; parsing a route needs only this small module.
    const { parseRoute } = require('../../emulator/dispatch/routes') as typeof import('../../emulator/dispatch/routes');
    return [...previous, parseRoute(text)];
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function program(): Command {
  return new Command('emulator')
    .description(
      'Local Cloud Tasks emulator: the v2 API over gRPC and REST (queues, tasks, IAM, BufferTask) for tests and local pipeline runs.',
    )
    .option('--port <port>', 'gRPC TCP port; 0 picks a free one and prints it', port, DEFAULT_EMULATOR_PORT)
    .option(
      '--rest-port <port>',
      'REST (HTTP/JSON) TCP port, for gcloud, curl and REST clients (default: --port + 2, or a free one with --port 0)',
      port,
    )
    .option(
      '--host <host>',
      'interface to listen on (anything but loopback exposes an unauthenticated API)',
      '127.0.0.1',
    )
    .option(
      '--fail-rate <fraction>',
      'fraction of CreateTask and BufferTask calls that fail with UNAVAILABLE before any change (tests retries)',
      fraction('0.1 = 10% of CreateTask calls fail'),
      0,
    )
    .option(
      '--duplicate-rate <fraction>',
      'fraction of successful dispatches delivered a second time, as Cloud Tasks (at-least-once) rarely does: proves workers are idempotent',
      fraction('0.01 = 1 in 100 tasks arrives twice'),
      0,
    )
    .option(
      '--data-dir <dir>',
      'keep queues, tasks, reserved names and IAM policies in <dir>/cloud-tasks-emulator.sqlite: every change is on disk before its call is answered; one emulator per dir',
    )
    .option('--no-dispatch', 'only store tasks: send nothing to their HTTP targets')
    .option(
      '--oidc-port <port>',
      'port of the OIDC issuer that serves the keys of dispatched tokens (default: --port + 1, or a free one with --port 0)',
      port,
    )
    .addOption(
      new Option(
        '--log-level <level>',
        'dispatch events printed to stderr: error (tasks given up), warn (+ failed attempts), info (+ successes), debug (everything)',
      )
        .choices(LOG_LEVELS)
        .default('info'),
    )
    .option(
      '--event-log <file.jsonl>',
      'append every dispatch event (created, dispatched, succeeded, failed, retry-scheduled, gave-up, deleted) as a JSON line',
    )
    .option(
      '--stack <dir>',
      'at start, create (or update) the queues of a synthesized stack (cdktf.out/stacks/<stack>) as Terraform would: rate limits, retry config, http_target; repeatable',
      collect,
    )
    .option(
      '--route <queue=url>',
      'send the tasks of queue <queue> (an id, or * for all) to <url> (scheme, host, port; path and query if given) instead of their own URLs; repeatable',
      route,
      [],
    )
    .option('--ui', 'serve the dashboard on 127.0.0.1 (queues, tasks, and the pipeline and runs of the first --stack)')
    .option('--ui-port <port>', 'port of the dashboard (implies --ui); 0 picks a free one', port)
    .addHelpText(
      'after',
      [
        '',
        `gRPC clients find it through ${EMULATOR_HOST_ENV}=host:port, REST clients through ${EMULATOR_REST_URL_ENV}, workers the token issuer through ${EMULATOR_ISSUER_ENV} (all printed at start).`,
        'gcloud: gcloud config set auth/disable_credentials true; gcloud config set api_endpoint_overrides/cloudtasks $' +
          EMULATOR_REST_URL_ENV,
        'Differences from Cloud Tasks that flags change: --fail-rate and --duplicate-rate inject faults the service has only rarely;',
        '--route sends tasks to other URLs than their own; --no-dispatch sends nothing. The rest: docs/emulator.md "Differences".',
      ].join('\n'),
    )
    .exitOverride();
}

/**
 * A 64 MB young generation for the emulator's process (V8's default semi-space starts at a few MB): every dispatch
 * and every call allocates short-lived objects (requests, headers, promises), and with the default V8 runs a
 * scavenge every few milliseconds on 2 cores. Measured at 10 queues x 500/s with the worker in another process:
 * about 1.5 s of CPU per second at 4,340-4,410 dispatches/s, against 2.06 s at 4,290/s with the default (load average
 * 10-15; docs/BENCHMARKS.md). Set by the CLI, which owns its process; `startEmulator` in a user's process does not.
 */
export function useServerHeap(): void {
  (require('node:v8') as typeof import('node:v8')).setFlagsFromString('--max-semi-space-size=64');
}

/** Runs the emulator until a signal; resolves to the process exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const cmd = program();
  try {
    cmd.parse(argv as string[]);
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    throw err;
  }
  const opts = cmd.opts<CliOptions>();

  let stacks: LocalStack[];
  try {
    stacks = await readStacks(opts.stack ?? []);
  } catch (err) {
    process.stderr.write(
      `cloud-tasks emulator: --stack ${terminalSafe((err as Error).message, { keepNewlines: true })}\n`,
    );
    return 2;
  }

  useServerHeap();
  let emulator: RunningEmulator;
  let eventLog: EventLogWriter | undefined;
  try {
    // Loaded after parsing, so --help and option errors do not wait for gRPC and the protos.
    const { startEmulator } = await import('../../emulator/server');
    const { EventLogWriter, logListener } = await import('../../emulator/dispatch/events');
    const listeners: DispatchEventListener[] = [logListener(opts.logLevel)];
    if (opts.eventLog) {
      eventLog = new EventLogWriter(opts.eventLog);
      listeners.push(eventLog.listener);
    }
    emulator = await startEmulator({
      host: opts.host,
      port: opts.port,
      restPort: opts.restPort ?? (opts.port === 0 || opts.port > 65533 ? 0 : opts.port + 2),
      failRate: opts.failRate,
      duplicateRate: opts.duplicateRate,
      dataDir: opts.dataDir,
      dispatch: opts.dispatch,
      oidcPort: opts.oidcPort ?? (opts.port === 0 || opts.port === 65535 ? 0 : opts.port + 1),
      dispatchListeners: listeners,
    });
  } catch (err) {
    await eventLog?.close();
    process.stderr.write(`cloud-tasks emulator: ${terminalSafe((err as Error).message, { keepNewlines: true })}\n`);
    return 1;
  }
  const restoredQueues = emulator.state.queues().length;
  const restoredTasks = emulator.state.queues().reduce((n, q) => n + emulator.state.tasksOf(q.name).length, 0);
  const created: Array<{ stack: LocalStack; created: readonly string[]; updated: readonly string[] }> = [];
  try {
    const { createStackQueues } = await import('../local/terraform');
    // Before the routes: a route replaces the stack's uri_override and keeps its token and header overrides.
    for (const stack of stacks) created.push({ stack, ...createStackQueues(emulator.state, stack.queues) });
  } catch (err) {
    process.stderr.write(
      `cloud-tasks emulator: cannot create the queues of --stack ${created.length < stacks.length ? stacks[created.length].dir : ''}: ${terminalSafe((err as Error).message, { keepNewlines: true })}\n`,
    );
    await emulator.stop().catch(() => undefined);
    await eventLog?.close();
    return 1;
  }
  if (opts.route.length > 0) {
    const { applyRoutes } = await import('../../emulator/dispatch/routes');
    applyRoutes(emulator.state, new Map(opts.route));
  }

  const out = process.stdout;
  out.write(`Cloud Tasks emulator listening on ${emulator.address} (gRPC) and ${emulator.restUrl} (REST)\n`);
  out.write(`export ${EMULATOR_HOST_ENV}=${emulator.address}\n`);
  out.write(`export ${EMULATOR_REST_URL_ENV}=${emulator.restUrl}\n`);
  if (emulator.tokens) {
    out.write(`export ${EMULATOR_ISSUER_ENV}=${emulator.tokens.issuer}\n`);
    out.write(`Dispatching due tasks over HTTP; token keys at ${emulator.tokens.jwksUri}\n`);
  } else {
    out.write('Not dispatching (--no-dispatch): tasks stay in their queues until deleted, purged or run\n');
  }
  if (opts.eventLog) out.write(`Event log: ${opts.eventLog}\n`);
  for (const [queue, url] of opts.route)
    out.write(`Routing ${queue === '*' ? 'every queue' : `queue ${queue}`} to ${url}\n`);
  if (opts.dataDir)
    out.write(
      `Data directory: ${opts.dataDir} (${plural(restoredQueues, 'queue')}, ${plural(restoredTasks, 'task')} loaded; every change is on disk before its call is answered)\n`,
    );
  for (const c of created) {
    out.write(`${stackLine(c.stack, c.created, c.updated)}\n`);
    for (const command of c.stack.seedCommands) out.write(`  seed it: ${seedCommandLine(command, emulator.address)}\n`);
  }
  if (emulator.dispatcher) {
    const routed = new Set(opts.route.map(([queue]) => queue));
    const hosts = new Set(
      stacks
        .flatMap((s) => s.queues)
        .filter((q) => !routed.has('*') && !routed.has(q.queueId))
        .map((q) => q.httpTarget?.uriOverride?.host ?? "the tasks' own hosts"),
    );
    if (hosts.size > 0)
      process.stderr.write(
        `warning: dispatching: queues from --stack without a --route send their tasks to production (${[...hosts].join(', ')}) with the emulator's tokens; ` +
          `pass --no-dispatch to only store tasks, or --route '<queue-id or *>=http://127.0.0.1:<port>' to send them to a local worker\n`,
      );
  }
  if (opts.failRate > 0) out.write(`Failing ${opts.failRate * 100}% of CreateTask calls with UNAVAILABLE\n`);
  if (opts.duplicateRate > 0)
    out.write(`Delivering ${opts.duplicateRate * 100}% of successful dispatches twice (--duplicate-rate)\n`);
  if (!isLoopbackHost(opts.host))
    process.stderr.write(`warning: listening on ${opts.host}: anyone who can reach it can create and delete tasks\n`);
  let dashboard: import('../dashboard/index').RunningDashboard | undefined;
  if (opts.ui || opts.uiPort !== undefined) {
    try {
      const { startEmulatorDashboard } = await import('../dashboard/index');
      dashboard = await startEmulatorDashboard({ emulator, stackDir: stacks[0]?.dir, ui: { port: opts.uiPort ?? 0 } });
      out.write(`Dashboard: ${dashboard.url}\n`);
    } catch (err) {
      process.stderr.write(`cloud-tasks emulator: ${(err as Error).message}\n`);
      await emulator.stop().catch(() => undefined);
      await eventLog?.close();
      return 1;
    }
  }

  // Keep the handlers for the whole run: a terminal's Ctrl-C reaches npm, tsx and node together (one process group),
  // and tsx relays it once more, so a second signal must not kill the process before the snapshot is written.
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    let received: NodeJS.Signals | undefined;
    const onSignal = (sig: NodeJS.Signals): void => {
      if (received) return;
      received = sig;
      resolve(sig);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  out.write(`${signal}: stopping the emulator\n`);
  try {
    await dashboard?.close();
    await emulator.stop();
    await eventLog?.close();
  } catch (err) {
    process.stderr.write(`cloud-tasks emulator: stopped, but ${(err as Error).message}\n`);
    return 1;
  }
  out.write('Cloud Tasks emulator stopped\n');
  return 0;
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Reads every --stack folder (each once); throws a message naming the path and what is wrong with it. */
async function readStacks(dirs: readonly string[]): Promise<LocalStack[]> {
  if (dirs.length === 0) return [];
  const { readLocalStack } = await import('../local/terraform');
  const stacks: LocalStack[] = [];
  const byQueue = new Map<string, string>();
  for (const dir of new Set(dirs.map((d) => path.normalize(d)))) {
    const stack = readLocalStack(dir);
    for (const q of stack.queues) {
      const other = byQueue.get(q.queueName);
      // Two stacks that own one queue would overwrite each other's config in Terraform too.
      if (other)
        throw new Error(`${dir}: queue ${q.queueName} is also in --stack ${other}; a queue belongs to one stack`);
      byQueue.set(q.queueName, dir);
    }
    stacks.push(stack);
  }
  return stacks;
}

function stackLine(stack: LocalStack, created: readonly string[], updated: readonly string[]): string {
  const ids = (names: readonly string[]) => names.map((n) => n.slice(n.lastIndexOf('/') + 1)).join(', ');
  const parts = [
    ...(created.length > 0 ? [`created ${plural(created.length, 'queue')} (${ids(created)})`] : []),
    ...(updated.length > 0 ? [`updated ${plural(updated.length, 'queue')} from --data-dir (${ids(updated)})`] : []),
  ];
  return `Stack ${path.basename(path.resolve(stack.dir))} (${stack.dir}): ${parts.join(', ')}`;
}

/**
 * The stack's local-exec as a line to paste into a POSIX shell. Shown, never run: the emulator starts no commands.
 * Words are single-quoted unless they are plain, so a path with spaces or quotes pastes as one word.
 */
export function seedCommandLine(command: SeedCommand, emulatorAddress: string): string {
  const word = (w: string): string => (/^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`);
  const cwd = path.relative(process.cwd(), command.cwd) || '.';
  const env = Object.entries({ ...command.environment, [EMULATOR_HOST_ENV]: emulatorAddress }).map(
    ([k, v]) => `${k}=${word(v)}`,
  );
  return `(cd ${word(cwd.startsWith('..') ? command.cwd : cwd)} && ${[...env, ...command.argv.map(word)].join(' ')})`;
}

export function runMain(argv: readonly string[]): void {
  main(argv).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(
        `cloud-tasks emulator: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
      process.exit(1);
    },
  );
}
