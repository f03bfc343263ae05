import { type CpuProfile, locationOf, moduleOf, summarizeProfile } from '../../bench/lib/cpuprofile';

const profile: CpuProfile = {
  nodes: [
    { id: 1, callFrame: { functionName: '(root)', url: '', lineNumber: -1 }, children: [2, 3, 4] },
    {
      id: 2,
      callFrame: {
        functionName: 'resolve',
        url: 'file:///repo/node_modules/cdktf/lib/tokens/private/resolve.js',
        lineNumber: 19,
      },
    },
    {
      id: 3,
      callFrame: { functionName: 'TaskQueue', url: 'file:///repo/lib/constructs/task-queue.ts', lineNumber: 120 },
    },
    { id: 4, callFrame: { functionName: '(garbage collector)', url: '', lineNumber: -1 } },
    {
      id: 5,
      callFrame: {
        functionName: 'resolve',
        url: 'file:///repo/node_modules/cdktf/lib/tokens/private/resolve.js',
        lineNumber: 19,
      },
    },
  ],
  startTime: 0,
  endTime: 10_000,
  // 4 samples in cdktf's resolve (two nodes, same function), 2 in TaskQueue, 1 in GC; 1 ms each.
  samples: [2, 2, 5, 5, 3, 3, 4],
  timeDeltas: [1000, 1000, 1000, 1000, 1000, 1000, 1000],
};

describe('cpu profile summary', () => {
  test('self time is summed per function (across nodes) and per module, largest first', () => {
    const s = summarizeProfile(profile);
    expect(s.totalMs).toBe(7);
    expect(s.byFunction[0]).toEqual({ name: 'resolve (cdktf/lib/tokens/private/resolve.js:20)', ms: 4, share: 4 / 7 });
    expect(s.byFunction.map((f) => f.name)).toEqual([
      'resolve (cdktf/lib/tokens/private/resolve.js:20)',
      'TaskQueue (lib/constructs/task-queue.ts:121)',
      '(garbage collector)',
    ]);
    expect(s.byModule).toEqual([
      { name: 'cdktf', ms: 4, share: 4 / 7 },
      { name: 'project:lib/constructs', ms: 2, share: 2 / 7 },
      { name: '(garbage collector)', ms: 1, share: 1 / 7 },
    ]);
    expect(summarizeProfile(profile, 1).byFunction).toHaveLength(1);
  });

  test('modules: scoped packages, node internals, our files', () => {
    expect(moduleOf('file:///x/node_modules/@cdktf/provider-google/lib/cloud-tasks-queue/index.js')).toBe(
      '@cdktf/provider-google',
    );
    expect(moduleOf('node:internal/source_map/source_map_cache')).toBe('node:internal');
    expect(moduleOf('/work/main/lib/spec/load.ts')).toBe('project:lib/spec');
    expect(moduleOf('/work/main/main.ts')).toBe('project:main.ts');
    expect(moduleOf('', '(program)')).toBe('(program)');
    expect(locationOf('file:///x/node_modules/yaml/dist/parse/lexer.js')).toBe('yaml/dist/parse/lexer.js');
    expect(locationOf('file:///work/main/lib/synth.ts?tsx-namespace=1')).toBe('lib/synth.ts');
  });
});
