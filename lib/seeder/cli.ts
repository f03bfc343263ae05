/**
 * The seeder's command line, shared by both ways to run it: `npm run seed -- <manifest>` (bin/seed.ts) and the
 * bundled `node seeder.cjs <manifest>` that Terraform's local-exec provisioner runs at deploy time.
 *
 * Exit codes: 0 every task exists (created now or already present); 1 some tasks are left undone (re-run to
 * finish); 2 the command line, the environment (emulator address, credentials) or the manifest is wrong, and nothing
 * was created.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import type { ManifestTask, SeedManifest } from '../core/manifest';
import { createProgress, type ProgressStream } from './progress';
import { SEED_DEFAULTS, seedTasks, statusName, type SeedResult } from './seeder';
import { describeTarget, seedTargetFromEnv, type SeedTarget } from '../core/env';
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
}

interface CliOptions {
  readonly dryRun?: boolean;
  readonly concurrency: number;
  readonly channels?: number;
  readonly maxAttempts: number;
  readonly propagationWait: number;
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
      'attempts per task for retryable errors (UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, ABORTED, INTERNAL)',
      wholeNumber(1, 100),
      SEED_DEFAULTS.maxAttempts,
    )
    .option(
      '--propagation-wait <seconds>',
      'retry PERMISSION_DENIED and NOT_FOUND this long after the start: IAM bindings and queues made in the same deploy take a while to take effect (0: fail at once)',
      wholeNumber(0, 3600),
      SEED_DEFAULTS.propagationWaitMs / 1000,
    )
    .option(
      '--deadline <seconds>',
      'time budget for the whole run; no retry starts after it',
      wholeNumber(1, 86_400),
      SEED_DEFAULTS.deadlineMs / 1000,
    )
    .addHelpText(
      'after',
      `\nEnvironment:\n  CLOUD_TASKS_EMULATOR_HOST=host:port  use the local emulator (insecure gRPC) instead of Cloud Tasks\n\nExit codes: 0 done, 1 some tasks left undone (re-run to finish), 2 invalid input or no credentials (nothing created).`,
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

  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    io.stderr.write(
      `${file}: cannot read the seed manifest (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})\n`,
    );
    return EXIT_INVALID;
  }
  const parsed = parseManifest(text, now());
  if (!parsed.ok) {
    io.stderr.write(`${formatProblems(file, parsed.problems)}\n`);
    io.stderr.write(`${fmt(parsed.problems.length)} problem(s) in the seed manifest; nothing was created.\n`);
    return EXIT_INVALID;
  }
  const manifest = parsed.manifest;

  if (opts.dryRun) {
    io.stdout.write(dryRunListing(manifest));
    return EXIT_OK;
  }

  let target: SeedTarget;
  try {
    target = seedTargetFromEnv(io.env);
  } catch (err) {
    io.stderr.write(`${(err as Error).message}; nothing was created.\n`);
    return EXIT_INVALID;
  }
  if (manifest.tasks.length === 0) {
    io.stdout.write(`${file}: no seed tasks; nothing to do.\n`);
    return EXIT_OK;
  }

  const channels = opts.channels ?? Math.ceil(Math.min(opts.concurrency, manifest.tasks.length) / 100);
  io.stderr.write(
    `Seeding ${fmt(manifest.tasks.length)} task(s) into ${fmt(queueCount(manifest))} queue(s) of stack ${manifest.stack} via ${describeTarget(target)}\n`,
  );
  const { createClients, credentialsProblem } = await import('../core/tasks-client');
  const clients = createClients(target, channels);
  const noCredentials = await credentialsProblem(target, clients[0]);
  if (noCredentials) {
    io.stderr.write(`${noCredentials}; nothing was created.\n`);
    return EXIT_INVALID;
  }
  const progress = createProgress(io.stderr, manifest.tasks.length);
  let result: SeedResult;
  try {
    result = await seedTasks(manifest.tasks, clients, {
      concurrency: opts.concurrency,
      maxAttempts: opts.maxAttempts,
      propagationWaitMs: opts.propagationWait * 1000,
      deadlineMs: opts.deadline * 1000,
      onPropagationWait: (status, message) =>
        io.stderr.write(
          `${status}: ${message}. IAM bindings and queues made in the same deploy can take a few minutes to take effect; ` +
            `retrying such errors until ${opts.propagationWait} s after the start (--propagation-wait).\n`,
        ),
      onSettled: (c) => progress.update(c),
    });
    progress.finish(result);
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }

  const seconds = result.elapsedMs / 1000;
  const settled = result.created + result.alreadyPresent + result.failed;
  io.stdout.write(
    `Seeded ${fmt(settled)} task(s) in ${seconds.toFixed(2)} s (${fmt(Math.round(settled / Math.max(seconds, 0.001)))} tasks/s): ` +
      `${fmt(result.created)} created, ${fmt(result.alreadyPresent)} already present, ${fmt(result.failed)} failed` +
      `${result.retries > 0 ? ` (${fmt(result.retries)} retries)` : ''}.\n`,
  );
  if (result.failed === 0) return EXIT_OK;

  io.stderr.write(failureReport(result));
  io.stderr.write(
    `${fmt(result.failed)} task(s) were not created. Fix the cause above and run the seeder again: tasks that exist are skipped (ALREADY_EXISTS), so a re-run creates only what is missing.\n`,
  );
  return EXIT_INCOMPLETE;
}

/**
 * Failures grouped by status and message (one missing permission fails every task the same way), each group with
 * a few task ids as examples.
 */
export function failureReport(result: Pick<SeedResult, 'failures'>, examples = 3): string {
  const groups = new Map<string, { count: number; tasks: string[]; attempts: number }>();
  for (const f of result.failures) {
    const key = `${statusName(f.code)}: ${f.message}`;
    const g = groups.get(key) ?? { count: 0, tasks: [], attempts: 0 };
    g.count++;
    g.attempts = Math.max(g.attempts, f.attempts);
    if (g.tasks.length < examples) g.tasks.push(`${shortQueue(f.task.queue)}/${f.task.taskId}`);
    groups.set(key, g);
  }
  let out = '';
  for (const [key, g] of groups) {
    const more = g.count > g.tasks.length ? `, and ${fmt(g.count - g.tasks.length)} more` : '';
    out += `  ${fmt(g.count)} task(s) failed with ${key} (after up to ${g.attempts} attempt(s)); e.g. ${g.tasks.join(', ')}${more}\n`;
  }
  return out;
}

/** What --dry-run prints: one line per task, never the body or any token, only its size. */
export function dryRunListing(manifest: SeedManifest): string {
  const rows = manifest.tasks.map((t: ManifestTask) => [
    shortQueue(t.queue),
    t.taskId,
    t.httpRequest.httpMethod,
    t.httpRequest.url,
    t.scheduleTime ?? 'now',
    `${fmt(t.httpRequest.body === undefined ? 0 : Buffer.byteLength(t.httpRequest.body))} B`,
  ]);
  const header = ['QUEUE', 'TASK ID', 'METHOD', 'URL', 'SCHEDULE', 'BODY'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    `${cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ')}\n`;
  return (
    `Dry run: would create ${fmt(manifest.tasks.length)} task(s) in ${fmt(queueCount(manifest))} queue(s) of project ${manifest.project}, ${manifest.location}. Nothing was contacted.\n` +
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
      process.stderr.write(`seeder failed: ${err instanceof Error ? err.message : String(err)}\n`);
      exitWith(EXIT_INCOMPLETE);
    },
  );
}

function exitWith(code: number): void {
  process.exitCode = code;
  // Clients are closed, so the process should end by itself; if a stray handle keeps it alive, end it anyway.
  setTimeout(() => process.exit(code), 2000).unref();
}
