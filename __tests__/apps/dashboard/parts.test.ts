/**
 * The dashboard's parts on their own: the task activity on a manual clock (phases, the dispatch rate window, the
 * history bound, coalesced change notices), the redaction of bodies and headers with the policy pack's detector, the
 * pipeline read from a stack without a routes output, the run id of a task as the worker SDK reads it, and the page
 * bundle's build (skipped when nothing changed).
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TaskActivity, type ChangeListener } from '../../../lib/apps/dashboard/activity';
import type { ChangeEvent } from '../../../lib/apps/dashboard/api-types';
import { loadDashboardAssets } from '../../../lib/apps/dashboard/assets';
import { pipelineOfStack, schedulerJobs } from '../../../lib/apps/dashboard/pipeline';
import { previewBody, redactSecrets, safeHeaders } from '../../../lib/apps/dashboard/redact';
import { runOfTask } from '../../../lib/apps/dashboard/runs';
import { ENVELOPE_FORMAT } from '../../../lib/core/ledger-layout';
import { readSynthesizedStack } from '../../../lib/core/synthesized-stack';
import { ManualClock } from '../../../lib/emulator/clock';
import type { DispatchEvent, DispatchEventListener } from '../../../lib/emulator/dispatch/events';
import type { Dispatcher } from '../../../lib/emulator/dispatch/dispatcher';
import type { Task } from '../../../lib/emulator/model';
import { EmulatorState } from '../../../lib/emulator/state';
import { buildDashboardBundle } from '../../../scripts/dashboard-bundle';
import { writeStackFixture } from './fixtures';

const QUEUE = 'projects/p/locations/us-central1/queues/q-train';

/** A state on a manual clock and a stand-in dispatcher whose events the test sends. */
function setup(o: { maxFinishedTasks?: number } = {}) {
  const clock = new ManualClock(Date.UTC(2030, 0, 1));
  const state = new EmulatorState({ clock });
  state.createQueue('projects/p/locations/us-central1', { name: QUEUE });
  const listeners: DispatchEventListener[] = [];
  const dispatcher = {
    onDispatchEvent: (l: DispatchEventListener) => {
      listeners.push(l);
      return () => undefined;
    },
  } as unknown as Dispatcher;
  const activity = new TaskActivity({
    state,
    dispatcher,
    stepOf: (q) => (q === QUEUE ? 'train' : undefined),
    runOf: runOfTask,
    flushMs: 100,
    ...o,
  });
  const send = (task: Task, event: DispatchEvent['event'], fields: Partial<DispatchEvent> = {}) => {
    const e: DispatchEvent = {
      ts: new Date(clock.now()).toISOString(),
      queue: task.queueName,
      task: task.taskId,
      event,
      ...fields,
    };
    for (const l of listeners) l(e, task);
  };
  const create = (id: string, body: unknown = {}) =>
    state.createTask(QUEUE, {
      name: `${QUEUE}/tasks/${id}`,
      httpRequest: { url: 'https://train.example.com/', body: Buffer.from(JSON.stringify(body)) },
    });
  return { clock, state, activity, send, create };
}

describe('TaskActivity', () => {
  test('a task goes pending -> running -> retrying -> running -> succeeded, and its attempts keep their outcomes', () => {
    const { clock, state, activity, send, create } = setup();
    const task = create('0123456789abcdef-run-1');
    expect(activity.task(task.name)).toMatchObject({ phase: 'pending', runId: 'run-1', step: 'train' });
    send(task, 'dispatched', { attempt: 1 });
    expect(activity.task(task.name)?.phase).toBe('running');
    clock.advance(30);
    send(task, 'failed', { attempt: 1, status: 503, latencyMs: 30 });
    send(task, 'retry-scheduled', { attempt: 1, nextAttemptAt: new Date(clock.now() + 1000).toISOString() });
    expect(activity.task(task.name)?.phase).toBe('retrying');
    clock.advance(1000);
    send(task, 'dispatched', { attempt: 2 });
    clock.advance(20);
    send(task, 'succeeded', { attempt: 2, status: 200, latencyMs: 20 });
    state.completeTask(task.name, 'succeeded');
    const r = activity.task(task.name)!;
    expect(r.phase).toBe('succeeded');
    expect(r.attempts.map((a) => [a.attempt, a.outcome, a.status, a.endedAtMs! - a.dispatchedAtMs])).toEqual([
      [1, 'failed', 503, 30],
      [2, 'succeeded', 200, 20],
    ]);
    expect(r.attempts[0].nextAttemptAtMs! - r.attempts[0].endedAtMs!).toBe(1000);
    expect(activity.countsOf(QUEUE)).toMatchObject({ succeeded: 1, pending: 0, running: 0, retrying: 0 });
    expect(activity.depthOf(QUEUE)).toBe(0);
    expect(activity.tasksOfRun('run-1').map((t) => t.name)).toEqual([task.name]);
  });

  test('the dispatch rate is averaged over the last 10 seconds', () => {
    const { clock, activity, send, create } = setup();
    for (let i = 0; i < 50; i++) {
      send(create(`t${i}`), 'dispatched', { attempt: 1 });
      clock.advance(100);
    }
    // 50 dispatches in the last 5 s, averaged over 10 s.
    expect(activity.dispatchRateOf(QUEUE)).toBe(5);
    clock.advance(10_000);
    expect(activity.dispatchRateOf(QUEUE)).toBe(0);
  });

  test('finished tasks beyond the bound are forgotten oldest first; live ones never', () => {
    const { state, activity, create } = setup({ maxFinishedTasks: 2 });
    const tasks = ['a', 'b', 'c'].map((id) => create(id));
    const live = create('d');
    for (const t of tasks) state.deleteTask(t.name);
    expect(activity.task(tasks[0].name)).toBeUndefined();
    expect(activity.task(tasks[1].name)?.phase).toBe('deleted');
    expect(activity.task(tasks[2].name)?.removedBy).toBe('DeleteTask');
    expect(activity.task(live.name)?.phase).toBe('pending');
    expect(activity.countsOf(QUEUE)).toMatchObject({ deleted: 3, pending: 1 });
  });

  test('changes are collected and sent once per interval, only while someone listens', () => {
    const { clock, activity, create, state } = setup();
    create('before-anyone-listens');
    const changes: ChangeEvent[] = [];
    const listener: ChangeListener = (c) => changes.push(c);
    const stop = activity.onChange(listener);
    for (let i = 0; i < 20; i++) create(`t${i}`, { runId: `r${i % 2}`, lineage: ['ingest'], payload: {} });
    expect(changes).toHaveLength(0);
    clock.advance(100);
    expect(changes).toEqual([{ queues: [QUEUE], runs: ['r0', 'r1'], allRuns: false, pipeline: true }]);
    state.pauseQueue(QUEUE);
    clock.advance(100);
    expect(changes[1]).toEqual({ queues: [QUEUE], runs: [], allRuns: false, pipeline: true });
    stop();
    create('after');
    clock.advance(1000);
    expect(changes).toHaveLength(2);
  });
});

describe('runOfTask: the run id as the worker SDK reads it', () => {
  const task = (taskId: string, body: unknown) => ({
    taskId,
    httpRequest: { body: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)) } as Task['httpRequest'],
  });
  test.each([
    ['a seed task: the seed id after the hash', task('0123456789abcdef-nightly-7', { dataset: 'x' }), 'nightly-7'],
    ['an older worker message', task('f00', { runId: 'r-9', lineage: ['ingest'], payload: {} }), 'r-9'],
    [
      'a ledger envelope',
      task('f00', { envelope: ENVELOPE_FORMAT, runId: 'r-3', step: 's', shard: '0.1', generation: 0, payload: {} }),
      'r-3',
    ],
    [
      'an envelope that starts a run',
      task('0123456789abcdef-seed', {
        envelope: ENVELOPE_FORMAT,
        step: 's',
        shard: '0',
        generation: 0,
        payload: {},
        source: { kind: 'schedule' },
      }),
      'seed',
    ],
    ['a hand-made task: its id', task('manual-1', 'not json'), 'manual-1'],
  ])('%s', (_what, t, runId) => {
    expect(runOfTask(t)).toBe(runId);
  });
});

describe('redaction with the policy pack detector', () => {
  test('values and keys the detector flags are replaced, the rest stays, paths and reasons are listed', () => {
    const { value, redacted } = redactSecrets({
      model: 'gs://acme/model',
      auth: { client_secret: 'x9Fq2LmZ8vPq1RtY', ghp_abcdefghijklmnopqrstuvwxyz0123456789: 'key as key' },
      tokens: 4096,
      list: [{ api_key: 'AIzaSyA1234567890abcdefghijklmnopqrstuv' }],
    });
    expect(value).toEqual({
      model: 'gs://acme/model',
      auth: { client_secret: '<redacted>', '<redacted key 1>': '<redacted>' },
      tokens: 4096,
      list: [{ api_key: '<redacted>' }],
    });
    expect(redacted.map((r) => r.path)).toEqual(['auth["<redacted key 1>"]', 'auth.client_secret', 'list[0].api_key']);
    // Reasons may name a published prefix (AIza...), never a value.
    expect(JSON.stringify(redacted)).not.toMatch(/x9Fq2LmZ|ghp_abcdef|AIzaSyA123/);
  });

  test('text bodies holding a credential are hidden whole; binary bodies are not shown', () => {
    expect(previewBody(Buffer.from('GITHUB_TOKEN=ghp_abcdefghijklmnopqrstuvwxyz0123456789'))).toMatchObject({
      kind: 'text',
      hidden: expect.stringMatching(/GitHub token/),
    });
    expect(previewBody(Buffer.from([0xff, 0xfe, 0x00, 0x81]))).toEqual({
      kind: 'binary',
      bytes: 4,
      truncated: false,
      redacted: [],
    });
    expect(previewBody(Buffer.from('plain words'))).toEqual({
      kind: 'text',
      bytes: 11,
      text: 'plain words',
      truncated: false,
      redacted: [],
    });
    expect(previewBody(Buffer.alloc(0))).toEqual({ kind: 'empty', bytes: 0, truncated: false, redacted: [] });
  });

  test('headers: Authorization never, credential values redacted', () => {
    expect(
      safeHeaders({ authorization: 'Bearer x', Cookie: 'session=abc123def456', 'Content-Type': 'application/json' }),
    ).toEqual({ Cookie: '<redacted>', 'Content-Type': 'application/json' });
  });
});

describe('the pipeline of a stack', () => {
  test('without a routes output: pipeline_graph steps and edges, parents derived, kind service, no join', () => {
    const dir = writeStackFixture({
      seeds: [
        { step: 'ingest', seedId: 's1' },
        { step: 'ingest', seedId: 's2' },
      ],
    });
    try {
      const p = pipelineOfStack({ stack: readSynthesizedStack(dir) })!;
      expect(p.stack).toBe('dag-dev');
      expect(p.steps.map((s) => [s.name, s.kind, s.join, s.parents, s.seeds, s.url])).toEqual([
        ['ingest', 'service', undefined, [], ['s1', 's2'], 'https://ingest.example.com/tasks'],
        ['featurize-a', 'service', undefined, ['ingest'], [], 'https://featurize-a.example.com/tasks'],
        ['featurize-b', 'service', undefined, ['ingest'], [], 'https://featurize-b.example.com/tasks'],
        ['train', 'service', undefined, ['featurize-a', 'featurize-b'], [], 'https://train.example.com/tasks'],
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('Cloud Scheduler jobs mark the step whose queue their Cloud Tasks API call enqueues into', () => {
    expect(
      schedulerJobs({
        resource: {
          google_cloud_scheduler_job: {
            a: {
              name: 'nightly',
              http_target: {
                uri: 'https://cloudtasks.googleapis.com/v2/projects/p/locations/l/queues/q-1/tasks:buffer',
              },
            },
            b: {
              name: '${var.x}',
              http_target: { uri: 'https://cloudtasks.googleapis.com/v2/projects/p/locations/l/queues/q-2/tasks' },
            },
            c: { name: 'elsewhere', http_target: { uri: 'https://example.com/hook' } },
          },
        },
      }),
    ).toEqual([
      { name: 'nightly', queueId: 'q-1' },
      { name: 'b', queueId: 'q-2' },
    ]);
  });
});

describe('the page bundle', () => {
  test('builds the script, the styles and their record; a second build with the same inputs is skipped', () => {
    const out = mkdtempSync(path.join(tmpdir(), 'dashboard-bundle-'));
    try {
      const first = buildDashboardBundle({ outDir: out });
      expect(first.built).toBe(true);
      const script = readFileSync(path.join(out, 'dashboard.js'), 'utf8');
      expect(statSync(path.join(out, 'dashboard.js')).size).toBe(first.bytes.script);
      // Everything bundled: no import of a module or a URL at run time.
      expect(script).not.toMatch(/\bimport\s*\(|\bfrom\s*["']|https?:\/\/(?!www\.w3\.org)/);
      expect(buildDashboardBundle({ outDir: out }).built).toBe(false);
      const assets = loadDashboardAssets(out);
      expect(assets.index).toContain(`/assets/dashboard.js?v=${first.sha256.script.slice(0, 12)}`);
      expect([...assets.files.keys()].sort()).toEqual(['dashboard.css', 'dashboard.js']);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  test('without a bundle the page says how to build it (and the API still works)', () => {
    const out = mkdtempSync(path.join(tmpdir(), 'dashboard-none-'));
    try {
      const assets = loadDashboardAssets(out);
      expect(assets.files.size).toBe(0);
      expect(assets.index).toContain('npm run build:dashboard');
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
