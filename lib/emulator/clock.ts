/**
 * Time for the emulator. Every time the emulator records or compares (create_time, schedule_time, dedup windows,
 * purge_time, attempts) comes from a Clock, so tests and the dispatcher can run on a manual clock and jump hours
 * (the 1-hour task-name dedup window, the 3-day queue-name tombstone) without waiting.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /**
   * Calls `callback` once `delayMs` of this clock's time has passed. Returns a function that cancels it.
   * The dispatcher schedules task attempts with this so that a ManualClock drives them too.
   */
  setTimer(callback: () => void, delayMs: number): () => void;
}

/** Wall-clock time and real timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(callback, delayMs) {
    const handle = setTimeout(callback, Math.max(0, delayMs));
    // A pending attempt must not keep a CLI or test process alive on its own.
    handle.unref();
    return () => clearTimeout(handle);
  },
};

interface PendingTimer {
  readonly at: number;
  readonly seq: number;
  readonly callback: () => void;
}

/** A clock that moves only when told to; timers fire, in time order, as `advance` passes them. */
export class ManualClock implements Clock {
  private current: number;
  private timers: PendingTimer[] = [];
  private seq = 0;

  /** @param startMs initial time, ms since the epoch. @default 2030-01-01T00:00:00Z */
  constructor(startMs: number = Date.UTC(2030, 0, 1)) {
    this.current = startMs;
  }

  now(): number {
    return this.current;
  }

  setTimer(callback: () => void, delayMs: number): () => void {
    const timer: PendingTimer = { at: this.current + Math.max(0, delayMs), seq: this.seq++, callback };
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((t) => t !== timer);
    };
  }

  /** Moves time forward by `ms`, firing due timers in order (each sees `now()` at its own due time). */
  advance(ms: number): void {
    if (ms < 0) throw new RangeError(`ManualClock.advance: ${ms} ms is negative; a clock does not go back`);
    const target = this.current + ms;
    for (;;) {
      const due = this.timers.filter((t) => t.at <= target).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.current = Math.max(this.current, due.at);
      due.callback();
    }
    this.current = target;
  }

  /**
   * Moves time forward by `ms` first and only then fires the timers that came due, all at the new time: what a
   * stalled event loop (a loaded machine, a long GC pause) looks like to the code whose timers fire late.
   */
  stall(ms: number): void {
    if (ms < 0) throw new RangeError(`ManualClock.stall: ${ms} ms is negative; a clock does not go back`);
    this.current += ms;
    this.advance(0);
  }
}
