/**
 * The CreateTask benchmark's load: clients that create tasks in the emulator as fast as it answers, each in a worker
 * thread of the bench process. The official Node client costs more CPU per call (about 450-600 µs here) than the
 * emulator (about 300 µs), so a single client thread saturated before the emulator did and the benchmark measured the
 * client: threads let the load use both cores. bench/sections/emulator.ts starts them with `startLoad`.
 *
 * Protocol (worker messages): the thread connects and warms up, posts `ready`; on `go` it creates its share of the
 * tasks, `concurrency` calls in flight, and posts `done`.
 */
import { Agent, request } from 'node:http';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

const PARENT = 'projects/bench-project/locations/us-central1';
const QUEUE = `${PARENT}/queues/bench`;

export interface LoadOptions {
  readonly transport: 'grpc' | 'rest';
  readonly grpcPort: number;
  readonly restPort: number;
  /** Tasks this thread creates. */
  readonly tasks: number;
  /** This thread's index: its task ids are its own. */
  readonly thread: number;
  /** Calls in flight in this thread. */
  readonly concurrency: number;
}

export interface Creator {
  createQueue(): Promise<void>;
  createTask(id: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * Starts `threads` load threads that create `tasks` in all, resolves once all are warm; `go()` runs them and resolves
 * when all are done.
 */
export async function startLoad(
  threads: number,
  tasks: number,
  options: Omit<LoadOptions, 'thread' | 'tasks'>,
): Promise<{ go(): Promise<void>; close(): Promise<void> }> {
  const workers = Array.from({ length: threads }, (_, thread) => {
    const share = Math.floor(tasks / threads) + (thread < tasks % threads ? 1 : 0);
    const data: LoadOptions = { ...options, thread, tasks: share };
    // The bench runs under tsx; a worker thread needs its CommonJS hook to load this TypeScript file.
    return new Worker(__filename, { workerData: data, execArgv: ['--require', require.resolve('tsx/cjs')] });
  });
  const next = (w: Worker, type: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const onMessage = (m: { type: string; message?: string }): void => {
        w.off('error', reject);
        if (m.type === type) resolve();
        else reject(new Error(`load thread: ${m.message ?? m.type}`));
      };
      w.once('message', onMessage);
      w.once('error', reject);
    });
  await Promise.all(workers.map((w) => next(w, 'ready')));
  return {
    go: async () => {
      const done = workers.map((w) => next(w, 'done'));
      for (const w of workers) w.postMessage({ type: 'go' });
      await Promise.all(done);
    },
    close: async () => void (await Promise.all(workers.map((w) => w.terminate()))),
  };
}

async function grpcCreator(port: number): Promise<Creator> {
  process.env.METADATA_SERVER_DETECTION ??= 'none';
  const grpc = await import('@grpc/grpc-js');
  const { CloudTasksClient } = await import('@google-cloud/tasks');
  const clients = Array.from(
    { length: 2 },
    () =>
      new CloudTasksClient({
        servicePath: '127.0.0.1',
        port,
        sslCreds: grpc.credentials.createInsecure(),
        'grpc.use_local_subchannel_pool': 1,
      }),
  );
  let n = 0;
  return {
    createQueue: async () => void (await clients[0].createQueue({ parent: PARENT, queue: { name: QUEUE } })),
    createTask: async (id) => {
      await clients[n++ % clients.length].createTask({
        parent: QUEUE,
        task: {
          name: `${QUEUE}/tasks/${id}`,
          httpRequest: { url: 'http://127.0.0.1:8080/work', body: Buffer.from(`{"item":"${id}"}`) },
        },
      });
    },
    close: async () => void (await Promise.all(clients.map((c) => c.close()))),
  };
}

export function restCreator(port: number): Creator {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const post = (path: string, body: unknown): Promise<void> =>
    new Promise((resolve, reject) => {
      const data = Buffer.from(JSON.stringify(body));
      const req = request(
        {
          host: '127.0.0.1',
          port,
          path,
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/json', 'content-length': data.length },
        },
        (res) => {
          res.resume();
          res.on('end', () =>
            res.statusCode === 200 ? resolve() : reject(new Error(`${path}: HTTP ${res.statusCode}`)),
          );
        },
      );
      req.on('error', reject);
      req.end(data);
    });
  return {
    createQueue: () => post(`/v2/${PARENT}/queues`, { name: QUEUE }),
    createTask: (id) =>
      post(`/v2/${QUEUE}/tasks?prettyPrint=false`, {
        task: {
          name: `${QUEUE}/tasks/${id}`,
          httpRequest: { url: 'http://127.0.0.1:8080/work', body: Buffer.from(`{"item":"${id}"}`).toString('base64') },
        },
      }),
    close: async () => agent.destroy(),
  };
}

async function runThread(o: LoadOptions): Promise<void> {
  const port = parentPort!;
  const create = o.transport === 'grpc' ? await grpcCreator(o.grpcPort) : restCreator(o.restPort);
  // Warm up the connections and the emulator's code paths before timing.
  await Promise.all(Array.from({ length: 50 }, (_, i) => create.createTask(`warm-${o.thread}-${i}`)));
  port.postMessage({ type: 'ready' });
  await new Promise<void>((resolve) => port.once('message', () => resolve()));
  let next = 0;
  await Promise.all(
    Array.from({ length: o.concurrency }, async () => {
      for (let i = next++; i < o.tasks; i = next++)
        await create.createTask(`${((i * 2654435761) >>> 0).toString(16)}-item-${o.thread}-${i}`);
    }),
  );
  await create.close();
  port.postMessage({ type: 'done' });
}

if (!isMainThread && (workerData as LoadOptions | undefined)?.transport)
  runThread(workerData as LoadOptions).catch((err: Error) =>
    parentPort!.postMessage({ type: 'error', message: err.stack ?? err.message }),
  );
