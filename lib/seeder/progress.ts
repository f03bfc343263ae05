/**
 * Progress for a seeding run: a cli-progress bar when stderr is a terminal, and plain lines otherwise (Terraform's
 * local-exec output, CI logs), where a redrawn bar would be noise. Counts only: never payloads or tokens.
 */
import { SingleBar } from 'cli-progress';
import type { SeedCounts } from './seeder';

export interface ProgressReporter {
  update(counts: SeedCounts): void;
  /** Stops the bar (or prints the last line); the summary is printed separately. */
  finish(counts: SeedCounts): void;
}

export interface ProgressStream {
  write(chunk: string): boolean;
  readonly isTTY?: boolean;
}

export interface ProgressOptions {
  /**
   * Plain mode prints a line when this much time has passed since the last one...
   * @default 1000
   */
  readonly intervalMs?: number;
  /**
   * ...or when another tenth of the tasks has settled.
   * @default 0.1
   */
  readonly step?: number;
  /** @default Date.now */
  readonly now?: () => number;
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const settled = (c: SeedCounts): number => c.created + c.alreadyPresent + c.failed + c.runsExisting;

export function createProgress(stream: ProgressStream, total: number, options: ProgressOptions = {}): ProgressReporter {
  const now = options.now ?? Date.now;
  const started = now();
  const rate = (c: SeedCounts): number => settled(c) / Math.max(0.001, (now() - started) / 1000);
  return stream.isTTY ? barProgress(stream, total, rate) : lineProgress(stream, total, rate, options, now);
}

function barProgress(stream: ProgressStream, total: number, rate: (c: SeedCounts) => number): ProgressReporter {
  const bar = new SingleBar({
    stream: stream as NodeJS.WritableStream,
    format:
      'seeding [{bar}] {percentage}% {value}/{total} | {rate} tasks/s | created {created}, already present {present}, failed {failed}',
    hideCursor: true,
    fps: 10,
  });
  const payload = (c: SeedCounts) => ({
    rate: fmt(rate(c)),
    created: c.created,
    present: c.alreadyPresent,
    failed: c.failed,
  });
  bar.start(total, 0, payload({ total, created: 0, alreadyPresent: 0, failed: 0, runsExisting: 0, retries: 0 }));
  return {
    update: (c) => bar.update(settled(c), payload(c)),
    finish: (c) => {
      bar.update(settled(c), payload(c));
      bar.stop();
    },
  };
}

function lineProgress(
  stream: ProgressStream,
  total: number,
  rate: (c: SeedCounts) => number,
  options: ProgressOptions,
  now: () => number,
): ProgressReporter {
  const intervalMs = options.intervalMs ?? 1000;
  const step = Math.max(1, Math.ceil(total * (options.step ?? 0.1)));
  let lastAt = now();
  let lastDone = 0;
  const line = (c: SeedCounts): void => {
    const done = settled(c);
    const pct = total === 0 ? 100 : Math.floor((100 * done) / total);
    stream.write(
      `seeding: ${fmt(done)}/${fmt(total)} (${pct}%), created ${fmt(c.created)}, already present ${fmt(c.alreadyPresent)}, failed ${fmt(c.failed)}, ${fmt(rate(c))} tasks/s\n`,
    );
    lastAt = now();
    lastDone = done;
  };
  // A run waiting on retries settles nothing for a while; the timer keeps the log showing it is alive.
  let latest: SeedCounts = { total, created: 0, alreadyPresent: 0, failed: 0, runsExisting: 0, retries: 0 };
  const timer = setInterval(() => {
    if (now() - lastAt >= intervalMs) line(latest);
  }, intervalMs);
  timer.unref();
  return {
    update: (c) => {
      latest = c;
      const done = settled(c);
      if (done === total) return; // finish() prints the last line
      if (Math.floor(done / step) > Math.floor(lastDone / step) || now() - lastAt >= intervalMs) line(c);
    },
    finish: (c) => {
      clearInterval(timer);
      if (settled(c) !== lastDone || lastDone === 0) line(c);
    },
  };
}
