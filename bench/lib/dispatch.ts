/** Rates from arrival times, for the dispatch benchmark. */

/**
 * Requests per second that arrived in the window [first + skipMs, first + skipMs + windowMs), `first` being the
 * first arrival. Skipping the start leaves out the burst a full token bucket sends at once (max_burst_size) and the
 * opening of connections, so what remains is the steady rate.
 */
export function windowRate(arrivalsMs: readonly number[], skipMs: number, windowMs: number): number {
  if (arrivalsMs.length === 0 || windowMs <= 0) return 0;
  const first = Math.min(...arrivalsMs);
  const from = first + skipMs;
  const to = from + windowMs;
  let n = 0;
  for (const t of arrivalsMs) if (t >= from && t < to) n++;
  return n / (windowMs / 1000);
}

/** Largest relative deviation of the observed rates from the configured one (0.03 = 3 %). */
export function worstDeviation(observed: readonly number[], configured: number): number {
  return observed.reduce((worst, r) => Math.max(worst, Math.abs(r - configured) / configured), 0);
}
