/** Small manifests for the seeder tests, built with the same helpers synth uses (deterministic task ids). */
import { MANIFEST_VERSION, type ManifestTask, type SeedManifest } from '../../lib/core/manifest';
import { queueNameFor, taskIdFor } from '../../lib/core/naming';

export const PROJECT = 'demo-project';
export const LOCATION = 'us-central1';

export function queueName(queueId = 'demo-dev-ingest'): string {
  return queueNameFor(PROJECT, LOCATION, queueId);
}

type TaskOverrides = Omit<Partial<ManifestTask>, 'httpRequest'> & {
  httpRequest?: Partial<ManifestTask['httpRequest']>;
};

export function seedTask(seedId: string, overrides: TaskOverrides = {}): ManifestTask {
  const queue = overrides.queue ?? queueName();
  const { httpRequest, ...rest } = overrides;
  return {
    step: 'ingest',
    seedId,
    queue,
    taskId: taskIdFor(queue, seedId),
    dispatchDeadlineSeconds: 600,
    ...rest,
    httpRequest: {
      url: 'https://worker.example.com/ingest',
      httpMethod: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ seedId }),
      oidcToken: {
        serviceAccountEmail: `invoker@${PROJECT}.iam.gserviceaccount.com`,
        audience: 'https://worker.example.com/ingest',
      },
      ...httpRequest,
    },
  };
}

export function manifestOf(tasks: readonly ManifestTask[]): SeedManifest {
  return { version: MANIFEST_VERSION, stack: 'demo-dev', project: PROJECT, location: LOCATION, tasks };
}

/** `count` tasks spread over `queues` queue ids. */
export function manyTasks(count: number, queues: readonly string[] = ['demo-dev-ingest']): ManifestTask[] {
  return Array.from({ length: count }, (_, i) =>
    seedTask(`item-${i}`, { queue: queueName(queues[i % queues.length]) }),
  );
}

/** A writable that keeps what was written (stdout/stderr of the CLI under test). */
export function captureStream(isTTY = false): {
  write(chunk: string): boolean;
  readonly isTTY: boolean;
  text(): string;
} {
  let buf = '';
  return {
    isTTY,
    write(chunk: string) {
      buf += chunk;
      return true;
    },
    text: () => buf,
  };
}
