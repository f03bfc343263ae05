import { status } from '@grpc/grpc-js';
import type { CreateTaskRequest } from '../../lib/seeder/requests';
import { NOT_ATTEMPTED, backoffMs, seedTasks, statusName, type TaskCreator } from '../../lib/seeder/seeder';
import { manyTasks, seedTask } from './fixtures';

/**
 * A client double that answers from a script per task name: a list of gRPC codes to fail with before succeeding
 * (or a code to fail with for ever). It records every call, so the tests see exactly what the seeder did.
 */
class ScriptedClient implements TaskCreator {
  readonly calls: { name: string; options: unknown }[] = [];
  inFlight = 0;
  maxInFlight = 0;
  constructor(private readonly script: (name: string, attempt: number) => number | undefined = () => undefined) {}
  async createTask(request: CreateTaskRequest, options: { retry: null; timeout: number }): Promise<unknown> {
    const name = request.task?.name ?? '';
    this.calls.push({ name, options });
    const attempt = this.calls.filter((c) => c.name === name).length;
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    await new Promise((resolve) => setImmediate(resolve));
    this.inFlight--;
    const code = this.script(name, attempt);
    if (code !== undefined)
      throw Object.assign(new Error(`${code} ${statusName(code)}: scripted`), { code, details: `scripted ${code}` });
    return [{ name }];
  }
}

const fast = { initialBackoffMs: 1, maxBackoffMs: 2 };

/** A virtual clock: `sleep` moves it forward at once, so retries over minutes take no wall time. */
function virtualClock() {
  let t = 1_000_000;
  return {
    now: () => t,
    advance: (ms: number) => void (t += ms),
    sleep: async (ms: number) => {
      t += ms;
      await new Promise((resolve) => setImmediate(resolve));
    },
  };
}

describe('seedTasks', () => {
  test('GIVEN a healthy service THEN every task is created once, with the library retries turned off', async () => {
    const client = new ScriptedClient();
    const tasks = manyTasks(25);

    const result = await seedTasks(tasks, [client], fast);

    expect(result).toMatchObject({ total: 25, created: 25, alreadyPresent: 0, failed: 0, retries: 0, failures: [] });
    expect(client.calls.map((c) => c.name).sort()).toEqual(tasks.map((t) => `${t.queue}/tasks/${t.taskId}`).sort());
    expect(client.calls[0].options).toEqual({ retry: null, timeout: 30_000 });
  });

  test('ALREADY_EXISTS counts as done, not as a failure', async () => {
    const client = new ScriptedClient((name) => (name.endsWith('item-1') ? status.ALREADY_EXISTS : undefined));
    const result = await seedTasks(manyTasks(3), [client], fast);
    expect(result).toMatchObject({ created: 2, alreadyPresent: 1, failed: 0 });
  });

  test.each([status.UNAVAILABLE, status.DEADLINE_EXCEEDED, status.RESOURCE_EXHAUSTED, status.ABORTED, status.INTERNAL])(
    'retryable status %i is retried until it succeeds',
    async (code) => {
      const client = new ScriptedClient((_name, attempt) => (attempt <= 2 ? code : undefined));
      const result = await seedTasks([seedTask('a')], [client], fast);
      expect(result).toMatchObject({ created: 1, failed: 0, retries: 2 });
      expect(client.calls).toHaveLength(3);
    },
  );

  test.each([
    status.INVALID_ARGUMENT,
    status.PERMISSION_DENIED,
    status.NOT_FOUND,
    status.FAILED_PRECONDITION,
    status.UNKNOWN,
  ])('non-retryable status %i fails the task at once (no propagation wait)', async (code) => {
    const client = new ScriptedClient(() => code);
    const result = await seedTasks([seedTask('a')], [client], { ...fast, propagationWaitMs: 0 });
    expect(result).toMatchObject({ created: 0, failed: 1, retries: 0 });
    expect(result.failures[0]).toMatchObject({ code, message: `scripted ${code}`, attempts: 1 });
  });

  test.each([status.PERMISSION_DENIED, status.NOT_FOUND])(
    'status %i is retried while IAM/queue changes may still be propagating, outside the maxAttempts budget',
    async (code) => {
      const client = new ScriptedClient((_name, attempt) => (attempt <= 3 ? code : undefined));
      const notices: string[] = [];
      const result = await seedTasks([seedTask('a'), seedTask('b')], [client], {
        ...fast,
        maxAttempts: 1,
        propagationWaitMs: 60_000,
        onPropagationWait: (name, message) => notices.push(`${name}: ${message}`),
      });
      expect(result).toMatchObject({ created: 2, failed: 0, retries: 6 });
      expect(notices).toEqual([`${statusName(code)}: scripted ${code}`]);
    },
  );

  test('after the propagation window, PERMISSION_DENIED is final', async () => {
    const client = new ScriptedClient(() => status.PERMISSION_DENIED);
    const result = await seedTasks([seedTask('a')], [client], { ...fast, propagationWaitMs: 30 });
    expect(result).toMatchObject({ created: 0, failed: 1 });
    expect(result.failures[0]).toMatchObject({ code: status.PERMISSION_DENIED, message: 'scripted 7' });
    expect(client.calls.length).toBeGreaterThan(1);
  });

  test('attempts are capped at maxAttempts; the failure keeps the last status and message', async () => {
    const client = new ScriptedClient(() => status.UNAVAILABLE);
    const result = await seedTasks([seedTask('a'), seedTask('b')], [client], { ...fast, maxAttempts: 4 });
    expect(result).toMatchObject({ created: 0, failed: 2, retries: 6 });
    expect(result.failures.map((f) => [f.code, f.attempts, f.message])).toEqual([
      [status.UNAVAILABLE, 4, 'scripted 14'],
      [status.UNAVAILABLE, 4, 'scripted 14'],
    ]);
    expect(client.calls).toHaveLength(8);
  });

  test('no retry starts after the run deadline', async () => {
    const client = new ScriptedClient(() => status.UNAVAILABLE);
    const result = await seedTasks([seedTask('a')], [client], {
      initialBackoffMs: 50,
      maxBackoffMs: 50,
      deadlineMs: 10,
      random: () => 1,
    });
    expect(result).toMatchObject({ failed: 1, retries: 0 });
    expect(client.calls).toHaveLength(1);
  });

  test('GIVEN no --max-attempts THEN a retryable error is retried until it succeeds, however many attempts that takes', async () => {
    const clock = virtualClock();
    const client = new ScriptedClient((_name, attempt) => (attempt <= 30 ? status.UNAVAILABLE : undefined));
    const result = await seedTasks([seedTask('a')], [client], { now: clock.now, sleep: clock.sleep });
    expect(result).toMatchObject({ created: 1, failed: 0, retries: 30 });
    expect(client.calls).toHaveLength(31);
  });

  test('the deadline bounds the retries: past it the task fails with its last status', async () => {
    const clock = virtualClock();
    const client = new ScriptedClient(() => status.UNAVAILABLE);
    const result = await seedTasks([seedTask('a')], [client], {
      now: clock.now,
      sleep: clock.sleep,
      deadlineMs: 60_000,
    });
    expect(result).toMatchObject({ created: 0, failed: 1 });
    expect(result.failures[0]).toMatchObject({ code: status.UNAVAILABLE, message: 'scripted 14' });
    expect(client.calls.length).toBeGreaterThan(10);
    expect(result.elapsedMs).toBeLessThanOrEqual(60_000);
  });

  test('tasks not started by the deadline are not attempted, and are reported as such', async () => {
    const clock = virtualClock();
    const calls: string[] = [];
    const slow: TaskCreator = {
      createTask: async (request) => {
        calls.push(request.task?.name ?? '');
        clock.advance(1000);
        return [{}];
      },
    };
    const result = await seedTasks(manyTasks(5), [slow], {
      now: clock.now,
      sleep: clock.sleep,
      concurrency: 1,
      deadlineMs: 2500,
    });
    expect(calls).toHaveLength(3);
    expect(result).toMatchObject({ created: 3, failed: 2 });
    expect(result.failures.map((f) => [f.task.seedId, f.attempts, f.message])).toEqual([
      ['item-3', 0, NOT_ATTEMPTED],
      ['item-4', 0, NOT_ATTEMPTED],
    ]);
  });

  test('an option passed as undefined keeps its default (an unset CLI flag)', async () => {
    const client = new ScriptedClient((_name, attempt) => (attempt <= 9 ? status.UNAVAILABLE : undefined));
    const result = await seedTasks([seedTask('a')], [client], {
      ...fast,
      maxAttempts: undefined,
      deadlineMs: undefined,
    });
    expect(result).toMatchObject({ created: 1, retries: 9 });
  });

  test('calls in flight never exceed the concurrency, also while tasks back off, and are spread over all clients', async () => {
    const total = { inFlight: 0, max: 0 };
    // Each task's first call fails, whichever client it reaches: every task backs off once.
    const seen = new Set<string>();
    const failFirst = (name: string) => (seen.has(name) ? undefined : (seen.add(name), status.UNAVAILABLE));
    const clients = [0, 1, 2].map(() => {
      const c = new ScriptedClient(failFirst);
      const create = c.createTask.bind(c);
      c.createTask = async (...args) => {
        total.max = Math.max(total.max, ++total.inFlight);
        try {
          return await create(...args);
        } finally {
          total.inFlight--;
        }
      };
      return c;
    });
    const result = await seedTasks(manyTasks(200), clients, { ...fast, concurrency: 7 });
    expect(result).toMatchObject({ created: 200, retries: 200 });
    expect(total.max).toBe(7);
    for (const c of clients) expect(c.calls.length).toBeGreaterThan(0);
  });

  test('onSettled reports growing counts, ending with all settled', async () => {
    const seen: number[] = [];
    await seedTasks(manyTasks(5), [new ScriptedClient()], {
      ...fast,
      onSettled: (c) => seen.push(c.created + c.alreadyPresent + c.failed),
    });
    expect(seen).toEqual([1, 2, 3, 4, 5]);
  });
});

describe('backoffMs', () => {
  test('full jitter under an exponential cap', () => {
    expect([1, 2, 3, 4, 10].map((n) => backoffMs(n, 100, 5000, () => 0.999999))).toEqual([99, 199, 399, 799, 4999]);
    expect(backoffMs(3, 100, 5000, () => 0)).toBe(0);
  });
});

test('statusName', () => {
  expect(statusName(14)).toBe('UNAVAILABLE (14)');
  expect(statusName(undefined)).toBe('no gRPC status');
});
