/**
 * --data-dir: the whole state as one JSON snapshot, written atomically (temp file + rename, so a crash leaves the old
 * snapshot or the new one, never half of one), at most every `intervalMs` while the state changes, and once more on
 * stop. No disk write happens inside an API call: CreateTask stays O(1) however big the snapshot is.
 */
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { EmulatorState, StateSnapshot } from './state';

export const SNAPSHOT_FILE = 'cloud-tasks-emulator.json';

/** Reads the snapshot in `dataDir`, or undefined when there is none yet. */
export async function readSnapshot(dataDir: string): Promise<StateSnapshot | undefined> {
  const file = path.join(dataDir, SNAPSHOT_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    return JSON.parse(text) as StateSnapshot;
  } catch (err) {
    throw new Error(
      `${file} is not valid JSON (${(err as Error).message}); move it away to start with an empty emulator, or restore it from a copy`,
    );
  }
}

export interface SnapshotWriterOptions {
  /**
   * Longest time a change waits before it is on disk, while snapshots are quick to build; for big states the wait
   * grows to 4x the build time. @default 500
   */
  readonly intervalMs?: number;
}

/** Writes the state's snapshot after changes (throttled) and on close. */
export class SnapshotWriter {
  private readonly file: string;
  private readonly intervalMs: number;
  private dirty = false;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  private readonly unsubscribe: () => void;
  private closed = false;
  private tmpSeq = 0;
  private nextDelayMs: number;
  /** Last write error, reported once per failure streak. */
  private failing = false;

  constructor(
    private readonly state: EmulatorState,
    private readonly dataDir: string,
    options: SnapshotWriterOptions = {},
  ) {
    this.file = path.join(dataDir, SNAPSHOT_FILE);
    this.intervalMs = options.intervalMs ?? 500;
    this.nextDelayMs = this.intervalMs;
    this.unsubscribe = state.onEvent(() => this.markDirty());
  }

  /** The snapshot's path. */
  get path(): string {
    return this.file;
  }

  private markDirty(): void {
    this.dirty = true;
    if (this.timer || this.closed) return;
    // Throttle, not debounce: a steady stream of creates still reaches the disk every intervalMs.
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush().catch(() => undefined);
    }, this.nextDelayMs);
    this.timer.unref();
  }

  /** Writes now if anything changed since the last write; waits for a write in flight first. */
  async flush(): Promise<void> {
    while (this.writing) await this.writing.catch(() => undefined);
    if (!this.dirty) return;
    this.dirty = false;
    this.writing = this.write().finally(() => {
      this.writing = undefined;
    });
    await this.writing;
  }

  /** Stops listening and writes the final snapshot. */
  async close(): Promise<void> {
    this.closed = true;
    this.unsubscribe();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  private async write(): Promise<void> {
    const started = performance.now();
    // Taken synchronously, so the snapshot is one consistent instant even though writing it yields to API calls.
    const parts = this.state.snapshotParts();
    // Space writes out so that taking snapshots costs at most ~20% of the emulator's time on big states.
    this.nextDelayMs = Math.max(this.intervalMs, 4 * (performance.now() - started));
    const tmp = `${this.file}.${process.pid}.${this.tmpSeq++}.tmp`;
    try {
      await mkdir(this.dataDir, { recursive: true });
      const file = await open(tmp, 'w');
      try {
        // ~1 MB per write: each await lets calls in flight run.
        for (let i = 0, batch: string[] = [], size = 0; i < parts.length; i++) {
          batch.push(parts[i]);
          size += parts[i].length;
          if (size >= 1 << 20 || i === parts.length - 1) {
            await file.write(batch.join(''));
            batch = [];
            size = 0;
          }
        }
      } finally {
        await file.close();
      }
      await rename(tmp, this.file);
      if (this.failing) console.error(`cloud-tasks emulator: snapshot written to ${this.file} again`);
      this.failing = false;
    } catch (err) {
      // Keep serving; try again on the next change. Say so once, with the path to fix.
      this.dirty = true;
      await rm(tmp, { force: true }).catch(() => undefined);
      if (!this.failing)
        console.error(`cloud-tasks emulator: cannot write the snapshot ${this.file}: ${(err as Error).message}`);
      this.failing = true;
      throw err;
    }
  }
}
