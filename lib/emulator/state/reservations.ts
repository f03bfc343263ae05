/**
 * Names Cloud Tasks keeps after their resource is gone: a task's name for about an hour (de-duplication,
 * cloudtasks.proto CreateTaskRequest), a deleted queue's for up to 3 days (the tombstone window). Times come from the
 * emulator's Clock; nothing sweeps on a timer: expired entries are dropped a few at a time as new ones arrive.
 */
import type { Clock } from '../clock';

export class NameReservations {
  /** Name -> ms when it is free again. Insertion order is expiry order (a constant window, a monotonic clock). */
  private readonly until = new Map<string, number>();

  constructor(
    private readonly clock: Clock,
    /** How long a name stays reserved. */
    private readonly windowSeconds: number,
  ) {}

  /** Reserves `name` from now for the window. */
  reserve(name: string): void {
    const now = this.clock.now();
    // Drop a few expired entries from the front on each insert: amortized O(1), no sweeper timer.
    let dropped = 0;
    for (const [key, until] of this.until) {
      if (until > now || dropped >= 8) break;
      this.until.delete(key);
      dropped++;
    }
    this.until.delete(name); // re-insert at the back so insertion order stays expiry order
    this.until.set(name, now + this.windowSeconds * 1000);
  }

  /** When `name` is free again, or undefined when it is free now. */
  reservedUntil(name: string): number | undefined {
    const until = this.until.get(name);
    if (until === undefined) return undefined;
    if (until > this.clock.now()) return until;
    this.until.delete(name);
    return undefined;
  }

  has(name: string): boolean {
    return this.reservedUntil(name) !== undefined;
  }

  /** Restores a reservation as persisted (ignored when it has expired). */
  restore(name: string, untilMs: number): void {
    if (untilMs > this.clock.now()) this.until.set(name, untilMs);
  }

  /** Live reservations, [name, ms free again], in expiry order. */
  entries(): Array<[string, number]> {
    const now = this.clock.now();
    return [...this.until].filter(([, until]) => until > now);
  }
}
