/**
 * Snapshots of the synthesized Terraform JSON of each example spec in pipelines/ (Testing.synth drops metadata and
 * sorts keys). The seeder is a stand-in file so that a change to the seeder's code does not churn these snapshots;
 * the real bundle is covered by main.test.ts. Update after an intended change with `npx jest -u __tests__/synth`.
 */
import { Testing } from '../../../lib/cdktf/core';
import { PipelineStack } from '../../../lib/constructs/pipeline-stack';
import { loadSpecs } from '../../../lib/spec/load';
import { fakeSeeder } from '../../constructs/fixtures';
import { resolve } from 'node:path';
import { stackNameFor } from '../../../lib/core/naming';

const NOW = new Date('2026-11-01T00:00:00Z');
const specs = loadSpecs({ dir: resolve(__dirname, '..', '..', '..', 'pipelines'), now: NOW });

test('the examples folder holds the dev and prod specs', () => {
  expect(specs.map(({ spec }) => stackNameFor(spec))).toEqual(['recsys-dev', 'recsys-prod']);
});

describe.each(specs.map(({ file, spec }) => [stackNameFor(spec), file, spec] as const))('%s', (name, file, spec) => {
  const stack = new PipelineStack(Testing.app(), name, { spec, source: file, now: NOW, seeder: fakeSeeder() });
  const text = Testing.synth(stack);

  test('synthesized Terraform JSON', () => {
    expect(text).toMatchSnapshot();
  });

  test('one queue per step, one seeding resource, outputs present', () => {
    const json = JSON.parse(text);
    expect(Object.keys(json.resource.google_cloud_tasks_queue)).toHaveLength(spec.pipeline.steps.length);
    expect(Object.keys(json.resource.terraform_data ?? {})).toHaveLength(spec.pipeline.seedTasks.length > 0 ? 1 : 0);
    expect(Object.keys(json.output)).toEqual(
      expect.arrayContaining(['queue_ids', 'queue_names', 'invoker_service_account_email', 'pipeline_graph']),
    );
  });
});
