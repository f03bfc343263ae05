/**
 * The state model on its own, on a manual clock: what the dispatcher and the persistence layer build on.
 */
import { status } from '@grpc/grpc-js';
import { ManualClock } from '../../lib/emulator/clock';
import { EmulatorError } from '../../lib/emulator/errors';
import type { EmulatorEvent } from '../../lib/emulator/model';
import { EmulatorState, maxBurstSizeFor } from '../../lib/emulator/state';
import { PARENT, queueName, taskName } from './helpers';

const http = { httpRequest: { url: 'http://127.0.0.1:9/w' } };

function setup(generateTaskId?: () => string) {
  const clock = new ManualClock(Date.UTC(2030, 5, 1));
  const state = new EmulatorState({ clock, generateTaskId });
  state.createQueue(PARENT, { name: queueName('q') });
  return { clock, state };
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof EmulatorError) return err.codeName;
    throw err;
  }
  return 'OK';
}

describe('EmulatorState', () => {
  test('emits one event per change, after the change', () => {
    const { state } = setup();
    const events: EmulatorEvent[] = [];
    state.onEvent((e) => events.push(e));

    state.createQueue(PARENT, { name: queueName('ev') });
    const task = state.createTask(queueName('ev'), { name: taskName('ev', 'a'), ...http });
    state.pauseQueue(queueName('ev'));
    state.resumeQueue(queueName('ev'));
    state.runTask(task.name);
    state.deleteTask(task.name);
    state.createTask(queueName('ev'), { name: taskName('ev', 'b'), ...http });
    state.purgeQueue(queueName('ev'));
    state.deleteQueue(queueName('ev'));

    expect(events.map((e) => e.type)).toEqual([
      'queue-created',
      'task-created',
      'queue-paused',
      'queue-resumed',
      'task-run',
      'task-removed',
      'task-created',
      'task-removed',
      'queue-purged',
      'queue-deleted',
    ]);
    expect(events.filter((e) => e.type === 'task-removed').map((e) => (e as { reason: string }).reason)).toEqual([
      'deleted',
      'purged',
    ]);
    expect(events[2]).toMatchObject({ queue: { state: 'PAUSED' } });
  });

  test('a failing listener does not fail the call', () => {
    const { state } = setup();
    const spy = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    state.onEvent(() => {
      throw new Error('listener bug');
    });
    expect(state.createTask(queueName('q'), http).queueName).toBe(queueName('q'));
    expect(spy).toHaveBeenCalledWith(expect.stringMatching(/event listener failed on task-created/), expect.any(Error));
    spy.mockRestore();
  });

  test('dispatcher hooks: dispatch, response, reschedule and completion update the counters and attempts', () => {
    const { clock, state } = setup();
    const task = state.createTask(queueName('q'), { name: taskName('q', 'd'), ...http });
    const scheduled = task.scheduleTimeMs;

    clock.advance(1000);
    state.recordDispatch(task.name);
    clock.advance(200);
    state.recordResponse(task.name, { code: 14, message: 'HTTP 503' });
    expect(state.getTask(task.name)).toMatchObject({
      dispatchCount: 1,
      responseCount: 1,
      firstAttempt: { dispatchTimeMs: scheduled + 1000 },
      lastAttempt: {
        scheduleTimeMs: scheduled,
        dispatchTimeMs: scheduled + 1000,
        responseTimeMs: scheduled + 1200,
        responseStatus: { code: 14, message: 'HTTP 503' },
      },
    });
    expect(state.getTask(task.name).firstAttempt).toEqual({ dispatchTimeMs: scheduled + 1000 });

    state.rescheduleTask(task.name, scheduled + 10_000);
    clock.advance(10_000);
    state.recordDispatch(task.name);
    // A deadline miss is not a response (task.proto response_count).
    state.recordResponse(task.name, { code: 4, message: 'dispatch deadline exceeded' }, false);
    expect(state.getTask(task.name)).toMatchObject({
      dispatchCount: 2,
      responseCount: 1,
      scheduleTimeMs: scheduled + 10_000,
      firstAttempt: { dispatchTimeMs: scheduled + 1000 },
      lastAttempt: { scheduleTimeMs: scheduled + 10_000, responseStatus: { code: 4 } },
    });

    state.completeTask(task.name, 'failed-permanently');
    expect(codeOf(() => state.getTask(task.name))).toBe('NOT_FOUND');
    expect(codeOf(() => state.createTask(queueName('q'), { name: task.name, ...http }))).toBe('ALREADY_EXISTS');
  });

  test('a task name is free again once the dedup window has passed; GetTask then says plain NOT_FOUND', () => {
    const { clock, state } = setup();
    const name = taskName('q', 'window');
    state.createTask(queueName('q'), { name, ...http });
    state.deleteTask(name);
    clock.advance(3_599_000);
    expect(codeOf(() => state.createTask(queueName('q'), { name, ...http }))).toBe('ALREADY_EXISTS');
    expect(() => state.getTask(name)).toThrow(/existed recently/);
    clock.advance(1000);
    expect(() => state.getTask(name)).toThrow(/Requested entity was not found/);
    expect(state.createTask(queueName('q'), { name, ...http }).name).toBe(name);
  });

  test('ListTasks paging survives deletions (including array compaction) and concurrent creates', () => {
    const { state } = setup();
    const names = Array.from(
      { length: 3000 },
      (_, i) =>
        state.createTask(queueName('q'), { name: taskName('q', `t${String(i).padStart(4, '0')}`), ...http }).name,
    );
    const page1 = state.listTasks(queueName('q'), { pageSize: 1000 });
    expect(page1.tasks.map((t) => t.name)).toEqual(names.slice(0, 1000));
    // Delete 2,000 tasks, most of them ahead of the cursor, forcing a compaction; add 5 more.
    for (const n of names.slice(500, 2500)) state.deleteTask(n);
    const added = Array.from({ length: 5 }, () => state.createTask(queueName('q'), http).name);

    const rest: string[] = [];
    let pageToken = page1.nextPageToken;
    while (pageToken) {
      const page = state.listTasks(queueName('q'), { pageSize: 300, pageToken });
      rest.push(...page.tasks.map((t) => t.name));
      pageToken = page.nextPageToken;
    }
    expect(rest).toEqual([...names.slice(2500), ...added]);
    expect(state.tasksOf(queueName('q'))).toHaveLength(1000 + 5);
  });

  test('page_size above the maximum is capped (1,000 tasks); a negative one is INVALID_ARGUMENT', () => {
    const { state } = setup();
    for (let i = 0; i < 1001; i++) state.createTask(queueName('q'), http);
    const page = state.listTasks(queueName('q'), { pageSize: 5000 });
    expect(page.tasks).toHaveLength(1000);
    expect(page.nextPageToken).not.toBe('');
    expect(codeOf(() => state.listTasks(queueName('q'), { pageSize: -1 }))).toBe('INVALID_ARGUMENT');
  });

  test('a page token only works for the queue it was issued for', () => {
    const { state } = setup();
    state.createQueue(PARENT, { name: queueName('q2') });
    for (let i = 0; i < 3; i++) state.createTask(queueName('q'), http);
    const { nextPageToken } = state.listTasks(queueName('q'), { pageSize: 1 });
    expect(() => state.listTasks(queueName('q2'), { pageToken: nextPageToken })).toThrow(
      /issued for a different queue/,
    );
  });

  test('generated ids that collide with a live or reserved name are drawn again', () => {
    const ids = ['111', '111', '222', '222', '333'];
    const { state } = setup(() => ids.shift()!);
    expect(state.createTask(queueName('q'), http).taskId).toBe('111');
    expect(state.createTask(queueName('q'), http).taskId).toBe('222');
    state.deleteTask(taskName('q', '222'));
    expect(state.createTask(queueName('q'), http).taskId).toBe('333');
  });

  test('the 1,001st queue in a location is RESOURCE_EXHAUSTED (quota: 1,000 per project per region)', () => {
    const state = new EmulatorState({ clock: new ManualClock() });
    for (let i = 0; i < 1000; i++) state.createQueue(PARENT, { name: queueName(`q${i}`) });
    const err = (() => {
      try {
        state.createQueue(PARENT, { name: queueName('one-too-many') });
      } catch (e) {
        return e as EmulatorError;
      }
      return undefined;
    })();
    expect(err?.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(err?.message).toMatch(
      /already has 1000 queues; the Cloud Tasks quota is 1000 queues per project per region/,
    );
    expect(
      state.createQueue('projects/demo-project/locations/europe-west1', {
        name: 'projects/demo-project/locations/europe-west1/queues/q0',
      }).state,
    ).toBe('RUNNING');
  });

  test('max_burst_size follows the documented heuristic: 100 for the default 500/s, at least 10', () => {
    expect([0.5, 1, 50, 100, 500].map(maxBurstSizeFor)).toEqual([10, 10, 10, 20, 100]);
  });

  test('setQueueHttpTarget attaches a queue-level HTTP target, an UpdateQueue mask keeps it, and it can be removed', () => {
    const { state } = setup();
    const target = {
      uriOverride: { host: '127.0.0.1', port: 8080, scheme: 'HTTP' as const },
      oidcToken: { serviceAccountEmail: 'a@b.iam.gserviceaccount.com' },
    };
    expect(state.setQueueHttpTarget(queueName('q'), target).httpTarget).toEqual(target);
    expect(state.getQueue(queueName('q')).httpTarget).toEqual(target);
    // An UpdateQueue whose mask does not name http_target keeps it; an empty mask replaces every field.
    state.updateQueue({ name: queueName('q'), rateLimits: { maxDispatchesPerSecond: 3 } }, ['rate_limits']);
    expect(state.getQueue(queueName('q')).httpTarget).toEqual(target);
    state.updateQueue({ name: queueName('q'), httpTarget: { httpMethod: 'PUT' } }, ['http_target.http_method']);
    expect(state.getQueue(queueName('q')).httpTarget).toEqual({ ...target, httpMethod: 'PUT' });
    state.updateQueue({ name: queueName('q') }, []);
    expect(state.getQueue(queueName('q')).httpTarget).toBeUndefined();
    state.setQueueHttpTarget(queueName('q'), target);
    expect(state.setQueueHttpTarget(queueName('q'), undefined).httpTarget).toBeUndefined();
    expect(() => state.setQueueHttpTarget(queueName('q'), { httpMethod: 'TRACE' as never })).toThrow(
      /queue.httpTarget.httpMethod = "TRACE": use one of POST/,
    );
  });

  test('rows and load keep queues, tasks (with bodies and counters), reserved names, IAM and the creation order', () => {
    const { clock, state } = setup();
    state.pauseQueue(queueName('q'));
    state.setQueueHttpTarget(queueName('q'), { uriOverride: { host: 'localhost' } });
    state.setIamPolicy(queueName('q'), { bindings: [{ role: 'roles/cloudtasks.viewer', members: ['user:a@b.c'] }] });
    const kept = state.createTask(queueName('q'), {
      name: taskName('q', 'kept'),
      httpRequest: { url: 'http://x.test/', body: Buffer.from('payload') },
    });
    state.recordDispatch(kept.name);
    state.createTask(queueName('q'), { name: taskName('q', 'gone'), ...http });
    state.deleteTask(taskName('q', 'gone'));
    state.createQueue(PARENT, { name: queueName('dropped') });
    state.deleteQueue(queueName('dropped'));

    const rows = state.rows();
    const restored = new EmulatorState({ clock });
    restored.load(rows);

    expect(restored.getQueue(queueName('q'))).toEqual(state.getQueue(queueName('q')));
    expect(restored.getIamPolicy(queueName('q'))).toEqual(state.getIamPolicy(queueName('q')));
    expect(restored.getTask(kept.name)).toEqual(state.getTask(kept.name));
    expect(restored.getTask(kept.name).httpRequest.body.toString()).toBe('payload');
    expect(codeOf(() => restored.createTask(queueName('q'), { name: taskName('q', 'gone'), ...http }))).toBe(
      'ALREADY_EXISTS',
    );
    expect(codeOf(() => restored.createQueue(PARENT, { name: queueName('dropped') }))).toBe('FAILED_PRECONDITION');
    const later = restored.createTask(queueName('q'), http);
    expect(later.seq).toBeGreaterThan(kept.seq);
    expect(restored.tasksOf(queueName('q')).map((t) => t.name)).toEqual([kept.name, later.name]);
    expect(() => restored.load(rows)).toThrow(/needs an empty state/);
  });
});

describe('ManualClock', () => {
  test('fires timers in time order as it advances, each at its own time', () => {
    const clock = new ManualClock(0);
    const fired: Array<[string, number]> = [];
    clock.setTimer(() => fired.push(['b', clock.now()]), 200);
    clock.setTimer(() => fired.push(['a', clock.now()]), 100);
    const cancel = clock.setTimer(() => fired.push(['cancelled', clock.now()]), 150);
    cancel();
    clock.advance(150);
    expect(fired).toEqual([['a', 100]]);
    clock.advance(100);
    expect(fired).toEqual([
      ['a', 100],
      ['b', 200],
    ]);
    expect(clock.now()).toBe(250);
    expect(() => clock.advance(-1)).toThrow(/does not go back/);
  });
});
