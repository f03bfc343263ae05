import { parse } from 'yaml';
import { generateSpec, generateSpecYaml, stepName } from '../../bench/lib/specgen';
import { parsePipelineSpec } from '../../lib/spec/load';

describe('generated scale specs', () => {
  test('GIVEN 25 queues and 40 seed tasks THEN the real spec loader accepts it with 25 chained steps and 40 seed tasks', () => {
    const spec = parsePipelineSpec(parse(generateSpecYaml({ queues: 25, seedTasks: 40 })));
    expect(spec.pipeline.steps).toHaveLength(25);
    expect(spec.pipeline.seedTasks).toHaveLength(40);
    expect(spec.pipeline.steps[0].next).toEqual([stepName(1)]);
    expect(spec.pipeline.steps[24].next).toEqual([]);
    // Round-robin over the steps.
    expect(spec.pipeline.seedTasks[25].step).toBe(stepName(0));
    expect(new Set(spec.pipeline.steps.map((s) => s.target.serviceAccount)).size).toBe(25);
  });

  test('GIVEN the per-region quota of 1,000 queues THEN every queue id is within the 100-character limit', () => {
    const spec = generateSpec({ queues: 1000, seedTasks: 0 }) as {
      pipeline: { name: string; steps: { name: string }[] };
      environment: string;
    };
    const ids = spec.pipeline.steps.map((s) => `${spec.pipeline.name}-${spec.environment}-${s.name}`);
    expect(new Set(ids).size).toBe(1000);
    expect(Math.max(...ids.map((id) => id.length))).toBeLessThanOrEqual(100);
    expect(stepName(999)).toBe('s1000');
  });

  test('refuses sizes that are not whole numbers in range', () => {
    expect(() => generateSpec({ queues: 0, seedTasks: 1 })).toThrow(/queues must be a whole number >= 1, got 0/);
    expect(() => generateSpec({ queues: 2, seedTasks: 1.5 })).toThrow(/seedTasks must be a whole number >= 0, got 1.5/);
  });
});
