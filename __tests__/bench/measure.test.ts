import { existsSync } from 'node:fs';
import { GNU_TIME, measure, parseGnuTimeReport } from '../../bench/lib/measure';

const REPORT = `	Command being timed: "node -e 1"
	User time (seconds): 1.25
	System time (seconds): 0.50
	Percent of CPU this job got: 99%
	Elapsed (wall clock) time (h:mm:ss or m:ss): 0:01.76
	Maximum resident set size (kbytes): 204800
	Exit status: 3
`;

// A child that holds ~64 MiB and prints a line.
const ALLOCATE = "const b = Buffer.alloc(64 * 2 ** 20, 1); console.log('held', b.length); process.exitCode = 3";

describe('measure', () => {
  test('parseGnuTimeReport reads CPU, peak memory and exit status', () => {
    expect(parseGnuTimeReport(REPORT)).toEqual({ userS: 1.25, systemS: 0.5, maxRssKiB: 204800, exitStatus: 3 });
    expect(parseGnuTimeReport('nothing here').maxRssKiB).toBeNaN();
  });

  test('GIVEN GNU time is not used THEN a node child reports its own peak memory through the preload', async () => {
    const m = await measure(process.execPath, ['-e', ALLOCATE], { useGnuTime: false });
    expect(m.via).toBe('resource-usage');
    expect(m.exitCode).toBe(3);
    expect(m.stdout).toBe(`held ${64 * 2 ** 20}\n`);
    expect(m.maxRssBytes).toBeGreaterThan(64 * 2 ** 20);
    expect(Number.isFinite(m.cpuMs)).toBe(true);
  });

  test('GIVEN the defaults THEN GNU time measures the child when installed, the preload otherwise', async () => {
    const m = await measure(process.execPath, ['-e', ALLOCATE]);
    expect(m.via).toBe(existsSync(GNU_TIME) ? 'gnu-time' : 'resource-usage');
    expect(m.exitCode).toBe(3);
    expect(m.stdout).toBe(`held ${64 * 2 ** 20}\n`);
    expect(m.maxRssBytes).toBeGreaterThan(64 * 2 ** 20);
  });

  test('GIVEN a command that is not node and no GNU time THEN CPU and memory are NaN, not made up', async () => {
    const m = await measure('/bin/sh', ['-c', 'echo hi; exit 0'], { useGnuTime: false });
    expect(m).toMatchObject({ via: 'none', exitCode: 0, stdout: 'hi\n' });
    expect(m.maxRssBytes).toBeNaN();
    expect(m.cpuMs).toBeNaN();
  });
});
