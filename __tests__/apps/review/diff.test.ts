/** The structural diff on hand-written Terraform JSON: the cases real example specs do not produce. */
import { configEntries, diffEntries, normalizeConfig } from '../../../lib/apps/review/diff';
import { renderAttribute } from '../../../lib/apps/review/markdown';
import { mermaidFlowchart } from '../../../lib/apps/review/graph';

const changes = (before: Record<string, unknown>, after: Record<string, unknown>) =>
  diffEntries(configEntries(before), configEntries(after));

test('cdktf `//` metadata and asset hash folders are not changes', () => {
  const a = {
    '//': { metadata: { version: '0.21.0' } },
    output: { m: { value: 'assets/seed_Manifest_1/3453AB2665C2CC4A/seed-manifest.json' } },
  };
  const b = {
    '//': { metadata: { version: '0.22.0' } },
    output: { m: { value: 'assets/seed_Manifest_1/4CEBBCB31E08AA20/seed-manifest.json' } },
  };
  expect(changes(a, b)).toEqual([]);
  expect(normalizeConfig(a.output.m.value)).toBe('assets/seed_Manifest_1/<hash>/seed-manifest.json');
});

test('lists of blocks match by natural key; ForceNew attributes mark a replacement', () => {
  const q = (headers: Array<[string, string]>, location: string) => ({
    resource: {
      google_cloud_tasks_queue: {
        q: {
          location,
          http_target: { header_overrides: headers.map(([key, value]) => ({ header: { key, value } })) },
          depends_on: ['a'],
        },
      },
    },
  });
  const [c] = changes(
    q(
      [
        ['X-A', '1'],
        ['X-B', '2'],
      ],
      'us-central1',
    ),
    q(
      [
        ['X-B', '3'],
        ['X-C', '4'],
      ],
      'europe-west1',
    ),
  );
  expect(c).toMatchObject({ address: 'google_cloud_tasks_queue.q', status: 'changed', replacedBy: ['location'] });
  expect(c!.attributes.map(renderAttribute)).toEqual([
    'http_target.header_overrides[X-A].header.key: "X-A" -> (none)',
    'http_target.header_overrides[X-A].header.value: "1" -> (none)',
    'http_target.header_overrides[X-B].header.value: "2" -> "3"',
    'http_target.header_overrides[X-C].header.key: (none) -> "X-C"',
    'http_target.header_overrides[X-C].header.value: (none) -> "4"',
    'location: "us-central1" -> "europe-west1"',
  ]);
});

test('sensitive outputs, secret-named keys and secret-shaped values are redacted', () => {
  const pem = '-----BEGIN PRIVATE KEY-----\nAAAA';
  const a = {
    output: { o: { value: 'one', sensitive: true } },
    resource: { x_thing: { t: { password: 'p1', note: 'plain', blob: 'fine' } } },
  };
  const b = {
    output: { o: { value: 'two', sensitive: true } },
    resource: { x_thing: { t: { password: 'p2', note: 'plain2', blob: pem } } },
  };
  const lines = changes(a, b).flatMap((c) => c.attributes.map((x) => `${c.address} ${renderAttribute(x)}`));
  expect(lines).toEqual([
    'output.o value: (redacted) -> (redacted)',
    'x_thing.t blob: (redacted) -> (redacted)',
    'x_thing.t note: "plain" -> "plain2"',
    'x_thing.t password: (redacted) -> (redacted)',
  ]);
});

test('the Mermaid graph escapes labels and draws removed edges dashed', () => {
  const head = {
    pipeline: 'p',
    environment: 'dev',
    steps: [
      { name: 'a-1', next: [] as string[] },
      { name: 'b"x', next: ['a-1'] },
    ],
  };
  const base = {
    pipeline: 'p',
    environment: 'dev',
    steps: [
      { name: 'a-1', next: ['b"x'] },
      { name: 'b"x', next: [] as string[] },
    ],
  };
  expect(mermaidFlowchart(head, base)).toBe(
    [
      'flowchart LR',
      '  step_a_2d_1["a-1"]',
      '  step_b_22_x["b#quot;x"]',
      '  step_b_22_x ==>|added| step_a_2d_1',
      '  step_a_2d_1 -.->|removed| step_b_22_x',
    ].join('\n'),
  );
});
