/**
 * Proves the cdktf-init-style baseline builds the same stack as `npm run synth`: the two `cdk.tf.json` files must
 * be equal once cdktf's `//` metadata (construct paths, stack traces, versions) is removed. Otherwise the speed
 * comparison would compare different work.
 */

/** The Terraform JSON without any `//` key, keys sorted (key order is not meaningful to Terraform). */
export function comparableTerraform(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(comparableTerraform);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .filter((k) => k !== '//')
        .sort()
        .map((k) => [k, comparableTerraform((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

/** JSON paths (`resource.google_cloud_tasks_queue.x.rate_limits`) where the two documents differ; [] when equal. */
export function terraformDifferences(a: unknown, b: unknown, limit = 20): string[] {
  const out: string[] = [];
  const walk = (x: unknown, y: unknown, path: string): void => {
    if (out.length >= limit) return;
    const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object';
    if (isObj(x) && isObj(y) && Array.isArray(x) === Array.isArray(y)) {
      const keys = new Set([...Object.keys(x), ...Object.keys(y)]);
      for (const k of [...keys].sort()) walk(x[k], y[k], path ? `${path}.${k}` : k);
      return;
    }
    if (JSON.stringify(x) !== JSON.stringify(y)) out.push(`${path || '(root)'}: ${short(x)} vs ${short(y)}`);
  };
  walk(comparableTerraform(a), comparableTerraform(b), '');
  return out;
}

function short(v: unknown): string {
  const s = v === undefined ? 'missing' : JSON.stringify(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/** Resource count by type, for the report (what was synthesized). */
export function resourceCounts(tf: { resource?: Record<string, Record<string, unknown>> }): Record<string, number> {
  return Object.fromEntries(
    Object.entries(tf.resource ?? {}).map(([type, byName]) => [type, Object.keys(byName).length]),
  );
}
