/** The one problem type: paths as segments, one formatter, one way to place problems under a parent. */
import {
  formatPath,
  formatProblem,
  formatProblems,
  formatValue,
  ProblemError,
  under,
  type Problem,
} from '../../lib/core/problem';
import { headerProblems } from '../../lib/core/rules/cloud-tasks';

describe('paths', () => {
  test('keys print dotted, indexes in brackets, and a key that is not a plain word quoted', () => {
    expect(formatPath(['pipeline', 'steps', 1, 'target', 'headers', 'X-Api-Key'])).toBe(
      'pipeline.steps[1].target.headers.X-Api-Key',
    );
    expect(formatPath(['headers', 'X-Trace.Id'])).toBe('headers["X-Trace.Id"]');
    expect(formatPath(['labels', 'odd key'])).toBe('labels["odd key"]');
    expect(formatPath([0, 'a'])).toBe('[0].a');
    expect(formatPath([])).toBe('');
  });

  test('GIVEN a header name with dots THEN it stays one key through under() and the formatter', () => {
    const [reserved] = headerProblems({ 'X-CloudTasks-Trace.Id': 'x' });
    const placed = under(['tasks', 3, 'httpRequest'], [reserved]);
    expect(placed[0].path).toEqual(['tasks', 3, 'httpRequest', 'headers', 'X-CloudTasks-Trace.Id']);
    expect(formatProblem(placed[0])).toMatch(/^tasks\[3\]\.httpRequest\.headers\["X-CloudTasks-Trace\.Id"\]: /);
  });

  test('under() prefixes the inputs a rule read too', () => {
    const p: Problem = { path: ['name'], message: 'm', inputs: [['next', 0]] };
    expect(under('step', [p])).toEqual([{ path: ['step', 'name'], message: 'm', inputs: [['step', 'next', 0]] }]);
  });
});

describe('the formatter', () => {
  test('file:line:column, the rule id, the path, then the message', () => {
    expect(
      formatProblem({ file: 'pipelines/prod.yaml', line: 14, column: 11, path: ['region'], message: 'is bad' }),
    ).toBe('pipelines/prod.yaml:14:11: region: is bad');
    expect(formatProblem({ file: 'stack/queue', rule: 'CTP002', path: ['a', 'b'], message: 'm' })).toBe(
      'stack/queue: [CTP002] a.b: m',
    );
    expect(formatProblem({ path: [], message: 'the whole spec' })).toBe('the whole spec');
  });

  test('with values: `path = value: message`, long values cut to a preview', () => {
    expect(formatProblem({ path: ['queueId'], value: 'a b', message: 'is bad' }, { value: true })).toBe(
      'queueId = "a b": is bad',
    );
    const long = formatProblem({ path: ['url'], value: `https://x/${'a'.repeat(200)}`, message: 'm' }, { value: true });
    expect(long).toMatch(/^url = "https:\/\/x\/a+\.\.\. \(212 characters\): m$/);
    expect(formatValue({ a: [1, 2] })).toBe('{"a":[1,2]}');
  });

  test('GIVEN control and bidi characters anywhere (file, key, value, message) THEN the line shows them escaped', () => {
    const line = formatProblem(
      {
        file: 'pipelines/\u001b]0;owned\u0007.yaml',
        path: ['labels', 'team\u202e'],
        value: 'a\u009bb',
        message: `"${'x\u001b[2J'}" is not valid\nforged: line`,
      },
      { value: true },
    );
    expect(line).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202e]/);
    expect(line).toBe(
      'pipelines/\\x1b]0;owned\\x07.yaml: labels.team\\u202e = "a\\x9bb": "x\\x1b[2J" is not valid\\x0aforged: line',
    );
    const e = new ProblemError('1 problem in \u202eevil.yaml:', [{ path: ['a'], message: 'm\rX' }]);
    expect(e.message).toBe('1 problem in \\u202eevil.yaml:\na: m\\x0dX');
  });

  test('a list stops at max and counts the rest', () => {
    const problems = Array.from({ length: 5 }, (_, i): Problem => ({ path: ['tasks', i], message: 'bad' }));
    expect(formatProblems(problems, { max: 2 }).split('\n')).toEqual([
      'tasks[0]: bad',
      'tasks[1]: bad',
      '... and 3 more problems',
    ]);
  });
});

describe('ProblemError', () => {
  test('carries every problem, with long values shortened, and lists them in its message', () => {
    const e = new ProblemError('2 problems:', [
      { path: ['payload'], value: 'x'.repeat(100_000), message: 'too big' },
      { path: ['id'], value: 7, message: 'bad id' },
    ]);
    expect(e.message).toBe('2 problems:\npayload: too big\nid: bad id');
    expect(e.problems[1].value).toBe(7);
    expect(String(e.problems[0].value).length).toBeLessThan(100);
  });
});
