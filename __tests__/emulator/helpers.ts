import * as grpc from '@grpc/grpc-js';
import { CloudTasksClient } from '@google-cloud/tasks';

// The client's auth library probes the GCE metadata server (for the universe domain) even with insecure
// credentials; there is none here, so skip the probe and its warning (gcp-metadata's documented switch).
process.env.METADATA_SERVER_DETECTION ??= 'none';

export const PROJECT = 'demo-project';
export const LOCATION = 'us-central1';
export const PARENT = `projects/${PROJECT}/locations/${LOCATION}`;
export const queueName = (id: string): string => `${PARENT}/queues/${id}`;
export const taskName = (queueId: string, taskId: string): string => `${queueName(queueId)}/tasks/${taskId}`;

/** The official client, pointed at the emulator exactly as users do it. */
export function officialClient(port: number): CloudTasksClient {
  return new CloudTasksClient({ servicePath: 'localhost', port, sslCreds: grpc.credentials.createInsecure() });
}

/** mulberry32: a small seeded generator, so fail-rate tests are repeatable. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Resolves to the gRPC error a promise rejects with (fails the test if it resolves). */
export async function grpcError(
  promise: Promise<unknown>,
): Promise<{ code: number; details: string; message: string }> {
  try {
    await promise;
  } catch (err) {
    return err as { code: number; details: string; message: string };
  }
  throw new Error('expected the call to fail, but it succeeded');
}

export const httpTask = (url = 'http://127.0.0.1:9/work', extra: Record<string, unknown> = {}) => ({
  httpRequest: { url, ...extra },
});
