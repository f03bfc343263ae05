/**
 * --duplicate-rate: Cloud Tasks delivers at least once; the emulator can deliver a successful task a second time so a
 * worker's idempotency is exercised. The duplicate is the same request and changes nothing in the state.
 */
import { ManualClock } from '../../../lib/emulator/clock';
import { Dispatcher, type AttemptSender } from '../../../lib/emulator/dispatch/dispatcher';
import type { DispatchEvent } from '../../../lib/emulator/dispatch/events';
import type { SendRequest } from '../../../lib/emulator/dispatch/http-sender';
import { EmulatorState } from '../../../lib/emulator/state';
import { PARENT, queueName, seededRandom } from '../helpers';

async function deliver(duplicateRate: number, tasks: number) {
  const clock = new ManualClock(Date.UTC(2030, 0, 1));
  const state = new EmulatorState({ clock });
  const sent: SendRequest[] = [];
  const sender: AttemptSender = {
    send: (r) => {
      sent.push(r);
      return Promise.resolve({ status: 200, timedOut: false });
    },
    close: () => undefined,
  };
  const dispatcher = new Dispatcher(state, { sender, duplicateRate, random: seededRandom(7) });
  const events: DispatchEvent[] = [];
  dispatcher.onDispatchEvent((e) => events.push(e));
  const q = state.createQueue(PARENT, { name: queueName('dup') }).name;
  for (let i = 0; i < tasks; i++)
    state.createTask(q, { name: `${q}/tasks/t-${i}`, httpRequest: { url: 'http://127.0.0.1:9/' } });
  for (let i = 0; i < 100 && events.filter((e) => e.event === 'succeeded').length < tasks; i++) {
    clock.advance(10);
    await new Promise((r) => setImmediate(r));
  }
  await dispatcher.stop();
  return { sent, events, remaining: state.tasksOf(q).length };
}

test('GIVEN duplicateRate 1 WHEN tasks succeed THEN each is delivered twice with the same headers, and removed once', async () => {
  const { sent, events, remaining } = await deliver(1, 5);
  expect(remaining).toBe(0);
  expect(sent).toHaveLength(10);
  const byTask = new Map<string, SendRequest[]>();
  for (const r of sent) {
    const id = String(r.headers['X-CloudTasks-TaskName']);
    byTask.set(id, [...(byTask.get(id) ?? []), r]);
  }
  for (const [, [first, second]] of byTask) expect(second.headers).toEqual(first.headers);
  expect(events.filter((e) => e.event === 'duplicated')).toHaveLength(5);
  expect(events.filter((e) => e.event === 'succeeded')).toHaveLength(5);
});

test('GIVEN duplicateRate 0.2 WHEN 200 tasks succeed THEN about a fifth arrive twice (seeded)', async () => {
  const { sent } = await deliver(0.2, 200);
  expect(sent.length - 200).toBeGreaterThan(20);
  expect(sent.length - 200).toBeLessThan(60);
});

test('GIVEN duplicateRate 0 THEN every task is delivered once', async () => {
  expect((await deliver(0, 20)).sent).toHaveLength(20);
});
