import { formatProblems, parseManifest, validateManifest } from '../../lib/seeder/validate';
import { formatPath } from '../../lib/core/problem';
import { manifestOf, queueName, seedTask } from './fixtures';

const NOW = new Date('2030-01-01T00:00:00Z');
const DAY = 86_400_000;

function problemsOf(raw: unknown): { path: string; message: string }[] {
  const result = validateManifest(raw, NOW);
  return result.ok ? [] : result.problems.map((p) => ({ path: formatPath(p.path), message: p.message }));
}

describe('validateManifest', () => {
  test('GIVEN a well-formed manifest THEN it is accepted as is', () => {
    const manifest = manifestOf([seedTask('a'), seedTask('b', { queue: queueName('demo-dev-train') })]);
    expect(validateManifest(JSON.parse(JSON.stringify(manifest)), NOW)).toEqual({ ok: true, manifest });
  });

  test('GIVEN many broken tasks THEN every problem is reported at once, each at its exact path', () => {
    const manifest = manifestOf([
      seedTask('ok'),
      seedTask('bad-url', { httpRequest: { url: 'http://worker.example.com/x' } }),
      seedTask('bad-ids', {
        taskId: 'has space',
        queue: 'projects/demo-project/locations/us-central1/queues/under_score',
      }),
      seedTask('bad-http', {
        dispatchDeadlineSeconds: 5,
        httpRequest: {
          httpMethod: 'GET',
          body: 'x',
          headers: { 'X-CloudTasks-TaskName': 'forged', Authorization: 'Bearer secret' },
        },
      }),
    ]);

    const problems = problemsOf(manifest);

    expect(problems.map((p) => p.path)).toEqual([
      'tasks[1].httpRequest.url',
      'tasks[2].queue',
      'tasks[2].taskId',
      'tasks[3].dispatchDeadlineSeconds',
      'tasks[3].httpRequest.headers.X-CloudTasks-TaskName',
      'tasks[3].httpRequest.headers.Authorization',
      'tasks[3].httpRequest.body',
    ]);
    expect(problems[0].message).toMatch(/"http:\/\/worker.example.com\/x" must use https/);
    expect(problems[1].message).toMatch(/"under_score" is not a valid Cloud Tasks queue id/);
    expect(problems[2].message).toMatch(/"has space" is not a valid Cloud Tasks task id/);
    expect(problems[3].message).toMatch(/5s is outside Cloud Tasks' range for HTTP dispatch deadlines, 15s to 1800s/);
    expect(problems[4].message).toMatch(/reserved by Cloud Tasks/);
    expect(problems[5].message).toMatch(/Authorization is set by Cloud Tasks from the OIDC\/OAuth token/);
    expect(problems[6].message).toMatch(/not allowed with GET/);
  });

  test('GIVEN shape errors THEN they name the field and value, and the rules still run on the fields that are well typed', () => {
    const bad = JSON.parse(JSON.stringify(seedTask('shape')));
    delete bad.step;
    bad.dispatchDeadlineSeconds = '600';
    bad.httpRequest.httpMethod = 'FETCH';
    bad.httpRequest.headers = { 'X-Count': 3 };
    bad.httpRequest.bodyy = 'typo';
    bad.httpRequest.url = 'ftp://worker.example.com';

    const problems = problemsOf(manifestOf([bad]));

    expect(problems).toEqual([
      { path: 'tasks[0].step', message: 'is required' },
      { path: 'tasks[0].dispatchDeadlineSeconds', message: 'must be a whole number, not the string "600"' },
      {
        path: 'tasks[0].httpRequest.bodyy',
        message:
          'unknown key "bodyy" (did you mean "body"?); allowed here: url, httpMethod, headers, body, oidcToken, oauthToken',
      },
      {
        path: 'tasks[0].httpRequest.httpMethod',
        message: '"FETCH" is not one of: POST, GET, HEAD, PUT, DELETE, PATCH, OPTIONS',
      },
      { path: 'tasks[0].httpRequest.headers.X-Count', message: 'must be a string, not the number 3 (quote it: "3")' },
      {
        path: 'tasks[0].httpRequest.url',
        message: expect.stringMatching(/"ftp:\/\/worker.example.com" must use https/),
      },
    ]);
  });

  test('GIVEN another manifest version THEN only that is reported, with what to do', () => {
    expect(problemsOf({ ...manifestOf([seedTask('a')]), version: 2 })).toEqual([
      {
        path: 'version',
        message: expect.stringMatching(
          /^2 is not a manifest version this seeder reads \(it reads version 1\); synthesize the stack again/,
        ),
      },
    ]);
  });

  test('GIVEN top-level fields missing or wrong THEN each is reported', () => {
    expect(
      problemsOf({ version: 1, stack: '', project: 'Bad_Project', tasks: {} }).map((p) => `${p.path}: ${p.message}`),
    ).toEqual(['location: is required', 'stack: must not be empty', 'tasks: must be a list, not a mapping']);
    expect(problemsOf({ ...manifestOf([]), project: 'Bad_Project', location: 'mars' }).map((p) => p.path)).toEqual([
      'project',
      'location',
    ]);
  });

  test('schedule time: in the past is fine (dispatch now); exactly 30 days ahead is fine; later is refused', () => {
    const at = (ms: number) => seedTask(`t${ms}`, { scheduleTime: new Date(NOW.getTime() + ms).toISOString() });
    expect(problemsOf(manifestOf([at(-365 * DAY), at(30 * DAY)]))).toEqual([]);

    expect(problemsOf(manifestOf([at(30 * DAY + 1000)]))).toEqual([
      {
        path: 'tasks[0].scheduleTime',
        message: expect.stringMatching(/is 30.0 days ahead; Cloud Tasks schedules at most 30 days in the future/),
      },
    ]);
    expect(problemsOf(manifestOf([seedTask('x', { scheduleTime: 'tomorrow' })]))).toEqual([
      {
        path: 'tasks[0].scheduleTime',
        message:
          '"tomorrow" is not a valid RFC 3339 timestamp: write e.g. 2026-12-01T00:00:00Z (a real date, T between date and time, Z or an offset)',
      },
    ]);
  });

  test('a schedule time on a day that does not exist is refused, as the spec validator refuses it', () => {
    expect(problemsOf(manifestOf([seedTask('feb', { scheduleTime: '2030-02-30T00:00:00Z' })]))).toEqual([
      {
        path: 'tasks[0].scheduleTime',
        message: expect.stringMatching(/^"2030-02-30T00:00:00Z" is not a valid RFC 3339/),
      },
    ]);
  });

  test('a header name with dots is one key of the path', () => {
    const t = seedTask('dots', { httpRequest: { headers: { 'X-CloudTasks-Trace.Id': 'x' } } });
    expect(problemsOf(manifestOf([t])).map((p) => p.path)).toEqual([
      'tasks[0].httpRequest.headers["X-CloudTasks-Trace.Id"]',
    ]);
  });

  test('a task over 1 MB is refused with its size', () => {
    const big = seedTask('big', { httpRequest: { body: 'x'.repeat(1024 * 1024) } });
    expect(problemsOf(manifestOf([big]))).toEqual([
      {
        path: 'tasks[0].httpRequest',
        message: expect.stringMatching(
          /the task is 1,04\d,\d{3} bytes as stored .*; Cloud Tasks' limit for a task is 1,048,569 bytes/,
        ),
      },
    ]);
  });

  test('two tasks with the same name in one queue are refused; the same id in two queues is fine', () => {
    const a = seedTask('a');
    const otherQueue = seedTask('a', { queue: queueName('demo-dev-train'), taskId: a.taskId });
    expect(problemsOf(manifestOf([a, otherQueue]))).toEqual([]);
    expect(problemsOf(manifestOf([a, seedTask('b'), { ...a, seedId: 'c' }]))).toEqual([
      {
        path: 'tasks[2].taskId',
        message: `"${a.taskId}" is also the id of tasks[0] in the same queue; Cloud Tasks would create only one of them`,
      },
    ]);
  });

  test('a queue outside the manifest project/location, or not a queue name, is refused', () => {
    const problems = problemsOf(
      manifestOf([
        seedTask('a', { queue: 'projects/other-project/locations/us-central1/queues/q' }),
        seedTask('b', { queue: 'demo-dev-ingest' }),
      ]),
    );
    expect(problems.map((p) => p.path)).toEqual(['tasks[0].queue', 'tasks[1].queue']);
    expect(problems[0].message).toMatch(
      /not in the manifest's project and location \(projects\/demo-project\/locations\/us-central1\)/,
    );
    expect(problems[1].message).toMatch(/is not a queue name of the form projects\/\{project\}/);
  });

  test('both an OIDC and an OAuth token on one request is refused', () => {
    const t = seedTask('two', {
      httpRequest: { oauthToken: { serviceAccountEmail: 'a@demo-project.iam.gserviceaccount.com', scope: 's' } },
    });
    expect(problemsOf(manifestOf([t]))).toEqual([
      { path: 'tasks[0].httpRequest', message: expect.stringMatching(/both oidcToken and oauthToken/) },
    ]);
  });
});

describe('parseManifest and formatProblems', () => {
  test('GIVEN text that is not JSON THEN the problem says so', () => {
    const result = parseManifest('{"version": 1,', NOW);
    expect(result.ok).toBe(false);
    if (!result.ok)
      expect(formatProblems('m.json', result.problems)).toMatch(
        /^m\.json: is not valid JSON \(.+\); re-run synth to regenerate it$/,
      );
  });

  test('lines name the file and the path; long lists are cut with a count', () => {
    const problems = Array.from({ length: 60 }, (_, i) => ({ path: ['tasks', i, 'taskId'], message: 'bad' }));
    const lines = formatProblems('seed-manifest.json', problems).split('\n');
    expect(lines[0]).toBe('seed-manifest.json: tasks[0].taskId: bad');
    expect(lines).toHaveLength(51);
    expect(lines[50]).toBe('... and 10 more problems');
  });
});
