/**
 * Job steps under `npm run local` (docs/jobs.md, "Locally"): when the spec has a `cloudRunJob` or `vertexAI` step,
 * run.ts starts the stand-in for the Run and Vertex APIs (job-stand-in.ts) next to the run's ledger and example
 * worker. It runs each job step's `local.command` (or the built-in example job, lib/worker/example-job.ts) with what a
 * `local.url` worker gets: the routes file, the Firestore emulator and the Cloud Tasks emulator with its issuer.
 * run.ts asks only where a job step's queue goes, whether a job is still running, and to stop.
 */
import path from 'node:path';
import { ROUTES_FILE_ENV, type PipelineRoutes } from '../../core/routes';
import type { PipelineSpec } from '../../spec/types';
import { startJobStandIn, type RunningJobStandIn } from './job-stand-in';

export interface LocalJobsOptions {
  /** The routes of the synthesized stack, as the ledger and the example worker use them. */
  readonly routes: PipelineRoutes;
  /** The environment of a local worker (routes file, FIRESTORE_EMULATOR_HOST, the Cloud Tasks emulator and issuer). */
  readonly workerEnv: Readonly<Record<string, string>>;
  /** The job tasks' working directory (the user's project). */
  readonly cwd: string;
  /** Task output (prefixed with step and shard) and notes. */
  readonly log: (line: string) => void;
}

export interface LocalJobs {
  readonly standIn: RunningJobStandIn;
  /** Where the queue of a job step sends its tasks (the stand-in); undefined for service steps. */
  routeOf(step: string): string | undefined;
  /** A job is still running: the run is not idle. */
  busy(): boolean;
  stop(): Promise<void>;
}

/** The built-in example job, as the Node of this process runs it (from the sources under tsx, or from dist/). */
export function exampleJobCommand(): string[] {
  const ext = path.extname(__filename);
  const file = path.join(__dirname, '..', '..', 'worker', `example-job${ext}`);
  return ext === '.ts' ? [process.execPath, '--require', 'tsx/cjs', file] : [process.execPath, file];
}

/** The steps whose target is a job (Cloud Run job or Vertex AI custom job). */
export function jobStepsOf(spec: PipelineSpec): PipelineSpec['pipeline']['steps'] {
  return spec.pipeline.steps.filter((s) => s.target.cloudRunJob || s.target.vertexAI);
}

/** Starts the stand-in for the spec's job steps; undefined when it has none. */
export async function startLocalJobs(spec: PipelineSpec, o: LocalJobsOptions): Promise<LocalJobs | undefined> {
  const jobSteps = jobStepsOf(spec);
  if (jobSteps.length === 0) return undefined;
  // The job request carries the routes inline (CLOUD_TASKS_PIPELINE_ROUTES) as in production; the stand-in sets the
  // file only for a request without them, and the worker SDK refuses both at once.
  const { [ROUTES_FILE_ENV]: routesFile, ...env } = o.workerEnv;
  const standIn = await startJobStandIn({
    routes: o.routes,
    commands: Object.fromEntries(jobSteps.map((s) => [s.name, s.local?.command ?? exampleJobCommand()])),
    env,
    routesFile,
    cwd: o.cwd,
    log: o.log,
  });
  return {
    standIn,
    routeOf: (step) => (o.routes.steps[step]?.job ? standIn.url : undefined),
    busy: () => standIn.busy(),
    stop: () => standIn.stop(),
  };
}
