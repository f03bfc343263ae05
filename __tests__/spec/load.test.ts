import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SpecError, findSpecFiles, loadSpecFile, loadSpecs, parsePipelineSpec } from '../../lib/spec/load';
import { displayFile, formatPath } from '../../lib/core/problem';
import { formatSpecErrorMessage } from '../../lib/spec/errors';
import { NOW, validRaw } from './fixtures';

/** A SpecError as users read it: its message, and each problem with the path printed (`pipeline.steps[1].name`). */
function printed(e: SpecError) {
  return { message: e.message, problems: e.problems.map((p) => ({ ...p, path: formatPath(p.path) })) };
}
/** The SpecError a call throws, printed (fails the test when it does not throw one). */
function specError(fn: () => unknown): ReturnType<typeof printed> {
  try {
    fn();
  } catch (e) {
    if (e instanceof SpecError) return printed(e);
    throw e;
  }
  throw new Error('expected a SpecError');
}
/** Every problem parsePipelineSpec reports for a raw spec, printed; [] when it is valid. */
const problemsOrEmpty = (raw: unknown) => {
  try {
    parsePipelineSpec(raw, {}, { now: NOW });
    return [];
  } catch (e) {
    if (e instanceof SpecError) return printed(e).problems;
    throw e;
  }
};

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'spec-test-'));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));
const write = (name: string, text: string): string => {
  const file = path.join(tmp, name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  return file;
};

describe('parsePipelineSpec: normalization', () => {
  test('GIVEN a minimal spec THEN defaults are applied and unset Cloud Tasks fields stay unset', () => {
    const raw = validRaw();
    delete raw.pipeline.seedTasks;
    const spec = parsePipelineSpec(raw, {}, { now: NOW });
    expect(spec).toEqual({
      project: 'acme-ml-prod',
      region: 'us-central1',
      environment: 'prod',
      labels: {},
      pipeline: {
        name: 'recsys',
        seedTasks: [],
        steps: [
          {
            name: 'preprocess',
            target: { url: 'https://preprocess-abc123-uc.a.run.app/tasks', auth: 'oidc', headers: {}, method: 'POST' },
            rateLimits: {},
            retry: {},
            dispatchDeadlineSeconds: 600,
            logSamplingRatio: 1,
            next: ['train'],
          },
          {
            name: 'train',
            target: { url: 'https://train-abc123-uc.a.run.app/tasks', auth: 'oidc', headers: {}, method: 'POST' },
            rateLimits: {},
            retry: {},
            dispatchDeadlineSeconds: 600,
            logSamplingRatio: 1,
            next: [],
          },
        ],
      },
    });
  });

  test('deployer: the members as written, in order; absent when not written', () => {
    const members = [
      'serviceAccount:pipelines-deployer@acme-ml-prod.iam.gserviceaccount.com',
      'group:ml-deployers@example.com',
    ];
    expect(parsePipelineSpec({ ...validRaw(), deployer: members }, {}, { now: NOW }).deployer).toEqual(members);
    expect(parsePipelineSpec(validRaw(), {}, { now: NOW })).not.toHaveProperty('deployer');
  });

  test('durations become seconds', () => {
    const raw = validRaw();
    Object.assign(raw.pipeline.steps[0], {
      retry: { minBackoff: '1s', maxBackoff: '10m', maxRetryDuration: '2h', maxAttempts: 5, maxDoublings: 3 },
      dispatchDeadline: '90s',
    });
    const step = parsePipelineSpec(raw, {}, { now: NOW }).pipeline.steps[0];
    expect(step.retry).toEqual({
      maxAttempts: 5,
      minBackoffSeconds: 1,
      maxBackoffSeconds: 600,
      maxRetryDurationSeconds: 7200,
      maxDoublings: 3,
    });
    expect(step.dispatchDeadlineSeconds).toBe(90);
  });

  test('spec values override the preset field by field', () => {
    const raw = validRaw();
    Object.assign(raw.pipeline.steps[1], {
      preset: 'train',
      retry: { maxAttempts: 7 },
      rateLimits: { maxConcurrentDispatches: 1 },
    });
    const step = parsePipelineSpec(raw, {}, { now: NOW }).pipeline.steps[1];
    expect(step.preset).toBe('train');
    expect(step.rateLimits).toEqual({ maxDispatchesPerSecond: 1, maxConcurrentDispatches: 1 });
    expect(step.retry).toEqual({ maxAttempts: 7, minBackoffSeconds: 60, maxBackoffSeconds: 1800, maxDoublings: 2 });
    expect(step.dispatchDeadlineSeconds).toBe(1800);
    expect(step.logSamplingRatio).toBe(1);
  });

  test('target fields: cloudRun region defaults to the spec region; audience and scope stay unset unless written', () => {
    const raw = validRaw();
    Object.assign(raw.pipeline.steps[0].target, {
      method: 'PUT',
      headers: { 'X-Pipeline': 'recsys' },
      serviceAccount: 'w@acme-ml-prod.iam.gserviceaccount.com',
      cloudRun: { service: 'preprocess' },
    });
    expect(parsePipelineSpec(raw, {}, { now: NOW }).pipeline.steps[0].target).toEqual({
      url: 'https://preprocess-abc123-uc.a.run.app/tasks',
      auth: 'oidc',
      headers: { 'X-Pipeline': 'recsys' },
      method: 'PUT',
      serviceAccount: 'w@acme-ml-prod.iam.gserviceaccount.com',
      cloudRun: { service: 'preprocess', region: 'us-central1' },
    });
  });

  test('optional blocks are carried over: backend, monitoring, policy, local, scheduleTime', () => {
    const raw: Record<string, any> = {
      ...validRaw(),
      backend: { gcs: { bucket: 'acme-tf-state' } },
      monitoring: {},
      policy: { suppress: [{ rule: 'CTP001', reason: 'public health-check endpoint' }] },
    };
    raw.pipeline.steps[0].local = { url: 'http://127.0.0.1:8080/tasks' };
    raw.pipeline.seedTasks[0].scheduleTime = '2026-11-25T00:00:00Z';
    const spec = parsePipelineSpec(raw, {}, { now: NOW });
    expect(spec.backend).toEqual({ gcs: { bucket: 'acme-tf-state' } });
    expect(spec.monitoring).toEqual({ notificationChannels: [] });
    expect(spec.policy).toEqual({ suppress: [{ rule: 'CTP001', reason: 'public health-check endpoint' }] });
    expect(spec.pipeline.steps[0].local).toEqual({ url: 'http://127.0.0.1:8080/tasks' });
    expect(spec.pipeline.seedTasks[0].scheduleTime).toBe('2026-11-25T00:00:00Z');
  });

  test('monitoring alert durations become seconds; other monitoring and policy settings pass through', () => {
    const raw: Record<string, any> = {
      ...validRaw(),
      monitoring: { queueDepth: { threshold: 100, duration: '10m' }, failedAttempts: { enabled: false } },
      policy: { requiredLabels: ['team'] },
    };
    const spec = parsePipelineSpec(raw, {}, { now: NOW });
    expect(spec.monitoring).toEqual({
      notificationChannels: [],
      queueDepth: { threshold: 100, durationSeconds: 600 },
      failedAttempts: { enabled: false },
    });
    expect(spec.policy).toEqual({ suppress: [], requiredLabels: ['team'] });
    raw.monitoring.queueDepth.duration = '10 min';
    expect(problemsOrEmpty(raw)).toEqual([
      {
        path: 'monitoring.queueDepth.duration',
        value: '10 min',
        message: '"10 min" is not a duration: use a whole number followed by s, m or h, e.g. "30s", "10m", "2h"',
      },
    ]);
  });

  test('a seed task without payload has none (no body); null is a JSON payload', () => {
    const raw = validRaw();
    raw.pipeline.seedTasks = [
      { step: 'train', id: 'a' },
      { step: 'train', id: 'b', payload: null },
    ];
    const [a, b] = parsePipelineSpec(raw, {}, { now: NOW }).pipeline.seedTasks;
    expect('payload' in a).toBe(false);
    expect(b).toEqual({ step: 'train', id: 'b', payload: null });
  });

  test('scheduleTime is checked against the injected clock', () => {
    const raw = validRaw();
    raw.pipeline.seedTasks[0].scheduleTime = '2026-12-15T00:00:00Z';
    expect(problemsOrEmpty(raw)).toEqual([]);
    expect(specError(() => parsePipelineSpec(raw, {}, { now: new Date('2026-11-01T00:00:00Z') })).problems).toEqual([
      {
        path: 'pipeline.seedTasks[0].scheduleTime',
        value: '2026-12-15T00:00:00.000Z',
        message: '2026-12-15T00:00:00.000Z is 44.0 days ahead; Cloud Tasks schedules at most 30 days in the future',
      },
    ]);
  });
});

describe('parsePipelineSpec: schema problems', () => {
  test('an unknown key names the key, a likely fix and the allowed keys', () => {
    const raw = validRaw();
    raw.pipeline.steps[0].target.heders = { 'X-A': 'b' };
    raw.colour = 'blue';
    expect(problemsOrEmpty(raw)).toEqual([
      {
        path: 'colour',
        message:
          'unknown key "colour"; allowed here: $schema, project, region, environment, labels, backend, deployer, monitoring, ledger, policy, pipeline',
      },
      {
        path: 'pipeline.steps[0].target.heders',
        message:
          'unknown key "heders" (did you mean "headers"?); allowed here: url, auth, audience, headers, method, serviceAccount, cloudRun, scope, cloudRunJob, vertexAI',
      },
    ]);
  });

  test('a wrong type names the expected type; a number where a string belongs says to quote it', () => {
    const raw = validRaw();
    raw.environment = 2026;
    raw.pipeline.steps[0].rateLimits = { maxDispatchesPerSecond: '10', maxConcurrentDispatches: 2.5 };
    raw.pipeline.steps[0].next = 'train';
    expect(problemsOrEmpty(raw)).toEqual([
      { path: 'environment', value: 2026, message: 'must be a string, not the number 2026 (quote it: "2026")' },
      {
        path: 'pipeline.steps[0].rateLimits.maxDispatchesPerSecond',
        value: '10',
        message: 'must be a number, not the string "10"',
      },
      {
        path: 'pipeline.steps[0].rateLimits.maxConcurrentDispatches',
        value: 2.5,
        message: 'must be a whole number, not the number 2.5',
      },
      { path: 'pipeline.steps[0].next', value: 'train', message: 'must be a list, not the string "train"' },
    ]);
  });

  test('an enum lists the choices', () => {
    const raw = validRaw();
    raw.pipeline.steps[0].target.auth = 'OIDC';
    raw.pipeline.steps[1].preset = 'training';
    expect(problemsOrEmpty(raw)).toEqual([
      {
        path: 'pipeline.steps[0].target.auth',
        value: 'OIDC',
        message: '"OIDC" is not one of: oidc, oauth, none (did you mean "oidc"?)',
      },
      {
        path: 'pipeline.steps[1].preset',
        value: 'training',
        message: '"training" is not one of: preprocess, train, infer (did you mean "train"?)',
      },
    ]);
  });

  test('a missing required field is named with what it is for', () => {
    const raw = validRaw();
    delete raw.project;
    delete raw.pipeline.steps[1].target.url;
    expect(problemsOrEmpty(raw)).toEqual([
      { path: 'project', message: 'is required: Google Cloud project id.' },
      // A target is a url or a job (cloudRunJob, vertexAI): the rule names both ways out.
      {
        path: 'pipeline.steps[1].target.url',
        message:
          "is required: the https URL of the step's worker (or make the step a job: cloudRunJob or vertexAI, docs/jobs.md)",
      },
    ]);
  });

  test('durations: a bad text and a bare number', () => {
    const raw = validRaw();
    raw.pipeline.steps[0].retry = { minBackoff: '10 minutes', maxBackoff: 600 };
    raw.pipeline.steps[0].dispatchDeadline = '1.5m';
    expect(problemsOrEmpty(raw)).toEqual([
      {
        path: 'pipeline.steps[0].retry.maxBackoff',
        value: 600,
        message:
          'must be a duration string, a whole number followed by s, m or h, e.g. "30s", "10m", "2h", not the number 600',
      },
      {
        path: 'pipeline.steps[0].retry.minBackoff',
        value: '10 minutes',
        message: '"10 minutes" is not a duration: use a whole number followed by s, m or h, e.g. "30s", "10m", "2h"',
      },
      {
        path: 'pipeline.steps[0].dispatchDeadline',
        value: '1.5m',
        message: '"1.5m" is not a duration: use a whole number followed by s, m or h, e.g. "30s", "10m", "2h"',
      },
    ]);
  });

  test('a spec that is not a mapping', () => {
    expect(problemsOrEmpty(['a'])).toEqual([
      {
        path: '',
        message: 'a pipeline spec must be a mapping with project, region, environment and pipeline, not a list',
      },
    ]);
    expect(problemsOrEmpty(null)).toEqual([
      { path: '', message: 'the spec is empty: write project, region, environment and pipeline (docs/spec.md)' },
    ]);
  });

  test('a range rule is reported once, by the Cloud Tasks rule (the schema range is only an editor hint)', () => {
    const raw = validRaw();
    raw.pipeline.steps[0].rateLimits = { maxDispatchesPerSecond: 900 };
    expect(problemsOrEmpty(raw)).toEqual([
      {
        path: 'pipeline.steps[0].rateLimits.maxDispatchesPerSecond',
        value: 900,
        message: "900 exceeds Cloud Tasks' limit of 500 per queue",
      },
    ]);
  });
});

describe('parsePipelineSpec: all problems at once', () => {
  test('schema problems first, then every rule on the parts that passed; rules on broken parts are skipped', () => {
    const raw = validRaw();
    raw.pipeline.steps[0].rateLimits = { maxDispatchesPerSecond: 900 }; // rule problem on a sound part
    raw.pipeline.steps[1].name = 7; // broken: step names are unknown ...
    raw.pipeline.steps[0].next = ['typo']; // ... so this reference cannot be judged
    raw.pipeline.steps[1].target.url = 'http://train.example.com'; // rule problem on a sound part of step 1
    raw.pipeline.steps[1].retry = { maxBackoff: 'soon', minBackoff: '1h' }; // broken value: no min/max comparison
    raw.pipeline.seedTasks[0].id = 'has space'; // rule problem
    expect(problemsOrEmpty(raw)).toEqual([
      { path: 'pipeline.steps[1].name', value: 7, message: 'must be a string, not the number 7 (quote it: "7")' },
      {
        path: 'pipeline.steps[1].retry.maxBackoff',
        value: 'soon',
        message: '"soon" is not a duration: use a whole number followed by s, m or h, e.g. "30s", "10m", "2h"',
      },
      {
        path: 'pipeline.steps[0].rateLimits.maxDispatchesPerSecond',
        value: 900,
        message: "900 exceeds Cloud Tasks' limit of 500 per queue",
      },
      {
        path: 'pipeline.steps[1].target.url',
        value: 'http://train.example.com',
        message:
          '"http://train.example.com" must use https: tasks carry identity tokens, which must not travel in clear text',
      },
      {
        path: 'pipeline.seedTasks[0].id',
        value: 'has space',
        message: '"has space" is not a valid Cloud Tasks task id: use only letters, digits, hyphens and underscores',
      },
    ]);
  });

  test('the SpecError message lists every problem on its own line as file:line:column: path: rule', () => {
    const raw = validRaw();
    raw.pipeline.steps[1].rateLimits = { maxDispatchesPerSecond: 900 };
    raw.region = 'us central';
    const lines: Record<string, { line: number; column: number }> = {
      region: { line: 2, column: 9 },
      'pipeline.steps.1.rateLimits.maxDispatchesPerSecond': { line: 14, column: 11 },
    };
    const e = specError(() =>
      parsePipelineSpec(raw, { file: 'pipelines/prod.yaml', locate: (p) => lines[p.join('.')] }, { now: NOW }),
    );
    expect(e.message).toBe(
      [
        '2 problems in pipeline spec in pipelines/prod.yaml:',
        'pipelines/prod.yaml:2:9: region: "us central" is not a Cloud Tasks location: use a region name such as us-central1',
        "pipelines/prod.yaml:14:11: pipeline.steps[1].rateLimits.maxDispatchesPerSecond: 900 exceeds Cloud Tasks' limit of 500 per queue",
      ].join('\n'),
    );
    expect(e.problems[1]).toEqual({
      file: 'pipelines/prod.yaml',
      line: 14,
      column: 11,
      path: 'pipeline.steps[1].rateLimits.maxDispatchesPerSecond',
      value: 900,
      message: "900 exceeds Cloud Tasks' limit of 500 per queue",
    });
  });

  test('a huge payload is never printed whole in the message', () => {
    const raw = validRaw();
    raw.pipeline.steps[0].target.method = 'GET';
    raw.pipeline.seedTasks[0].payload = { secretish: 'z'.repeat(100_000) };
    const e = specError(() => parsePipelineSpec(raw, {}, { now: NOW }));
    expect(e.message.length).toBeLessThan(400);
    expect(JSON.stringify(e.problems).length).toBeLessThan(600);
  });

  test('formatSpecErrorMessage: without a file or line the path and rule remain', () => {
    expect(
      formatSpecErrorMessage([
        { path: ['project'], message: 'is required' },
        { file: 'a.yaml', path: [], message: 'x' },
      ]),
    ).toBe('2 problems in pipeline spec in a.yaml:\nproject: is required\na.yaml: x');
  });
});

describe('parsePipelineSpec: robustness', () => {
  test('any value in any place yields a spec or a SpecError, never a crash', () => {
    const WEIRD: unknown[] = [null, 0, -1, 1.5, '', 'x', [], {}, [1], { a: 1 }, true, Number.NaN, Infinity];
    const paths = (o: unknown, p: Array<string | number> = []): Array<Array<string | number>> =>
      o !== null && typeof o === 'object'
        ? [p, ...Object.entries(o).flatMap(([k, v]) => paths(v, [...p, Array.isArray(o) ? Number(k) : k]))]
        : [p];
    let checked = 0;
    for (const p of paths(validRaw()).filter((x) => x.length > 0))
      for (const value of WEIRD) {
        const raw = validRaw();
        let parent: any = raw;
        for (const s of p.slice(0, -1)) parent = parent[s];
        parent[p[p.length - 1]] = structuredClone(value);
        try {
          parsePipelineSpec(raw, {}, { now: NOW });
        } catch (e) {
          expect(e).toBeInstanceOf(SpecError);
          expect((e as SpecError).problems.length).toBeGreaterThan(0);
        }
        checked++;
      }
    expect(checked).toBeGreaterThan(200);
  });

  test('a sparse list from TypeScript keeps its positions', () => {
    const raw = validRaw();
    raw.pipeline.steps = [raw.pipeline.steps[0], , raw.pipeline.steps[1]]; // eslint-disable-line no-sparse-arrays
    expect(problemsOrEmpty(raw)).toEqual([
      { path: 'pipeline.steps[1]', message: 'must be a mapping (key: value), not empty' },
    ]);
  });
});

describe('loadSpecFile', () => {
  const YAML = `# yaml-language-server: $schema=./pipeline.schema.json
project: acme-ml-prod
region: us-central1
environment: prod
pipeline:
  name: recsys
  steps:
    - name: preprocess
      target:
        url: https://preprocess-abc123-uc.a.run.app/tasks
      rateLimits: { maxDispatchesPerSecond: 900 }
      retry:
        maxAttemps: 3
    - name: train
      target: { auth: oidc }
`;

  test('GIVEN YAML with problems THEN each is located at line:column (value, unknown key, missing key)', () => {
    const file = write('prod.yaml', YAML);
    const e = specError(() => loadSpecFile(file, { now: NOW }));
    expect(e.problems.map(({ line, column, path: p }) => `${line}:${column} ${p}`)).toEqual([
      '13:9 pipeline.steps[0].retry.maxAttemps', // the unknown key itself
      '11:45 pipeline.steps[0].rateLimits.maxDispatchesPerSecond', // the value 900
      '15:7 pipeline.steps[1].target.url', // missing (a rule: url or a job target): its parent `target:`
    ]);
    expect(e.problems[0].file).toBe(displayFile(file));
    expect(e.problems[0].message).toBe(
      'unknown key "maxAttemps" (did you mean "maxAttempts"?); allowed here: maxAttempts, minBackoff, maxBackoff, maxDoublings, maxRetryDuration',
    );
  });

  test('a YAML syntax error has line:column and the parser message', () => {
    const file = write('bad.yaml', 'project: acme-ml-prod\npipeline:\n\tname: recsys\n');
    expect(specError(() => loadSpecFile(file)).problems).toEqual([
      {
        file: displayFile(file),
        line: 3,
        column: 1,
        path: '',
        message: 'YAML syntax error: Tabs are not allowed as indentation',
      },
    ]);
  });

  test('an alias without its anchor is an error at the alias', () => {
    const file = write('alias.yaml', 'project: acme-ml-prod\nregion: *home\n');
    expect(specError(() => loadSpecFile(file)).problems).toEqual([
      {
        file: displayFile(file),
        line: 2,
        column: 9,
        path: '',
        message: 'YAML error: Unresolved alias (the anchor must be set before the alias): home',
      },
    ]);
  });

  test('a bad deployer is located at its line:column, with the value and the fix; a wrong type is a shape problem', () => {
    const file = write(
      'deployer.yaml',
      `project: acme-ml-prod
region: us-central1
environment: prod
deployer:
  - serviceAccount:pipelines-deployer@acme-ml-prod.iam.gserviceaccount.com
  - deploy@acme-ml-prod.iam.gserviceaccount.com
  - 42
pipeline:
  name: recsys
  steps:
    - name: a
      target: { url: "https://a.example.com/tasks" }
`,
    );
    const e = specError(() => loadSpecFile(file, { now: NOW }));
    expect(e.problems).toEqual([
      {
        file: displayFile(file),
        line: 7,
        column: 5,
        path: 'deployer[2]',
        value: 42,
        message: 'must be a string, not the number 42 (quote it: "42")',
      },
      {
        file: displayFile(file),
        line: 6,
        column: 5,
        path: 'deployer[1]',
        value: 'deploy@acme-ml-prod.iam.gserviceaccount.com',
        message:
          '"deploy@acme-ml-prod.iam.gserviceaccount.com" is not an IAM member: a bare e-mail needs its IAM type; write serviceAccount:deploy@acme-ml-prod.iam.gserviceaccount.com',
      },
    ]);
    expect(e.message).toContain(
      `${displayFile(file)}:6:5: deployer[1]: "deploy@acme-ml-prod.iam.gserviceaccount.com" is not an IAM member: a bare e-mail needs its IAM type; write serviceAccount:`,
    );
    const single = write(
      'single.yaml',
      fs
        .readFileSync(file, 'utf8')
        .replace(/deployer:\n( {2}- .*\n)+/, 'deployer: serviceAccount:x@acme-ml-prod.iam.gserviceaccount.com\n'),
    );
    expect(
      specError(() => loadSpecFile(single, { now: NOW })).problems.map(
        (p) => `${p.line}:${p.column} ${p.path}: ${p.message}`,
      ),
    ).toEqual([
      '4:11 deployer: must be a list, not the string "serviceAccount:x@acme-ml-prod.iam.gserviceaccount.com"',
    ]);
  });

  test('a duplicate key is an error, not a silent override', () => {
    const file = write('dup.yaml', 'project: acme-ml-prod\nregion: us-central1\nregion: europe-west1\n');
    expect(specError(() => loadSpecFile(file)).problems).toEqual([
      {
        file: displayFile(file),
        line: 3,
        column: 1,
        path: '',
        message: 'duplicate key "region": a key may appear only once in a mapping',
      },
    ]);
  });

  test('YAML anchors and merge keys can share step settings', () => {
    const file = write(
      'anchors.yaml',
      `project: acme-ml-prod
region: us-central1
environment: prod
x-defaults: &fast { maxDispatchesPerSecond: 20 }
pipeline:
  name: recsys
  steps:
    - name: a
      target: { url: "https://a.example.com/tasks" }
      rateLimits: { <<: *fast, maxConcurrentDispatches: 5 }
`,
    );
    // the anchor holder is itself an unknown key: anchors must live inside known fields
    expect(specError(() => loadSpecFile(file)).problems.map((p) => p.path)).toEqual(['x-defaults']);
    fs.writeFileSync(
      file,
      fs
        .readFileSync(file, 'utf8')
        .replace('x-defaults: &fast { maxDispatchesPerSecond: 20 }\n', '')
        .replace(
          '    - name: a\n      target: { url: "https://a.example.com/tasks" }\n      rateLimits: { <<: *fast, maxConcurrentDispatches: 5 }\n',
          '    - name: a\n      target: { url: "https://a.example.com/tasks" }\n      rateLimits: &fast { maxDispatchesPerSecond: 20 }\n    - name: b\n      target: { url: "https://b.example.com/tasks" }\n      rateLimits: { <<: *fast, maxConcurrentDispatches: 5 }\n',
        ),
    );
    expect(loadSpecFile(file).pipeline.steps[1].rateLimits).toEqual({
      maxDispatchesPerSecond: 20,
      maxConcurrentDispatches: 5,
    });
  });

  test('JSON specs load like YAML, with problems located and syntax errors at line:column', () => {
    const raw = validRaw();
    const good = write('good.json', JSON.stringify(raw, null, 2));
    expect(loadSpecFile(good, { now: NOW })).toEqual(parsePipelineSpec(raw, {}, { now: NOW }));

    raw.region = 'nowhere';
    const bad = write('bad.json', JSON.stringify(raw, null, 2));
    expect(specError(() => loadSpecFile(bad, { now: NOW })).problems).toEqual([
      {
        file: displayFile(bad),
        line: 3,
        column: 13,
        path: 'region',
        value: 'nowhere',
        message: '"nowhere" is not a Cloud Tasks location: use a region name such as us-central1',
      },
    ]);

    const broken = write('broken.json', '{\n  "project": "acme-ml-prod",\n}\n');
    const e = specError(() => loadSpecFile(broken));
    expect(e.problems).toHaveLength(1);
    // The offending character is the comma (line 2, after the value), not the brace after it.
    expect(e.problems[0]).toMatchObject({ line: 2, column: 28, path: '' });
    expect(e.problems[0].message).toBe(
      'JSON syntax error: trailing comma: JSON allows no comma after the last entry of an object; remove it',
    );

    const dup = write('dup.json', '{"project": "a", "project": "b"}');
    expect(specError(() => loadSpecFile(dup)).problems[0].message).toBe(
      'duplicate key "project": a key may appear only once in a mapping',
    );
  });

  test('other file types and missing files are errors naming the file', () => {
    const txt = write('spec.txt', 'project: x');
    expect(specError(() => loadSpecFile(txt)).problems).toEqual([
      {
        file: displayFile(txt),
        path: '',
        message: 'unsupported file type ".txt": a pipeline spec is .yaml, .yml or .json',
      },
    ]);
    expect(specError(() => loadSpecFile(path.join(tmp, 'none.yaml'))).problems[0].message).toBe('no such spec file');
  });

  test('file names are shown relative to the working directory', () => {
    expect(displayFile(path.join(process.cwd(), 'pipelines', 'a.yaml'))).toBe('pipelines/a.yaml');
    expect(displayFile('pipelines/a.yaml')).toBe('pipelines/a.yaml');
    expect(displayFile('/elsewhere/a.yaml', '/work/main')).toBe('/elsewhere/a.yaml');
  });
});

describe('findSpecFiles and loadSpecs', () => {
  const specText = (pipeline: string, environment: string, steps = ['a']): string =>
    `project: acme-ml-prod
region: us-central1
environment: ${environment}
pipeline:
  name: ${pipeline}
  steps:
${steps.map((s) => `    - { name: ${s}, target: { url: "https://${s}.example.com/tasks" } }`).join('\n')}
`;

  test('findSpecFiles: yaml, yml and json files, sorted, without the schema', () => {
    write('b.yml', '');
    write('a.yaml', '');
    write('c.json', '{}');
    write('pipeline.schema.json', '{}');
    write('notes.txt', '');
    write('sub/d.yaml', '');
    expect(findSpecFiles(tmp)).toEqual(['a.yaml', 'b.yml', 'c.json'].map((f) => path.join(tmp, f)));
    expect(findSpecFiles(path.join(tmp, 'missing'))).toEqual([]);
  });

  test('loads every spec in the folder, or only specPath', () => {
    write('recsys-dev.yaml', specText('recsys', 'dev'));
    const prod = write('recsys-prod.yaml', specText('recsys', 'prod'));
    expect(loadSpecs({ dir: tmp }).map((l) => [path.basename(l.file), l.spec.environment])).toEqual([
      ['recsys-dev.yaml', 'dev'],
      ['recsys-prod.yaml', 'prod'],
    ]);
    write('broken.yaml', 'project: [');
    expect(loadSpecs({ specPath: prod, dir: tmp }).map((l) => l.spec.environment)).toEqual(['prod']);
  });

  test('validates ALL files before throwing one error with every problem', () => {
    write('a.yaml', specText('recsys', 'dev').replace('region: us-central1', 'region: mars'));
    write('b.yaml', specText('recsys', 'prod').replace('environment: prod', 'environment: Prod'));
    const e = specError(() => loadSpecs({ dir: tmp }));
    expect(e.problems.map((p) => `${path.basename(p.file!)} ${p.path}`)).toEqual([
      'a.yaml region',
      'b.yaml environment',
    ]);
    expect(e.message.split('\n')[0]).toBe('2 problems in pipeline spec in 2 files:');
  });

  test('two specs with the same stack name are an error naming both files', () => {
    const first = write('a.yaml', specText('recsys-dev', 'x'));
    const second = write('b.yaml', specText('recsys', 'dev-x'));
    expect(specError(() => loadSpecs({ dir: tmp })).problems).toEqual([
      {
        file: displayFile(second),
        line: 5,
        column: 9,
        path: 'pipeline.name',
        value: 'recsys-dev-x',
        message: `stack name "recsys-dev-x" (pipeline.name-environment) is also produced by ${displayFile(first)}: give one of them another pipeline name or environment`,
      },
    ]);
  });

  test('two specs whose stacks resolve to one Terraform state are an error naming both files and the state', () => {
    const backend = (prefix?: string) =>
      `backend: { gcs: { bucket: acme-tf-state${prefix === undefined ? '' : `, prefix: "${prefix}"`} } }\n`;
    const first = write('a.yaml', specText('recsys', 'prod') + backend('recsys/prod'));
    // The GCS backend trims leading slashes and adds a trailing one: the same object, default.tfstate.
    const second = write('b.yaml', specText('ranking', 'prod') + backend('/recsys/prod/'));
    // A spec without a prefix gets cloud-tasks-pipelines/<stack>: written out by hand elsewhere, it is one state too.
    write('c.yaml', specText('search', 'prod') + backend());
    const fourth = write('d.yaml', specText('ads', 'prod') + backend('cloud-tasks-pipelines/search-prod'));
    write('e.yaml', specText('other', 'prod') + backend('recsys/prod/extra')); // a different state
    expect(specError(() => loadSpecs({ dir: tmp })).problems).toEqual([
      {
        file: displayFile(second),
        line: 8,
        column: 50,
        path: 'backend.gcs.prefix',
        value: 'gs://acme-tf-state/recsys/prod/default.tfstate',
        message: `the Terraform state gs://acme-tf-state/recsys/prod/default.tfstate is also the state of ${displayFile(first)}: deploying either stack would destroy the other's queues; give this spec its own backend.gcs.prefix (or bucket)`,
      },
      expect.objectContaining({
        file: displayFile(fourth),
        path: 'backend.gcs.prefix',
        message: expect.stringMatching(
          /^the Terraform state gs:\/\/acme-tf-state\/cloud-tasks-pipelines\/search-prod\/default\.tfstate is also the state of .*c\.yaml:/,
        ),
      }),
    ]);
  });

  test('two specs whose queue ids collide in one project and region are an error', () => {
    write('a.yaml', specText('recsys', 'dev', ['train-x']));
    const second = write('b.yaml', specText('recsys', 'dev-train', ['x']));
    const problems = specError(() => loadSpecs({ dir: tmp })).problems;
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ file: displayFile(second), path: 'pipeline.steps[0].name', value: 'x' });
    expect(problems[0].message).toMatch(
      /^queue id "recsys-dev-train-x" is also the queue of .*a\.yaml pipeline\.steps\[0\] in acme-ml-prod\/us-central1/,
    );
  });

  test('the 1,000 queues per region quota counts all specs in a project and region', () => {
    const many = (n: number, prefix: string): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
    write('a.yaml', specText('alpha', 'prod', many(600, 's')));
    write('b.yaml', specText('beta', 'prod', many(401, 's')));
    const problems = specError(() => loadSpecs({ dir: tmp })).problems;
    expect(problems).toHaveLength(1);
    expect(problems[0].path).toBe('pipeline.steps');
    expect(problems[0].message).toMatch(
      /^the specs for acme-ml-prod\/us-central1 need 1,001 queues together \(.*a\.yaml: 600, .*b\.yaml: 401\); Cloud Tasks allows at most 1,000 per project per region$/,
    );
  });

  test('an empty or missing folder is an error', () => {
    expect(specError(() => loadSpecs({ dir: tmp })).problems[0].message).toMatch(
      /^no pipeline specs \(\*\.yaml, \*\.yml, \*\.json\) in this folder/,
    );
    expect(specError(() => loadSpecs({ dir: path.join(tmp, 'nope') })).problems[0].message).toMatch(
      /^the specs folder does not exist/,
    );
  });
});
