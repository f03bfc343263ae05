/** Small helpers of the bench sections: dispatch rates, seeder summaries and manifests, jest output, --only. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { windowRate, worstDeviation } from '../../bench/lib/dispatch';
import { benchManifest, parseSeederSummary } from '../../bench/lib/seed';
import { parseSections } from '../../bench/run';
import { findFile } from '../../bench/sections/synth';
import { slowestFiles } from '../../bench/sections/tests';
import { validateManifest } from '../../lib/seeder/validate';

describe('dispatch rates', () => {
  test('windowRate counts the arrivals in the window after the skipped start', () => {
    // A burst of 10 at t=0, then one every 5 ms (200/s) up to 3 s.
    const arrivals = [...Array.from({ length: 10 }, () => 0), ...Array.from({ length: 600 }, (_, i) => 5 * (i + 1))];
    expect(windowRate(arrivals, 1000, 1000)).toBe(200);
    expect(windowRate([], 1000, 1000)).toBe(0);
  });

  test('worstDeviation is the largest relative error over the queues', () => {
    expect(worstDeviation([200, 196, 203], 200)).toBeCloseTo(0.02, 10);
    expect(worstDeviation([], 200)).toBe(0);
  });
});

describe('seeding bench', () => {
  test('parseSeederSummary reads the counts of the seeder summary line', () => {
    expect(
      parseSeederSummary(
        'Seeded 20,000 task(s) in 9.10 s (2,198 tasks/s): 19,990 created, 10 already present, 0 failed.\n',
      ),
    ).toEqual({
      created: 19990,
      alreadyPresent: 10,
      failed: 0,
    });
    expect(parseSeederSummary('something else')).toBeUndefined();
  });

  test('the bench manifest passes the seeder own validation and spreads tasks over the queues', () => {
    const m = benchManifest('t1', 30, 3);
    expect(validateManifest(JSON.parse(JSON.stringify(m)), new Date()).ok).toBe(true);
    expect(new Set(m.tasks.map((t) => t.queue)).size).toBe(3);
    expect(new Set(m.tasks.map((t) => t.taskId)).size).toBe(30);
  });
});

describe('jest timing, sections, files', () => {
  test('slowestFiles sorts by duration with paths relative to the repository', () => {
    const json = {
      numTotalTests: 3,
      numFailedTests: 0,
      testResults: [
        { name: '/repo/__tests__/a.test.ts', startTime: 1000, endTime: 2500, assertionResults: [{}, {}] },
        { name: '/repo/__tests__/b.test.ts', startTime: 1000, endTime: 9000, assertionResults: [{}] },
      ],
    };
    expect(slowestFiles(json, '/repo')).toEqual([
      { file: '__tests__/b.test.ts', seconds: 8, tests: 1 },
      { file: '__tests__/a.test.ts', seconds: 1.5, tests: 2 },
    ]);
  });

  test('parseSections keeps run order and refuses unknown names', () => {
    expect(parseSections('seed, synth')).toEqual(['synth', 'seed']);
    expect(() => parseSections('synth,speed')).toThrow(
      /comma-separated list of: synth, scale, tests, seed, dispatch, emulator, ledger, jobs \(got "synth,speed"\)/,
    );
    expect(() => parseSections('')).toThrow(/comma-separated list/);
  });

  test('findFile finds a file at any depth and names the folder when missing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'find-'));
    try {
      mkdirSync(join(dir, 'a', 'b'), { recursive: true });
      writeFileSync(join(dir, 'a', 'b', 'seeder.cjs'), '');
      expect(findFile(dir, 'seeder.cjs')).toBe(join(dir, 'a', 'b', 'seeder.cjs'));
      expect(() => findFile(dir, 'nope.json')).toThrow(`no nope.json below ${dir}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
