import {
  backoffSeconds,
  storedTaskSizeBytes,
  dispatchDeadlineProblems,
  headerProblems,
  httpRequestSizeBytes,
  isGoogleApisHost,
  LIMITS,
  queueIdProblems,
  rateLimitProblems,
  retryConfigProblems,
  samplingRatioProblems,
  scheduleTimeProblems,
  shouldRetry,
  targetUrlProblems,
  taskIdProblems,
  taskSizeProblems,
} from '../../../lib/core/rules/cloud-tasks';
import { formatPath } from '../../../lib/core/problem';

describe('backoffSeconds (queue.proto RetryConfig.max_doublings)', () => {
  test('GIVEN the proto example (min 10s, max 300s, 3 doublings) THEN 10, 20, 40, 80, 160, 240, 300, 300', () => {
    const retry = { minBackoffSeconds: 10, maxBackoffSeconds: 300, maxDoublings: 3 };
    expect([0, 1, 2, 3, 4, 5, 6, 7].map((i) => backoffSeconds(retry, i))).toEqual([10, 20, 40, 80, 160, 240, 300, 300]);
  });

  test('GIVEN zero doublings THEN the interval grows linearly by min_backoff', () => {
    const retry = { minBackoffSeconds: 2, maxBackoffSeconds: 7, maxDoublings: 0 };
    expect([0, 1, 2, 3, 4].map((i) => backoffSeconds(retry, i))).toEqual([2, 4, 6, 7, 7]);
  });
});

describe('shouldRetry (both limits must be exhausted)', () => {
  test('attempts alone decide when there is no duration limit', () => {
    const retry = { maxAttempts: 3, maxRetryDurationSeconds: 0 };
    expect([1, 2, 3, 4].map((a) => shouldRetry(retry, a, 1e6))).toEqual([true, true, false, false]);
  });

  test('with both limits, a task goes on while either budget remains', () => {
    const retry = { maxAttempts: 3, maxRetryDurationSeconds: 60 };
    expect(shouldRetry(retry, 5, 30)).toBe(true); // attempts spent, time left
    expect(shouldRetry(retry, 2, 90)).toBe(true); // time spent, attempts left
    expect(shouldRetry(retry, 3, 60)).toBe(false); // both spent
  });

  test('-1 attempts is unlimited; a duration then bounds the task', () => {
    expect(shouldRetry({ maxAttempts: -1, maxRetryDurationSeconds: 0 }, 10_000, 1e9)).toBe(true);
    expect(shouldRetry({ maxAttempts: -1, maxRetryDurationSeconds: 60 }, 10_000, 59)).toBe(true);
    expect(shouldRetry({ maxAttempts: -1, maxRetryDurationSeconds: 60 }, 10_000, 61)).toBe(false);
  });
});

describe('limits', () => {
  test('rates: above 500/s and non-positive are refused with the limit in the message', () => {
    expect(rateLimitProblems({ maxDispatchesPerSecond: 500 })).toEqual([]);
    expect(rateLimitProblems({ maxDispatchesPerSecond: 900 })).toEqual([
      { path: ['maxDispatchesPerSecond'], value: 900, message: "900 exceeds Cloud Tasks' limit of 500 per queue" },
    ]);
    expect(rateLimitProblems({ maxDispatchesPerSecond: 0 })[0].message).toMatch(/greater than 0/);
  });

  test('concurrency: at most 5,000', () => {
    expect(rateLimitProblems({ maxConcurrentDispatches: 5000 })).toEqual([]);
    expect(rateLimitProblems({ maxConcurrentDispatches: 5001 })[0].message).toBe(
      "5,001 exceeds Cloud Tasks' limit of 5,000 concurrent dispatches per queue",
    );
  });

  test('retry: maxAttempts >= -1 and not 0, minBackoff <= maxBackoff', () => {
    expect(retryConfigProblems({ maxAttempts: -1, minBackoffSeconds: 1, maxBackoffSeconds: 1 })).toEqual([]);
    expect(retryConfigProblems({ maxAttempts: -2 }).map((p) => formatPath(p.path))).toEqual(['maxAttempts']);
    expect(retryConfigProblems({ maxAttempts: 0 }).map((p) => formatPath(p.path))).toEqual(['maxAttempts']);
    expect(retryConfigProblems({ minBackoffSeconds: 20, maxBackoffSeconds: 10 })[0].message).toMatch(
      /minBackoff <= maxBackoff/,
    );
  });

  test('dispatch deadline 15s..30m', () => {
    expect(dispatchDeadlineProblems(15)).toEqual([]);
    expect(dispatchDeadlineProblems(1800)).toEqual([]);
    expect(dispatchDeadlineProblems(14)).toHaveLength(1);
    expect(dispatchDeadlineProblems(1801)[0].message).toMatch(/15s to 1800s/);
  });

  test('sampling ratio 0..1', () => {
    expect(samplingRatioProblems(0)).toEqual([]);
    expect(samplingRatioProblems(1.5)).toHaveLength(1);
  });

  test('ids: queue ids up to 100 of [A-Za-z0-9-]; task ids up to 500 of [A-Za-z0-9_-]', () => {
    expect(queueIdProblems('a'.repeat(100))).toEqual([]);
    expect(queueIdProblems('a'.repeat(101))[0].message).toMatch(/101 characters/);
    expect(queueIdProblems('has_underscore')[0].message).toMatch(/letters, digits and hyphens/);
    expect(taskIdProblems('ok_id-1')).toEqual([]);
    expect(taskIdProblems('x'.repeat(501))[0].message).toMatch(/at most 500/);
  });

  test('schedule time: at most 30 days ahead', () => {
    const now = new Date('2026-11-28T00:00:00Z');
    expect(scheduleTimeProblems(new Date('2026-12-28T00:00:00Z'), now)).toEqual([]);
    expect(scheduleTimeProblems(new Date('2026-12-28T00:00:01Z'), now)[0].message).toMatch(/at most 30 days/);
    expect(scheduleTimeProblems(new Date('2020-01-01T00:00:00Z'), now)).toEqual([]);
  });

  test('size: the stored task (name, times, URL, headers with the service User-Agent, body) against 1,048,569 bytes', () => {
    const name = 'projects/p/locations/us-central1/queues/q/tasks/t';
    const url = 'https://a.example/t';
    // Protobuf encoding: a 1-byte body costs 3 (tag, length, byte); a header `X-A: b` costs 2 + (2+3) + (2+1) = 10.
    const base = storedTaskSizeBytes({ name, url, headers: {} });
    expect(storedTaskSizeBytes({ name, url, headers: {}, body: 'x' })).toBe(base + 3);
    expect(storedTaskSizeBytes({ name, url, headers: { 'X-A': 'b' } })).toBe(base + 10);
    // The service's own User-Agent is counted whether or not the caller set one.
    expect(storedTaskSizeBytes({ name, url, headers: { 'User-Agent': 'Google-Cloud-Tasks' } })).toBe(base);
    // Without a name the longest one is assumed, so synth never passes a task the service refuses.
    expect(httpRequestSizeBytes(url, {})).toBe(base - name.length + 695 + 1); // + 1: a 2-byte length prefix
    expect(LIMITS.maxTaskSizeBytes).toBe(1_048_569);
    expect(taskSizeProblems(LIMITS.maxTaskSizeBytes)).toEqual([]);
    expect(taskSizeProblems(LIMITS.maxTaskSizeBytes + 1)[0].message).toMatch(/limit for a task is 1,048,569 bytes/);
  });

  test('headers: control characters in names and values are refused, without echoing the value', () => {
    const [p] = headerProblems({ 'X-A': 'ok\r\nX-Injected: 1' });
    expect(p).toEqual({
      path: ['headers', 'X-A'],
      value: '(not shown)',
      message: expect.stringMatching(/header value contains the control character \\x0d/),
    });
    expect(headerProblems({ 'X-\u0000': 'v' })[0].message).toMatch(/header name contains the control character \\x00/);
    expect(headerProblems({ 'X-Tab': 'a\tb' })).toEqual([]);
  });

  test('headers: reserved names and Authorization are refused', () => {
    expect(headerProblems({ 'X-Pipeline': 'recsys' })).toEqual([]);
    const fields = headerProblems({
      Authorization: 'Bearer x',
      'X-CloudTasks-TaskName': 'a',
      Host: 'h',
      'User-Agent': 'u',
    }).map((p) => formatPath(p.path));
    expect(fields).toEqual([
      'headers.Authorization',
      'headers.X-CloudTasks-TaskName',
      'headers.Host',
      'headers.User-Agent',
    ]);
    expect(headerProblems({ 'bad name': 'x' })[0].message).toMatch(/not a valid HTTP header name/);
  });

  test('urls: https only, no credentials, at most 2,083 characters', () => {
    expect(targetUrlProblems('https://w.example/tasks')).toEqual([]);
    expect(targetUrlProblems('http://w.example/tasks')[0].message).toMatch(/must use https/);
    expect(targetUrlProblems('https://u:secret@w.example/')[0]).toEqual(
      expect.objectContaining({ value: '(redacted)' }),
    );
    expect(targetUrlProblems(`https://w.example/${'a'.repeat(2100)}`)[0].message).toMatch(/at most 2083/);
    expect(targetUrlProblems('not-a-url')[0].message).toMatch(/not an absolute URL/);
    expect(targetUrlProblems('https://w.example/a\nb')[0]).toEqual(
      expect.objectContaining({
        value: '(not shown)',
        message: expect.stringMatching(/control character \\x0a at position 20/),
      }),
    );
  });

  test('OAuth tokens only for *.googleapis.com', () => {
    expect(isGoogleApisHost('bigquery.googleapis.com')).toBe(true);
    expect(isGoogleApisHost('googleapis.com.evil.example')).toBe(false);
    expect(isGoogleApisHost('worker.a.run.app')).toBe(false);
  });
});
