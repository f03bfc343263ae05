/**
 * Seed-task changes between two seed manifests (lib/core/manifest.ts), by step and seed id. Payloads are
 * summarized (size, top-level keys, a short sha256), never shown: they may be large or hold data that does not
 * belong in a pull-request comment. Header values are shown only as hashes for the same reason.
 */
import { createHash } from 'node:crypto';
import type { ManifestTask, SeedManifest } from '../../core/manifest';
import { deepEqual } from './diff';

export interface PayloadSummary {
  readonly sizeBytes: number;
  /** `object {a, b}`, `array[3]`, `string`, `none`. */
  readonly shape: string;
  /** First 12 hex characters of sha256(body). */
  readonly sha256: string;
}

export interface SeedFieldChange {
  readonly field: string;
  readonly before: string;
  readonly after: string;
}

export interface SeedTaskChange {
  readonly step: string;
  readonly seedId: string;
  readonly status: 'added' | 'removed' | 'changed';
  readonly payload: PayloadSummary;
  readonly previousPayload?: PayloadSummary;
  readonly changes: readonly SeedFieldChange[];
  /**
   * The task id stayed the same while the request changed: a task that still exists (or ran within the
   * deduplication window) is not re-created, the seeder reports it as already present.
   */
  readonly sameTaskId: boolean;
}

export function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 12);
}

export function summarizePayload(body: string | undefined): PayloadSummary {
  if (body === undefined) return { sizeBytes: 0, shape: 'none', sha256: '-' };
  let shape = 'text';
  try {
    const parsed: unknown = JSON.parse(body);
    if (Array.isArray(parsed)) shape = `array[${parsed.length}]`;
    else if (parsed !== null && typeof parsed === 'object') {
      const keys = Object.keys(parsed);
      const shown = keys.slice(0, 8).join(', ');
      shape = `object {${shown}${keys.length > 8 ? `, ... ${keys.length - 8} more` : ''}}`;
    } else shape = parsed === null ? 'null' : typeof parsed;
  } catch {
    // Not JSON: the summary still gives size and hash.
  }
  return { sizeBytes: Buffer.byteLength(body), shape, sha256: shortHash(body) };
}

export function formatPayload(p: PayloadSummary): string {
  return p.shape === 'none'
    ? 'no body'
    : `${p.sizeBytes.toLocaleString('en-US')} bytes, ${p.shape}, sha256 ${p.sha256}`;
}

/** Manifest-level fields (everything but the tasks) that changed, e.g. a new project or location. */
export function diffSeedManifestFields(
  base: SeedManifest | undefined,
  head: SeedManifest | undefined,
): SeedFieldChange[] {
  if (!base || !head) return [];
  const out: SeedFieldChange[] = [];
  for (const field of ['version', 'stack', 'project', 'location'] as const)
    if (!deepEqual(base[field], head[field])) out.push({ field, before: show(base[field]), after: show(head[field]) });
  return out;
}

const key = (t: ManifestTask): string => `${t.step}/${t.seedId}`;

export function diffSeedManifests(base: SeedManifest | undefined, head: SeedManifest | undefined): SeedTaskChange[] {
  const b = new Map((base?.tasks ?? []).map((t) => [key(t), t]));
  const h = new Map((head?.tasks ?? []).map((t) => [key(t), t]));
  const out: SeedTaskChange[] = [];
  for (const k of [...new Set([...b.keys(), ...h.keys()])].sort()) {
    const before = b.get(k);
    const after = h.get(k);
    if (!before && after)
      out.push({
        step: after.step,
        seedId: after.seedId,
        status: 'added',
        payload: summarizePayload(after.httpRequest.body),
        changes: [],
        sameTaskId: false,
      });
    else if (before && !after)
      out.push({
        step: before.step,
        seedId: before.seedId,
        status: 'removed',
        payload: summarizePayload(before.httpRequest.body),
        changes: [],
        sameTaskId: false,
      });
    else if (before && after && !deepEqual(before, after)) {
      const changes = taskFieldChanges(before, after);
      out.push({
        step: after.step,
        seedId: after.seedId,
        status: 'changed',
        payload: summarizePayload(after.httpRequest.body),
        previousPayload: summarizePayload(before.httpRequest.body),
        changes,
        sameTaskId: before.taskId === after.taskId,
      });
    }
  }
  return out;
}

function taskFieldChanges(b: ManifestTask, a: ManifestTask): SeedFieldChange[] {
  const out: SeedFieldChange[] = [];
  const plain = (field: string, x: unknown, y: unknown): void => {
    if (!deepEqual(x, y)) out.push({ field, before: show(x), after: show(y) });
  };
  plain('queue', b.queue, a.queue);
  plain('taskId', b.taskId, a.taskId);
  plain('scheduleTime', b.scheduleTime, a.scheduleTime);
  plain('dispatchDeadlineSeconds', b.dispatchDeadlineSeconds, a.dispatchDeadlineSeconds);
  plain('httpRequest.url', b.httpRequest.url, a.httpRequest.url);
  plain('httpRequest.httpMethod', b.httpRequest.httpMethod, a.httpRequest.httpMethod);
  plain('httpRequest.oidcToken', b.httpRequest.oidcToken, a.httpRequest.oidcToken);
  plain('httpRequest.oauthToken', b.httpRequest.oauthToken, a.httpRequest.oauthToken);
  const bh = b.httpRequest.headers ?? {};
  const ah = a.httpRequest.headers ?? {};
  for (const name of [...new Set([...Object.keys(bh), ...Object.keys(ah)])].sort()) {
    const x = bh[name];
    const y = ah[name];
    if (x !== y)
      out.push({
        field: `httpRequest.headers.${name}`,
        before: x === undefined ? '(none)' : `sha256 ${shortHash(x)}`,
        after: y === undefined ? '(none)' : `sha256 ${shortHash(y)}`,
      });
  }
  if (b.httpRequest.body !== a.httpRequest.body)
    out.push({
      field: 'payload',
      before: formatPayload(summarizePayload(b.httpRequest.body)),
      after: formatPayload(summarizePayload(a.httpRequest.body)),
    });
  return out;
}

function show(v: unknown): string {
  if (v === undefined) return '(none)';
  return typeof v === 'string' ? v : JSON.stringify(v);
}
