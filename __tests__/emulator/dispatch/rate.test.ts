/**
 * Rate limits at scale, on the emulator's own clock (a ManualClock) with an instant fake worker: per queue, the
 * dispatches in any window never exceed max_burst_size + rate x window, and when the event loop stalls the queues fall
 * behind evenly instead of catching up in bursts. The wall-clock ceiling is measured by the benchmark
 * (docs/BENCHMARKS.md), not here.
 */
import { ManualClock } from '../../../lib/emulator/clock';
import { Dispatcher, type AttemptSender } from '../../../lib/emulator/dispatch/dispatcher';
import { EmulatorState } from '../../../lib/emulator/state';
import { PARENT, queueName } from '../helpers';

const instantWorker: AttemptSender = {
  send: () => Promise.resolve({ status: 200, timedOut: false }),
  close: () => undefined,
};
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

async function run(queues: number, rate: number, seconds: number, stallEveryMs: number, stallMs: number) {
  const clock = new ManualClock(Date.UTC(2030, 0, 1));
  const state = new EmulatorState({ clock });
  const dispatcher = new Dispatcher(state, { sender: instantWorker });
  const times = new Map<string, number[]>();
  dispatcher.onDispatchEvent((e) => {
    if (e.event !== 'dispatched') return;
    const list = times.get(e.queue) ?? [];
    list.push(clock.now());
    times.set(e.queue, list);
  });
  const names: string[] = [];
  for (let q = 0; q < queues; q++) {
    const name = state.createQueue(PARENT, {
      name: queueName(`rate-${q}`),
      rateLimits: { maxDispatchesPerSecond: rate, maxConcurrentDispatches: 5000 },
    }).name;
    state.pauseQueue(name);
    for (let i = 0; i < rate * (seconds + 1); i++)
      state.createTask(name, { httpRequest: { url: 'http://127.0.0.1:9/' } });
    names.push(name);
  }
  // Idle for a while: the buckets are full when the queues resume.
  clock.advance(1000);
  for (const name of names) state.resumeQueue(name);
  const start = clock.now();
  const stalls: number[] = [];
  while (clock.now() - start < seconds * 1000) {
    await turn();
    if (stallEveryMs > 0 && (clock.now() - start) % stallEveryMs === stallEveryMs - 1) {
      clock.stall(stallMs);
      stalls.push(clock.now());
    } else clock.advance(1);
  }
  await turn();
  await dispatcher.stop();
  const burst = state.getQueue(names[0]).rateLimits.maxBurstSize;
  return { times: names.map((n) => times.get(n) ?? []), burst, stalls, start };
}

/** The largest excess over burst + rate x window, over every window that starts and ends at a dispatch. */
function worstExcess(times: readonly number[], rate: number, burst: number): number {
  let worst = -Infinity;
  for (let i = 0; i < times.length; i++)
    for (let j = i; j < times.length; j++)
      worst = Math.max(worst, j - i + 1 - (burst + (rate * (times[j] - times[i])) / 1000));
  return worst;
}

test('GIVEN a loaded event loop (stalls of 250 ms) WHEN 4 queues at 500/s dispatch THEN no window exceeds burst + rate x window, and no queue bursts after a stall', async () => {
  const rate = 500;
  const { times, burst, stalls } = await run(4, rate, 3, 400, 250);
  expect(burst).toBe(100);
  for (const t of times) {
    expect(worstExcess(t, rate, burst)).toBeLessThanOrEqual(0);
    // Right after each stall a queue sends its catch-up credit (100 ms of tokens, 50), not a bucket of 100.
    for (const s of stalls) expect(t.filter((x) => x >= s && x < s + 20).length).toBeLessThanOrEqual(50 + 10 + 1);
  }
  // Falling behind evenly: every queue sent about as many as the others.
  const counts = times.map((t) => t.length);
  expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(2);
  // Behind the schedule (the stalls cost time), but not stopped: over 3 s, 100 (the first burst) + 1,500 at most.
  for (const c of counts) {
    expect(c).toBeLessThan(burst + rate * 3);
    expect(c).toBeGreaterThan(rate * 1.5);
  }
}, 60_000);

test('GIVEN an unloaded event loop WHEN a queue dispatches at 500/s THEN it keeps the configured rate after its first burst', async () => {
  const rate = 500;
  const { times, burst, start } = await run(1, rate, 2, 0, 0);
  const t = times[0];
  expect(worstExcess(t, rate, burst)).toBeLessThanOrEqual(0);
  // The first burst at once, then the rate: over [start + 1 s, start + 2 s) exactly 500.
  expect(t.filter((x) => x === start).length).toBe(burst);
  expect(t.filter((x) => x >= start + 1000 && x < start + 2000).length).toBeGreaterThanOrEqual(rate - 1);
  expect(t.filter((x) => x >= start + 1000 && x < start + 2000).length).toBeLessThanOrEqual(rate + 1);
}, 60_000);
