/**
 * The review of schedule changes: cron, zone, paused and payload (summarized, never shown), the next three fire
 * times in the schedule's zone, daylight saving notes, and the Mermaid graph marking the steps schedules start.
 */
import { Testing } from '../../../lib/cdktf/core';
import { PipelineStack } from '../../../lib/constructs/pipeline-stack';
import { reviewSynthOutputs } from '../../../lib/apps/review/review';
import { renderReviewMarkdown } from '../../../lib/apps/review/markdown';
import type { ReviewInput } from '../../../lib/apps/review/synth-output';
import { parsePipelineSpec } from '../../../lib/spec/load';

const NOW = new Date('2031-03-28T12:00:00Z');
const SECRETISH = 'gs://acme-raw/very-specific-path-that-must-not-appear/';

function output(schedules?: unknown[]): ReviewInput {
  const spec = parsePipelineSpec(
    {
      project: 'acme-ml-dev',
      region: 'us-central1',
      environment: 'dev',
      pipeline: {
        name: 'recsys',
        steps: [
          { name: 'preprocess', target: { url: 'https://preprocess.example.com/tasks' }, next: ['train'] },
          { name: 'train', target: { url: 'https://train.example.com/tasks' } },
        ],
        ...(schedules ? { schedules } : {}),
      },
    },
    {},
    { now: NOW },
  );
  const config = JSON.parse(Testing.synth(new PipelineStack(Testing.app(), 'recsys-dev', { spec, now: NOW })));
  return { dir: 'out', stacks: { 'recsys-dev': { name: 'recsys-dev', config, assets: {} } } };
}

const nightly = (o: Record<string, unknown> = {}) => ({
  name: 'nightly-retrain',
  step: 'preprocess',
  cron: '0 3 * * *',
  timeZone: 'Europe/Berlin',
  payload: { dataset: SECRETISH },
  ...o,
});

describe('GIVEN a schedule added', () => {
  const review = reviewSynthOutputs(output(), output([nightly()]), { now: NOW });
  const [stack] = review.stacks;

  test('THEN it is listed with its step, cron, zone, summarized payload and next three fire times in its zone', () => {
    expect(stack.schedules).toEqual([
      {
        name: 'nightly-retrain',
        status: 'added',
        step: 'preprocess',
        cron: '0 3 * * *',
        timeZone: 'Europe/Berlin',
        paused: false,
        payload: { sizeBytes: 68, shape: 'object {dataset}', sha256: expect.stringMatching(/^[0-9a-f]{12}$/) },
        changes: [],
        // 03:00 CET, then 03:00 CEST after the change on 2031-03-30.
        nextFireTimes: ['2031-03-29T02:00:00.000Z', '2031-03-30T01:00:00.000Z', '2031-03-31T01:00:00.000Z'],
        dst: [],
      },
    ]);
  });

  test('THEN the Markdown has a Schedules table, the graph marks the started step, and the payload is never shown', () => {
    const md = renderReviewMarkdown(review);
    expect(md).toContain('**Schedules**');
    expect(md).toContain(
      '| `nightly-retrain` | added | `preprocess` | `0 3 * * *` | `Europe/Berlin` | `68 bytes, object {dataset}, sha256 ',
    );
    expect(md).toContain('2031-03-29T02:00:00.000Z<br>2031-03-30T01:00:00.000Z<br>2031-03-31T01:00:00.000Z |');
    expect(stack.mermaid).toContain(
      'schedule_nightly_2d_retrain(["schedule nightly-retrain<br/>0 3 * * * Europe/Berlin"]) -.->|starts| step_preprocess',
    );
    expect(stack.mermaid).toContain('class schedule_nightly_2d_retrain schedule');
    // The job's body (the payload, base64-encoded inside the request) is hidden in the resource listing too.
    expect(md).toContain('http_target.body = (redacted)');
    expect(md).not.toContain(SECRETISH);
    expect(md).not.toContain(Buffer.from(SECRETISH).toString('base64').slice(0, 20));
  });
});

describe('GIVEN a schedule changed', () => {
  test('THEN cron, zone, paused and payload changes are listed, a paused one has no fire times', () => {
    const review = reviewSynthOutputs(
      output([nightly()]),
      output([nightly({ cron: '30 2 * * *', paused: true, payload: { dataset: 'gs://acme-raw/other/' } })]),
      { now: NOW },
    );
    const [x] = review.stacks[0].schedules!;
    expect(x).toMatchObject({ status: 'changed', paused: true, nextFireTimes: [] });
    expect(x.changes.map((c) => c.field)).toEqual(['cron', 'paused', 'payload']);
    expect(x.changes[0]).toEqual({ field: 'cron', before: '0 3 * * *', after: '30 2 * * *' });
    expect(x.changes[2].before).toMatch(/^68 bytes, object \{dataset\}, sha256 /);
    expect(review.stacks[0].status).toBe('changed');
    const md = renderReviewMarkdown(review);
    expect(md).toMatch(
      /`nightly-retrain`:\n```text\ncron: 0 3 \* \* \* -> 30 2 \* \* \*\npaused: false -> true\npayload: /,
    );
  });

  test('THEN a schedule in an hour the clocks skip or repeat gets a daylight saving note', () => {
    const review = reviewSynthOutputs(output([nightly()]), output([nightly({ cron: '30 2 * * *' })]), { now: NOW });
    expect(review.stacks[0].schedules![0].dst).toEqual([
      { kind: 'skipped', date: '2031-03-30', window: '02:00-03:00', times: ['02:30'] },
      { kind: 'repeated', date: '2031-10-26', window: '02:00-03:00', times: ['02:30'] },
    ]);
    expect(renderReviewMarkdown(review)).toContain(
      '> `nightly-retrain` fires in hours a daylight saving change of `Europe/Berlin` skips on 2031-03-30 (02:30 in 02:00-03:00) and repeats on 2031-10-26 (02:30 in 02:00-03:00): Cloud Scheduler may skip or repeat those firings.',
    );
  });
});

describe('GIVEN a schedule removed, and no schedules at all', () => {
  test('THEN the removed one is listed without fire times; without schedules there is no section', () => {
    const removed = reviewSynthOutputs(output([nightly()]), output(), { now: NOW });
    expect(removed.stacks[0].schedules).toEqual([
      expect.objectContaining({ name: 'nightly-retrain', status: 'removed', nextFireTimes: [] }),
    ]);
    const none = reviewSynthOutputs(output(), output(), { now: NOW });
    expect(none.stacks[0]).not.toHaveProperty('schedules');
    expect(none.hasChanges).toBe(false);
  });
});
