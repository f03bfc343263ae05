/**
 * Helpers for job step tests: a job step for buildRoutes, a Cloud Tasks client that keeps the tasks it is given (and
 * refuses a name twice, as Cloud Tasks does), and the environment of one Cloud Run task built from a task's body.
 */
import type { RoutesStepInput } from '../../lib/core/routes';
import { readJobRequest } from '../../lib/core/job-requests';
import { jobTaskEnv } from '../../lib/core/job-env';
import type { LedgerTasksClient } from '../../lib/ledger/tasks';
import { step } from '../ledger/helpers';

export function cloudRunJobStep(
  name: string,
  next: string[],
  job: { taskCount: number; maxRetries?: number; timeoutSeconds?: number; parallelism?: number },
  project = 'acme-ml-dev',
): RoutesStepInput {
  return step(name, next, {
    dispatchDeadlineSeconds: 60,
    target: {
      url: `https://run.googleapis.com/v2/projects/${project}/locations/us-central1/jobs/${name}-job:run`,
      auth: 'oauth',
      cloudRunJob: {
        job: `${name}-job`,
        region: 'us-central1',
        taskCount: job.taskCount,
        maxRetries: job.maxRetries ?? 1,
        timeoutSeconds: job.timeoutSeconds ?? 600,
        ...(job.parallelism !== undefined ? { parallelism: job.parallelism } : {}),
      },
    },
  });
}

export function vertexStep(
  name: string,
  next: string[],
  replicaCount: number,
  project = 'acme-ml-dev',
): RoutesStepInput {
  return step(name, next, {
    dispatchDeadlineSeconds: 60,
    target: {
      url: `https://us-central1-aiplatform.googleapis.com/v1/projects/${project}/locations/us-central1/customJobs`,
      auth: 'oauth',
      vertexAI: {
        region: 'us-central1',
        customJob: {
          machineType: 'n1-standard-8',
          replicaCount,
          imageUri: 'us-docker.pkg.dev/acme/training/fit:1',
          args: [],
          serviceAccount: 'trainer@acme-ml-dev.iam.gserviceaccount.com',
          timeoutSeconds: 3600,
        },
      },
    },
  });
}

export interface RecordedTask {
  readonly name: string;
  readonly queue: string;
  readonly url: string;
  readonly body: string;
}

/** Keeps every task created; a name seen before is ALREADY_EXISTS (code 6), as Cloud Tasks answers. */
export class RecordingTasksClient implements LedgerTasksClient {
  readonly tasks: RecordedTask[] = [];
  async createTask(request: { parent: string; task: Record<string, unknown> }) {
    const name = request.task.name as string;
    if (this.tasks.some((t) => t.name === name)) throw Object.assign(new Error('ALREADY_EXISTS'), { code: 6 });
    const http = request.task.httpRequest as { url: string; body: Buffer };
    this.tasks.push({ name, queue: request.parent, url: http.url, body: Buffer.from(http.body).toString() });
    return [request.task];
  }
  async deleteTask() {
    return [{}];
  }
  in(queue: string): RecordedTask[] {
    return this.tasks.filter((t) => t.queue === queue);
  }
}

/** The environment Cloud Run gives task `index` of an execution of the job a RunJobRequest body starts. */
export function cloudRunTaskEnv(
  body: string,
  execution: string,
  index: number,
  attempt = 0,
  count?: number,
): NodeJS.ProcessEnv {
  const launch = readJobRequest('cloudRunJob', body);
  return {
    ...launch.env,
    ...jobTaskEnv({ platform: 'cloudRunJob', job: 'job' }, execution, index, count ?? launch.count, attempt),
  };
}
