/**
 * queue.proto RateLimits: "Cloud Tasks uses a token bucket algorithm to control the rate of task dispatches. Each
 * queue has a token bucket that holds tokens, up to the maximum specified by max_burst_size. Each time a task is
 * dispatched, a token is removed from the bucket. [...] tokens are added to the bucket at the rate specified by
 * max_dispatches_per_second."
 *
 * Tokens accrue continuously from the clock's elapsed time, not per timer tick, so a timer that fires a little late
 * does not lose rate. So in any window of the emulator's own time a queue dispatches at most
 * `capacity + rate x window`, however loaded the machine is.
 *
 * Falling behind evenly: while the queue is backlogged (it took a token and still has due tasks), the time between two
 * refills is credited only up to `max(2 tokens, 100 ms of tokens)` (timer jitter is made up in full, a stall is not). An event loop that stalls (a loaded machine, a GC
 * pause) therefore makes the queue fall behind its schedule instead of catching up with a burst of `capacity` when it
 * wakes; a queue that was idle (markIdle) accrues a full bucket as the service's does.
 */
export class TokenBucket {
  private tokens: number;
  private lastMs: number;
  private backlogged = false;

  /** Longest catch-up credited to a backlogged queue, in ms of tokens (the floor is 2 tokens). */
  static readonly MAX_CATCH_UP_MS = 100;

  /**
   * Starts with one token, not full: the service ramps a newly created queue up instead of bursting ("dispatches
   * ramp up slowly when the queue is newly created", target.proto), so tasks created right after their queue are
   * sent at the configured rate from the first one. A queue that has been idle has a full bucket and sends a burst of
   * `capacity` at once, as the token bucket allows.
   */
  constructor(
    private ratePerSecond: number,
    private capacity: number,
    nowMs: number,
  ) {
    this.tokens = Math.min(1, capacity);
    this.lastMs = nowMs;
  }

  /** UpdateQueue changed the rate limits: keep what has accrued, within the new capacity. */
  reconfigure(ratePerSecond: number, capacity: number, nowMs: number): void {
    this.refill(nowMs);
    this.ratePerSecond = ratePerSecond;
    this.capacity = capacity;
    this.tokens = Math.min(this.tokens, capacity);
  }

  /** Takes one token if there is one; the queue counts as backlogged until markIdle. */
  tryTake(nowMs: number): boolean {
    this.refill(nowMs);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    this.backlogged = true;
    return true;
  }

  /** The queue has no due task: from now on time accrues tokens in full (up to capacity). */
  markIdle(nowMs: number): void {
    this.refill(nowMs);
    this.backlogged = false;
  }

  /** Milliseconds until a token is available (0 when one is). */
  msUntilToken(nowMs: number): number {
    this.refill(nowMs);
    return this.tokens >= 1 ? 0 : ((1 - this.tokens) / this.ratePerSecond) * 1000;
  }

  private refill(nowMs: number): void {
    if (nowMs <= this.lastMs) return;
    let earned = ((nowMs - this.lastMs) / 1000) * this.ratePerSecond;
    if (this.backlogged)
      earned = Math.min(earned, Math.max(2, (TokenBucket.MAX_CATCH_UP_MS / 1000) * this.ratePerSecond));
    this.tokens = Math.min(this.capacity, this.tokens + earned);
    this.lastMs = nowMs;
  }
}
