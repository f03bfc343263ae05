/** `npm test` wall time and the slowest test files (jest --json). */
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { currentLoad } from '../lib/machine';
import { measure } from '../lib/measure';
import { type BenchContext, childEnv } from '../lib/context';

export interface TestFileTime {
  readonly file: string;
  readonly seconds: number;
  readonly tests: number;
}

export interface TestsResult {
  readonly measuredAt: string;
  readonly command: string;
  readonly wallMs: number;
  readonly cpuMs: number;
  readonly maxRssBytes: number;
  readonly files: number;
  readonly tests: number;
  readonly failed: number;
  readonly slowest: TestFileTime[];
  readonly load: readonly [number, number];
}

/** The parts of jest's `--json` output used here. */
export interface JestJson {
  readonly numTotalTests: number;
  readonly numFailedTests: number;
  readonly testResults: readonly {
    name: string;
    startTime: number;
    endTime: number;
    assertionResults: readonly unknown[];
  }[];
}

/** Test files by duration, slowest first. */
export function slowestFiles(json: JestJson, root: string, limit = 8): TestFileTime[] {
  return json.testResults
    .map((t) => ({
      file: relative(root, t.name),
      seconds: (t.endTime - t.startTime) / 1000,
      tests: t.assertionResults.length,
    }))
    .sort((a, b) => b.seconds - a.seconds)
    .slice(0, limit);
}

export async function testsBench(ctx: BenchContext): Promise<TestsResult> {
  const load0 = currentLoad();
  const out = join(ctx.tmp, 'jest.json');
  ctx.log('tests: npm test (jest --json)');
  const m = await measure('/usr/bin/npm', ['test', '--silent', '--', '--json', `--outputFile=${out}`], {
    cwd: ctx.root,
    env: childEnv(),
  });
  const json = JSON.parse(readFileSync(out, 'utf8')) as JestJson;
  ctx.log(`tests: ${json.numTotalTests} tests in ${(m.wallMs / 1000).toFixed(1)} s, ${json.numFailedTests} failed`);
  return {
    measuredAt: new Date().toISOString(),
    command: 'npm test',
    wallMs: m.wallMs,
    cpuMs: m.cpuMs,
    maxRssBytes: m.maxRssBytes,
    files: json.testResults.length,
    tests: json.numTotalTests,
    failed: json.numFailedTests,
    slowest: slowestFiles(json, ctx.root),
    load: [load0, currentLoad()],
  };
}
