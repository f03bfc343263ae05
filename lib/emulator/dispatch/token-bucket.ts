/**
 * queue.proto RateLimits: "Cloud Tasks uses a token bucket algorithm to control the rate of task dispatches. Each
 * queue has a token bucket that holds tokens, up to the maximum specified by max_burst_size. Each time a task is
 * dispatched, a token is removed from the bucket. [...] tokens are added to the bucket at the rate specified by
 * max_dispatches_per_second."
 *
 * Tokens accrue continuously from the clock's elapsed time, not per timer tick, so a timer that fires late does not
 * lose rate: the tokens it missed are there when it runs. The observed long-run rate is therefore the configured one.
 */
export class TokenBucket {
  private tokens: number;
  private lastMs: number;

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

  /** Takes one token if there is one. */
  tryTake(nowMs: number): boolean {
    this.refill(nowMs);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Milliseconds until a token is available (0 when one is). */
  msUntilToken(nowMs: number): number {
    this.refill(nowMs);
    return this.tokens >= 1 ? 0 : ((1 - this.tokens) / this.ratePerSecond) * 1000;
  }

  private refill(nowMs: number): void {
    if (nowMs > this.lastMs) {
      this.tokens = Math.min(this.capacity, this.tokens + ((nowMs - this.lastMs) / 1000) * this.ratePerSecond);
      this.lastMs = nowMs;
    }
  }
}
