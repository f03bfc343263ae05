import {
  FIRESTORE_LIMITS,
  databaseIdProblems,
  documentIdProblems,
  documentSizeBytes,
  documentSizeProblems,
  stringSizeBytes,
} from '../../../lib/core/rules/firestore';
import { maxTaskLifetimeSeconds } from '../../../lib/core/rules/cloud-tasks';

describe('Firestore storage size (Storage size calculations)', () => {
  test('GIVEN the documented example (users/jeff/tasks/my_task_id, four fields) THEN 147 bytes', () => {
    const size = documentSizeBytes('users/jeff/tasks/my_task_id', {
      type: 'Personal',
      done: false,
      priority: 1,
      description: 'Learn Cloud Firestore',
    });
    expect(size).toBe(147);
  });

  test('strings count their UTF-8 bytes plus one; maps and arrays their contents; timestamps eight', () => {
    expect(stringSizeBytes('tasks')).toBe(6);
    expect(stringSizeBytes('é')).toBe(3);
    expect(documentSizeBytes('c/d', { m: { a: [1, 'xy'] }, t: new Date(0), n: null })).toBe(
      2 + 2 + 16 + (2 + (2 + 8 + 3)) + (2 + 8) + (2 + 1) + 32,
    );
  });

  test('a document above 1 MiB is refused with its size', () => {
    expect(documentSizeProblems(FIRESTORE_LIMITS.maxDocumentBytes)).toEqual([]);
    expect(documentSizeProblems(1_500_000)[0].message).toBe(
      'the ledger document would be 1,500,000 bytes; a Firestore document holds at most 1 MiB (1,048,576 bytes)',
    );
  });
});

describe('Firestore ids (Quotas and limits)', () => {
  test('document ids: no slash, not . or .., not __.*__, at most 1,500 bytes', () => {
    expect(documentIdProblems('run-1')).toEqual([]);
    expect(documentIdProblems('a/b')[0].message).toBe(
      '"a/b" is not a Firestore document id: it contains a forward slash',
    );
    expect(documentIdProblems('..')[0].message).toMatch(/is only periods/);
    expect(documentIdProblems('__x__')[0].message).toMatch(/matches __\.\*__, which Firestore reserves/);
    expect(documentIdProblems('x'.repeat(1501))[0].message).toMatch(/is 1,501 bytes, more than the 1,500 allowed/);
  });

  test('database ids: (default), or 4-63 lower-case letters, digits, hyphens, not UUID-like', () => {
    expect(databaseIdProblems('(default)')).toEqual([]);
    expect(databaseIdProblems('recsys-prod-runs')).toEqual([]);
    for (const bad of ['abc', 'Runs', 'runs-', '1runs', 'a'.repeat(64), '123e4567-e89b-12d3-a456-426614174000'])
      expect([bad, databaseIdProblems(bad).length]).toEqual([bad, 1]);
  });
});

describe('maxTaskLifetimeSeconds (how long Cloud Tasks keeps attempting a task)', () => {
  const budget = (maxAttempts: number, maxRetryDurationSeconds = 0) => ({
    maxAttempts,
    maxRetryDurationSeconds,
    minBackoffSeconds: 10,
    maxBackoffSeconds: 40,
    maxDoublings: 2,
  });

  test('GIVEN 3 attempts of up to 15 s with backoffs 10 s and 20 s THEN 15 + 10 + 15 + 20 + 15 = 75 s', () => {
    expect(maxTaskLifetimeSeconds(budget(3), 15)).toBe(75);
  });

  test('both limits must be spent: attempts left or time left keep it alive', () => {
    // One attempt, but retried for 100 s: attempts at 0, 25, 60, 115 (the last starts after 100 s have passed).
    expect(maxTaskLifetimeSeconds(budget(1, 100), 15)).toBe(15 + 10 + 15 + 20 + 15 + 40 + 15);
  });

  test('unlimited attempts and duration: the 31 days a task is kept at most', () => {
    expect(maxTaskLifetimeSeconds(budget(-1), 600)).toBe(31 * 24 * 3600);
  });
});
