/**
 * The seeder's command line, shared by both ways to run it: `npm run seed -- <manifest>` (bin/seed.ts) and the
 * bundled `node seeder.cjs <manifest>` that Terraform's local-exec provisioner runs at deploy time.
 *
 * It trusts nothing it is given: the manifest's bytes must match the sha256 its asset folder is named after, every
 * task must pass the Cloud Tasks rules, and no task may carry a secret (the policy pack's rules, again). Only then is
 * anything created.
 *
 * Exit codes: 0 every task exists (created now or already present); 1 some tasks are left undone (re-run to
 * finish); 2 the command line, the environment (emulator address, credentials) or the manifest is wrong, and nothing
 * was created.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { DURATION_FORMAT_HINT, parseDuration } from '../core/duration';
import type { ManifestTask, SeedManifest } from '../core/manifest';
import { redactUrl } from '../core/secrets';
import { terminalSafe } from '../core/text';
import { checkManifestIntegrity } from './integrity';
import { createProgress, type ProgressStream } from './progress';
import { checkManifestSecrets } from './secret-check';
import { NOT_ATTEMPTED, SEED_DEFAULTS, seedTasks, statusName, type SeedOptions, type SeedResult } from './seeder';
import { FIRESTORE_EMULATOR_HOST_ENV, describeTarget, seedTargetFromEnv, type SeedTarget } from '../core/env';
import { createRunLedgerWriter, type RunLedgerWriter } from './run-ledger';
import { formatProblems, parseManifest } from './validate';

export const EXIT_OK = 0;
export const EXIT_INCOMPLETE = 1;
export const EXIT_INVALID = 2;

export interface CliIo {
  readonly stdout: ProgressStream;
  readonly stderr: ProgressStream;
  readonly env: NodeJS.ProcessEnv;
  /** @default () => new Date() */
  readonly now?: () => Date;
  /**
   * Retry timing and clock of the run (tests make backoff fast or the clock virtual).
   * @default - SEED_DEFAULTS, Math.random, the real clock
   */
  readonly seedOptions?: Pick<SeedOptions, 'initialBackoffMs' | 'maxBackoffMs' | 'random' | 'now' | 'sleep'>;
}

interface CliOptions {
  readonly dryRun?: boolean;
  readonly concurrency: number;
  readonly channels?: number;
  readonly maxAttempts?: number;
  readonly propagationWait: number;
  /** Seconds. */
  readonly deadline: number;
}

const fmt = (n: number): string => n.toLocaleString('en-US');

function wholeNumber(min: number, max: number) {
  return (text: string): number => {
    const n = Number(text);
    if (!/^\d+$/.test(text) || n < min || n > max)
      throw new InvalidArgumentError(`expected a whole number from ${min} to ${fmt(max)}, got "${text}"`);
    return n;
  };
}

/** `600`, `600s`, `10m`, `1h`: whole seconds from 1 s to 24 h. */
function deadlineSeconds(text: string): number {
  const seconds = /^\d+$/.test(text) ? Number(text) : parseDuration(text);
  if (seconds === undefined || seconds < 1 || seconds > 86_400)
    throw new InvalidArgumentError(
      `expected a duration from 1s to 24h, ${DURATION_FORMAT_HINT} (or plain seconds), got "${text}"`,
    );
  return seconds;
}

/** `10m` for 600, `90s` for 90: how the deadline is shown back. */
function showSeconds(seconds: number): string {
  if (seconds % 3600 === 0) return `${seconds / 3600}h`;
  return seconds % 60 === 0 ? `${seconds / 60}m` : `${seconds}s`;
}

function program(io: CliIo): Command {
  return new Command('seed')
    .description('Create the seed tasks of a seed manifest in Cloud Tasks (idempotent: existing tasks are skipped).')
    .argument('<manifest>', 'seed-manifest.json written by synth')
    .option('--dry-run', 'validate and list the tasks that would be created; contact nothing')
    .option('--concurrency <n>', 'CreateTask calls in flight at once', wholeNumber(1, 1000), SEED_DEFAULTS.concurrency)
    .option(
      '--channels <n>',
      'gRPC channels (HTTP/2 connections) to spread calls over (default: one per 100 concurrent calls, the usual HTTP/2 stream limit per connection)',
      wholeNumber(1, 16),
    )
    .option(
      '--max-attempts <n>',
      'cap the attempts per task for retryable errors (UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, ABORTED, INTERNAL) (default: no cap, retried until --deadline)',
      wholeNumber(1, 10_000),
    )
    .option(
      '--propagation-wait <seconds>',
      'retry PERMISSION_DENIED and NOT_FOUND this long after the start: IAM bindings and queues made in the same deploy take a while to take effect (0: fail at once)',
      wholeNumber(0, 3600),
      SEED_DEFAULTS.propagationWaitMs / 1000,
    )
    .option(
      '--deadline <duration>',
      `time budget for the whole run (e.g. 90s, 10m, 1h); no retry and no new task starts after it (default: ${showSeconds(SEED_DEFAULTS.deadlineMs / 1000)})`,
      deadlineSeconds,
      SEED_DEFAULTS.deadlineMs / 1000,
    )
    .addHelpText(
      'after',
      `\nEnvironment:\n  CLOUD_TASKS_EMULATOR_HOST=host:port  use the local emulator (insecure gRPC) instead of Cloud Tasks\n  FIRESTORE_EMULATOR_HOST=host:port    record the seeds' runs in Google's Firestore emulator instead of the ledger database\n\nExit codes: 0 done, 1 some tasks left undone (re-run to finish), 2 invalid, tampered or secret-carrying manifest, or no credentials (nothing created).`,
    )
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });
}

/** Runs the seeder; resolves to the process exit code. Never throws for expected failures. */
export async function main(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  const cmd = program(io);
  try {
    cmd.parse(argv as string[]);
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT_OK : EXIT_INVALID;
    throw err;
  }
  const file = cmd.args[0];
  const opts = cmd.opts<CliOptions>();
  const now = io.now ?? (() => new Date());

  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    io.stderr.write(
      `${file}: cannot read the seed manifest (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})\n`,
    );
    return EXIT_INVALID;
  }
  const refusals = manifestRefusals(file, bytes, now());
  if (!refusals.ok) {
    io.stderr.write(refusals.report);
    return EXIT_INVALID;
  }
  const manifest = refusals.manifest;
  for (const line of refusals.notices) io.stderr.write(`${terminalSafe(line)}\n`);

  if (opts.dryRun) {
    io.stdout.write(dryRunListing(manifest));
    return EXIT_OK;
  }

  let target: SeedTarget;
  try {
    target = seedTargetFromEnv(io.env);
  } catch (err) {
    io.stderr.write(`${terminalSafe((err as Error).message)}; nothing was created.\n`);
    return EXIT_INVALID;
  }
  if (manifest.tasks.length === 0) {
    io.stdout.write(`${file}: no seed tasks; nothing to do.\n`);
    return EXIT_OK;
  }
  const ledgerProblem = ledgerTargetProblem(manifest, target, io.env);
  if (ledgerProblem) {
    io.stderr.write(`${terminalSafe(ledgerProblem)}; nothing was created.\n`);
    return EXIT_INVALID;
  }
  // Against the Cloud Tasks emulator without a Firestore emulator, runs are not recorded: never in a real database.
  const useLedger =
    manifest.ledger !== undefined && !(target.kind === 'emulator' && !io.env[FIRESTORE_EMULATOR_HOST_ENV]);
  if (manifest.ledger && !useLedger)
    io.stderr.write(
      `${FIRESTORE_EMULATOR_HOST_ENV} is not set: the seeds' runs are not recorded in the run ledger (the worker SDK records each run on its first delivery; a re-seed may start old runs again). Set it to a Firestore emulator to seed through the ledger.\n`,
    );

  const channels = opts.channels ?? Math.ceil(Math.min(opts.concurrency, manifest.tasks.length) / 100);
  io.stderr.write(
    `Seeding ${fmt(manifest.tasks.length)} task(s) into ${fmt(queueCount(manifest))} queue(s) of stack ${terminalSafe(manifest.stack)} via ${describeTarget(target)}\n`,
  );
  const { createClients, credentialsProblem } = await import('../core/tasks-client');
  const clients = createClients(target, channels);
  const noCredentials = await credentialsProblem(target, clients[0]);
  if (noCredentials) {
    io.stderr.write(`${noCredentials}; nothing was created.\n`);
    return EXIT_INVALID;
  }
  let ledger: RunLedgerWriter | undefined;
  if (useLedger) {
    ledger = createRunLedgerWriter({
      stack: manifest.stack,
      ledger: manifest.ledger!,
      env: io.env,
      // The Cloud Tasks clients' GoogleAuth (cloud-platform scope): one credential lookup for both APIs.
      accessToken: async () => (await clients[0].auth.getAccessToken()) ?? '',
      now,
    });
    io.stderr.write(
      `Recording each seed's run in the run ledger ${terminalSafe(ledger.description)} before its task\n`,
    );
  }
  const progress = createProgress(io.stderr, manifest.tasks.length);
  let result: SeedResult;
  try {
    result = await seedTasks(manifest.tasks, clients, {
      ...io.seedOptions,
      concurrency: opts.concurrency,
      maxAttempts: opts.maxAttempts,
      propagationWaitMs: opts.propagationWait * 1000,
      deadlineMs: opts.deadline * 1000,
      onPropagationWait: (status, message) =>
        io.stderr.write(
          `${status}: ${terminalSafe(message)}. IAM bindings and queues made in the same deploy can take a few minutes to take effect; ` +
            `retrying such errors until ${opts.propagationWait} s after the start (--propagation-wait).\n`,
        ),
      onSettled: (c) => progress.update(c),
      ...(ledger ? { beforeCreate: (task: ManifestTask) => ledger.prepare(task) } : {}),
    });
    progress.finish(result);
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }

  const seconds = result.elapsedMs / 1000;
  const settled = result.created + result.alreadyPresent + result.failed + result.runsExisting;
  io.stdout.write(
    `Seeded ${fmt(settled)} task(s) in ${seconds.toFixed(2)} s (${fmt(Math.round(settled / Math.max(seconds, 0.001)))} tasks/s): ` +
      `${fmt(result.created)} created, ${fmt(result.alreadyPresent)} already present, ${fmt(result.failed)} failed` +
      `${result.retries > 0 ? ` (${fmt(result.retries)} retries)` : ''}.\n`,
  );
  if (ledger)
    io.stdout.write(
      `Run ledger: ${fmt(result.created + result.alreadyPresent)} run(s) started, ${fmt(result.runsExisting)} already there (not started again).\n`,
    );
  if (result.failed === 0) return EXIT_OK;

  io.stderr.write(failureReport(result, 3, showSeconds(opts.deadline)));
  io.stderr.write(
    `${fmt(result.failed)} task(s) were not created. Fix the cause above and run the seeder again: tasks that exist are skipped (ALREADY_EXISTS), so a re-run creates only what is missing.\n`,
  );
  return EXIT_INCOMPLETE;
}

/**
 * Real Cloud Tasks with the Firestore emulator would create real tasks whose runs live on this machine only: refused.
 * (The Cloud Tasks emulator without a Firestore emulator seeds without the ledger, with a notice.)
 */
function ledgerTargetProblem(manifest: SeedManifest, target: SeedTarget, env: NodeJS.ProcessEnv): string | undefined {
  if (!manifest.ledger || target.kind !== 'cloud' || !env[FIRESTORE_EMULATOR_HOST_ENV]) return undefined;
  return `${FIRESTORE_EMULATOR_HOST_ENV} is set but CLOUD_TASKS_EMULATOR_HOST is not: the tasks would go to Cloud Tasks and their runs to the local Firestore emulator. Set both (local) or neither (Google Cloud)`;
}

/**
 * Everything that refuses a manifest before any call, all reported at once: bytes that do not match the sha256 its
 * asset folder is named after, problems against the manifest format and the Cloud Tasks rules, and secrets.
 */
export function manifestRefusals(
  file: string,
  bytes: Buffer,
  now: Date,
):
  | { readonly ok: true; readonly manifest: SeedManifest; readonly notices: readonly string[] }
  | { readonly ok: false; readonly report: string } {
  const lines: string[] = [];
  const notices: string[] = [];
  const integrity = checkManifestIntegrity(file, bytes);
  if (integrity.status === 'mismatch')
    lines.push(
      `${file}: its sha256 is ${integrity.sha256}, but it sits in the asset folder ${integrity.expected}, named after ` +
        `the sha256 synth wrote it with: the file was changed after synth. Synthesize the stack again and deploy that`,
    );
  const parsed = parseManifest(bytes.toString('utf8'), now);
  let problems = 0;
  if (!parsed.ok) {
    lines.push(formatProblems(file, parsed.problems));
    problems = parsed.problems.length;
  }
  let secrets = 0;
  if (parsed.ok) {
    const check = checkManifestSecrets(parsed.manifest);
    secrets = check.refused.length;
    if (secrets > 0)
      lines.push(
        formatProblems(
          file,
          check.refused.map((f) => ({
            path: f.path,
            message: `${f.reason} (policy rule ${f.rule}, docs/policy.md); a credential must not be put into Cloud Tasks: keep it in Secret Manager and let the worker read it`,
          })),
        ),
      );
    for (const a of check.allowed)
      notices.push(
        `${file}: ${fmt(a.count)} secret finding(s) of ${a.rule} let through: the spec suppresses ${a.rule} (${JSON.stringify(a.reason)})`,
      );
  }
  if (lines.length === 0 && parsed.ok) return { ok: true, manifest: parsed.manifest, notices };
  const what = [
    problems > 0 ? `${fmt(problems)} problem(s)` : '',
    secrets > 0 ? `${fmt(secrets)} secret(s)` : '',
    integrity.status === 'mismatch' ? 'a sha256 mismatch' : '',
  ].filter((w) => w !== '');
  return {
    ok: false,
    report: `${lines.join('\n')}\n${what.join(' and ')} in the seed manifest; nothing was created.\n`,
  };
}

/**
 * Failures grouped by status and message (one missing permission fails every task the same way), each group with
 * a few task ids as examples.
 */
export function failureReport(result: Pick<SeedResult, 'failures'>, examples = 3, deadline = 'deadline'): string {
  const groups = new Map<string, { count: number; tasks: string[]; attempts: number }>();
  for (const f of result.failures) {
    const key =
      f.message === NOT_ATTEMPTED
        ? `were not attempted: the run's --deadline of ${deadline} passed before they were started`
        : `failed with ${statusName(f.code)}: ${f.message}`;
    const g = groups.get(key) ?? { count: 0, tasks: [], attempts: 0 };
    g.count++;
    g.attempts = Math.max(g.attempts, f.attempts);
    if (g.tasks.length < examples) g.tasks.push(`${shortQueue(f.task.queue)}/${f.task.taskId}`);
    groups.set(key, g);
  }
  let out = '';
  for (const [key, g] of groups) {
    const more = g.count > g.tasks.length ? `, and ${fmt(g.count - g.tasks.length)} more` : '';
    const attempts = g.attempts > 0 ? ` (after up to ${g.attempts} attempt(s))` : '';
    // Server messages and task ids are not ours: shown terminal-safe.
    out += `${terminalSafe(`  ${fmt(g.count)} task(s) ${key}${attempts}; e.g. ${g.tasks.join(', ')}${more}`)}\n`;
  }
  return out;
}

/**
 * What --dry-run prints: one line per task, never the body or any token, only its size; URLs without credentials;
 * every cell terminal-safe (control and bidi characters shown escaped).
 */
export function dryRunListing(manifest: SeedManifest): string {
  const rows = manifest.tasks.map((t: ManifestTask) =>
    [
      shortQueue(t.queue),
      t.taskId,
      t.httpRequest.httpMethod,
      redactUrl(t.httpRequest.url),
      t.scheduleTime ?? 'now',
      `${fmt(t.httpRequest.body === undefined ? 0 : Buffer.byteLength(t.httpRequest.body))} B`,
    ].map((cell) => terminalSafe(cell)),
  );
  const header = ['QUEUE', 'TASK ID', 'METHOD', 'URL', 'SCHEDULE', 'BODY'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    `${cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ')}\n`;
  const ledger = manifest.ledger
    ? `Each seed's run (run id = seed id) would be recorded first in the run ledger ${terminalSafe(`projects/${manifest.ledger.project}/databases/${manifest.ledger.database}`)}; seeds whose run exists would be left out.\n`
    : '';
  return (
    `Dry run: would create ${fmt(manifest.tasks.length)} task(s) in ${fmt(queueCount(manifest))} queue(s) of project ${terminalSafe(manifest.project)}, ${terminalSafe(manifest.location)}. Nothing was contacted.\n` +
    ledger +
    (rows.length > 0 ? line(header) + rows.map(line).join('') : '')
  );
}

function queueCount(manifest: SeedManifest): number {
  return new Set(manifest.tasks.map((t) => t.queue)).size;
}

/** `projects/p/locations/l/queues/q` -> `q`. */
function shortQueue(queue: string): string {
  return queue.slice(queue.lastIndexOf('/') + 1);
}

function processIo(): CliIo {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env };
}

/** Entry point of bin/seed.ts and of the bundle: runs main and sets the exit code. */
export function runMain(argv: readonly string[] = process.argv): void {
  // The client library can leave a rejected promise behind after a failed call; report it in one line, not a crash.
  process.on('unhandledRejection', (reason) => {
    process.stderr.write(`seeder: ${reason instanceof Error ? reason.message : String(reason)}\n`);
    process.exitCode = process.exitCode || EXIT_INCOMPLETE;
  });
  main(argv).then(
    (code) => exitWith(code),
    (err: unknown) => {
      // An unexpected error (a bug, or a failure outside any task): say what it was, without a payload.
      process.stderr.write(
        `seeder failed: ${terminalSafe(err instanceof Error ? err.message : String(err), { keepNewlines: true })}\n`,
      );
      exitWith(EXIT_INCOMPLETE);
    },
  );
}

function exitWith(code: number): void {
  process.exitCode = code;
  // Clients are closed, so the process should end by itself; if a stray handle keeps it alive, end it anyway.
  setTimeout(() => process.exit(code), 2000).unref();
}
