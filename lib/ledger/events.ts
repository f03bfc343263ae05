/**
 * What the ledger reports while it works: one event per decision (a run created, a step completed, a join task
 * created, a run finished). The worker SDK writes each as one Cloud Logging line (lib/worker/log.ts); tests and the
 * bench listen to them directly.
 */
export type LedgerEventType =
  | 'run-created'
  | 'tasks-created'
  | 'step-complete'
  | 'step-skipped'
  | 'step-opened'
  | 'join-task-created'
  | 'run-succeeded'
  | 'run-failed'
  | 'run-cancelled'
  | 'run-redriven'
  | 'tasks-deleted';

export interface LedgerEvent {
  readonly type: LedgerEventType;
  readonly severity: 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR';
  readonly message: string;
  readonly runId: string;
  readonly step?: string;
  readonly shard?: string;
  /** Anything else worth a field in the log line (counts, task names, reasons). */
  readonly fields?: Readonly<Record<string, unknown>>;
}

export type LedgerEventListener = (event: LedgerEvent) => void;
