import {
  type BenchResults,
  checkBudgets,
  linearity,
  renderReport,
  scaleChart,
  spliceGenerated,
} from '../../bench/lib/report';
import type { ScaleResult } from '../../bench/sections/scale';

const machine = {
  cpuModel: 'Test CPU',
  cores: 2,
  memoryBytes: 24 * 2 ** 30,
  os: 'Linux 6',
  node: 'v20.0.0',
  loadAverage: 1,
};
const MiB = 2 ** 20;

function scale(wallAt1000: number): ScaleResult {
  const point = (queues: number, wall: number) => ({
    queues,
    seedTasks: queues,
    wallMs: [wall],
    cpuMs: [wall],
    maxRssBytes: [(100 + queues / 10) * MiB],
    resources: queues * 4,
    outputBytes: queues * 1000,
  });
  return {
    measuredAt: '2026-11-28T20:00:00.000Z',
    command: 'node main.ts',
    points: [point(1, 800), point(10, 840), point(100, 1200), point(500, 2800), point(1000, wallAt1000)],
    load: [1, 1],
  };
}

const good: BenchResults = {
  machine,
  date: '2026-11-28T20:00:00.000Z',
  quick: false,
  synth: {
    measuredAt: '2026-11-28T20:00:00.000Z',
    rounds: 2,
    rows: [
      {
        id: 'ours-dev',
        label: 'npm run synth, dev',
        command: 'npm run synth',
        wallMs: [1000, 1200],
        cpuMs: [900, 1000],
        maxRssBytes: [100 * MiB, 110 * MiB],
      },
      {
        id: 'init-dev',
        label: 'init-style, dev',
        command: 'npx ts-node main.ts',
        wallMs: [13000, 14000],
        cpuMs: [15000, 16000],
        maxRssBytes: [600 * MiB, 610 * MiB],
      },
    ],
    ratio: 13500 / 1100,
    equivalent: true,
    load: [1, 2],
  },
  scale: scale(4800),
  tests: {
    measuredAt: 'x',
    command: 'npm test',
    wallMs: 45000,
    cpuMs: 50000,
    maxRssBytes: 500 * MiB,
    files: 30,
    tests: 550,
    failed: 0,
    slowest: [{ file: '__tests__/a.test.ts', seconds: 8, tests: 3 }],
    load: [1, 1],
  },
  seed: {
    measuredAt: 'x',
    command: 'node seeder.cjs',
    queues: 3,
    rows: [
      { tasks: 1000, kind: 'fresh', seconds: [1.4], tasksPerSecond: [700], created: 1000, alreadyPresent: 0 },
      { tasks: 5000, kind: 'fresh', seconds: [2.5], tasksPerSecond: [2000], created: 5000, alreadyPresent: 0 },
      { tasks: 5000, kind: 'rerun', seconds: [4.5], tasksPerSecond: [1111], created: 0, alreadyPresent: 5000 },
    ],
    load: [1, 1],
  },
  dispatch: {
    measuredAt: 'x',
    windowSeconds: 5,
    rows: [
      {
        queues: 1,
        configuredPerQueue: 500,
        observedPerQueue: [499],
        worstDeviation: 0.002,
        maxBurstSize: 100,
        emulatorCpuMsPerSecond: 200,
        budgeted: true,
      },
      {
        queues: 4,
        configuredPerQueue: 500,
        observedPerQueue: [300, 300, 300, 300],
        worstDeviation: 0.4,
        maxBurstSize: 100,
        emulatorCpuMsPerSecond: 900,
        budgeted: false,
      },
      {
        queues: 10,
        configuredPerQueue: 500,
        observedPerQueue: Array.from({ length: 10 }, () => 490),
        worstDeviation: 0.02,
        maxBurstSize: 100,
        emulatorCpuMsPerSecond: 1500,
        budgeted: true,
        scale: true,
        aggregatePerSecond: 4900,
      },
    ],
    load: [1, 1],
  },
  emulator: {
    measuredAt: 'x',
    rows: [
      { transport: 'grpc', durable: false, tasks: 20000, concurrency: 200, seconds: 8, perSecond: 2500 },
      { transport: 'grpc', durable: true, tasks: 20000, concurrency: 200, seconds: 9, perSecond: 2222 },
    ],
    load: [1, 1],
  },
};

describe('budgets', () => {
  test('GIVEN results within every budget THEN every check passes (stress rows do not count)', () => {
    const checks = checkBudgets(good);
    expect(checks.map((c) => [c.section, c.pass])).toEqual([
      ['synth', true],
      ['scale', true],
      ['scale', true],
      ['scale', true],
      ['tests', true],
      ['seed', true],
      ['dispatch', true],
      ['dispatch', true],
      ['emulator', true],
    ]);
    expect(checks[0].measured).toBe('12.3x (13.50 s vs 1.10 s)');
    // The 1,000-task row (start-up bound) is reported but not budgeted: issue 3 sets the target on 5,000 tasks.
    expect(checks[5].measured).toBe('1,111 tasks/s (5,000 tasks, re-run)');
    expect(checks[7].measured).toBe('4,900/s (490..490/s per queue)');
    expect(checks[8].measured).toBe('2,222/s');
  });

  test('GIVEN a slow, super-linear 1,000-queue synth, slow seeding and a failed test THEN those checks fail', () => {
    const bad: BenchResults = {
      ...good,
      scale: scale(9000),
      tests: { ...good.tests!, failed: 1 },
      seed: { ...good.seed!, rows: [{ ...good.seed!.rows[1], tasksPerSecond: [700] }] },
      dispatch: {
        ...good.dispatch!,
        rows: [
          {
            ...good.dispatch!.rows[2],
            aggregatePerSecond: 3000,
            observedPerQueue: Array.from({ length: 10 }, () => 300),
          },
        ],
      },
      emulator: { ...good.emulator!, rows: [{ ...good.emulator!.rows[1], perSecond: 1500 }] },
    };
    const byWhat = Object.fromEntries(checkBudgets(bad).map((c) => [c.what, c.pass]));
    expect(byWhat['synth of 1,000 queues + 1,000 seed tasks: wall time (median)']).toBe(false);
    expect(
      byWhat[
        'synth time grows linearly with queues: CPU cost per added queue (fastest round), upper range / lower range'
      ],
    ).toBe(false);
    expect(byWhat['`npm test` wall time']).toBe(false);
    expect(
      byWhat[
        'emulator dispatch ceiling: 10 queues x 500/s, worker in another process (aggregate; each queue within the deviation budget above)'
      ],
    ).toBe(false);
    expect(byWhat['emulator CreateTask with --data-dir (acknowledged = committed), gRPC, concurrency 200']).toBe(false);
    expect(
      byWhat[
        'seeding throughput into the emulator, process start included (manifests of 5,000+ tasks, slowest, median)'
      ],
    ).toBe(false);
  });

  test('GIVEN a section that never ran THEN its budgets are "not measured", not passed', () => {
    const checks = checkBudgets({ machine, date: good.date, quick: true });
    expect(checks.every((c) => c.pass === undefined && c.measured === 'not measured')).toBe(true);
  });

  test('GIVEN one round of a size slowed down by other jobs THEN linearity uses the fastest round', () => {
    const noisy = scale(4800);
    const points = noisy.points.map((p) => (p.queues === 500 ? { ...p, cpuMs: [2800, 4200, 4100] } : p));
    expect(linearity({ ...noisy, points })?.ratio).toBe(1);
  });

  test('linearity compares 100->500 with 500->1,000 when a full run has them', () => {
    expect(linearity(scale(4800))).toEqual({
      lower: { from: 100, to: 500, perUnit: 4 },
      upper: { from: 500, to: 1000, perUnit: 4 },
      ratio: 1,
    });
  });
});

describe('BENCHMARKS.md', () => {
  test('the report names the machine, the budgets and each section', () => {
    const md = renderReport(good);
    expect(md).toContain('Measured on Test CPU, 2 cores, 24.0 GiB memory');
    expect(md).toContain(
      '| synth of the dev example: cdktf-init-style app time / `npm run synth` time (medians) | >= 5x | 10x | 12.3x (13.50 s vs 1.10 s) | **pass** |',
    );
    expect(md).toContain('| 1,000 | 1,000 | 4,000 | 1 MiB | 4.80 s | 4.80 s | 4.80 s | 4.80 s | 200 MiB |');
    expect(md).toContain('| `__tests__/a.test.ts` | 8.0 s | 3 |');
    expect(md).toContain('| 4 x 500 | 100 | 300.0, 300.0, 300.0, 300.0 | 40.0 % | 900 ms/s | no (stress) |');
    expect(md).toContain('![synth time and peak memory against the number of queues](benchmarks.svg)');
  });

  test('re-running keeps the hand-written text around the generated part', () => {
    const first = spliceGenerated(undefined, 'one');
    expect(first).toMatch(/^# Benchmarks\n\n<!-- bench:begin[^\n]*-->\none\n<!-- bench:end -->\n$/);
    const edited = first.replace('# Benchmarks\n', '# Benchmarks\n\nIntro by hand.\n') + '\n## Findings\n\nKept.\n';
    const second = spliceGenerated(edited, 'two');
    expect(second).toContain('Intro by hand.');
    expect(second).toContain('## Findings\n\nKept.');
    expect(second).toContain('\ntwo\n');
    expect(second).not.toContain('\none\n');
  });

  test('the chart plots each size of the scale run', () => {
    const svg = scaleChart(scale(4800));
    expect(svg.match(/<circle /g)).toHaveLength(15); // wall, CPU and memory for 5 sizes
    expect(svg).toContain('budget 1 GiB');
  });
});
