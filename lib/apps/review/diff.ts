/**
 * Structural diff of two synthesized Terraform JSON configurations, by Terraform address
 * (`google_cloud_tasks_queue.recsys-dev-train`, `output.queue_ids`, `provider.google`), with attribute changes as
 * paths (`rate_limits.max_dispatches_per_second`). Noise that is not a change is removed first: cdktf's `//`
 * metadata, and asset hash directories (`assets/<id>/<hash>/`) that move whenever content moves; the content change
 * itself is reported from the assets (lib/apps/review/synth-output.ts).
 */
import { findSecrets, isSecretReference, secretKeyReason, secretSafeKey, secretValueReason } from '../../core/secrets';

export type EntryKind =
  'resource' | 'data' | 'output' | 'provider' | 'terraform' | 'variable' | 'local' | 'module' | 'other';

export interface ConfigEntry {
  /** Terraform address: `type.name`, `data.type.name`, `output.name`, `provider.google`, `terraform`. */
  readonly address: string;
  readonly kind: EntryKind;
  /** Resource or data source type. */
  readonly type?: string;
  readonly value: unknown;
}

export interface AttributeChange {
  /** `rate_limits.max_dispatches_per_second`, `http_target.header_overrides[X-Pipeline].header.value`. */
  readonly path: string;
  /** Absent when the attribute was added. */
  readonly before?: unknown;
  /** Absent when the attribute was removed. */
  readonly after?: unknown;
  /** The value must not be shown (secret-looking key or value, or a sensitive output). */
  readonly redacted?: boolean;
}

export interface EntryChange {
  readonly address: string;
  readonly kind: EntryKind;
  readonly type?: string;
  readonly status: 'added' | 'removed' | 'changed';
  /** For `changed`: the attributes that changed. For `added`: every attribute, flattened (before absent). */
  readonly attributes: readonly AttributeChange[];
  /** Attributes whose change makes Terraform replace the resource (see FORCE_NEW). */
  readonly replacedBy?: readonly string[];
}

const ASSET_HASH_DIR = /(assets\/[^/"\s]+\/)[0-9A-Fa-f]{16,}(?=\/)/g;

/** Removes `//` metadata and asset hash directories, recursively. */
export function normalizeConfig(value: unknown): unknown {
  if (typeof value === 'string') return value.replace(ASSET_HASH_DIR, '$1<hash>');
  if (Array.isArray(value)) return value.map(normalizeConfig);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) if (k !== '//') out[k] = normalizeConfig(v);
    return out;
  }
  return value;
}

/** Every addressable block of a cdk.tf.json, keyed by its Terraform address. */
export function configEntries(rawConfig: Record<string, unknown>): Map<string, ConfigEntry> {
  const config = normalizeConfig(rawConfig) as Record<string, unknown>;
  const out = new Map<string, ConfigEntry>();
  const add = (e: ConfigEntry): void => void out.set(e.address, e);
  for (const [block, body] of Object.entries(config)) {
    if (body === null || typeof body !== 'object') continue;
    const b = body as Record<string, unknown>;
    switch (block) {
      case 'resource':
      case 'data':
        for (const [type, byName] of Object.entries(b))
          for (const [name, value] of Object.entries((byName ?? {}) as Record<string, unknown>))
            add({ address: block === 'data' ? `data.${type}.${name}` : `${type}.${name}`, kind: block, type, value });
        break;
      case 'output':
      case 'variable':
      case 'module':
        for (const [name, value] of Object.entries(b)) add({ address: `${block}.${name}`, kind: block, value });
        break;
      case 'locals':
        for (const [name, value] of Object.entries(b)) add({ address: `local.${name}`, kind: 'local', value });
        break;
      case 'provider':
        for (const [name, configs] of Object.entries(b)) {
          const list = Array.isArray(configs) ? configs : [configs];
          for (const c of list) {
            const alias = (c as Record<string, unknown> | null)?.alias;
            add({
              address: typeof alias === 'string' ? `provider.${name}.${alias}` : `provider.${name}`,
              kind: 'provider',
              value: c,
            });
          }
        }
        break;
      case 'terraform':
        add({ address: 'terraform', kind: 'terraform', value: b });
        break;
      default:
        add({ address: block, kind: 'other', value: b });
    }
  }
  return out;
}

/**
 * Attributes whose change replaces the resource instead of updating it in place (ForceNew in the google provider's
 * schema for the resources this project creates). Shown next to the change, because a replaced queue loses its
 * tasks and its name is blocked for 7 days.
 */
const FORCE_NEW: Readonly<Record<string, readonly string[]>> = {
  google_cloud_tasks_queue: ['name', 'location', 'project'],
  google_service_account: ['account_id', 'project'],
  google_project_service: ['service', 'project'],
  google_monitoring_alert_policy: ['project'],
  terraform_data: ['triggers_replace'],
  google_cloud_scheduler_job: ['name', 'project', 'region'],
};

export function diffEntries(base: Map<string, ConfigEntry>, head: Map<string, ConfigEntry>): EntryChange[] {
  const out: EntryChange[] = [];
  const addresses = [...new Set([...base.keys(), ...head.keys()])].sort();
  for (const address of addresses) {
    const b = base.get(address);
    const h = head.get(address);
    if (b && !h) out.push({ address, kind: b.kind, type: b.type, status: 'removed', attributes: [] });
    else if (!b && h)
      out.push({
        address,
        kind: h.kind,
        type: h.type,
        status: 'added',
        attributes: flatten(h.value, '', isSensitiveEntry(h)),
      });
    else if (b && h) {
      const attributes = diffValues(b.value, h.value, '', isSensitiveEntry(b) || isSensitiveEntry(h));
      if (attributes.length === 0) continue;
      const forceNew = FORCE_NEW[h.type ?? ''] ?? [];
      const replacedBy = attributes
        .map((a) => a.path)
        .filter((p) => forceNew.some((f) => p === f || p.startsWith(`${f}.`) || p.startsWith(`${f}[`)));
      out.push({
        address,
        kind: h.kind,
        type: h.type,
        status: 'changed',
        attributes,
        replacedBy: replacedBy.length ? replacedBy : undefined,
      });
    }
  }
  return out;
}

function isSensitiveEntry(e: ConfigEntry): boolean {
  return e.kind === 'output' && (e.value as Record<string, unknown> | null)?.sensitive === true;
}

/**
 * Appends a key to an attribute path as the review prints it: `a.b`, `a["x y"]`, `a[2]`. Keys that are not plain
 * identifiers (headers with hyphens are fine) are quoted so a reader can copy the path.
 */
function joinPath(base: string, key: string | number): string {
  if (typeof key === 'number') return `${base}[${key}]`;
  // A key that is itself a credential is never shown.
  key = secretSafeKey(key);
  if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(key)) return base ? `${base}.${key}` : key;
  return `${base}[${JSON.stringify(key)}]`;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const isPrimitive = (v: unknown): boolean => v === null || typeof v !== 'object';

/** Attribute changes between two values, one per leaf that differs. */
export function diffValues(before: unknown, after: unknown, path: string, sensitive = false): AttributeChange[] {
  if (deepEqual(before, after)) return [];
  if (isObject(before) && isObject(after)) {
    const out: AttributeChange[] = [];
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    const childSensitive = sensitive || secretHeaderBlock(before) || secretHeaderBlock(after);
    for (const k of keys) {
      const p = joinPath(path, k);
      const s = childSensitive && k === 'value' ? true : sensitive || isSecretKey(k);
      if (!(k in before)) out.push(...flatten(after[k], p, s));
      else if (!(k in after))
        out.push(
          ...flatten(before[k], p, s).map(({ path: pp, after: a, redacted }) => ({ path: pp, before: a, redacted })),
        );
      else out.push(...diffValues(before[k], after[k], p, s));
    }
    return out;
  }
  if (Array.isArray(before) && Array.isArray(after)) {
    if (before.every(isPrimitive) && after.every(isPrimitive)) return [leafChange(path, before, after, sensitive)];
    const keyOf = blockKey(before, after);
    if (keyOf) {
      const bm = new Map(before.map((x) => [keyOf(x) as string, x]));
      const am = new Map(after.map((x) => [keyOf(x) as string, x]));
      const out: AttributeChange[] = [];
      for (const k of [...new Set([...bm.keys(), ...am.keys()])])
        out.push(...diffValues(bm.get(k), am.get(k), `${path}[${k}]`, sensitive));
      return out;
    }
    const out: AttributeChange[] = [];
    for (let i = 0; i < Math.max(before.length, after.length); i++)
      out.push(...diffValues(before[i], after[i], joinPath(path, i), sensitive));
    return out;
  }
  if (before === undefined) return flatten(after, path, sensitive);
  if (after === undefined)
    return flatten(before, path, sensitive).map(({ path: p, after: a, redacted }) => ({
      path: p,
      before: a,
      redacted,
    }));
  return [leafChange(path, before, after, sensitive)];
}

function leafChange(path: string, before: unknown, after: unknown, sensitive: boolean): AttributeChange {
  const redacted = sensitive || looksSecret(before) || looksSecret(after);
  return { path, before, after, redacted: redacted || undefined };
}

/** Every leaf of a value as an "added" attribute (used for added resources and added sub-blocks). */
export function flatten(value: unknown, path: string, sensitive = false): AttributeChange[] {
  if (value === undefined) return [];
  if (isObject(value)) {
    const headerBlock = secretHeaderBlock(value);
    return Object.keys(value)
      .sort()
      .flatMap((k) =>
        flatten(value[k], joinPath(path, k), sensitive || isSecretKey(k) || (headerBlock && k === 'value')),
      );
  }
  if (Array.isArray(value) && !value.every(isPrimitive)) {
    const keyOf = blockKey(value, value);
    return value.flatMap((x, i) => flatten(x, keyOf ? `${path}[${keyOf(x)}]` : joinPath(path, i), sensitive));
  }
  return [{ path, after: value, redacted: sensitive || looksSecret(value) || undefined }];
}

function isSecretKey(key: string): boolean {
  return secretKeyReason(key) !== undefined;
}

function looksSecret(v: unknown): boolean {
  if (typeof v === 'string') return secretValueReason(v) !== undefined && !isSecretReference(v);
  if (v !== null && typeof v === 'object') return findSecrets(v, []).length > 0;
  return false;
}

/** `{ key: "X-Api-Key", value: "..." }` (header_overrides.header): the value's sensitivity follows the key's name. */
function secretHeaderBlock(v: unknown): boolean {
  return isObject(v) && typeof v.key === 'string' && typeof v.value === 'string' && isSecretKey(v.key);
}

/**
 * Lists of blocks are matched by a natural key when every element has a unique one: `name`, `key`, `id`,
 * `display_name`, or the same field one level down (`header_overrides: [{ header: { key } }]`). Otherwise by index.
 */
function blockKey(before: readonly unknown[], after: readonly unknown[]): ((x: unknown) => string) | undefined {
  const candidates: Array<(x: unknown) => unknown> = [];
  for (const f of ['name', 'key', 'id', 'display_name', 'role', 'service']) {
    candidates.push((x) => (isObject(x) ? x[f] : undefined));
    candidates.push((x) => {
      if (!isObject(x)) return undefined;
      const vals = Object.values(x);
      return vals.length === 1 && isObject(vals[0]) ? vals[0][f] : undefined;
    });
  }
  for (const c of candidates) {
    const ok = (list: readonly unknown[]): boolean => {
      const keys = list.map(c);
      return keys.every((k) => typeof k === 'string' && k.length > 0) && new Set(keys).size === keys.length;
    };
    if (ok(before) && ok(after)) return (x) => c(x) as string;
  }
  return undefined;
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => k in b && deepEqual(a[k], b[k]));
  }
  return false;
}
