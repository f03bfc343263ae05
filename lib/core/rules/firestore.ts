/**
 * The Firestore limits the run ledger must respect, each with its source: the one place they live. The ledger's
 * layout (lib/core/ledger-layout.ts) and writers (lib/ledger) call these; a limit changes here only.
 *
 * Sources: Firestore "Quotas and limits" (https://cloud.google.com/firestore/quotas), "Storage size calculations"
 * (https://cloud.google.com/firestore/docs/storage-size), "Best practices"
 * (https://cloud.google.com/firestore/docs/best-practices), and the REST reference of `projects.databases.create`.
 *
 * Like rules/cloud-tasks.ts, checks return `Problem`s instead of throwing, so each caller words them for its audience.
 */
import type { FieldPath, Problem } from '../problem';

export const FIRESTORE_LIMITS = {
  /** Quotas: "Maximum size of a document: 1 MiB (1,048,576 bytes)". */
  maxDocumentBytes: 1_048_576,
  /** Quotas: document ids "must be no longer than 1,500 bytes". */
  maxDocumentIdBytes: 1500,
  /** Quotas: "Maximum size of a field value: 1 MiB - 89 bytes (1,048,487 bytes)". */
  maxFieldValueBytes: 1_048_487,
  /**
   * Best practices: "keep the rate of sustained writes to a single document at about 1 per second" (and "Distributed
   * counters" for high-rate counts). The ledger never routes per-shard progress through one document.
   */
  sustainedWritesPerDocumentPerSecond: 1,
  /**
   * REST `projects.databases.create` databaseId: "4-63 characters. Valid characters are /[a-z][0-9]-/ with first
   * character a letter and the last a letter or a number. Must not be UUID-like ... '(default)' database ID is also
   * valid."
   */
  databaseIdPattern: /^[a-z][a-z0-9-]{2,61}[a-z0-9]$/,
  databaseIdUuidLike: /^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$/,
  defaultDatabaseId: '(default)',
  /**
   * "Locations" (https://cloud.google.com/firestore/docs/locations): a regional location is a region name
   * (`us-central1`), a multi-region one of `nam5`, `eur3`. The list changes; the shape is checked here, the name by the
   * API at deploy.
   */
  locationIdPattern: /^[a-z]+(-[a-z]+)*[0-9]+$/,
} as const;

const fmt = (n: number): string => n.toLocaleString('en-US');

/**
 * Quotas, "Constraints on document IDs": valid UTF-8, at most 1,500 bytes, no forward slash, not `.` or `..`, and not
 * matching `__.*__` (reserved).
 */
export function documentIdProblems(id: string, at: FieldPath = ['id']): Problem[] {
  const why: string[] = [];
  if (id === '') why.push('is empty');
  if (Buffer.byteLength(id) > FIRESTORE_LIMITS.maxDocumentIdBytes)
    why.push(
      `is ${fmt(Buffer.byteLength(id))} bytes, more than the ${fmt(FIRESTORE_LIMITS.maxDocumentIdBytes)} allowed`,
    );
  if (id.includes('/')) why.push('contains a forward slash');
  if (id === '.' || id === '..') why.push('is only periods');
  if (/^__.*__$/s.test(id)) why.push('matches __.*__, which Firestore reserves');
  if (!isWellFormedUtf16(id)) why.push('is not valid UTF-8 (a lone surrogate)');
  return why.length
    ? [{ path: at, value: id, message: `"${id}" is not a Firestore document id: it ${why.join(', ')}` }]
    : [];
}

export function databaseIdProblems(id: string, at: FieldPath = ['database']): Problem[] {
  if (id === FIRESTORE_LIMITS.defaultDatabaseId) return [];
  if (FIRESTORE_LIMITS.databaseIdPattern.test(id) && !FIRESTORE_LIMITS.databaseIdUuidLike.test(id)) return [];
  return [
    {
      path: at,
      value: id,
      message: `"${id}" is not a Firestore database id: use "(default)", or 4-63 lower-case letters, digits and hyphens, starting with a letter and ending with a letter or digit (not UUID-like)`,
    },
  ];
}

export function locationIdProblems(id: string, at: FieldPath = ['location']): Problem[] {
  if (FIRESTORE_LIMITS.locationIdPattern.test(id)) return [];
  return [
    {
      path: at,
      value: id,
      message: `"${id}" is not a Firestore location: use a region such as us-central1, or a multi-region (nam5, eur3)`,
    },
  ];
}

/** A value as the Node client writes it: JSON-like data, Dates (timestamps) and Buffers (bytes). */
export type FirestoreValue =
  | null
  | boolean
  | number
  | string
  | Date
  | Uint8Array
  | readonly FirestoreValue[]
  | { readonly [field: string]: FirestoreValue | undefined };

/** Storage size calculations: "String sizes are calculated as the number of UTF-8 encoded bytes + 1". */
export function stringSizeBytes(s: string): number {
  return Buffer.byteLength(s) + 1;
}

/**
 * Storage size calculations, "Field value size": array = sum of its values; boolean, null = 1; bytes = length;
 * timestamp, number = 8; map = like a document's fields (names + values); string = UTF-8 bytes + 1.
 */
export function valueSizeBytes(value: FirestoreValue | undefined): number {
  if (value === null || typeof value === 'boolean') return 1;
  if (value === undefined) return 0;
  if (typeof value === 'number' || value instanceof Date) return 8;
  if (typeof value === 'string') return stringSizeBytes(value);
  if (value instanceof Uint8Array) return value.byteLength;
  if (Array.isArray(value))
    return (value as readonly FirestoreValue[]).reduce<number>((n, v) => n + valueSizeBytes(v), 0);
  return fieldsSizeBytes(value as { readonly [field: string]: FirestoreValue | undefined });
}

/** The fields of a document or map: the string size of each name plus the size of its value (unset fields: none). */
export function fieldsSizeBytes(fields: { readonly [field: string]: FirestoreValue | undefined }): number {
  let n = 0;
  for (const [name, v] of Object.entries(fields)) if (v !== undefined) n += stringSizeBytes(name) + valueSizeBytes(v);
  return n;
}

/**
 * Storage size calculations, "Document size": the document name (each collection id and document id of its path as a
 * string, plus 16 bytes), its fields, plus 32 bytes. `path` is the document path, e.g. `users/jeff/tasks/my_task_id`.
 */
export function documentSizeBytes(
  path: string,
  fields: { readonly [field: string]: FirestoreValue | undefined },
): number {
  const name = path.split('/').reduce((n, segment) => n + stringSizeBytes(segment), 0) + 16;
  return name + fieldsSizeBytes(fields) + 32;
}

export function documentSizeProblems(sizeBytes: number, at: FieldPath = ['document']): Problem[] {
  if (sizeBytes <= FIRESTORE_LIMITS.maxDocumentBytes) return [];
  return [
    {
      path: at,
      value: `${fmt(sizeBytes)} bytes`,
      message: `the ledger document would be ${fmt(sizeBytes)} bytes; a Firestore document holds at most 1 MiB (${fmt(FIRESTORE_LIMITS.maxDocumentBytes)} bytes)`,
    },
  ];
}

function isWellFormedUtf16(s: string): boolean {
  // String.prototype.isWellFormed arrives in Node 20; this form also type-checks against the ES2022 lib.
  return !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);
}
