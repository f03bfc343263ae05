/**
 * `npx tsx bench/emulator-dispatch.ts [--rates 50,200,500] [--seconds 4] [--queues 1] [--concurrency 1000]`
 *
 * Measures the dispatch rate a worker observes against the configured max_dispatches_per_second. For each rate it
 * starts the emulator (dispatching) and a loopback HTTP target in this process, creates `--queues` new queues and
 * at once enough tasks for `--seconds` of dispatch, and records when each request arrives. Two rates per queue:
 * overall, (n - 1) / (last - first) over every arrival; steady, the same after the first second (connections being
 * opened). CPU time of the process is printed too.
 */
import { createServer } from 'node:http';
import { startEmulator } from '../lib/emulator/server';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

async function main(): Promise<void> {
  const rates = arg('rates', '50,200,500').split(',').map(Number);
  const seconds = Number(arg('seconds', '4'));
  const queues = Number(arg('queues', '1'));
  const concurrency = Number(arg('concurrency', '1000'));

  const arrivals = new Map<string, number[]>();
  const target = createServer((req, res) => {
    const q = (req.url ?? '/').split('/')[1];
    let list = arrivals.get(q);
    if (!list) arrivals.set(q, (list = []));
    list.push(performance.now());
    req.resume();
    req.on('end', () => res.writeHead(200).end());
  });
  await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
  const port = (target.address() as { port: number }).port;

  console.log(`queues=${queues} seconds=${seconds} concurrency=${concurrency}`);
  console.log('configured/s  overall/s (min..max)  steady/s (min..max)  worst error  cpu ms/s');
  for (const rate of rates) {
    arrivals.clear();
    const emulator = await startEmulator({ port: 0, dispatch: true });
    const parent = 'projects/bench/locations/us-central1';
    const names: string[] = [];
    for (let q = 0; q < queues; q++) {
      const name = emulator.state.createQueue(parent, {
        name: `${parent}/queues/r${rate}-q${q}`,
        rateLimits: { maxDispatchesPerSecond: rate, maxConcurrentDispatches: concurrency },
      }).name;
      names.push(name);
    }
    const perQueue = Math.ceil(rate * seconds) + 1;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (const [q, name] of names.entries())
      for (let i = 0; i < perQueue; i++)
        emulator.state.createTask(name, { httpRequest: { url: `http://127.0.0.1:${port}/q${q}/${i}` } });
    const expected = perQueue * queues;
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        let n = 0;
        for (const a of arrivals.values()) n += a.length;
        if (n >= expected || performance.now() - t0 > (seconds * 4 + 10) * 1000) {
          clearInterval(timer);
          resolve();
        }
      }, 50);
    });
    const elapsed = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const rateOf = (a: number[]) => (a.length - 1) / ((a[a.length - 1] - a[0]) / 1000);
    const overall = [...arrivals.values()].map(rateOf);
    const steady = [...arrivals.values()].map((all) => rateOf(all.filter((t) => t >= all[0] + 1000)));
    const range = (xs: number[]) => `${Math.min(...xs).toFixed(1)}..${Math.max(...xs).toFixed(1)}`;
    const worst = Math.max(...[...overall, ...steady].map((x) => Math.abs(x - rate) / rate));
    console.log(
      `${String(rate).padStart(12)}  ${range(overall).padEnd(20)}  ${range(steady).padEnd(19)}  ${(worst * 100).toFixed(2).padStart(10)}%  ${((cpu.user + cpu.system) / 1000 / elapsed).toFixed(0).padStart(8)}`,
    );
    await emulator.stop();
  }
  target.close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
