import { createProgress } from '../../lib/seeder/progress';
import type { SeedCounts } from '../../lib/seeder/seeder';
import { seedTargetFromEnv } from '../../lib/core/env';
import { captureStream } from './fixtures';

const counts = (created: number, failed = 0): SeedCounts => ({
  total: 100,
  created,
  alreadyPresent: 0,
  failed,
  runsExisting: 0,
  retries: 0,
});

describe('plain progress (stderr is not a terminal)', () => {
  test('prints a line per tenth of the tasks and a last line, with counts and rate', () => {
    let clock = 0;
    const out = captureStream(false);
    const progress = createProgress(out, 100, { now: () => clock, intervalMs: 60_000 });

    for (let i = 1; i <= 100; i++) {
      clock = i * 10; // 100 tasks/s
      progress.update(counts(i));
    }
    progress.finish(counts(100));

    const lines = out.text().trimEnd().split('\n');
    expect(lines).toHaveLength(10);
    expect(lines[0]).toBe('seeding: 10/100 (10%), created 10, already present 0, failed 0, 100 tasks/s');
    expect(lines[9]).toBe('seeding: 100/100 (100%), created 100, already present 0, failed 0, 100 tasks/s');
  });

  test('prints at least once per interval when tasks settle slowly', () => {
    let clock = 0;
    const out = captureStream(false);
    const progress = createProgress(out, 1000, { now: () => clock, intervalMs: 1000 });
    clock = 500;
    progress.update({ ...counts(1), total: 1000 });
    clock = 1500;
    progress.update({ ...counts(2), total: 1000 });
    expect(out.text()).toBe('seeding: 2/1,000 (0%), created 2, already present 0, failed 0, 1 tasks/s\n');
    progress.finish({ ...counts(2), total: 1000 });
  });
});

test('on a terminal it draws a cli-progress bar', () => {
  const out = captureStream(true);
  const progress = createProgress(out, 100);
  progress.update(counts(50, 1));
  progress.finish(counts(99, 1));
  expect(out.text()).toMatch(
    /seeding \[[^\]]+\] 100% 100\/100 \| [\d,]+ tasks\/s \| created 99, already present 0, failed 1/,
  );
});

describe('seedTargetFromEnv', () => {
  test.each([
    [{}, { kind: 'cloud' }],
    [{ CLOUD_TASKS_EMULATOR_HOST: '' }, { kind: 'cloud' }],
    [{ CLOUD_TASKS_EMULATOR_HOST: '127.0.0.1:8123' }, { kind: 'emulator', host: '127.0.0.1', port: 8123 }],
    [{ CLOUD_TASKS_EMULATOR_HOST: 'localhost:9000' }, { kind: 'emulator', host: 'localhost', port: 9000 }],
    [{ CLOUD_TASKS_EMULATOR_HOST: '[::1]:8123' }, { kind: 'emulator', host: '[::1]', port: 8123 }],
  ])('%j', (env, expected) => {
    expect(seedTargetFromEnv(env)).toEqual(expected);
  });

  test.each(['localhost', '127.0.0.1:0', 'host:99999', 'http://127.0.0.1:8123', '::1:8123'])('refuses %s', (value) => {
    expect(() => seedTargetFromEnv({ CLOUD_TASKS_EMULATOR_HOST: value })).toThrow(/is not host:port/);
  });
});
