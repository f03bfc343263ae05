/**
 * RFC 3339 timestamps as the Cloud Tasks API takes them (google.protobuf.Timestamp in JSON: `2026-12-01T00:00:00Z`,
 * `2026-12-01T00:00:00.123456789+02:00`). One parser for the spec validator and the seeder, so nothing synth accepts
 * fails at deploy time, and the nanoseconds a JavaScript Date would drop reach the API.
 */

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/i;

/** What to write instead, for messages. */
export const RFC3339_HINT = 'write e.g. 2026-12-01T00:00:00Z (a real date, T between date and time, Z or an offset)';

export interface Rfc3339Instant {
  /** The instant, to the millisecond. */
  readonly date: Date;
  /** google.protobuf.Timestamp: whole seconds since the Unix epoch ... */
  readonly seconds: number;
  /** ... and the nanoseconds written after them (all nine digits kept). */
  readonly nanos: number;
}

/**
 * The instant of an RFC 3339 timestamp, or undefined when the text is not one or names a time that does not exist
 * (2026-02-30, 24:00, a leap second: Date.parse would roll these over to another instant, and a typo in a date must be
 * an error, not a different day).
 */
export function parseRfc3339(text: string): Rfc3339Instant | undefined {
  const m = RFC3339.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  const calendar = new Date(Date.UTC(year, month - 1, day));
  if (calendar.getUTCMonth() !== month - 1 || calendar.getUTCDate() !== day) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  const offset = m[8].toUpperCase();
  if (offset !== 'Z' && (Number(offset.slice(1, 3)) > 23 || Number(offset.slice(4, 6)) > 59)) return undefined;
  const wholeSeconds = Date.parse(`${m.slice(1, 4).join('-')}T${m.slice(4, 7).join(':')}${offset}`);
  if (Number.isNaN(wholeSeconds)) return undefined;
  const nanos = m[7] ? Number(m[7].padEnd(9, '0')) : 0;
  return { date: new Date(wholeSeconds + Math.floor(nanos / 1e6)), seconds: wholeSeconds / 1000, nanos };
}
