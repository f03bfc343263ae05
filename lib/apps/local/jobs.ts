/**
 * Job steps under `npm run local` (docs/jobs.md, "Locally"): what run.ts starts when the spec has a `cloudRunJob` or
 * `vertexAI` step, behind one small interface so run.ts only asks where a step's queue goes, whether jobs are still
 * running, and to stop:
 *
 *   - the run ledger on Google's Firestore emulator (FIRESTORE_EMULATOR_HOST, or one started here);
 *   - the stand-in for the Run and Vertex APIs (job-stand-in.ts), running each job step's `local.command` (or the
 *     built-in example job, lib/worker/example-job.ts) with the emulators' hosts;
 *   - the service steps on the worker SDK (sdk-workers.ts), which speaks the ledger's protocol like the jobs do.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { EMULATOR_HOST_ENV, EMULATOR_ISSUER_ENV, FIRESTORE_EMULATOR_HOST_ENV } from '../../core/env';
import { buildRoutes, type PipelineRoutes } from '../../core/routes';
import type { RunningEmulator } from '../../emulator/server';
import type { PipelineSpec } from '../../spec/types';
import { startJobStandIn, type RunningJobStandIn } from './job-stand-in';
import { startSdkWorkers, type RunningSdkWorkers } from './sdk-workers';

export interface LocalJobsOptions {
  /** Where the routes file goes (the run's stack folder). */
  readonly outdir: string;
  /** The job tasks' working directory (the user's project). */
  readonly cwd: string;
  readonly workMs?: number;
  readonly failureRate?: number;
  /** Task output (prefixed with step and shard) and notes. */
  readonly log: (line: string) => void;
  /** Where FIRESTORE_EMULATOR_HOST is read. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
}

export interface LocalJobs {
  readonly routes: PipelineRoutes;
  readonly standIn: RunningJobStandIn;
  /** Where the queue of `step` sends its tasks: the stand-in (job steps) or the SDK workers (service steps). */
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

/** Starts what job steps need; undefined when the spec has none. */
export async function startLocalJobs(
  spec: PipelineSpec,
  emulator: RunningEmulator,
  o: LocalJobsOptions,
): Promise<LocalJobs | undefined> {
  const jobSteps = spec.pipeline.steps.filter((s) => s.target.cloudRunJob || s.target.vertexAI);
  if (jobSteps.length === 0) return undefined;
  const cleanups: Array<() => Promise<unknown>> = [];
  const stop = async () => {
    for (const c of cleanups.reverse()) await c().catch((err: Error) => o.log(`cleanup: ${err.message}`));
  };
  try {
    // Loaded here: only runs with job steps pay for the ledger's clients.
    const { ensureFirestoreEmulator } =
      require('../../ledger/firestore-emulator') as typeof import('../../ledger/firestore-emulator');
    const firestore = await ensureFirestoreEmulator({ env: o.env ?? process.env });
    cleanups.push(() => firestore.stop());
    await firestore.ready;
    const routes = buildRoutes(spec);
    const routesFile = path.join(o.outdir, 'routes.json');
    writeFileSync(routesFile, `${JSON.stringify(routes, null, 2)}\n`);
    const env = {
      [FIRESTORE_EMULATOR_HOST_ENV]: firestore.host,
      [EMULATOR_HOST_ENV]: emulator.address,
      ...(emulator.tokens ? { [EMULATOR_ISSUER_ENV]: emulator.tokens.issuer } : {}),
    };
    const standIn = await startJobStandIn({
      routes,
      commands: Object.fromEntries(jobSteps.map((s) => [s.name, s.local?.command ?? exampleJobCommand()])),
      env,
      routesFile,
      cwd: o.cwd,
      log: o.log,
    });
    cleanups.push(() => standIn.stop());
    const services = spec.pipeline.steps
      .filter((s) => !s.target.cloudRunJob && !s.target.vertexAI && s.local?.url === undefined)
      .map((s) => s.name);
    let workers: RunningSdkWorkers | undefined;
    if (services.length > 0) {
      workers = await startSdkWorkers({
        routes,
        steps: services,
        env,
        workMs: o.workMs,
        failureRate: o.failureRate,
        log: (line) => {
          if (line.includes('"severity":"ERROR"')) o.log(line);
        },
      });
      cleanups.push(() => workers!.close());
    }
    return {
      routes,
      standIn,
      routeOf: (step) =>
        routes.steps[step]?.job ? standIn.url : workers && services.includes(step) ? workers.url : undefined,
      busy: () => standIn.busy(),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
