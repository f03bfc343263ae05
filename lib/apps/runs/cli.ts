/**
 * `npm run runs -- <command>` (`cloud-tasks-pipelines runs`): see and steer a pipeline's runs in its run ledger
 * (docs/runs.md).
 *
 *   list [--pipeline <name>] [--status <s>] [--limit <n>] [--json]   the stacks' runs, newest first
 *   show <runId> [--json]                                            one run's story: steps, shards, failures, outputs
 *   start --spec <file> --step <step> --payload '<json>' [--run-id <id>]
 *   retry <runId> [--step <step>]                                    re-drive a failed run
 *   cancel <runId>                                                   cancel a running run, delete its waiting tasks
 *
 * Which ledgers: the specs (`--spec <file>`, else every spec in `--dir`, default pipelines/), each spec's routes
 * (buildRoutes: its database and its stack), narrowed by `--pipeline` (a pipeline name, or a stack name
 * `<pipeline>-<environment>`). Where: Google's Firestore emulator when FIRESTORE_EMULATOR_HOST is set, else the
 * databases themselves with Application Default Credentials; tasks (start, retry, cancel) go to the Cloud Tasks emulator
 * when CLOUD_TASKS_EMULATOR_HOST is set, else to Cloud Tasks. Every user string is printed terminal-safe.
 *
 * Exit codes: 0 done; 1 no such run, a steering refused (the message says why), the ledger failed; 2 the command line
 * or a spec is wrong, or the environment mixes an emulator with Google Cloud.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { EMULATOR_HOST_ENV, FIRESTORE_EMULATOR_HOST_ENV } from '../../core/env';
import { RUN_STATUSES, type RunStatus } from '../../core/ledger-layout';
import type { PipelineRoutes } from '../../core/routes';
import type { Ledger, RunSummary, RunView } from '../../ledger/index';
import { terminalSafe } from '../../core/text';

export interface RunsCliIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  readonly env: NodeJS.ProcessEnv;
}

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** Something the user must fix (a flag, a spec, the environment): exit 2 with the message. */
class UsageError extends Error {}
/** The ledger said no (no such run, a refused steering): exit 1 with the message. */
class RunsError extends Error {}

interface Selection {
  readonly spec?: string;
  readonly dir: string;
  readonly pipeline?: string;
}

export async function main(argv: readonly string[], io: RunsCliIo = processIo()): Promise<number> {
  let code = EXIT_OK;
  const run = (fn: () => Promise<void>) => async () => {
    try {
      await fn();
    } catch (err) {
      code = report(err, io);
    }
  };
  const selection = (cmd: Command) =>
    cmd
      .option('--spec <file>', 'the pipeline spec whose runs to read (default: every spec in --dir)')
      .option('--dir <dir>', 'folder of pipeline specs', 'pipelines')
      .option('--pipeline <name>', 'only this pipeline (its name, or the stack <pipeline>-<environment>)');
  const program = new Command('runs')
    .description(
      "See and steer pipeline runs in the run ledger (docs/runs.md): the Firestore emulator at FIRESTORE_EMULATOR_HOST, else each spec's database with Application Default Credentials.",
    )
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .addHelpText(
      'after',
      `\nEnvironment:\n  ${FIRESTORE_EMULATOR_HOST_ENV}=host:port    read and write the ledger in Google's Firestore emulator\n  ${EMULATOR_HOST_ENV}=host:port  create and delete tasks (start, retry, cancel) in the local Cloud Tasks emulator\n\nExit codes: 0 done, 1 no such run / refused / the ledger failed, 2 invalid command line, spec or environment.`,
    );

  selection(program.command('list').description("the stacks' runs, newest first (a stalled run is shown failed)"))
    .addOption(new Option('--status <status>', 'only runs with this status').choices(RUN_STATUSES))
    .option('--limit <n>', 'at most this many runs per stack', wholeNumber, 20)
    .option('--json', 'print the runs as JSON')
    .action((opts: Selection & { status?: RunStatus; limit: number; json?: boolean }) => run(() => list(opts, io))());

  selection(
    program
      .command('show')
      .argument('<runId>', 'the run id (a seed id, or what start printed)')
      .description("one run's story: status, steps, shards, failures with reasons, outputs, durations"),
  )
    .option('--json', 'print the run as JSON')
    .action((runId: string, opts: Selection & { json?: boolean }) => run(() => show(runId, opts, io))());

  program
    .command('start')
    .description('start a run by hand: its run document, then its first task')
    .requiredOption('--spec <file>', 'the pipeline spec')
    .option('--step <step>', 'the step to start at (default: the only step without parents)')
    .option('--payload <json>', 'the first task\'s payload, JSON (e.g. \'{"dataset": "gs://acme-raw/x/"}\')', 'null')
    .option(
      '--run-id <id>',
      'the run id (default: <yyyymmdd>-<hhmmss>-<6 hex>); a run that exists is not started again',
    )
    .action((opts: { spec: string; step?: string; payload: string; runId?: string }) => run(() => start(opts, io))());

  selection(
    program
      .command('retry')
      .argument('<runId>', 'a failed run')
      .description(
        're-drive a failed run: its failed and lost tasks again with their original messages; what succeeded is not redone',
      ),
  )
    .option('--step <step>', "only this step's failed tasks")
    .action((runId: string, opts: Selection & { step?: string }) => run(() => retry(runId, opts, io))());

  selection(
    program
      .command('cancel')
      .argument('<runId>', 'a running run')
      .description('cancel a running run: it is marked cancelled and its waiting tasks are deleted'),
  ).action((runId: string, opts: Selection) => run(() => cancel(runId, opts, io))());

  try {
    await program.parseAsync(argv as string[]);
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    throw err;
  }
  return code;
}

function wholeNumber(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > 1000)
    throw new InvalidArgumentError(`expected a whole number from 1 to 1000, got "${text}"`);
  return n;
}

function report(err: unknown, io: RunsCliIo): number {
  if (err instanceof UsageError) {
    io.stderr.write(`${err.message}\n`);
    return EXIT_USAGE;
  }
  const { SpecError } = require('../../spec/errors') as typeof import('../../spec/errors');
  if (err instanceof SpecError) {
    io.stderr.write(`${err.message}\n`);
    return EXIT_USAGE;
  }
  const { RunSteeringError } = require('../../ledger/index') as typeof import('../../ledger/index');
  if (err instanceof RunsError || err instanceof RunSteeringError) {
    io.stderr.write(`${terminalSafe(err.message)}\n`);
    return EXIT_FAILED;
  }
  // The ledger or Cloud Tasks failed (permissions, a missing index, an emulator that is not running): say which.
  const details = (err as { details?: unknown }).details;
  const message = typeof details === 'string' && details !== '' ? details : (err as Error).message;
  io.stderr.write(`runs: ${terminalSafe(String(message).split('\n')[0])}\n`);
  return EXIT_FAILED;
}

// ------------------------------------------------------------------ ledgers

/** The ledgers the selection names: one per spec (its routes), each closed after `use`. */
async function withLedgers<T>(
  sel: Selection,
  io: RunsCliIo,
  use: (ledgers: readonly Ledger[]) => Promise<T>,
  needsTasks = false,
): Promise<T> {
  checkEnvironment(io.env, needsTasks);
  const { loadSpecs } = require('../../spec/load') as typeof import('../../spec/load');
  const { buildRoutes } = require('../../core/routes') as typeof import('../../core/routes');
  const { createLedger } = require('../../ledger/index') as typeof import('../../ledger/index');
  const routes: PipelineRoutes[] = loadSpecs({ specPath: sel.spec, dir: sel.dir, now: new Date() })
    .map(({ spec }) => buildRoutes(spec))
    .filter((r) => sel.pipeline === undefined || r.pipeline === sel.pipeline || r.stack === sel.pipeline);
  if (routes.length === 0)
    throw new UsageError(
      `--pipeline ${terminalSafe(sel.pipeline ?? '')}: no spec ${sel.spec ? `(${sel.spec})` : `in ${sel.dir}/`} has that pipeline or stack name`,
    );
  const ledgers = routes.map((r) => createLedger({ routes: r, env: io.env }));
  try {
    return await use(ledgers);
  } finally {
    await Promise.all(ledgers.map((l) => l.close()));
  }
}

/** Real tasks for runs kept on this machine (or the reverse) would never meet: refused, as the seeder does. */
function checkEnvironment(env: NodeJS.ProcessEnv, needsTasks: boolean): void {
  if (!needsTasks || Boolean(env[FIRESTORE_EMULATOR_HOST_ENV]) === Boolean(env[EMULATOR_HOST_ENV])) return;
  throw new UsageError(
    env[FIRESTORE_EMULATOR_HOST_ENV]
      ? `${FIRESTORE_EMULATOR_HOST_ENV} is set but ${EMULATOR_HOST_ENV} is not: the run would be in the local Firestore emulator and its tasks in Cloud Tasks. Set both (local) or neither (Google Cloud)`
      : `${EMULATOR_HOST_ENV} is set but ${FIRESTORE_EMULATOR_HOST_ENV} is not: the tasks would be local and the run in the Firestore database. Set both (local) or neither (Google Cloud)`,
  );
}

/** The ledger holding `runId` (the first of the selection that has it). */
async function ledgerOf(ledgers: readonly Ledger[], runId: string): Promise<{ ledger: Ledger; run: RunView }> {
  for (const ledger of ledgers) {
    const run = await ledger.getRun(runId);
    if (run) return { ledger, run };
  }
  throw new RunsError(
    `run ${runId} is not in the ledger of ${ledgers.map((l) => `${l.routes.stack} (projects/${l.routes.ledger.project}/databases/${l.routes.ledger.database})`).join(', ')}`,
  );
}

// ------------------------------------------------------------------ commands

async function list(
  opts: Selection & { status?: RunStatus; limit: number; json?: boolean },
  io: RunsCliIo,
): Promise<void> {
  await withLedgers(opts, io, async (ledgers) => {
    const runs = (
      await Promise.all(
        ledgers.map((l) => l.listRuns({ limit: opts.limit, ...(opts.status ? { status: opts.status } : {}) })),
      )
    )
      .flat()
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    if (opts.json) {
      io.stdout.write(`${JSON.stringify(runs, null, 2)}\n`);
      return;
    }
    const where = ledgers.map((l) => l.routes.stack).join(', ');
    if (runs.length === 0) {
      io.stdout.write(`No${opts.status ? ` ${opts.status}` : ''} runs in ${where}.\n`);
      return;
    }
    io.stdout.write(`${runs.length} run(s) in ${where}, newest first:\n${listTable(runs)}\n`);
  });
}

export function listTable(runs: readonly RunSummary[]): string {
  return table(
    ['STACK', 'RUN', 'STATUS', 'STARTED', 'DURATION', 'SOURCE', 'FAILURE'],
    runs.map((r) => [
      r.stack,
      r.runId,
      r.status,
      shortTime(r.createdAt),
      seconds(r.durationSeconds),
      `${r.source.kind}${r.source.name && r.source.name !== r.runId ? ` ${r.source.name}` : ''}`,
      r.failure ? `${r.failure.step}: ${r.failure.kind}: ${oneLine(r.failure.reason, 80)}` : '',
    ]),
  );
}

async function show(runId: string, opts: Selection & { json?: boolean }, io: RunsCliIo): Promise<void> {
  await withLedgers(opts, io, async (ledgers) => {
    const { run } = await ledgerOf(ledgers, runId);
    io.stdout.write(opts.json ? `${JSON.stringify(run, null, 2)}\n` : `${story(run)}\n`);
  });
}

/** How many shards of a step are listed by name before the rest are counted. */
const SHARDS_SHOWN = 10;
const OUTPUTS_SHOWN = 20;

/** A run as a story: what started it, how each step went, what failed and why, what it produced. */
export function story(run: RunView): string {
  const lines: string[] = [];
  const by = `${run.source.kind}${run.source.name ? ` ${run.source.name}` : ''}`;
  lines.push(`Run ${run.runId} of ${run.stack} (pipeline ${run.pipeline}): ${run.status.toUpperCase()}`);
  lines.push(`  started   ${run.createdAt} by ${by}, at step ${run.startStep}`);
  if (run.finishedAt) lines.push(`  finished  ${run.finishedAt}, after ${seconds(run.durationSeconds)}`);
  else lines.push(`  running   for ${seconds(run.durationSeconds)}; last progress ${run.lastProgressAt}`);
  if (run.redrives > 0) lines.push(`  re-driven ${run.redrives} time(s)`);
  if (run.input !== undefined) lines.push(`  input     ${oneLine(JSON.stringify(run.input), 200)}`);
  else if (run.inputNote) lines.push(`  input     (${run.inputNote})`);
  if (run.failure)
    lines.push(
      `  failure   at ${run.failure.step}${run.failure.shard ? ` shard ${run.failure.shard}` : ''} (${run.failure.kind}): ${oneLine(run.failure.reason, 500)}`,
    );
  lines.push('');
  lines.push(
    ...table(
      ['STEP', 'JOIN', 'STATE', 'TASKS', 'DONE', 'FAILED', 'RUNNING', 'ATTEMPTS', 'DURATION'],
      run.steps.map((s) => [
        s.step,
        s.join,
        s.state,
        s.expected === undefined ? '-' : String(s.expected),
        String(s.succeeded),
        String(s.failed),
        String(s.running),
        String(s.attempts),
        s.durationSeconds === undefined ? '-' : seconds(s.durationSeconds),
      ]),
    ).split('\n'),
  );

  // Shards worth a line: not done, or done after more than one attempt (a retry, a lost lease, a re-drive).
  const notable = run.steps.flatMap((s) =>
    s.shards.filter((sh) => sh.state !== 'done' || sh.attempts > 1).map((sh) => ({ step: s.step, ...sh })),
  );
  if (notable.length > 0) {
    lines.push('', 'Shards that failed, are running, or took more than one attempt:');
    for (const sh of notable.slice(0, SHARDS_SHOWN * 2)) {
      const when =
        sh.state === 'running' && sh.leaseUntil
          ? `, lease until ${sh.leaseUntil}`
          : sh.durationSeconds !== undefined
            ? `, last attempt ${seconds(sh.durationSeconds)}`
            : '';
      const error = sh.error
        ? `; ${sh.error.final ? 'failed' : 'last error'} (attempt ${sh.error.attempt}): ${oneLine(sh.error.message, 300)}`
        : '';
      lines.push(
        `  ${sh.step} ${sh.shard}: ${sh.state} after ${sh.attempts} attempt(s)${sh.generation > 0 ? ` (re-drive ${sh.generation})` : ''}${when}${error}`,
      );
    }
    if (notable.length > SHARDS_SHOWN * 2) lines.push(`  ... and ${notable.length - SHARDS_SHOWN * 2} more (--json)`);
  }

  const outputs = run.steps.flatMap((s) => s.outputs.map((o) => ({ step: s.step, ...o })));
  if (outputs.length > 0) {
    lines.push('', 'Outputs:');
    for (const o of outputs.slice(0, OUTPUTS_SHOWN)) lines.push(`  ${o.step} ${o.shard}  ${o.name}  ${o.uri}`);
    if (outputs.length > OUTPUTS_SHOWN) lines.push(`  ... and ${outputs.length - OUTPUTS_SHOWN} more (--json)`);
  }
  return lines.map((l) => terminalSafe(l)).join('\n');
}

async function start(
  opts: { spec: string; step?: string; payload: string; runId?: string },
  io: RunsCliIo,
): Promise<void> {
  let payload: unknown;
  try {
    payload = JSON.parse(opts.payload);
  } catch (err) {
    throw new UsageError(
      `--payload is not JSON (${(err as Error).message}); quote it for the shell: --payload '{"n": 1}'`,
    );
  }
  await withLedgers(
    { spec: opts.spec, dir: '.' },
    io,
    async ([ledger]) => {
      const r = await ledger.startRun({
        ...(opts.step ? { step: opts.step } : {}),
        payload,
        ...(opts.runId ? { runId: opts.runId } : {}),
      });
      io.stdout.write(
        terminalSafe(
          r.created
            ? `Started run ${r.runId} of ${ledger.routes.stack}: task ${r.task}`
            : `Run ${r.runId} of ${ledger.routes.stack} exists already (${r.status}): nothing new started`,
        ) + '\n',
      );
    },
    true,
  );
}

async function retry(runId: string, opts: Selection & { step?: string }, io: RunsCliIo): Promise<void> {
  await withLedgers(
    opts,
    io,
    async (ledgers) => {
      const { ledger } = await ledgerOf(ledgers, runId);
      const r = await ledger.retryRun(runId, opts.step ? { step: opts.step } : {});
      const what = r.requeued.map((q) => `${q.step} ${q.shard}`).join(', ');
      io.stdout.write(
        terminalSafe(
          `Re-drove run ${runId} (generation ${r.generation}): ${r.requeued.length} task(s) enqueued again${what ? ` (${what})` : ''}; npm run runs -- show ${runId} follows it`,
        ) + '\n',
      );
    },
    true,
  );
}

async function cancel(runId: string, opts: Selection, io: RunsCliIo): Promise<void> {
  await withLedgers(
    opts,
    io,
    async (ledgers) => {
      const { ledger } = await ledgerOf(ledgers, runId);
      const r = await ledger.cancelRun(runId);
      io.stdout.write(
        terminalSafe(
          `Cancelled run ${runId}: ${r.deleted} waiting task(s) deleted; a worker still holding one finishes it and starts nothing after it`,
        ) + '\n',
      );
    },
    true,
  );
}

// ------------------------------------------------------------------ formatting

function table(header: string[], rows: string[][]): string {
  const safe = rows.map((r) => r.map((c) => terminalSafe(c)));
  const widths = header.map((h, i) => Math.max(h.length, ...safe.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(header), ...safe.map(line)].join('\n');
}

/** `2026-12-01 11:23:15Z` from an ISO 8601 time. */
function shortTime(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}Z`;
}

function seconds(s: number): string {
  return s >= 120 ? `${(s / 60).toFixed(1)}m` : `${s.toFixed(2)}s`;
}

/** One line, at most `max` characters (a reason can be long, or hold line breaks). */
function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s*\n\s*/g, ' ');
  return flat.length > max ? `${flat.slice(0, max - 3)}...` : flat;
}

function processIo(): RunsCliIo {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env };
}

export function runMain(argv: readonly string[]): void {
  main(argv).then(
    (code) => {
      process.exitCode = code;
      // Every client is closed; if a stray handle keeps the process alive, end it anyway.
      setTimeout(() => process.exit(code), 2000).unref();
    },
    (err: unknown) => {
      process.stderr.write(`runs: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
