import {
  attemptDeadlineProblems,
  cronProblems,
  dstHits,
  jobIdProblems,
  jobSizeProblems,
  nextFireTimes,
  schedulerRetryProblems,
  timeZoneProblems,
  SCHEDULER_LIMITS,
} from '../../../lib/core/rules/scheduler';

const messages = (ps: { message: string }[]) => ps.map((p) => p.message);
const iso = (ds: Date[]) => ds.map((d) => d.toISOString());

describe('cronProblems: the unix-cron Cloud Scheduler reads', () => {
  test.each([
    '0 3 * * *',
    '*/1 * * * *',
    '*/15 9-17 * * 1-5',
    '0 0 1,15 * *',
    '0 0 * JAN,jul MON-FRI',
    '0 0 * * 7', // "or 7 for Sunday"
    '0 0-23/2 * * *',
    '  30 2 * * *  ',
  ])('GIVEN %j THEN it is accepted', (cron) => {
    expect(cronProblems(cron)).toEqual([]);
  });

  test.each([
    ['0 0 3 * * *', /has 6 fields; Cloud Scheduler reads unix-cron: five fields, .*\(there is no seconds field\)/],
    ['0 3 * *', /has 4 fields/],
    ['', /has 0 fields/],
    ['@daily', /is a cron macro; Cloud Scheduler reads unix-cron only/],
    ['0 0 L * *', /the day-of-month field "L" .* does not support L, W, # or \?/],
    ['0 0 * * 5#2', /the day-of-week field "5#2" .* does not support L, W, # or \?/],
    ['0 0 ? * *', /does not support L, W, # or \?/],
    ['0 0 15W * *', /does not support L, W, # or \?/],
    ['5/15 * * * *', /the minute field "5\/15" .* a step must follow \* or a range: write 5-<last>\/15 or \*\/15/],
    ['0 noon * * *', /the hour field "noon" .* this field takes numbers only/],
    ['0 0 * FOO *', /the month field "FOO" .* use numbers or the names JAN-DEC/],
  ])('GIVEN %j THEN the dialect refuses it: %s', (cron, message) => {
    expect(messages(cronProblems(cron, ['pipeline', 'schedules', 0, 'cron']))).toEqual([
      expect.stringMatching(message),
    ]);
    expect(cronProblems(cron, ['x'])[0].path).toEqual(['x']);
  });

  test.each([
    ['60 * * * *', 'the minute field "60" of "60 * * * *": 60 is outside 0-59'],
    ['0 24 * * *', 'the hour field "24" of "0 24 * * *": 24 is outside 0-23'],
    ['0 0 0 * *', 'the day-of-month field "0" of "0 0 0 * *": 0 is outside 1-31'],
    ['0 0 32 * *', 'the day-of-month field "32" of "0 0 32 * *": 32 is outside 1-31'],
    ['0 0 * 13 *', 'the month field "13" of "0 0 * 13 *": 13 is outside 1-12'],
    ['0 0 * * 8', 'the day-of-week field "8" of "0 0 * * 8": 8 is outside 0-7'],
  ])('GIVEN %j THEN the parser names the field and its range', (cron, message) => {
    expect(messages(cronProblems(cron))).toEqual([message]);
  });

  test('GIVEN a range written backwards THEN the parser refuses it, naming the field', () => {
    expect(messages(cronProblems('0 17-9 * * *'))).toEqual([expect.stringMatching(/^the hour field "17-9"/)]);
  });

  test('GIVEN a date that never exists (the 31st of February) THEN the schedule never fires and is refused', () => {
    expect(messages(cronProblems('0 0 31 2 *'))).toEqual([expect.stringMatching(/^"0 0 31 2 \*" never fires: /)]);
  });

  test('GIVEN several bad fields THEN each is reported', () => {
    expect(cronProblems('a b * * *')).toHaveLength(2);
  });
});

describe('timeZoneProblems: tz database names', () => {
  test.each(['Etc/UTC', 'UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Kolkata', 'America/Argentina/Salta'])(
    'GIVEN %s THEN it is accepted',
    (tz) => expect(timeZoneProblems(tz)).toEqual([]),
  );

  test('GIVEN a typo THEN the nearest zone is suggested', () => {
    expect(messages(timeZoneProblems('Europe/Berln'))).toEqual([
      '"Europe/Berln" is not a tz database time zone (did you mean "Europe/Berlin"?): use a name such as Europe/Berlin, America/New_York or Etc/UTC',
    ]);
  });

  test('GIVEN the wrong case THEN the tz database spelling is given', () => {
    expect(messages(timeZoneProblems('europe/berlin'))).toEqual([
      '"europe/berlin" is not spelled as in the tz database: write "Europe/Berlin"',
    ]);
  });

  test.each(['CET', 'PST', '+01:00', 'GMT+1', 'Mars/Olympus', ''])(
    'GIVEN %j (not a zone name) THEN it is refused',
    (tz) => {
      expect(messages(timeZoneProblems(tz, ['timeZone']))).toEqual([
        expect.stringMatching(/is not a tz database time zone/),
      ]);
    },
  );
});

describe('retry, attempt deadline, job id, job size', () => {
  test("GIVEN Cloud Scheduler's ranges THEN values inside pass and values outside name the limit", () => {
    expect(schedulerRetryProblems({ retryCount: 5, minBackoffSeconds: 1, maxBackoffSeconds: 60 })).toEqual([]);
    expect(messages(schedulerRetryProblems({ retryCount: 6 }))).toEqual([
      '6 is not allowed: Cloud Scheduler retries a failed attempt 0 to 5 times',
    ]);
    expect(messages(schedulerRetryProblems({ retryCount: -1, maxDoublings: 1.5 }))).toHaveLength(2);
    expect(schedulerRetryProblems({ minBackoffSeconds: 600, maxBackoffSeconds: 60 })[0]).toMatchObject({
      path: ['minBackoffSeconds'],
      message: expect.stringMatching(/^minBackoff 600s is longer than maxBackoff 60s: /),
    });
    // Only one side set: Cloud Scheduler's default (1h) stands in for maxBackoff.
    expect(messages(schedulerRetryProblems({ minBackoffSeconds: 7200 }))).toEqual([
      expect.stringContaining("(maxBackoff is not set: Cloud Scheduler's default 3600s applies)"),
    ]);
    expect(attemptDeadlineProblems(15)).toEqual([]);
    expect(attemptDeadlineProblems(1800)).toEqual([]);
    expect(messages(attemptDeadlineProblems(14))).toEqual([
      "14s is outside Cloud Scheduler's range for HTTP target attempt deadlines, 15s to 1800s (30m)",
    ]);
    expect(attemptDeadlineProblems(1801)).toHaveLength(1);
    expect(jobIdProblems('recsys-dev_nightly-1')).toEqual([]);
    expect(messages(jobIdProblems('a.b'))).toEqual([
      expect.stringMatching(/use only letters, digits, hyphens and underscores/),
    ]);
    expect(messages(jobIdProblems('x'.repeat(501)))).toEqual([
      expect.stringMatching(/is 501 characters; .* at most 500/),
    ]);
    expect(jobSizeProblems(SCHEDULER_LIMITS.maxJobSizeBytes)).toEqual([]);
    expect(messages(jobSizeProblems(SCHEDULER_LIMITS.maxJobSizeBytes + 1))).toEqual([
      expect.stringMatching(/the Cloud Scheduler job would be 1,000,001 bytes .* limit for a job is 1 MB/),
    ]);
  });
});

describe('nextFireTimes: the cron in its time zone', () => {
  test('GIVEN 03:00 in Europe/Berlin across the spring change THEN 02:00Z (CET) then 01:00Z (CEST)', () => {
    expect(iso(nextFireTimes('0 3 * * *', 'Europe/Berlin', new Date('2031-03-29T00:00:00Z'), 3))).toEqual([
      '2031-03-29T02:00:00.000Z',
      '2031-03-30T01:00:00.000Z',
      '2031-03-31T01:00:00.000Z',
    ]);
  });

  test('GIVEN Etc/UTC and its alias UTC THEN the same instants', () => {
    const from = new Date('2031-01-01T00:00:30Z');
    expect(iso(nextFireTimes('*/1 * * * *', 'UTC', from, 2))).toEqual([
      '2031-01-01T00:01:00.000Z',
      '2031-01-01T00:02:00.000Z',
    ]);
    expect(nextFireTimes('*/1 * * * *', 'Etc/UTC', from, 2)).toEqual(nextFireTimes('*/1 * * * *', 'UTC', from, 2));
  });

  test('GIVEN a time the clocks skip (02:30 on 2031-03-30 in Berlin) THEN it fires once, after the gap; GIVEN one they repeat THEN once', () => {
    expect(iso(nextFireTimes('30 2 * * *', 'Europe/Berlin', new Date('2031-03-29T22:00:00Z'), 2))).toEqual([
      '2031-03-30T01:30:00.000Z', // 03:30 CEST: the first instant after the gap, shifted by it
      '2031-03-31T00:30:00.000Z',
    ]);
    expect(iso(nextFireTimes('30 2 * * *', 'Europe/Berlin', new Date('2031-10-25T22:00:00Z'), 2))).toEqual([
      '2031-10-26T00:30:00.000Z', // the first 02:30 (CEST) only
      '2031-10-27T01:30:00.000Z',
    ]);
  });
});

describe('dstHits: schedules in the hours a daylight saving change skips or repeats', () => {
  const from = new Date('2031-01-01T00:00:00Z');

  test('GIVEN 02:30 daily in Europe/Berlin THEN the last Sundays of March (skipped) and October (repeated)', () => {
    expect(dstHits('30 2 * * *', 'Europe/Berlin', from)).toEqual([
      { kind: 'skipped', date: '2031-03-30', window: '02:00-03:00', times: ['02:30'] },
      { kind: 'repeated', date: '2031-10-26', window: '02:00-03:00', times: ['02:30'] },
    ]);
  });

  test('GIVEN every 15 minutes in America/New_York THEN both changes, with every time inside the hour', () => {
    expect(dstHits('*/15 * * * *', 'America/New_York', from)).toEqual([
      { kind: 'skipped', date: '2031-03-09', window: '02:00-03:00', times: ['02:00', '02:15', '02:30', '02:45'] },
      { kind: 'repeated', date: '2031-11-02', window: '01:00-02:00', times: ['01:00', '01:15', '01:30', '01:45'] },
    ]);
  });

  test('GIVEN a cron outside the changed hours, a zone without DST, or UTC THEN none', () => {
    expect(dstHits('0 3 * * *', 'Europe/Berlin', from)).toEqual([]);
    expect(dstHits('30 2 * * *', 'Asia/Tokyo', from)).toEqual([]);
    expect(dstHits('30 2 * * *', 'Etc/UTC', from)).toEqual([]);
  });

  test('GIVEN the change on a weekday the cron does not match THEN none (a Sunday change, a weekday schedule)', () => {
    expect(dstHits('30 2 * * 1-5', 'Europe/Berlin', from)).toEqual([]);
  });
});
