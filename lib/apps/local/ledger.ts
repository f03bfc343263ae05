/**
 * The run ledger of `npm run local` (docs/local.md, "Runs"): Google's Firestore emulator (the one
 * FIRESTORE_EMULATOR_HOST names, or one started here and stopped after the run), the example worker on the worker SDK
 * for every step without `local.url`, what a `local.url` worker needs to join in (the routes file and the emulators'
 * addresses), and each run's outcome as the ledger tells it.
 *
 * The stack's earlier runs in that emulator are deleted first (`keepRuns` keeps them): the seeds' run ids are the same
 * every time, and the seeder never starts a run that exists, so a second `npm run local` would otherwise run nothing.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { EMULATOR_HOST_ENV, EMULATOR_ISSUER_ENV, FIRESTORE_EMULATOR_HOST_ENV } from '../../core/env';
import { FINAL_RUN_STATUSES, ledgerPaths, type RunFailure, type RunStatus } from '../../core/ledger-layout';
import { ROUTES_FILE_ENV, type PipelineRoutes } from '../../core/routes';
import { createLedger, type Ledger, type LedgerTasksClient } from '../../ledger/index';
import { ensureFirestoreEmulator, type RunningFirestoreEmulator } from '../../ledger/firestore-emulator';
import { startExampleWorker, type RunningWorker } from '../../worker/example-worker';
import { terminalSafe } from '../../core/text';

/** One run in the `--report` JSON: its status and, per step, how many of its tasks succeeded and failed. */
export interface LocalRunOutcome {
  readonly status: RunStatus;
  readonly steps: Readonly<Record<string, { readonly succeeded: number; readonly failed: number }>>;
  /** Seconds from the run's creation to its end (or to the report). */
  readonly durationSeconds: number;
  /** Why it failed: the step, the shard, the kind and the reason. */
  readonly failure?: RunFailure;
}

/** The Firestore emulator for a local run: FIRESTORE_EMULATOR_HOST's, or a new one (ready when this resolves). */
export async function startLocalFirestore(env: NodeJS.ProcessEnv): Promise<RunningFirestoreEmulator> {
  const emulator = await ensureFirestoreEmulator({ env });
  try {
    await emulator.ready;
  } catch (err) {
    await emulator.stop();
    throw err;
  }
  return emulator;
}

export interface LocalLedgerOptions {
  readonly firestore: RunningFirestoreEmulator;
  readonly routes: PipelineRoutes;
  /** Where `.local-run/<stack>.routes.json` is written. */
  readonly workDir: string;
  /** The Cloud Tasks emulator's gRPC address and OIDC issuer. */
  readonly cloudTasks: { readonly address: string; readonly issuer: string };
  /** The client the ledger creates tasks with (the local run's). */
  readonly tasks: LedgerTasksClient;
  /** Steps the example worker serves (those without `local.url`). */
  readonly exampleSteps: readonly string[];
  readonly failureRate?: number;
  readonly workMs?: number;
  readonly random?: () => number;
  /** Keep the stack's earlier runs in the emulator (the seeder then starts only seeds without a run). */
  readonly keepRuns?: boolean;
  /** The worker SDK's log lines of these severities are shown (errors always). */
  readonly showSeverities?: ReadonlySet<string>;
  readonly log: (line: string) => void;
}

export interface LocalLedger {
  readonly ledger: Ledger;
  readonly routesFile: string;
  /** The example worker, when some step has no `local.url`. */
  readonly worker?: RunningWorker;
  /** What a `local.url` worker needs in its environment (printed before seeding). */
  readonly workerEnv: Readonly<Record<string, string>>;
  /** Whether every run the ledger has for the stack is finished (succeeded, failed or cancelled). */
  allFinished(): Promise<boolean>;
  /** Every run of the stack, as the ledger tells it. */
  outcomes(): Promise<Record<string, LocalRunOutcome>>;
  close(): Promise<void>;
}

export async function openLocalLedger(o: LocalLedgerOptions): Promise<LocalLedger> {
  const env = { [FIRESTORE_EMULATOR_HOST_ENV]: o.firestore.host, [EMULATOR_HOST_ENV]: o.cloudTasks.address };
  const ledger = createLedger({ routes: o.routes, env, tasks: o.tasks });
  const closers: Array<() => Promise<void>> = [() => ledger.close()];
  try {
    if (!o.keepRuns) {
      const db = ledger.engine.store.db;
      await db.recursiveDelete(db.doc(ledgerPaths.stack(o.routes.stack)));
    }
    const dir = path.join(o.workDir, '.local-run');
    mkdirSync(dir, { recursive: true });
    const routesFile = path.join(dir, `${o.routes.stack}.routes.json`);
    writeFileSync(routesFile, `${JSON.stringify(o.routes, null, 2)}\n`);

    const show = o.showSeverities ?? new Set<string>();
    const worker =
      o.exampleSteps.length === 0
        ? undefined
        : await startExampleWorker({
            routes: o.routes,
            steps: o.exampleSteps,
            ledger,
            env: { ...env, [EMULATOR_ISSUER_ENV]: o.cloudTasks.issuer },
            failureRate: o.failureRate,
            workMs: o.workMs,
            random: o.random,
            log: (line) => {
              const l = workerLine(line);
              if (l && (l.severity === 'ERROR' || show.has(l.severity))) o.log(l.text);
            },
          });
    if (worker) closers.unshift(() => worker.close());

    const listAll = () => ledger.listRuns({ limit: 1000 });
    return {
      ledger,
      routesFile,
      worker,
      workerEnv: {
        [ROUTES_FILE_ENV]: routesFile,
        [FIRESTORE_EMULATOR_HOST_ENV]: o.firestore.host,
        [EMULATOR_HOST_ENV]: o.cloudTasks.address,
        [EMULATOR_ISSUER_ENV]: o.cloudTasks.issuer,
      },
      allFinished: async () => (await listAll()).every((r) => FINAL_RUN_STATUSES.includes(r.status)),
      outcomes: async () => {
        const out: Record<string, LocalRunOutcome> = {};
        for (const summary of [...(await listAll())].sort((a, b) => a.runId.localeCompare(b.runId))) {
          const run = await ledger.getRun(summary.runId);
          if (!run) continue;
          out[run.runId] = {
            status: run.status,
            steps: Object.fromEntries(run.steps.map((s) => [s.step, { succeeded: s.succeeded, failed: s.failed }])),
            durationSeconds: Math.round(run.durationSeconds * 1000) / 1000,
            ...(run.failure ? { failure: run.failure } : {}),
          };
        }
        return out;
      },
      close: async () => {
        for (const close of closers) await close();
      },
    };
  } catch (err) {
    for (const close of closers) await close().catch(() => undefined);
    throw err;
  }
}

/** A worker SDK log line (Cloud Logging JSON) as one readable, terminal-safe line. */
function workerLine(json: string): { severity: string; text: string } | undefined {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const labels = (entry['logging.googleapis.com/labels'] ?? {}) as Record<string, unknown>;
  const where = [labels.step, labels.shard === undefined ? undefined : `[${String(labels.shard)}]`]
    .filter((p) => p !== undefined)
    .join('');
  const run = labels.runId === undefined ? '' : ` run ${String(labels.runId)}`;
  const severity = String(entry.severity ?? 'INFO');
  return {
    severity,
    text: terminalSafe(`worker ${severity.toLowerCase()}: ${where}${run}: ${String(entry.message ?? '')}`),
  };
}

/** The runs as the CLI prints them: one line per run, its steps' tasks done, and why a run did not succeed. */
export function formatRunOutcomes(outcomes: Readonly<Record<string, LocalRunOutcome>>): string {
  const rows = Object.entries(outcomes).map(([runId, r]) => [
    terminalSafe(runId),
    r.status,
    `${r.durationSeconds.toFixed(2)}s`,
    Object.entries(r.steps)
      .map(([step, s]) => `${step} ${s.succeeded}${s.failed ? ` (${s.failed} failed)` : ''}`)
      .join(', '),
  ]);
  if (rows.length === 0) return 'No runs in the ledger.';
  const header = ['RUN', 'STATUS', 'DURATION', 'TASKS DONE PER STEP'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ');
  const failures = Object.entries(outcomes)
    .filter(([, r]) => r.failure)
    .map(
      ([runId, r]) =>
        `${terminalSafe(runId)} failed at ${terminalSafe(r.failure!.step)}${r.failure!.shard ? ` (shard ${terminalSafe(r.failure!.shard)})` : ''}, ${r.failure!.kind}: ${terminalSafe(r.failure!.reason)}`,
    );
  return [line(header), ...rows.map(line), ...failures].join('\n');
}
