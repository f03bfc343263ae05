/**
 * What a local run reports: per step (succeeded, failed, attempts, latency), per run id (when each step started and
 * ended), and the JSON report for `--report`. Built from the dispatcher's events, so it counts what Cloud Tasks
 * would count: an attempt is a dispatch, a task fails when its queue gives up on it.
 */
import type { DispatchEvent } from '../../emulator/dispatch/events';
import type { Task } from '../../emulator/model';
import { readPipelineMessage } from '../../worker/index';
import { terminalSafe } from '../../core/text';
import type { LocalRunOutcome } from './ledger';
import { runIdOfTaskBody } from '../../core/job-requests';

export interface StepStats {
  /** Tasks the worker answered with 2xx. */
  readonly succeeded: number;
  /** Tasks the queue gave up on (RetryConfig spent). */
  readonly failed: number;
  /** Dispatches (first attempts and retries). */
  readonly attempts: number;
  /** Tasks created in the step's queue (seeded or enqueued by a worker). */
  readonly tasks: number;
  /** Attempts that did not succeed. */
  readonly failedAttempts: number;
  /** Dispatch-to-response time of the step's attempts, nearest-rank percentiles. */
  readonly p50LatencyMs: number | null;
  readonly p95LatencyMs: number | null;
}

/** One step of one run: from the first dispatch of its tasks to the last task finishing. */
export interface RunStep {
  readonly step: string;
  readonly tasks: number;
  /** Seconds since the run started (seeding). */
  readonly startSeconds: number;
  readonly endSeconds: number | null;
}

/**
 * The `--report` file: `steps`, `tasks`, `durationSeconds` and `runs` are the contract; the rest is extra detail.
 * `steps` counts what Cloud Tasks saw (tasks, dispatches), `runs` what the run ledger recorded.
 */
export interface LocalReport {
  readonly steps: Record<string, StepStats>;
  readonly tasks: number;
  readonly durationSeconds: number;
  readonly ok: boolean;
  readonly spec: string;
  readonly stack: string;
  /** Tasks still waiting when the run stopped (a timeout). */
  readonly pending: number;
  /** Per run id: its status and, per step, the tasks (shards) that succeeded and failed, from the run ledger. */
  readonly runs: Record<string, LocalRunOutcome>;
  /** Per run id: when each step's tasks were first dispatched and last finished (from the dispatch events). */
  readonly timeline: Record<string, RunStep[]>;
  readonly problems: readonly string[];
  /** `--fire` / `--schedules`: each firing of a schedule and the task it created (docs/schedules.md). */
  readonly firings?: ReadonlyArray<{
    readonly schedule: string;
    readonly scheduleTime: string;
    readonly status: number;
    readonly task?: string;
    readonly error?: string;
  }>;
}

interface MutableStep {
  succeeded: number;
  failed: number;
  attempts: number;
  tasks: number;
  failedAttempts: number;
  latencies: number[];
}

/** Collects dispatch events into step and run statistics. */
export class RunRecorder {
  private readonly steps = new Map<string, MutableStep>();
  private readonly runOfTask = new Map<string, string>();
  private readonly runs = new Map<
    string,
    Map<string, { tasks: number; start: number; end: number | null; open: number }>
  >();
  private readonly dispatchedTasks = new Set<string>();
  private startMs: number | undefined;
  private created = 0;

  /** @param stepOfQueue full queue name -> step name */
  constructor(private readonly stepOfQueue: ReadonlyMap<string, string>) {
    for (const step of stepOfQueue.values())
      this.steps.set(step, { succeeded: 0, failed: 0, attempts: 0, tasks: 0, failedAttempts: 0, latencies: [] });
  }

  /** Marks the start of the run (durations and the timeline count from here). */
  start(nowMs: number): void {
    this.startMs = nowMs;
  }

  readonly listener = (e: DispatchEvent, task: Task): void => {
    const step = this.stepOfQueue.get(e.queue);
    const s = step === undefined ? undefined : this.steps.get(step);
    if (!s || step === undefined) return;
    const at = Date.parse(e.ts);
    switch (e.event) {
      case 'created': {
        s.tasks++;
        this.created++;
        this.runOfTask.set(task.name, runIdOf(task));
        return;
      }
      case 'dispatched':
        s.attempts++;
        this.noteDispatch(task.name, step, at);
        return;
      case 'succeeded':
      case 'failed':
        if (e.latencyMs !== undefined) s.latencies.push(e.latencyMs);
        if (e.event === 'succeeded') {
          s.succeeded++;
          this.finish(task.name, step, at);
        } else s.failedAttempts++;
        return;
      case 'gave-up':
        s.failed++;
        this.finish(task.name, step, at);
        return;
      default:
        return;
    }
  };

  /** Tasks created so far, over all steps. */
  get tasks(): number {
    return this.created;
  }

  /** Finished tasks (succeeded or given up) and failed attempts, for progress lines. */
  counts(): { finished: number; succeeded: number; failed: number; failedAttempts: number } {
    let succeeded = 0;
    let failed = 0;
    let failedAttempts = 0;
    for (const s of this.steps.values()) {
      succeeded += s.succeeded;
      failed += s.failed;
      failedAttempts += s.failedAttempts;
    }
    return { finished: succeeded + failed, succeeded, failed, failedAttempts };
  }

  stepStats(): Record<string, StepStats> {
    const out: Record<string, StepStats> = {};
    for (const [step, s] of this.steps) {
      const sorted = [...s.latencies].sort((a, b) => a - b);
      out[step] = {
        succeeded: s.succeeded,
        failed: s.failed,
        attempts: s.attempts,
        tasks: s.tasks,
        failedAttempts: s.failedAttempts,
        p50LatencyMs: percentile(sorted, 50),
        p95LatencyMs: percentile(sorted, 95),
      };
    }
    return out;
  }

  /** Per run id, its steps in the order they started. */
  timeline(): Record<string, RunStep[]> {
    const base = this.startMs ?? 0;
    const secs = (ms: number) => Math.round(ms - base) / 1000;
    const out: Record<string, RunStep[]> = {};
    for (const [runId, steps] of [...this.runs].sort(([a], [b]) => a.localeCompare(b))) {
      out[runId] = [...steps]
        .sort(([, a], [, b]) => a.start - b.start)
        .map(([step, r]) => ({
          step,
          tasks: r.tasks,
          startSeconds: secs(r.start),
          endSeconds: r.open === 0 && r.end !== null ? secs(r.end) : null,
        }));
    }
    return out;
  }

  /** A task joins its run's step on its first dispatch; the step starts with its first task. */
  private noteDispatch(taskName: string, step: string, at: number): void {
    if (this.dispatchedTasks.has(taskName)) return;
    this.dispatchedTasks.add(taskName);
    const runId = this.runOfTask.get(taskName);
    if (runId === undefined) return;
    let steps = this.runs.get(runId);
    if (!steps) this.runs.set(runId, (steps = new Map()));
    let r = steps.get(step);
    if (!r) steps.set(step, (r = { tasks: 0, start: at, end: null, open: 0 }));
    r.tasks++;
    r.open++;
  }

  private finish(taskName: string, step: string, at: number): void {
    const runId = this.runOfTask.get(taskName);
    const r = runId === undefined ? undefined : this.runs.get(runId)?.get(step);
    if (!r) return;
    r.open--;
    r.end = Math.max(r.end ?? at, at);
  }
}

/** Nearest-rank percentile of ascending values; null when there are none. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return Math.round(sorted[rank - 1] * 10) / 10;
}

/**
 * The run a task belongs to: its body's runId (enqueueNext, a ledger envelope, or a job request's PIPELINE_MESSAGE),
 * else the seed id in its task id.
 */
function runIdOf(task: Task): string {
  const fromLedger = runIdOfTaskBody(task.httpRequest.body.toString());
  if (fromLedger !== undefined) return fromLedger;
  try {
    return readPipelineMessage(task.httpRequest.body, { taskName: task.taskId }).runId;
  } catch {
    return readPipelineMessage('', { taskName: task.taskId }).runId;
  }
}

/** The per-step table printed at the end of a run. */
export function formatStepTable(steps: Record<string, StepStats>): string {
  const header = ['STEP', 'TASKS', 'SUCCEEDED', 'FAILED', 'ATTEMPTS', 'P50 MS', 'P95 MS'];
  const rows = Object.entries(steps).map(([step, s]) => [
    step,
    String(s.tasks),
    String(s.succeeded),
    String(s.failed),
    String(s.attempts),
    s.p50LatencyMs === null ? '-' : String(Math.round(s.p50LatencyMs)),
    s.p95LatencyMs === null ? '-' : String(Math.round(s.p95LatencyMs)),
  ]);
  return table(header, rows);
}

/** The timeline printed at the end of a run: one line per run id and step. */
export function formatTimeline(runs: Record<string, RunStep[]>): string {
  const rows: string[][] = [];
  for (const [runId, steps] of Object.entries(runs))
    for (const s of steps)
      rows.push([
        runId,
        s.step,
        String(s.tasks),
        `${s.startSeconds.toFixed(2)}s`,
        s.endSeconds === null ? 'unfinished' : `${s.endSeconds.toFixed(2)}s`,
      ]);
  return table(['RUN', 'STEP', 'TASKS', 'START', 'END'], rows);
}

/** Run ids come from task bodies (any worker's payload): every cell is shown terminal-safe. */
function table(header: string[], unsafeRows: string[][]): string {
  const rows = unsafeRows.map((r) => r.map((c) => terminalSafe(c)));
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}
