/**
 * Seeder throughput into the local emulator, the way Terraform runs the seeder: `node seeder.cjs <manifest>` as its
 * own process (or `tsx bin/seed.ts` for the repository sources), so process start, manifest validation and client
 * set-up are in the time. The emulator runs in the calling process, store-only (nothing is dispatched), and the
 * tasks are counted with ListTasks afterwards. Used by `npm run bench` (seed section) and bench/seed-throughput.ts.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudTasksClient } from '@google-cloud/tasks';
import * as grpc from '@grpc/grpc-js';
import { type RunningEmulator, startEmulator } from '../../lib/emulator/server';
import { buildSeederBundle } from '../../scripts/seeder-bundle';
import { MANIFEST_VERSION, type ManifestTask, type SeedManifest } from '../../lib/core/manifest';
import { ROOT } from './context';
import { queueNameFor, taskIdFor } from '../../lib/core/naming';

const PROJECT = 'bench-project';
const LOCATION = 'us-central1';

/** A manifest of `tasks` tasks spread over `queues` queues named after `label` (fresh names = fresh queues). */
export function benchManifest(label: string, tasks: number, queues: number): SeedManifest {
  const names = Array.from({ length: queues }, (_, q) => queueNameFor(PROJECT, LOCATION, `bench-${label}-q${q}`));
  const list: ManifestTask[] = Array.from({ length: tasks }, (_, i) => {
    const queue = names[i % names.length];
    const seedId = `item-${i}`;
    return {
      step: 'ingest',
      seedId,
      queue,
      taskId: taskIdFor(queue, seedId),
      dispatchDeadlineSeconds: 600,
      httpRequest: {
        url: 'https://worker.example.com/ingest',
        httpMethod: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ seedId, shard: i % 16, text: 'x'.repeat(200) }),
        oidcToken: {
          serviceAccountEmail: `invoker@${PROJECT}.iam.gserviceaccount.com`,
          audience: 'https://worker.example.com/ingest',
        },
      },
    };
  });
  return { version: MANIFEST_VERSION, stack: 'bench', project: PROJECT, location: LOCATION, tasks: list };
}

/** What the seeder printed on stdout: `Seeded 5,000 task(s) in 2.79 s (1,795 tasks/s): 5,000 created, 0 already present, 0 failed.` */
export function parseSeederSummary(
  stdout: string,
): { created: number; alreadyPresent: number; failed: number } | undefined {
  const num = (s: string) => Number(s.replace(/,/g, ''));
  const m = stdout.match(/([\d,]+) created, ([\d,]+) already present, ([\d,]+) failed/);
  return m ? { created: num(m[1]), alreadyPresent: num(m[2]), failed: num(m[3]) } : undefined;
}

export interface SeedRun {
  readonly tasks: number;
  /** Wall time of the seeder process, start to exit. */
  readonly seconds: number;
  readonly tasksPerSecond: number;
  readonly created: number;
  readonly alreadyPresent: number;
  /** Tasks ListTasks found in the queues afterwards. */
  readonly listed: number;
  readonly stdout: string;
}

export interface SeedHarnessOptions {
  /** `bundle`: node seeder.cjs (what Terraform runs); `repo`: tsx bin/seed.ts. @default 'bundle' */
  readonly source?: 'bundle' | 'repo';
  /** Extra seeder flags (`--concurrency`, `--channels`). */
  readonly seederFlags?: readonly string[];
  /** Write a V8 CPU profile of each seeder process into this folder. */
  readonly cpuProfDir?: string;
  /** Fraction of CreateTask calls the emulator fails with UNAVAILABLE (the seeder's retries under faults). @default 0 */
  readonly failRate?: number;
}

/** An emulator, a client to it and a scratch folder; `run()` seeds one manifest; `close()` stops everything. */
export class SeedHarness {
  static async start(options: SeedHarnessOptions = {}): Promise<SeedHarness> {
    const emulator = await startEmulator({ port: 0, failRate: options.failRate ?? 0 });
    return new SeedHarness(emulator, options);
  }

  private readonly client: CloudTasksClient;
  private readonly dir = mkdtempSync(join(tmpdir(), 'seed-bench-'));
  private readonly seeder: string | undefined;
  private readonly created = new Set<string>();

  private constructor(
    private readonly emulator: RunningEmulator,
    private readonly options: SeedHarnessOptions,
  ) {
    this.client = new CloudTasksClient({
      servicePath: emulator.host,
      port: emulator.port,
      sslCreds: grpc.credentials.createInsecure(),
      universeDomain: 'googleapis.com',
    });
    this.seeder = options.source === 'repo' ? undefined : buildSeederBundle().path;
  }

  /**
   * Seeds `manifest` once. Its queues are created (paused, so the tasks stay to be counted) the first time a queue
   * name is seen; seeding the same manifest again is the idempotent re-run (every task already present).
   */
  async run(manifest: SeedManifest): Promise<SeedRun> {
    const queues = [...new Set(manifest.tasks.map((t) => t.queue))];
    for (const name of queues) {
      if (this.created.has(name)) continue;
      await this.client.createQueue({
        parent: `projects/${manifest.project}/locations/${manifest.location}`,
        queue: { name },
      });
      await this.client.pauseQueue({ name });
      this.created.add(name);
    }
    const file = join(this.dir, `manifest-${queues[0].split('/').pop()}.json`);
    writeFileSync(file, JSON.stringify(manifest));
    const nodeFlags = this.options.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', this.options.cpuProfDir] : [];
    const flags = this.options.seederFlags ?? [];
    const [cmd, args] = this.seeder
      ? [process.execPath, [...nodeFlags, this.seeder, file, ...flags]]
      : [process.execPath, [...nodeFlags, require.resolve('tsx/cli'), join(ROOT, 'bin', 'seed.ts'), file, ...flags]];
    const started = process.hrtime.bigint();
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(
        cmd,
        args,
        {
          cwd: ROOT,
          env: { PATH: '/usr/bin:/bin', CLOUD_TASKS_EMULATOR_HOST: this.emulator.address },
          maxBuffer: 64 * 2 ** 20,
        },
        (err, out, errOut) =>
          err ? reject(new Error(`seeder failed (${err.message}):\n${String(errOut).slice(-2000)}`)) : resolve(out),
      ),
    );
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    let listed = 0;
    for (const q of queues) listed += await this.countTasks(q);
    const summary = parseSeederSummary(stdout);
    if (listed !== manifest.tasks.length)
      throw new Error(`expected ${manifest.tasks.length} tasks in the emulator, listed ${listed}`);
    return {
      tasks: manifest.tasks.length,
      seconds,
      tasksPerSecond: manifest.tasks.length / seconds,
      created: summary?.created ?? Number.NaN,
      alreadyPresent: summary?.alreadyPresent ?? Number.NaN,
      listed,
      stdout: stdout.trim(),
    };
  }

  async close(): Promise<void> {
    await this.client.close();
    await this.emulator.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async countTasks(queue: string): Promise<number> {
    let n = 0;
    for await (const _ of this.client.listTasksAsync({ parent: queue, pageSize: 1000 }, { autoPaginate: false })) n++;
    return n;
  }
}
