import { comparableTerraform, resourceCounts, terraformDifferences } from '../../bench/lib/equivalence';

const ours = {
  '//': { metadata: { version: '0.21.0', stackName: 'recsys-dev' } },
  resource: {
    google_cloud_tasks_queue: {
      q_1: {
        '//': { metadata: { path: 'recsys-dev/queue-infer/Resource' } },
        name: 'recsys-dev-infer',
        rate_limits: { max_dispatches_per_second: 20 },
      },
    },
    google_project_service: { a: { service: 'run.googleapis.com' }, b: { service: 'iam.googleapis.com' } },
  },
};

describe('init-style equivalence', () => {
  test('cdktf metadata and key order do not count', () => {
    const theirs = {
      resource: {
        google_project_service: { b: { service: 'iam.googleapis.com' }, a: { service: 'run.googleapis.com' } },
        google_cloud_tasks_queue: {
          q_1: {
            rate_limits: { max_dispatches_per_second: 20 },
            name: 'recsys-dev-infer',
            '//': { metadata: { path: 'elsewhere' } },
          },
        },
      },
    };
    expect(terraformDifferences(ours, theirs)).toEqual([]);
    expect(JSON.stringify(comparableTerraform(ours))).not.toContain('"//"');
  });

  test('a changed attribute or a missing resource is named by its path', () => {
    const theirs = {
      resource: {
        google_cloud_tasks_queue: { q_1: { name: 'recsys-dev-infer', rate_limits: { max_dispatches_per_second: 50 } } },
        google_project_service: { a: { service: 'run.googleapis.com' } },
      },
    };
    expect(terraformDifferences(ours, theirs)).toEqual([
      'resource.google_cloud_tasks_queue.q_1.rate_limits.max_dispatches_per_second: 20 vs 50',
      'resource.google_project_service.b: {"service":"iam.googleapis.com"} vs missing',
    ]);
  });

  test('resource counts by type', () => {
    expect(resourceCounts(ours)).toEqual({ google_cloud_tasks_queue: 1, google_project_service: 2 });
    expect(resourceCounts({})).toEqual({});
  });
});
