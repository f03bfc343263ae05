/**
 * Stall detection. Cloud Tasks drops a task after its last attempt without telling anyone, and a worker that never
 * answered cannot record anything; such a run would stay `running` for ever. A run with no progress for longer than
 * its open steps' retry budget (how long Cloud Tasks may keep a task alive: maxTaskLifetimeSeconds, from the queue's
 * retry config and the dispatch deadline) cannot progress any more: the readers report it, and record it once, as
 * `failed: stalled at <step>`.
 */
import { maxTaskLifetimeSeconds } from '../core/rules/cloud-tasks';
import type { StepRoute } from '../core/routes';
import { jobRunBudgetSeconds } from '../core/job-route';

/**
 * How long a step may show no progress before its run is stalled, in seconds. A job step's task only starts the job:
 * its budget adds the longest the job can run before its shards report (jobRunBudgetSeconds).
 */
export function stallBudgetSeconds(route: StepRoute): number {
  const call = maxTaskLifetimeSeconds(route.retry, route.task.dispatchDeadlineSeconds);
  return route.job ? call + jobRunBudgetSeconds(route.job) : call;
}

export interface StallInput {
  readonly now: number;
  /** The latest progress of the run (ms): its creation, a step opening or completing, a shard claim or result. */
  readonly lastProgressAt: number;
  /** The run's steps that are open (or could start: every parent complete) with their routes. */
  readonly openSteps: ReadonlyArray<{ readonly step: string; readonly route: StepRoute }>;
}

export interface StallVerdict {
  readonly steps: readonly string[];
  readonly lastProgressAt: number;
  readonly budgetSeconds: number;
  readonly reason: string;
}

/** The verdict when the run is stalled; undefined while it may still progress. */
export function detectStall(i: StallInput): StallVerdict | undefined {
  if (i.openSteps.length === 0) return undefined;
  const budgetSeconds = Math.max(...i.openSteps.map((s) => stallBudgetSeconds(s.route)));
  const silentSeconds = (i.now - i.lastProgressAt) / 1000;
  if (silentSeconds <= budgetSeconds) return undefined;
  const steps = i.openSteps.map((s) => s.step);
  const jobs = i.openSteps.some((s) => s.route.job);
  const waited = jobs
    ? `longer than ${steps.length === 1 ? 'this step' : 'these steps'} can take (${Math.round(budgetSeconds).toLocaleString('en-US')} s: the API call's retry budget, the job's longest run and a start margin); its job never reported. Look at the job's executions, then re-drive it with retryRun / \`runs retry\``
    : `longer than Cloud Tasks keeps retrying a task of ${steps.length === 1 ? 'this step' : 'these steps'} (${Math.round(budgetSeconds).toLocaleString('en-US')} s: retry budget plus dispatch deadline); its tasks are gone. Re-drive it with retryRun / \`runs retry\``;
  return {
    steps,
    lastProgressAt: i.lastProgressAt,
    budgetSeconds,
    reason: `stalled at ${steps.join(', ')}: no progress since ${new Date(i.lastProgressAt).toISOString()} (${Math.round(silentSeconds).toLocaleString('en-US')} s), ${waited}`,
  };
}
