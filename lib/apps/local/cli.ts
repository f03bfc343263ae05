/**
 * `npm run local [-- --spec <file>] [--report <file>] [--timeout 10m] [--fail-rate 0..1] [--duplicate-rate 0..1] [--work-ms 20]
 *  [--log-level error|warn|info|debug] [--event-log <file.jsonl>] [--keep-outdir] [--keep-runs] [--port <p>]
 *  [--oidc-port <p>] [--ui] [--ui-port <p>] [--fire <schedule> | --schedules [--for <duration>]]`
 *
 * Runs one pipeline on this machine (lib/apps/local/run.ts), shows progress on stderr (a bar on a terminal, a line every
 * two seconds otherwise), then prints the per-step summary, the timeline and each run's outcome (the run ledger) on
 * stdout.
 * Exit codes: 0 every task succeeded; 1 a task failed, the run timed out or seeding failed; 2 the command line or the
 * spec is wrong (nothing ran).
 */
import { writeFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { LOG_LEVELS, type LogLevel } from '../../emulator/dispatch/events';
import { parseDuration, DURATION_FORMAT_HINT } from '../../core/duration';
import { formatStepTable, formatTimeline } from './summary';
import { FIRESTORE_EMULATOR_HOST_ENV } from '../../core/env';
import type { RunProgress } from './run';
import { terminalSafe } from '../../core/text';

export const DEFAULT_SPEC = 'pipelines/recsys-dev.yaml';
/** How long `--schedules` runs without `--for`. */
export const DEFAULT_SCHEDULES_WINDOW_MS = 10 * 60_000;

interface CliOptions {
  readonly spec?: string;
  readonly report?: string;
  readonly timeout: number;
  readonly failRate: number;
  readonly duplicateRate: number;
  readonly workMs: number;
  readonly logLevel: LogLevel;
  readonly eventLog?: string;
  readonly keepOutdir?: boolean;
  readonly keepRuns?: boolean;
  readonly port: number;
  readonly oidcPort: number;
  readonly ui?: boolean;
  readonly uiPort?: number;
  readonly fire?: string;
  readonly schedules?: boolean;
  readonly for?: number;
}

export interface LocalCliIo {
  readonly stdout: { write(s: string): unknown };
  readonly stderr: { write(s: string): unknown; readonly isTTY?: boolean };
  readonly env: NodeJS.ProcessEnv;
}

function duration(text: string): number {
  const s = parseDuration(text);
  if (s === undefined || s === 0) throw new InvalidArgumentError(`expected ${DURATION_FORMAT_HINT}, got "${text}"`);
  return s * 1000;
}

function fraction(text: string): number {
  const n = Number(text);
  if (text.trim() === '' || !(n >= 0 && n < 1))
    throw new InvalidArgumentError(
      `expected a fraction from 0 to below 1 (0.2 = a fifth of attempts fail), got "${text}"`,
    );
  return n;
}

function wholeMs(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n > 60_000)
    throw new InvalidArgumentError(`expected milliseconds from 0 to 60000, got "${text}"`);
  return n;
}

function port(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n > 65535)
    throw new InvalidArgumentError(`expected a TCP port from 0 (pick a free one) to 65535, got "${text}"`);
  return n;
}

function program(io: LocalCliIo): Command {
  return new Command('local')
    .description(
      "Run a pipeline on this machine: synthesize it, create its queues in the local emulator from the Terraform JSON, seed it as deploy does, and serve each step with the example worker (or the step's local.url) until it is idle.",
    )
    .option('--spec <file>', `pipeline spec (default: PIPELINE_SPEC, else ${DEFAULT_SPEC})`)
    .option(
      '--report <file>',
      'write the run report as JSON: { steps: { <step>: { succeeded, failed, attempts, ... } }, tasks, durationSeconds, runs: { <runId>: { status, steps } }, ... }',
    )
    .option(
      '--timeout <duration>',
      'give up when tasks are still pending after this long, e.g. 90s, 10m',
      duration,
      600_000,
    )
    .option(
      '--fail-rate <fraction>',
      'share of attempts in which the example worker fails (500, retried by the queue), to watch retries',
      fraction,
      0,
    )
    .option(
      '--duplicate-rate <fraction>',
      'share of successful deliveries the emulator repeats (Cloud Tasks is at-least-once), to prove the workers are idempotent',
      (text: string) => {
        const n = Number(text);
        if (text.trim() === '' || !(n >= 0 && n <= 1))
          throw new InvalidArgumentError(
            `expected a fraction from 0 to 1 (0.01 = 1 in 100 tasks arrives twice), got "${text}"`,
          );
        return n;
      },
      0,
    )
    .option('--work-ms <ms>', 'simulated work per task in the example worker', wholeMs, 20)
    .addOption(
      new Option(
        '--log-level <level>',
        'dispatch events printed to stderr: error (tasks given up), warn (+ failed attempts), info (+ successes), debug (everything)',
      )
        .choices(LOG_LEVELS)
        .default('warn'),
    )
    .option(
      '--event-log <file.jsonl>',
      'append every dispatch event as a JSON line (ts, queue, task, event, status, attempt, latencyMs, nextAttemptAt)',
    )
    .option('--keep-outdir', 'keep the synthesized stack under .local-run/ (printed) for inspection')
    .option(
      '--keep-runs',
      "keep the stack's earlier runs in the Firestore emulator (FIRESTORE_EMULATOR_HOST): the seeder then starts only seeds without a run, as a re-deploy does",
    )
    .option(
      '--port <port>',
      'gRPC port of the emulator (CLOUD_TASKS_EMULATOR_HOST for local.url workers); 0 picks a free one',
      port,
      0,
    )
    .option(
      '--oidc-port <port>',
      "port of the emulator's OIDC issuer (CLOUD_TASKS_EMULATOR_OIDC_ISSUER for local.url workers); 0 picks a free one",
      port,
      0,
    )
    .option(
      '--ui',
      'serve the dashboard on 127.0.0.1 (prints its URL) and keep serving after the pipeline is idle, until Ctrl-C',
    )
    .option('--ui-port <port>', 'port of the dashboard (implies --ui); 0 picks a free one', port)
    .option(
      '--fire <schedule>',
      "fire this schedule once, now, instead of seeding: the synthesized Cloud Scheduler job's request, sent to the emulator",
    )
    .option('--schedules', 'fire every schedule on its cron, in real time, instead of seeding (see --for)')
    .option('--for <duration>', 'with --schedules: how long to run the schedules, e.g. 3m (default 10m)', duration)
    .addHelpText(
      'after',
      `\nThe run ledger: Google's Firestore emulator at ${FIRESTORE_EMULATOR_HOST_ENV}, else one started for the run (install: google-cloud-cli-firestore-emulator, Java 17+).\nExit codes: 0 every task and every run succeeded, 1 a task or run failed / timeout / seeding failed / no Firestore emulator, 2 invalid command line or spec.`,
    )
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });
}

export async function main(
  argv: readonly string[],
  io: LocalCliIo = { stdout: process.stdout, stderr: process.stderr, env: process.env },
): Promise<number> {
  const cmd = program(io);
  try {
    cmd.parse(argv as string[]);
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    throw err;
  }
  const opts = cmd.opts<CliOptions>();
  const usage =
    opts.fire !== undefined && opts.schedules
      ? '--fire and --schedules: give one (--fire fires one schedule once, --schedules runs them all on their cron)'
      : opts.for !== undefined && !opts.schedules
        ? '--for is the window of --schedules: add --schedules'
        : undefined;
  if (usage) {
    io.stderr.write(`error: ${usage}\n`);
    return 2;
  }
  const specPath = opts.spec ?? (io.env.PIPELINE_SPEC || DEFAULT_SPEC);

  const view = progressView(io.stderr);
  // Loaded after parsing: --help stays instant.
  const { runLocal } = await import('./run');
  const { SpecError } = await import('../../spec/errors');
  const { PolicyError } = await import('../../policy/errors');
  const { ScheduleNotFoundError, describeFiring } = await import('./schedules');
  const { FirestoreEmulatorError } = await import('../../ledger/firestore-emulator');
  // Ctrl-C ends the run like a timeout: workers and the emulator stop, .local-run/ is cleaned, the summary prints.
  const interrupt = new AbortController();
  const onSignal = () => interrupt.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let result: Awaited<ReturnType<typeof runLocal>>;
  try {
    result = await runLocal({
      specPath,
      timeoutMs: opts.timeout,
      failureRate: opts.failRate,
      duplicateRate: opts.duplicateRate,
      workMs: opts.workMs,
      logLevel: opts.logLevel,
      eventLog: opts.eventLog,
      keepOutdir: opts.keepOutdir,
      keepRuns: opts.keepRuns,
      env: io.env,
      port: opts.port,
      oidcPort: opts.oidcPort,
      fire: opts.fire,
      schedules: opts.schedules ? { forMs: opts.for ?? DEFAULT_SCHEDULES_WINDOW_MS } : undefined,
      signal: interrupt.signal,
      log: view.log,
      onProgress: view.update,
      ...(opts.ui || opts.uiPort !== undefined ? { ui: { port: opts.uiPort ?? 0 } } : {}),
    });
  } catch (err) {
    view.stop();
    if (err instanceof ScheduleNotFoundError) {
      io.stderr.write(`${err.message}\nNothing ran.\n`);
      return 2;
    }
    if (err instanceof SpecError || err instanceof PolicyError) {
      io.stderr.write(`${err.message}\nNothing ran. Fix the spec and run again.\n`);
      return 2;
    }
    if (err instanceof FirestoreEmulatorError) {
      io.stderr.write(`${err.message}\n`);
      return 1;
    }
    io.stderr.write(
      `local run failed: ${terminalSafe(err instanceof Error ? (err.stack ?? err.message) : String(err), { keepNewlines: true })}\n`,
    );
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  view.stop();

  const r = result.report;
  const out = io.stdout;
  out.write(`\n${r.stack} (${r.spec}): ${r.tasks} task(s) in ${r.durationSeconds.toFixed(2)} s\n`);
  if (result.seederOutput.trim()) out.write(`${result.seederOutput.trim()}\n`);
  for (const f of r.firings ?? []) out.write(`${describeFiring(f)}\n`);
  out.write(
    `\n${formatStepTable(r.steps)}\n\nTimeline (seconds since seeding started):\n${formatTimeline(r.timeline)}\n\n`,
  );
  const { formatRunOutcomes } = await import('./ledger');
  out.write(`Runs (the run ledger):\n${formatRunOutcomes(r.runs)}\n\n`);
  const firstRun = Object.keys(r.runs)[0];
  if (firstRun !== undefined)
    out.write(
      io.env[FIRESTORE_EMULATOR_HOST_ENV]
        ? `The runs stay in the Firestore emulator at ${io.env[FIRESTORE_EMULATOR_HOST_ENV]}: npm run runs -- show ${firstRun} tells a run's story.\n`
        : `The run ledger was in a Firestore emulator started for this run, and is gone with it. To look at runs afterwards (npm run runs -- show ${firstRun}), start one and point both commands at it: gcloud emulators firestore start --host-port=127.0.0.1:8090, then export ${FIRESTORE_EMULATOR_HOST_ENV}=127.0.0.1:8090.\n`,
    );
  if (opts.keepOutdir) out.write(`Synthesized stack kept in ${result.stackDir}\n`);
  if (opts.report) {
    writeFileSync(opts.report, `${JSON.stringify(r, null, 2)}\n`);
    out.write(`Report written to ${opts.report}\n`);
  }
  if (r.ok) {
    out.write('Every task succeeded.\n');
    return 0;
  }
  for (const p of r.problems) io.stderr.write(`${terminalSafe(p)}\n`);
  return 1;
}

/** Progress on stderr: a redrawn line on a terminal, a plain line every 2 s otherwise (CI logs). */
function progressView(stderr: LocalCliIo['stderr']): {
  update: (p: RunProgress) => void;
  log: (line: string) => void;
  stop: () => void;
} {
  const describe = (p: RunProgress) =>
    `${p.phase}: ${p.finished}/${p.tasks} task(s) done, ${p.inFlight} in flight${p.failedAttempts ? `, ${p.failedAttempts} failed attempt(s)` : ''}`;
  if (stderr.isTTY) {
    let last = '';
    const clear = () => {
      if (last) stderr.write('\r\x1b[2K');
    };
    return {
      update: (p) => {
        const text = describe(p);
        if (text === last) return;
        clear();
        stderr.write(text);
        last = text;
      },
      log: (line) => {
        clear();
        stderr.write(`${terminalSafe(line)}\n`);
        if (last) stderr.write(last);
      },
      stop: () => {
        clear();
        last = '';
      },
    };
  }
  let lastAt = 0;
  let lastPhase = '';
  return {
    update: (p) => {
      const now = Date.now();
      if (p.phase === lastPhase && now - lastAt < 2000) return;
      lastAt = now;
      lastPhase = p.phase;
      stderr.write(`${describe(p)}\n`);
    },
    log: (line) => stderr.write(`${terminalSafe(line)}\n`),
    stop: () => undefined,
  };
}

export function runMain(argv: readonly string[]): void {
  main(argv).then(
    (code) => {
      process.exitCode = code;
      // Everything is closed; if a stray handle keeps the process alive, end it anyway.
      setTimeout(() => process.exit(code), 2000).unref();
    },
    (err: unknown) => {
      process.stderr.write(`local run failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
