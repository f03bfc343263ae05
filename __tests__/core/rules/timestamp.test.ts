/** One RFC 3339 parser for the spec validator and the seeder: what one accepts, the other sends. */
import { parseRfc3339 } from '../../../lib/core/rules/timestamp';
import { scheduleTimeTextProblems } from '../../../lib/core/rules/cloud-tasks';

describe('parseRfc3339', () => {
  test.each([
    ['2030-01-01T00:00:00Z', 1893456000, 0],
    ['2030-01-01T00:00:00.5Z', 1893456000, 500_000_000],
    ['2030-01-01T02:00:00.000000001+02:00', 1893456000, 1],
    ['2030-01-01t00:00:00z', 1893456000, 0],
  ])('%s is second %d, nanosecond %d', (text, seconds, nanos) => {
    expect(parseRfc3339(text)).toEqual({ date: new Date(seconds * 1000 + Math.floor(nanos / 1e6)), seconds, nanos });
  });

  test.each([
    '2030-02-30T00:00:00Z', // Date.parse would roll it over to March 2
    '2030-13-01T00:00:00Z',
    '2030-01-01T24:00:00Z',
    '2030-01-01T00:00:60Z',
    '2030-01-01T00:00:00+24:00',
    '2030-01-01 00:00:00Z',
    '2030-01-01T00:00:00',
    'tomorrow',
  ])('%s is refused', (text) => {
    expect(parseRfc3339(text)).toBeUndefined();
  });

  test('a schedule time as text: not a timestamp, or too far ahead, each with its message', () => {
    const now = new Date('2030-01-01T00:00:00Z');
    expect(scheduleTimeTextProblems('2030-01-15T00:00:00Z', now)).toEqual([]);
    expect(scheduleTimeTextProblems('2030-02-30T00:00:00Z', now)).toEqual([
      {
        path: ['scheduleTime'],
        value: '2030-02-30T00:00:00Z',
        message:
          '"2030-02-30T00:00:00Z" is not a valid RFC 3339 timestamp: write e.g. 2026-12-01T00:00:00Z (a real date, T between date and time, Z or an offset)',
      },
    ]);
    expect(scheduleTimeTextProblems('2030-03-01T00:00:00Z', now)[0].message).toMatch(/59\.0 days ahead/);
  });
});
