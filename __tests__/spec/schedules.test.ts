/**
 * `pipeline.schedules` as a user writes it: normalized with Cloud Scheduler's defaults, and every broken rule reported
 * with the file, line, field path, value and rule.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { formatProblem } from '../../lib/core/problem';
import { SpecError, loadSpecFile, parsePipelineSpec } from '../../lib/spec/load';
import { pipelineProblems } from '../../lib/spec/validate';
import { NOW, validRaw, validSpec } from './fixtures';

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'schedules-spec-'));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** The problems a spec file gets, one printed line each (file:line:column: path: message). */
function lines(text: string): string[] {
  const file = path.join(tmp, 'p.yaml');
  fs.writeFileSync(file, text);
  try {
    loadSpecFile(file, { now: NOW });
  } catch (e) {
    if (e instanceof SpecError) return e.problems.map((p) => formatProblem({ ...p, file: 'p.yaml' }));
    throw e;
  }
  return [];
}

const SPEC = (schedules: string) => `project: acme-ml-dev
region: us-central1
environment: dev
pipeline:
  name: recsys
  steps:
    - name: preprocess
      target: { url: https://preprocess-def456-uc.a.run.app/tasks }
      next: [train]
    - name: train
      preset: train
      target: { url: https://train-def456-uc.a.run.app/tasks }
  schedules:
${schedules}`;

describe('GIVEN a valid schedules block', () => {
  test('THEN it normalizes with Etc/UTC, unpaused, durations in seconds, and is valid', () => {
    const raw = validRaw();
    raw.pipeline.schedules = [
      { name: 'nightly-retrain', step: 'preprocess', cron: '0 3 * * *', timeZone: 'Europe/Berlin', payload: { a: 1 } },
      {
        name: 'hourly',
        step: 'train',
        cron: '0 * * * *',
        paused: true,
        retry: { retryCount: 3, minBackoff: '30s', maxBackoff: '10m', maxRetryDuration: '1h', maxDoublings: 2 },
        attemptDeadline: '1m',
      },
    ];
    expect(parsePipelineSpec(raw, {}, { now: NOW }).pipeline.schedules).toEqual([
      {
        name: 'nightly-retrain',
        step: 'preprocess',
        cron: '0 3 * * *',
        timeZone: 'Europe/Berlin',
        payload: { a: 1 },
        paused: false,
        retry: {},
      },
      {
        name: 'hourly',
        step: 'train',
        cron: '0 * * * *',
        timeZone: 'Etc/UTC',
        paused: true,
        retry: {
          retryCount: 3,
          minBackoffSeconds: 30,
          maxBackoffSeconds: 600,
          maxRetryDurationSeconds: 3600,
          maxDoublings: 2,
        },
        attemptDeadlineSeconds: 60,
      },
    ]);
  });

  test('THEN a spec without schedules normalizes without the key (existing specs are unchanged)', () => {
    expect(parsePipelineSpec(validRaw(), {}, { now: NOW }).pipeline).not.toHaveProperty('schedules');
  });
});

describe('GIVEN broken schedules THEN every problem names file, line, field, value and rule', () => {
  test('cron, zone, step, retry, attempt deadline, duplicate names', () => {
    expect(
      lines(
        SPEC(`    - name: nightly-retrain
      step: preprocess
      cron: "0 0 3 * * *"
      timeZone: Europe/Berln
    - name: nightly-retrain
      step: preprocss
      cron: "61 * * * *"
      retry: { retryCount: 9, minBackoff: 2h }
      attemptDeadline: 1h
`),
      ),
    ).toEqual([
      'p.yaml:16:13: pipeline.schedules[0].cron: "0 0 3 * * *" has 6 fields; Cloud Scheduler reads unix-cron: five fields, minute hour day-of-month month day-of-week, e.g. "0 3 * * *" (03:00 every day) or "*/15 * * * *" (there is no seconds field)',
      'p.yaml:17:17: pipeline.schedules[0].timeZone: "Europe/Berln" is not a tz database time zone (did you mean "Europe/Berlin"?): use a name such as Europe/Berlin, America/New_York or Etc/UTC',
      'p.yaml:18:13: pipeline.schedules[1].name: "nightly-retrain" is already the name of pipeline.schedules[0]; schedule names must be unique (each names a Cloud Scheduler job)',
      'p.yaml:19:13: pipeline.schedules[1].step: "preprocss" is not a step of this pipeline (did you mean "preprocess"?); steps: preprocess, train',
      'p.yaml:20:13: pipeline.schedules[1].cron: the minute field "61" of "61 * * * *": 61 is outside 0-59',
      'p.yaml:21:28: pipeline.schedules[1].retry.retryCount: 9 is not allowed: Cloud Scheduler retries a failed attempt 0 to 5 times',
      "p.yaml:21:43: pipeline.schedules[1].retry.minBackoff: minBackoff 7200s is longer than maxBackoff 3600s (maxBackoff is not set: Cloud Scheduler's default 3600s applies): the wait between retries would never grow; make minBackoff <= maxBackoff",
      "p.yaml:22:24: pipeline.schedules[1].attemptDeadline: 3600s is outside Cloud Scheduler's range for HTTP target attempt deadlines, 15s to 1800s (30m)",
    ]);
  });

  test('shape: a missing cron, an unknown key, a bad name and a duration that is not one', () => {
    expect(
      lines(
        SPEC(`    - name: Nightly_Retrain
      step: preprocess
      cron: "0 3 * * *"
      attemptDeadline: soon
    - name: weekly
      step: preprocess
      when: "0 3 * * 1"
`),
      ),
    ).toEqual([
      expect.stringMatching(/^p\.yaml:18:7: pipeline\.schedules\[1\]\.cron: is required: unix-cron/),
      expect.stringMatching(/^p\.yaml:20:7: pipeline\.schedules\[1\]\.when: .*unknown/i),
      expect.stringMatching(/^p\.yaml:17:24: pipeline\.schedules\[0\]\.attemptDeadline: "soon" is not a duration/),
      expect.stringMatching(
        /^p\.yaml:14:13: pipeline\.schedules\[0\]\.name: "Nightly_Retrain" is not a valid schedule name/,
      ),
    ]);
  });

  test('a job id over 500 characters names the parts to shorten', () => {
    const spec = validSpec();
    const name = `n${'x'.repeat(490)}`;
    const problems = pipelineProblems(
      { ...spec, pipeline: { ...spec.pipeline, schedules: [sched({ name })] } },
      { now: NOW },
    );
    expect(problems.map((p) => p.message)).toEqual([
      expect.stringMatching(
        /^the Cloud Scheduler job id ".*" is 503 characters; Cloud Scheduler job ids are at most 500: shorten pipeline\.name, environment or this schedule name$/,
      ),
    ]);
  });

  test("a step whose method sends no body cannot start scheduled runs (the first message is the task's body)", () => {
    const spec = validSpec();
    const steps = spec.pipeline.steps.map((s, i) =>
      i === 0 ? { ...s, target: { ...s.target, method: 'GET' as const } } : s,
    );
    const problems = pipelineProblems(
      { ...spec, pipeline: { ...spec.pipeline, steps, schedules: [sched()] } },
      { now: NOW },
    );
    expect(problems.filter((p) => p.path[1] === 'schedules')).toEqual([
      expect.objectContaining({
        path: ['pipeline', 'schedules', 0, 'step'],
        message: expect.stringMatching(
          /^step "preprocess" uses method GET, .* POST, PUT, PATCH: change target\.method$/,
        ),
      }),
    ]);
  });

  test('a payload too large for the job (1 MB, the payload base64-encoded inside it) or the task (1 MB) is refused', () => {
    const spec = validSpec();
    // ~800 KB: fits a task, but not the job (its body is the CreateTask request with the envelope base64-encoded).
    const forJob = pipelineProblems(
      { ...spec, pipeline: { ...spec.pipeline, schedules: [sched({ payload: { blob: 'x'.repeat(800_000) } })] } },
      { now: NOW },
    );
    expect(forJob).toEqual([
      expect.objectContaining({
        path: ['pipeline', 'schedules', 0, 'payload'],
        message: expect.stringMatching(/^the Cloud Scheduler job would be 1,06\d,\d{3} bytes .*pass a URI/),
      }),
    ]);
    const forTask = pipelineProblems(
      { ...spec, pipeline: { ...spec.pipeline, schedules: [sched({ payload: { blob: 'x'.repeat(1_100_000) } })] } },
      { now: NOW },
    );
    expect(forTask.map((p) => p.message)).toEqual([
      expect.stringMatching(/Cloud Tasks' limit for a task is 1,048,569 bytes/),
    ]);
  });

  test('DST-sensitive schedules are valid: 02:30 in Europe/Berlin is skipped or repeated twice a year (a warning, and the review says so)', () => {
    const spec = validSpec();
    const problems = pipelineProblems(
      {
        ...spec,
        pipeline: { ...spec.pipeline, schedules: [sched({ cron: '30 2 * * *', timeZone: 'Europe/Berlin' })] },
      },
      { now: NOW },
    );
    expect(problems.map((p) => [p.severity, p.path])).toEqual([['warning', ['pipeline', 'schedules', 0, 'cron']]]);
  });
});

function sched(o: Partial<Record<string, unknown>> = {}) {
  return {
    name: 'nightly',
    step: 'preprocess',
    cron: '0 3 * * *',
    timeZone: 'Etc/UTC',
    paused: false,
    retry: {},
    ...o,
  } as never;
}

describe('GIVEN a schedule inside an hour that daylight saving time skips and repeats', () => {
  test('THEN the loader warns with the dates and times it hits (synth goes on); a time outside that hour is quiet', () => {
    const file = path.join(tmp, 'p.yaml');
    const warningsOf = (cron: string) => {
      fs.writeFileSync(
        file,
        SPEC(`    - { name: nightly, step: preprocess, cron: "${cron}", timeZone: Europe/Berlin }`),
      );
      const warnings: string[] = [];
      loadSpecFile(file, { now: NOW, onWarning: (w) => warnings.push(formatProblem({ ...w, file: 'p.yaml' })) });
      return warnings;
    };
    expect(warningsOf('30 2 * * *')).toEqual([
      expect.stringMatching(
        /^p\.yaml:\d+:\d+: pipeline\.schedules\[0\]\.cron: fires inside a daylight saving time change of Europe\/Berlin: skipped on 2027-03-28 \(02:30 in 02:00-03:00\); repeated on 2027-10-31 \(02:30 in 02:00-03:00\)\. Cloud Scheduler may skip, delay or repeat those firings/,
      ),
    ]);
    expect(warningsOf('0 3 * * *')).toEqual([]);
  });
});
