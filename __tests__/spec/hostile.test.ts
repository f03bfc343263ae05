/**
 * A spec written by someone who means harm, or by accident: what synth refuses, what it warns about, and that its
 * messages neither echo secrets nor hand control characters to the terminal. Each case failed before issue 9.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runSynthCli, synthPipelines } from '../../lib/apps/synth';
import { displayFile } from '../../lib/core/problem';
import { loadSpecFile, SpecError } from '../../lib/spec/load';

const NOW = new Date('2026-01-15T00:00:00Z');
const SPEC = `project: acme-ml-dev
region: us-central1
environment: dev
pipeline:
  name: recsys
  steps:
    - name: train
      target: { url: "https://train.example.com/tasks" }
`;

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'spec-hostile-'));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));
const write = (name: string, text: string): string => {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, text);
  return file;
};
function problemsOf(file: string): SpecError {
  try {
    loadSpecFile(file, { now: NOW });
  } catch (e) {
    if (e instanceof SpecError) return e;
    throw e;
  }
  throw new Error('expected a SpecError');
}

describe('headers that HTTP refuses', () => {
  test('GIVEN a header value with CR LF and a header name with NUL THEN synth refuses both, prints neither raw, writes nothing', () => {
    const file = write(
      'recsys-dev.yaml',
      SPEC.replace(
        '{ url: "https://train.example.com/tasks" }',
        '{ url: "https://train.example.com/tasks", headers: { X-Trace: "ok\\r\\nX-Injected: 1", "X-\\0": v } }',
      ),
    );
    const outdir = path.join(tmp, 'out');
    let error: unknown;
    try {
      synthPipelines({ specPath: file, outdir, now: NOW });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SpecError);
    const message = (error as SpecError).message;
    expect(message).toContain(
      'pipeline.steps[0].target.headers.X-Trace: the header value contains the control character \\x0d; HTTP does not allow CR, LF, NUL',
    );
    expect(message).toContain('the header name contains the control character \\x00');
    expect(message).not.toContain('X-Injected');
    expect(message).not.toMatch(/[\u0000\r]/);
    expect(fs.existsSync(outdir)).toBe(false);
  });
});

describe('scheduleTime in the past', () => {
  test('GIVEN a seed task scheduled last year THEN synth warns with file, line, field and value, and still writes the stack', () => {
    const file = write(
      'recsys-dev.yaml',
      `${SPEC}  seedTasks:\n    - { step: train, id: first, scheduleTime: "2025-01-15T00:00:00Z" }\n`,
    );
    const out: string[] = [];
    const err: string[] = [];
    const code = runSynthCli(
      {},
      (l) => out.push(l),
      (t) => err.push(t),
      { specPath: file, outdir: path.join(tmp, 'out') },
    );
    expect(code).toBe(0);
    expect(err).toEqual([
      expect.stringMatching(
        new RegExp(
          `^warning: ${displayFile(file).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:10:47: pipeline\\.seedTasks\\[0\\]\\.scheduleTime: "2025-01-15T00:00:00Z" is in the past \\(\\d+\\.\\d days ago\\): Cloud Tasks dispatches the task as soon as it is created`,
        ),
      ),
    ]);
    expect(out[0]).toMatch(/^recsys-dev: 1 queue, 1 seed task -> /);
  });
});

describe('JSON syntax', () => {
  test('GIVEN a trailing comma in a list THEN the error is at the comma, says "trailing comma", and quotes nothing', () => {
    const json = JSON.stringify({ project: 'acme-ml-dev', region: 'us-central1' }, null, 2).replace(
      '"us-central1"',
      '"us-central1",\n  "labels": { "k": "AIzaSyD-secret-looking-value-0000000000" },\n  "x": [1, 2,]',
    );
    const e = problemsOf(write('spec.json', json));
    expect(e.problems).toEqual([
      {
        file: displayFile(path.join(tmp, 'spec.json')),
        line: 5,
        column: 13,
        path: [],
        message: 'JSON syntax error: trailing comma: JSON allows no comma after the last item of a list; remove it',
      },
    ]);
  });

  test('GIVEN a bare word where a value belongs THEN the real line and column, and what JSON expects', () => {
    const e = problemsOf(write('spec.json', '{\n  "project": acme\n}\n'));
    expect(e.problems[0]).toMatchObject({
      line: 2,
      column: 14,
      message:
        'JSON syntax error: this is not a JSON value (strings need double quotes; true, false and null are lower case)',
    });
  });
});

describe('values that may be secrets are never printed', () => {
  test('GIVEN a header value written as a number THEN the type error names the field, not the value', () => {
    const file = write(
      'recsys-dev.yaml',
      SPEC.replace(
        '{ url: "https://train.example.com/tasks" }',
        '{ url: "https://train.example.com/tasks", headers: { X-Api-Key: 123456789012345 } }',
      ),
    );
    const message = problemsOf(file).message;
    expect(message).toContain(
      'pipeline.steps[0].target.headers.X-Api-Key: must be a string, not a number (the value is not shown: header values may hold credentials)',
    );
    expect(message).not.toContain('123456789012345');
  });

  test('GIVEN an http URL with an API key in its query THEN the https error shows the URL without the key', () => {
    const file = write(
      'recsys-dev.yaml',
      SPEC.replace(
        'https://train.example.com/tasks',
        `http://train.example.com/tasks?key=${'AIza' + 'Sy' + 'D'.repeat(20) + 'fake' + '0'.repeat(9)}`,
      ),
    );
    const message = problemsOf(file).message;
    expect(message).toContain('"http://train.example.com/tasks?key=***" must use https');
    expect(message).not.toContain('AIzaSy');
  });

  test('GIVEN an unknown key that is itself a token THEN it is named as a credential, never printed', () => {
    const token = `ghp_${'a1B2'.repeat(9)}`;
    const file = write('recsys-dev.yaml', `${SPEC}${token}: 1\n`);
    const message = problemsOf(file).message;
    expect(message).toContain('unknown key <redacted key>; allowed here:');
    expect(message).not.toContain(token);
  });
});

describe('what else an attacker tries', () => {
  test.each([
    [
      'path traversal in a step name',
      SPEC.replace('name: train', 'name: "../../etc"'),
      /pipeline\.steps\[0\]\.name: "\.\.\/\.\.\/etc" is not a valid step name/,
    ],
    [
      'path traversal in the environment',
      SPEC.replace('environment: dev', 'environment: "../x"'),
      /environment: "\.\.\/x" is not a valid environment name/,
    ],
    [
      'path traversal in a seed id',
      `${SPEC}  seedTasks: [{ step: train, id: "../../x" }]\n`,
      /pipeline\.seedTasks\[0\]\.id: "\.\.\/\.\.\/x" is not a valid Cloud Tasks task id/,
    ],
    [
      'a look-alike letter in a step name (Cyrillic а)',
      SPEC.replace('name: train', 'name: tr\u0430in'),
      /"tr\u0430in" is not a valid step name \(character 3 is U\+0430, not an ASCII letter\)/,
    ],
    [
      'a label key __proto__',
      `${SPEC}labels: { __proto__: polluted }\n`,
      /labels\.__proto__: label key "__proto__" is not valid/,
    ],
    [
      'a bidi override in a label value',
      `${SPEC}labels: { team: "ml\u202e" }\n`,
      /labels\.team: label value "ml\\u202e" is not valid/,
    ],
    [
      'a YAML alias bomb',
      `a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nproject: *e\n`,
      /YAML error: Excessive alias count indicates a resource exhaustion attack/,
    ],
  ])('GIVEN %s THEN it is refused, the message shows it escaped', (_what, text, message) => {
    const e = problemsOf(write('recsys-dev.yaml', text));
    expect(e.message).toMatch(message);
    expect(e.message).not.toMatch(/[\u202e]/);
    expect(Object.prototype).not.toHaveProperty('polluted');
  });

  test('GIVEN a spec file over 64 MiB THEN it is refused before it is read', () => {
    const file = write('recsys-dev.yaml', '');
    fs.truncateSync(file, 65 * 1024 * 1024); // sparse: nothing is written to disk
    expect(problemsOf(file).message).toMatch(/is 68,157,440 bytes; a spec file is at most 67,108,864 bytes \(64 MiB\)/);
  });

  test('GIVEN a spec that is a symlink to a device THEN it is refused instead of read for ever', () => {
    const file = path.join(tmp, 'recsys-dev.yaml');
    fs.symlinkSync('/dev/zero', file);
    expect(problemsOf(file).message).toMatch(/recsys-dev\.yaml: is not a regular file/);
  });
});
