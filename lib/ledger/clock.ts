/**
 * Time for the ledger: leases, timestamps and stall detection read it, so tests move it by hand (the emulator's
 * ManualClock fits) instead of waiting out a retry budget.
 */
export interface LedgerClock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

export const systemLedgerClock: LedgerClock = { now: () => Date.now() };
