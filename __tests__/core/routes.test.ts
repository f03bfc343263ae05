import { formatPath } from '../../lib/core/problem';
import {
  ROUTES_ENV,
  ROUTES_FILE_ENV,
  RoutesError,
  buildRoutes,
  defaultJoin,
  parseRoutes,
  readRoutesFromEnv,
  rootSteps,
  runParents,
  runSteps,
  stepOfQueue,
  type RoutesInput,
} from '../../lib/core/routes';

const target = (name: string) => ({ url: `https://${name}-abc123-uc.a.run.app/tasks`, auth: 'oidc' as const });
const diamond: RoutesInput = {
  project: 'acme-ml-prod',
  region: 'us-central1',
  environment: 'prod',
  pipeline: {
    name: 'recsys',
    steps: [
      {
        name: 'ingest',
        next: ['featurize-a', 'featurize-b'],
        dispatchDeadlineSeconds: 600,
        retry: {},
        target: target('ingest'),
      },
      { name: 'featurize-a', next: ['train'], dispatchDeadlineSeconds: 600, retry: {}, target: target('fa') },
      { name: 'featurize-b', next: ['train'], dispatchDeadlineSeconds: 600, retry: {}, target: target('fb') },
      {
        name: 'train',
        next: ['evaluate'],
        dispatchDeadlineSeconds: 1800,
        retry: { maxAttempts: 3, minBackoffSeconds: 60, maxBackoffSeconds: 600 },
        target: target('train'),
      },
      {
        name: 'evaluate',
        next: [],
        dispatchDeadlineSeconds: 300,
        retry: {},
        target: { ...target('eval'), auth: 'none' },
      },
    ],
  },
};

describe('buildRoutes', () => {
  test('GIVEN the diamond pipeline THEN every step carries its queue, parents, join, deadline, retry budget and token check', () => {
    const routes = buildRoutes(diamond);
    expect(routes).toMatchObject({
      version: 1,
      pipeline: 'recsys',
      stack: 'recsys-prod',
      project: 'acme-ml-prod',
      location: 'us-central1',
      ledger: { project: 'acme-ml-prod', database: 'recsys-prod-runs' },
    });
    expect(routes.steps.train).toEqual({
      queue: 'projects/acme-ml-prod/locations/us-central1/queues/recsys-prod-train',
      url: 'https://train-abc123-uc.a.run.app/tasks',
      kind: 'service',
      next: ['evaluate'],
      parents: ['featurize-a', 'featurize-b'],
      join: 'all',
      auth: {
        kind: 'oidc',
        serviceAccountEmail: 'recsys-prod@acme-ml-prod.iam.gserviceaccount.com',
        audience: 'https://train-abc123-uc.a.run.app',
      },
      task: { dispatchDeadlineSeconds: 1800 },
      // Unset fields are the Cloud Tasks service defaults, as on the queue.
      retry: {
        maxAttempts: 3,
        minBackoffSeconds: 60,
        maxBackoffSeconds: 600,
        maxDoublings: 16,
        maxRetryDurationSeconds: 0,
      },
    });
    expect(routes.steps['featurize-a'].join).toBe('each');
    expect(routes.steps.evaluate.auth).toEqual({ kind: 'none' });
  });

  test('an explicit join wins over the default; the ledger database can be named', () => {
    const steps = diamond.pipeline.steps.map((s) => (s.name === 'train' ? { ...s, join: 'each' as const } : s));
    const routes = buildRoutes({
      ...diamond,
      pipeline: { ...diamond.pipeline, steps },
      ledger: { database: '(default)' },
    });
    expect(routes.steps.train.join).toBe('each');
    expect(routes.ledger).toEqual({ project: 'acme-ml-prod', database: '(default)' });
  });

  test('defaultJoin: two or more parents run once per run, one parent once per message', () => {
    expect([0, 1, 2, 3].map(defaultJoin)).toEqual(['each', 'each', 'all', 'all']);
  });

  test('GIVEN a step deadline outside Cloud Tasks’ range THEN building fails naming the field and the rule', () => {
    const steps = diamond.pipeline.steps.map((s) => (s.name === 'train' ? { ...s, dispatchDeadlineSeconds: 7200 } : s));
    expect(() => buildRoutes({ ...diamond, pipeline: { ...diamond.pipeline, steps } })).toThrow(
      /buildRoutes: the pipeline routes break a rule.*\n {2}steps\.train\.task\.dispatchDeadlineSeconds: 7200s is outside Cloud Tasks' range for HTTP dispatch deadlines, 15s to 1800s \(30m\)/,
    );
  });
});

describe('the graph of a run', () => {
  const routes = buildRoutes(diamond);
  test('runSteps: the steps reachable from the start, parents first', () => {
    expect(runSteps(routes, 'ingest')).toEqual(['ingest', 'featurize-a', 'featurize-b', 'train', 'evaluate']);
    expect(runSteps(routes, 'featurize-b')).toEqual(['featurize-b', 'train', 'evaluate']);
  });
  test('runParents: a run started at featurize-b does not wait for featurize-a', () => {
    expect(runParents(routes, runSteps(routes, 'featurize-b'), 'train')).toEqual(['featurize-b']);
    expect(runParents(routes, runSteps(routes, 'ingest'), 'train')).toEqual(['featurize-a', 'featurize-b']);
  });
  test('rootSteps and stepOfQueue (a queue id as X-CloudTasks-QueueName says it, or a full name)', () => {
    expect(rootSteps(routes)).toEqual(['ingest']);
    expect(stepOfQueue(routes, 'recsys-prod-train')).toBe('train');
    expect(stepOfQueue(routes, 'projects/acme-ml-prod/locations/us-central1/queues/recsys-prod-evaluate')).toBe(
      'evaluate',
    );
    expect(stepOfQueue(routes, 'other-queue')).toBeUndefined();
  });
});

describe('reading routes', () => {
  const json = JSON.stringify(buildRoutes(diamond));

  test(`from ${ROUTES_ENV} (inline) or ${ROUTES_FILE_ENV} (a file)`, () => {
    expect(readRoutesFromEnv({ [ROUTES_ENV]: json }).stack).toBe('recsys-prod');
    const files: Record<string, string> = { '/etc/routes.json': json };
    expect(readRoutesFromEnv({ [ROUTES_FILE_ENV]: '/etc/routes.json' }, (p) => files[p]).pipeline).toBe('recsys');
  });

  test('neither set, both set, or an unreadable file: the error names the variables', () => {
    expect(() => readRoutesFromEnv({})).toThrow(
      /^CLOUD_TASKS_PIPELINE_ROUTES: .*\n {2}is not set: give the worker its pipeline routes/,
    );
    expect(() => readRoutesFromEnv({ [ROUTES_ENV]: json, [ROUTES_FILE_ENV]: '/x' })).toThrow(
      /CLOUD_TASKS_PIPELINE_ROUTES and CLOUD_TASKS_PIPELINE_ROUTES_FILE: .*\n {2}both are set/,
    );
    expect(() =>
      readRoutesFromEnv({ [ROUTES_FILE_ENV]: '/missing.json' }, () => {
        throw new Error('ENOENT: no such file or directory');
      }),
    ).toThrow(/CLOUD_TASKS_PIPELINE_ROUTES_FILE=\/missing.json: .*\n {2}cannot be read: ENOENT/);
  });

  test('not JSON: says so and where it came from', () => {
    expect(() => parseRoutes('{routes', ROUTES_ENV)).toThrow(/^CLOUD_TASKS_PIPELINE_ROUTES: .*\n {2}is not JSON \(/);
  });

  test('GIVEN broken routes THEN every problem is reported with its field path', () => {
    const raw = JSON.parse(json);
    raw.version = 2;
    raw.ledger.database = 'Bad_DB';
    raw.steps.train.join = 'some';
    raw.steps.train.next = ['evalute'];
    raw.steps.evaluate.task.dispatchDeadlineSeconds = 5;
    delete raw.steps.ingest.retry.maxDoublings;
    let err: RoutesError | undefined;
    try {
      parseRoutes(JSON.stringify(raw), ROUTES_ENV);
    } catch (e) {
      err = e as RoutesError;
    }
    expect(err).toBeInstanceOf(RoutesError);
    expect(err!.problems.map((p) => formatPath(p.path))).toEqual([
      'version',
      'ledger.database',
      'steps.ingest.retry.maxDoublings',
      'steps.train.join',
      'steps.train.next[0]',
      'steps.evaluate.task.dispatchDeadlineSeconds',
    ]);
    expect(err!.message).toContain(
      'steps.train.next[0]: "evalute" is not a step of these routes (steps: ingest, featurize-a, featurize-b, train, evaluate)',
    );
    expect(err!.message).toContain('version: 2 is not a routes version this SDK reads (it reads 1)');
  });

  test('GIVEN parents that disagree with next, or a cycle THEN the graph problem is named', () => {
    const raw = JSON.parse(json);
    raw.steps.evaluate.next = ['ingest'];
    raw.steps.ingest.parents = ['evaluate'];
    expect(() => parseRoutes(JSON.stringify(raw), 'test')).toThrow(
      /steps\.ingest\.next: the steps form a cycle \(ingest -> featurize-a -> train -> evaluate -> ingest\)/,
    );
    const wrong = JSON.parse(json);
    wrong.steps.train.parents = ['featurize-a'];
    expect(() => parseRoutes(JSON.stringify(wrong), 'test')).toThrow(
      /steps\.train\.parents: must list the steps whose next includes "train": \[featurize-a, featurize-b\]/,
    );
  });
});
