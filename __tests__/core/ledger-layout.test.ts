import {
  ENVELOPE_FORMAT,
  childShardId,
  envelopeProblems,
  isTaskEnvelope,
  ledgerDatabaseIdFor,
  ledgerPaths,
  ledgerTaskIdFor,
  runDocumentId,
  runIdOfDocument,
  runIdProblem,
} from '../../lib/core/ledger-layout';
import { databaseIdProblems, documentIdProblems } from '../../lib/core/rules/firestore';
import { LIMITS } from '../../lib/core/rules/cloud-tasks';

describe('document ids', () => {
  test('run ids are document ids as they are, except the ones Firestore reserves (__.*__), which get a ~ prefix', () => {
    expect(runDocumentId('nightly-2030-01-01')).toBe('nightly-2030-01-01');
    expect(runDocumentId('__seed__')).toBe('~__seed__');
    expect(runIdOfDocument('~__seed__')).toBe('__seed__');
    expect(documentIdProblems(runDocumentId('__seed__'))).toEqual([]);
  });

  test('run ids: the characters of seed and task ids, 1 to 500', () => {
    expect(runIdProblem('seed_1-a')).toBeUndefined();
    expect(runIdProblem('a/b')).toBe('"a/b" is not a run id: use 1 to 500 letters, digits, hyphens and underscores');
    expect(runIdProblem('x'.repeat(501))).toMatch(/\.\.\." is not a run id/);
  });

  test('paths: runs are kept per stack', () => {
    expect(ledgerPaths.shard('recsys-prod', 'r1', 'train', 'all')).toBe(
      'stacks/recsys-prod/runs/r1/steps/train/shards/all',
    );
    expect(ledgerPaths.claim('recsys-prod', '__x__', 'complete-train')).toBe(
      'stacks/recsys-prod/runs/~__x__/claims/complete-train',
    );
  });
});

describe('shard ids and task ids', () => {
  test('a child shard is <parent shard>.<emit index>, prefixed with the parent step when the step has two parents', () => {
    expect(childShardId({ step: 'split', shard: '0', index: 12 }, 1)).toBe('0.12');
    expect(childShardId({ step: 'featurize-a', shard: '0', index: 0 }, 2)).toBe('featurize-a:0.0');
  });

  test('a very deep id becomes a hash, still a valid document id', () => {
    const deep = childShardId({ step: 's', shard: Array.from({ length: 120 }, () => '0').join('.'), index: 1 }, 1);
    expect(deep).toMatch(/^h[0-9a-f]{32}$/);
    expect(documentIdProblems(deep)).toEqual([]);
  });

  test('task ids: deterministic per (run, step, shard, generation), valid Cloud Tasks ids, new per re-drive', () => {
    const id = ledgerTaskIdFor('r1', 'train', 'all', 0);
    expect(id).toBe(ledgerTaskIdFor('r1', 'train', 'all', 0));
    expect(id).toMatch(LIMITS.taskIdPattern);
    expect(id).toHaveLength(32);
    expect(ledgerTaskIdFor('r1', 'train', 'all', 1)).not.toBe(id);
    expect(ledgerTaskIdFor('r1', 'train', '0', 0)).not.toBe(ledgerTaskIdFor('r10', 'train', '', 0));
  });

  test('the default ledger database id fits Firestore’s rule, however long the names', () => {
    expect(ledgerDatabaseIdFor({ environment: 'prod', pipeline: { name: 'recsys' } })).toBe('recsys-prod-runs');
    const long = ledgerDatabaseIdFor({ environment: 'staging', pipeline: { name: 'a'.repeat(70) } });
    expect(long.length).toBeLessThanOrEqual(63);
    expect(databaseIdProblems(long)).toEqual([]);
  });
});

describe('the task envelope', () => {
  const envelope = {
    envelope: ENVELOPE_FORMAT,
    runId: 'r1',
    step: 'train',
    shard: 'all',
    generation: 0,
    payload: { a: 1 },
  };
  test('recognized by its format field only: a user payload with a runId is not an envelope', () => {
    expect(isTaskEnvelope(envelope)).toBe(true);
    expect(isTaskEnvelope({ runId: 'r1', step: 'train', payload: {} })).toBe(false);
    expect(isTaskEnvelope([envelope])).toBe(false);
  });
  test('problems are listed field by field', () => {
    expect(envelopeProblems(envelope)).toEqual([]);
    expect(envelopeProblems({ envelope: ENVELOPE_FORMAT, runId: 'a b', shard: 'x/y', generation: -1 })).toEqual([
      'runId: "a b" is not a run id: use 1 to 500 letters, digits, hyphens and underscores',
      'step: must be the step name',
      'shard: must be a shard id',
      'generation: must be a whole number',
      'payload: is missing',
    ]);
    expect(envelopeProblems({ ...envelope, runId: undefined })).toEqual([
      'runId: is missing (and no source says the task starts a run)',
    ]);
  });
});
