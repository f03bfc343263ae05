/**
 * The spec's run-ledger fields: `join` per step (validated, the default explained by buildRoutes), `ledger` (an
 * existing database or where the stack creates one), and seed ids unique in the pipeline (each is a run id).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { formatPath } from '../../lib/core/problem';
import { buildRoutes } from '../../lib/core/routes';
import { SpecError, loadSpecFile, parsePipelineSpec } from '../../lib/spec/load';
import type { PipelineSpec } from '../../lib/spec/types';
import { pipelineProblems } from '../../lib/spec/validate';
import { NOW, mutableSpec, validRaw, type Mutable } from './fixtures';

type Spec = Mutable<PipelineSpec>;
const problemsOf = (change: (s: Spec) => void) => {
  const spec = mutableSpec();
  change(spec);
  return pipelineProblems(spec as PipelineSpec, { now: NOW }).map((p) => ({
    path: formatPath(p.path),
    value: p.value,
    message: p.message,
  }));
};

/** A fan-in graph: ingest -> [user-features, item-features] -> train. */
function fanInRaw(): Record<string, any> {
  const raw = validRaw();
  const t = (name: string) => ({ url: `https://${name}-abc123-uc.a.run.app/tasks` });
  raw.pipeline.steps = [
    { name: 'ingest', target: t('ingest'), next: ['user-features', 'item-features'] },
    { name: 'user-features', target: t('user-features'), next: ['train'] },
    { name: 'item-features', target: t('item-features'), next: ['train'] },
    { name: 'train', target: t('train') },
  ];
  raw.pipeline.seedTasks = [{ step: 'ingest', id: 'nightly-1', payload: {} }];
  return raw;
}

describe('join', () => {
  test('GIVEN no join THEN the model leaves it unset and the routes take the default: all with two parents, each with one', () => {
    const spec = parsePipelineSpec(fanInRaw(), {}, { now: NOW });
    expect(spec.pipeline.steps.map((s) => s.join)).toEqual([undefined, undefined, undefined, undefined]);
    const routes = buildRoutes(spec);
    expect(Object.fromEntries(Object.entries(routes.steps).map(([n, s]) => [n, s.join]))).toEqual({
      ingest: 'each',
      'user-features': 'each',
      'item-features': 'each',
      train: 'all',
    });
  });

  test('GIVEN join written THEN it wins over the default (each on a fan-in, all on a single parent)', () => {
    const raw = fanInRaw();
    raw.pipeline.steps[3].join = 'each';
    raw.pipeline.steps[1].join = 'all';
    const routes = buildRoutes(parsePipelineSpec(raw, {}, { now: NOW }));
    expect(routes.steps.train.join).toBe('each');
    expect(routes.steps['user-features'].join).toBe('all');
  });

  test('GIVEN join on a step without parents THEN it is refused, saying why', () => {
    expect(problemsOf((s) => (s.pipeline.steps[0].join = 'all'))).toEqual([
      {
        path: 'pipeline.steps[0].join',
        value: 'all',
        message:
          'step "preprocess" has no parents (no step names it in next), so it has nothing to join: a join says how a step receives its parents\' messages; remove join here (a step without parents starts runs)',
      },
    ]);
  });

  test('GIVEN a join mode that does not exist (TypeScript) THEN the two modes are named', () => {
    expect(problemsOf((s) => ((s.pipeline.steps[1] as { join?: string }).join = 'any'))).toEqual([
      {
        path: 'pipeline.steps[1].join',
        value: 'any',
        message:
          '"any" is not a join mode: use "all" (one task per run once every parent completed) or "each" (one task per message a parent sends)',
      },
    ]);
  });

  test('GIVEN a YAML file with a bad join THEN file, line, field, value and the allowed values are reported', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'spec-join-'));
    try {
      const file = path.join(dir, 'p.yaml');
      fs.writeFileSync(
        file,
        [
          'project: acme-ml-dev',
          'region: us-central1',
          'environment: dev',
          'pipeline:',
          '  name: recsys',
          '  steps:',
          '    - name: ingest',
          '      target: { url: https://ingest.example.com/tasks }',
          '      join: all',
          '      next: [train]',
          '    - name: train',
          '      target: { url: https://train.example.com/tasks }',
          '      join: everything',
          '',
        ].join('\n'),
      );
      let error: SpecError | undefined;
      try {
        loadSpecFile(file, { now: NOW });
      } catch (e) {
        error = e as SpecError;
      }
      expect(error).toBeInstanceOf(SpecError);
      const lines = error!.message.split('\n');
      expect(lines).toContainEqual(expect.stringMatching(/p\.yaml:13:\d+: pipeline\.steps\[1\]\.join: .*all, each/));
      expect(lines).toContainEqual(
        expect.stringMatching(/p\.yaml:9:13: pipeline\.steps\[0\]\.join: step "ingest" has no parents/),
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('ledger', () => {
  test('GIVEN no ledger THEN the routes name the database the stack creates, <pipeline>-<environment>-runs in the project', () => {
    const routes = buildRoutes(parsePipelineSpec(validRaw(), {}, { now: NOW }));
    expect(routes.ledger).toEqual({ project: 'acme-ml-prod', database: 'recsys-prod-runs' });
  });

  test('GIVEN an existing database in another project THEN the routes name it', () => {
    const raw = validRaw();
    raw.ledger = { database: 'ml-runs', project: 'acme-ml-shared' };
    const spec = parsePipelineSpec(raw, {}, { now: NOW });
    expect(spec.ledger).toEqual({ database: 'ml-runs', project: 'acme-ml-shared' });
    expect(buildRoutes(spec).ledger).toEqual({ project: 'acme-ml-shared', database: 'ml-runs' });
  });

  test('(default) is a database id', () => {
    expect(problemsOf((s) => (s.ledger = { database: '(default)' }))).toEqual([]);
  });

  test('GIVEN invalid ids THEN each names the Firestore rule', () => {
    expect(problemsOf((s) => (s.ledger = { database: 'Runs_DB', project: 'X' }))).toEqual([
      {
        path: 'ledger.database',
        value: 'Runs_DB',
        message:
          '"Runs_DB" is not a Firestore database id: use "(default)", or 4-63 lower-case letters, digits and hyphens, starting with a letter and ending with a letter or digit (not UUID-like)',
      },
      {
        path: 'ledger.project',
        value: 'X',
        message: expect.stringContaining('"X" is not a valid Google Cloud project id'),
      },
    ]);
  });

  test('GIVEN a project without a database, or a location with one THEN each is refused with the fix', () => {
    expect(problemsOf((s) => (s.ledger = { project: 'acme-ml-shared' }))).toEqual([
      {
        path: 'ledger.project',
        value: 'acme-ml-shared',
        message:
          'names the project of an existing ledger database, but ledger.database is not set: name that database too (the stack creates a database only in the spec project)',
      },
    ]);
    expect(problemsOf((s) => (s.ledger = { database: 'ml-runs', location: 'nam5' }))).toEqual([
      {
        path: 'ledger.location',
        value: 'nam5',
        message:
          'is the location of a database the stack creates, but ledger.database names an existing one (its location is already set): remove one of the two',
      },
    ]);
  });

  test('a location is a region or a multi-region', () => {
    expect(problemsOf((s) => (s.ledger = { location: 'eur3' }))).toEqual([]);
    expect(problemsOf((s) => (s.ledger = { location: 'Europe' }))).toEqual([
      {
        path: 'ledger.location',
        value: 'Europe',
        message:
          '"Europe" is not a Firestore location: use a region such as us-central1, or a multi-region (nam5, eur3)',
      },
    ]);
  });

  test('an unknown key under ledger is a shape error naming the allowed keys', () => {
    const raw = validRaw();
    raw.ledger = { databse: 'x' };
    expect(() => parsePipelineSpec(raw, {}, { now: NOW })).toThrow(
      /ledger\.databse: unknown key "databse" \(did you mean "database"\?\); allowed here: database, project, location/,
    );
  });
});

describe('seed ids name runs', () => {
  test('GIVEN one id on two steps THEN the second is refused: it would be the same run', () => {
    expect(problemsOf((s) => s.pipeline.seedTasks.push({ step: 'train', id: 'ingest-2026-11', payload: {} }))).toEqual([
      {
        path: 'pipeline.seedTasks[1].id',
        value: 'ingest-2026-11',
        message:
          '"ingest-2026-11" is already the id of pipeline.seedTasks[0] (step "preprocess"); a seed\'s id is the id of the run it starts in the run ledger, so seed ids must be unique in the pipeline',
      },
    ]);
  });
});
