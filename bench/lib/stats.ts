/** Small statistics for benchmark samples. Every function leaves its input untouched. */

/** The median; NaN for no samples. */
export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

/** Linear-interpolated quantile (q in 0..1, the same definition as numpy's default); NaN for no samples. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * Math.min(1, Math.max(0, q));
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export function min(values: readonly number[]): number {
  return values.length ? Math.min(...values) : Number.NaN;
}

export function max(values: readonly number[]): number {
  return values.length ? Math.max(...values) : Number.NaN;
}

/** Least-squares line through (x, y): y = intercept + slope * x, and r^2. */
export function linearFit(points: readonly { x: number; y: number }[]): {
  slope: number;
  intercept: number;
  r2: number;
} {
  const n = points.length;
  if (n < 2) return { slope: Number.NaN, intercept: Number.NaN, r2: Number.NaN };
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (const p of points) {
    sxy += (p.x - mx) * (p.y - my);
    sxx += (p.x - mx) ** 2;
    syy += (p.y - my) ** 2;
  }
  const slope = sxx === 0 ? Number.NaN : sxy / sxx;
  const intercept = my - slope * mx;
  const r2 = sxx === 0 || syy === 0 ? 1 : (sxy * sxy) / (sxx * syy);
  return { slope, intercept, r2 };
}

/**
 * Cost per added unit between consecutive points (sorted by x): [(x1, x2, (y2 - y1) / (x2 - x1)), ...]. Growth is
 * linear when these stay about the same as x grows, and super-linear when they climb.
 */
export function marginalCosts(
  points: readonly { x: number; y: number }[],
): { from: number; to: number; perUnit: number }[] {
  const sorted = [...points].sort((a, b) => a.x - b.x);
  const out: { from: number; to: number; perUnit: number }[] = [];
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1];
    const b = sorted[i];
    if (b.x !== a.x) out.push({ from: a.x, to: b.x, perUnit: (b.y - a.y) / (b.x - a.x) });
  }
  return out;
}
