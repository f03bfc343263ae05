/**
 * What the page may show of a task's body and headers: the policy pack's secret detector (lib/core/secrets.ts) decides
 * what is a secret, this file replaces it. A local emulator holds the user's own payloads, but a dashboard is shown
 * on screens and in screenshots, so credentials are never in what the API returns:
 * - JSON bodies: every value the detector flags becomes `<redacted>`, every object key that is itself a credential
 *   `<redacted key N>`; the result is pretty-printed and cut at the preview limit;
 * - text bodies holding a credential are hidden whole (a partial redaction of free text could leave pieces);
 * - headers: `Authorization` is never returned (tokens are minted per dispatch; a stored one would be a leak), and
 *   values the detector flags (`X-Api-Key`, `Cookie`, ...) become `<redacted>`.
 */
import { formatPath, type PathSegment } from '../../core/problem';
import { credentialInText, findSecrets, findSecretsInHeaders, secretSafeKey } from '../../core/secrets';
import type { BodyPreview } from './api-types';

/** Characters of a body the API returns at most. */
export const BODY_PREVIEW_CHARS = 16 * 1024;
export const REDACTED = '<redacted>';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A body (bytes) as the page shows it. */
export function previewBody(body: Uint8Array, limit = BODY_PREVIEW_CHARS): BodyPreview {
  const bytes = body.byteLength;
  if (bytes === 0) return { kind: 'empty', bytes, truncated: false, redacted: [] };
  const text = Buffer.from(body).toString('utf8');
  if (Buffer.byteLength(text) !== bytes || text.includes('\uFFFD'))
    return { kind: 'binary', bytes, truncated: false, redacted: [] };
  let value: Json;
  try {
    value = JSON.parse(text) as Json;
  } catch {
    const shape = credentialInText(text);
    if (shape) return { kind: 'text', bytes, truncated: false, redacted: [], hidden: `it holds ${shape}` };
    return { kind: 'text', bytes, ...cut(text, limit), redacted: [] };
  }
  return { kind: 'json', bytes, ...previewValue(value, limit) };
}

/** A JSON value (a run's input) as the page shows it. */
export function previewJson(value: unknown, limit = BODY_PREVIEW_CHARS): BodyPreview {
  const text = JSON.stringify(value ?? null);
  return { kind: 'json', bytes: Buffer.byteLength(text), ...previewValue(value as Json, limit) };
}

function previewValue(value: Json, limit: number): Pick<BodyPreview, 'text' | 'truncated' | 'redacted'> {
  const { value: clean, redacted } = redactSecrets(value);
  return { ...cut(JSON.stringify(clean, null, 2), limit), redacted };
}

function cut(text: string, limit: number): { text: string; truncated: boolean } {
  return text.length <= limit ? { text, truncated: false } : { text: text.slice(0, limit), truncated: true };
}

/**
 * A copy of `value` with every secret the detector finds replaced, and where each was (paths, reasons; never the
 * values).
 */
export function redactSecrets(value: Json): {
  value: Json;
  redacted: Array<{ path: string; reason: string }>;
} {
  const redacted: Array<{ path: string; reason: string }> = [];
  let keyCount = 0;
  // Keys that are credentials first: renamed (with their values), so the detector's paths then name real keys.
  const renameKeys = (v: Json, path: PathSegment[]): Json => {
    if (Array.isArray(v)) return v.map((x, i) => renameKeys(x, [...path, i]));
    if (v === null || typeof v !== 'object') return v;
    const out: { [key: string]: Json } = {};
    for (const [k, child] of Object.entries(v)) {
      if (secretSafeKey(k) !== k) {
        const name = `<redacted key ${++keyCount}>`;
        out[name] = REDACTED;
        redacted.push({ path: formatPath([...path, name]), reason: 'the key is itself a credential' });
      } else out[k] = renameKeys(child, [...path, k]);
    }
    return out;
  };
  const copy = renameKeys(value, []);
  const findings = findSecrets(copy, []);
  let root = copy;
  for (const f of findings) {
    redacted.push({ path: formatPath(f.path), reason: f.reason });
    if (f.path.length === 0) {
      root = REDACTED;
      continue;
    }
    let parent: Json = root;
    for (const seg of f.path.slice(0, -1)) parent = (parent as Record<string | number, Json>)[seg];
    if (parent !== null && typeof parent === 'object')
      (parent as Record<string | number, Json>)[f.path.at(-1)!] = REDACTED;
  }
  return { value: root, redacted };
}

/** Headers without Authorization, values the detector flags redacted. */
export function safeHeaders(headers: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() !== 'authorization') out[k] = v;
  for (const f of findSecretsInHeaders(out, [])) {
    const key = f.path[0];
    if (typeof key === 'string' && key in out) out[key] = REDACTED;
  }
  // A header name that is itself a credential is dropped (the detector reports it under a placeholder).
  for (const k of Object.keys(out)) if (secretSafeKey(k) !== k) delete out[k];
  return out;
}
