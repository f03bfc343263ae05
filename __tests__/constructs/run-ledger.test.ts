/**
 * The run ledger in the stack: the Firestore database (Native mode, kept on destroy), its composite index, the
 * firestore API, read/write for worker and deploy identities on that database only, the seeding after all of it, and
 * the `routes` output a worker reads. RunLedger on its own: an existing database is referenced, not created.
 */
import { Testing, TerraformStack } from '../../lib/cdktf/core';
import { buildRoutes } from '../../lib/core/routes';
import { LEDGER_INDEXES } from '../../lib/core/ledger-layout';
import { PipelineStack } from '../../lib/constructs/pipeline-stack';
import { RunLedger } from '../../lib/constructs/run-ledger';
import type { PipelineSpec } from '../../lib/spec/types';
import { NOW, fakeSeeder, pipelineSpec } from './fixtures';

type Json = Record<string, any>;
const values = (o: Json | undefined): Json[] => Object.values(o ?? {});
const synth = (spec: PipelineSpec = pipelineSpec()): Json =>
  JSON.parse(Testing.synth(new PipelineStack(Testing.app(), 'recsys-dev', { spec, now: NOW, seeder: fakeSeeder() })));
const addressOf = (json: Json, type: string): string[] =>
  Object.keys(json.resource[type] ?? {}).map((n) => `${type}.${n}`);

describe('PipelineStack: the run ledger', () => {
  test('GIVEN no ledger in the spec THEN a Native-mode database <pipeline>-<environment>-runs at the region, abandoned on destroy', () => {
    const json = synth();
    expect(values(json.resource.google_firestore_database)).toEqual([
      expect.objectContaining({
        project: 'ml-platform-dev',
        name: 'recsys-dev-runs',
        location_id: 'us-central1',
        type: 'FIRESTORE_NATIVE',
        deletion_policy: 'ABANDON',
        depends_on: ['google_project_service.api-firestore'],
      }),
    ]);
    expect(values(json.resource.google_project_service).find((s) => s.service === 'firestore.googleapis.com')).toEqual(
      expect.objectContaining({ disable_on_destroy: false, disable_dependent_services: false }),
    );
  });

  test('ledger.location places the database; the composite index of LEDGER_INDEXES is created in it', () => {
    const json = synth(pipelineSpec({ ledger: { location: 'nam5' } }));
    const [db] = addressOf(json, 'google_firestore_database');
    expect(values(json.resource.google_firestore_database)[0].location_id).toBe('nam5');
    expect(values(json.resource.google_firestore_index)).toEqual(
      LEDGER_INDEXES.map((i) =>
        expect.objectContaining({
          project: 'ml-platform-dev',
          database: `\${${db}.name}`,
          collection: i.collectionGroup,
          query_scope: i.queryScope,
          fields: i.fields.map((f) => ({ field_path: f.fieldPath, order: f.order })),
        }),
      ),
    );
  });

  test('every worker identity and every deployer gets roles/datastore.user on the ledger database only, once each', () => {
    const deployer = 'serviceAccount:deploy@ml-platform-dev.iam.gserviceaccount.com';
    const json = synth(pipelineSpec({ deployer: [deployer] }));
    const bindings = values(json.resource.google_project_iam_member);
    const workers = pipelineSpec()
      .pipeline.steps.flatMap((s) => (s.target.serviceAccount ? [`serviceAccount:${s.target.serviceAccount}`] : []))
      .filter((m, i, all) => all.indexOf(m) === i);
    expect(bindings.map((b) => b.member).sort()).toEqual([...workers, deployer].sort());
    const [db] = addressOf(json, 'google_firestore_database');
    for (const b of bindings)
      expect(b).toMatchObject({
        project: 'ml-platform-dev',
        role: 'roles/datastore.user',
        condition: {
          title: 'recsys-dev run ledger',
          expression: 'resource.name == "projects/ml-platform-dev/databases/recsys-dev-runs"',
        },
        depends_on: [db],
      });
  });

  test('the seeding waits for the database, its index and the grants (it writes each seed run first)', () => {
    const json = synth();
    const [seeding] = values(json.resource.terraform_data);
    expect(seeding.depends_on).toEqual(
      expect.arrayContaining([
        ...addressOf(json, 'google_firestore_database'),
        ...addressOf(json, 'google_firestore_index'),
        ...addressOf(json, 'google_project_iam_member'),
      ]),
    );
  });

  test('GIVEN an existing database in another project THEN none is created, no firestore API, grants there', () => {
    const json = synth(pipelineSpec({ ledger: { database: 'ml-runs', project: 'ml-platform-shared' } }));
    expect(json.resource.google_firestore_database).toBeUndefined();
    expect(json.resource.google_firestore_index).toBeUndefined();
    expect(values(json.resource.google_project_service).map((s) => s.service)).not.toContain(
      'firestore.googleapis.com',
    );
    for (const b of values(json.resource.google_project_iam_member)) {
      expect(b.project).toBe('ml-platform-shared');
      expect(b.condition.expression).toBe('resource.name == "projects/ml-platform-shared/databases/ml-runs"');
      expect(b.depends_on).toBeUndefined();
    }
    expect(json.output.ledger_database.value).toBe('projects/ml-platform-shared/databases/ml-runs');
  });

  test('the routes output is buildRoutes(spec): what a worker reads from CLOUD_TASKS_PIPELINE_ROUTES', () => {
    const spec = pipelineSpec();
    const json = synth(spec);
    expect(json.output.routes.value).toEqual(JSON.parse(JSON.stringify(buildRoutes(spec))));
    expect(json.output.routes.value.ledger).toEqual({ project: 'ml-platform-dev', database: 'recsys-dev-runs' });
    expect(json.output.ledger_database.value).toBe('projects/ml-platform-dev/databases/recsys-dev-runs');
  });
});

describe('RunLedger', () => {
  const stack = () => new TerraformStack(Testing.app(), 's');

  test('GIVEN no createAt THEN it only names the database: no resource, grants still conditioned on it', () => {
    const s = stack();
    const ledger = new RunLedger(s, 'l', { project: 'acme-ml', databaseId: '(default)' });
    ledger.grantReadWrite('serviceAccount:w@acme-ml.iam.gserviceaccount.com');
    const json = JSON.parse(Testing.synth(s));
    expect(ledger.database).toBeUndefined();
    expect(Object.keys(json.resource)).toEqual(['google_project_iam_member']);
    expect(values(json.resource.google_project_iam_member)[0].condition.expression).toBe(
      'resource.name == "projects/acme-ml/databases/(default)"',
    );
  });

  test('deletionPolicy DELETE is honoured; granting a member twice returns the first binding', () => {
    const s = stack();
    const ledger = new RunLedger(s, 'l', {
      project: 'acme-ml',
      databaseId: 'runs-db',
      createAt: 'us-east1',
      deletionPolicy: 'DELETE',
    });
    const member = 'group:ml@example.com';
    expect(ledger.grantReadWrite(member)).toBe(ledger.grantReadWrite(member));
    const json = JSON.parse(Testing.synth(s));
    expect(values(json.resource.google_firestore_database)[0].deletion_policy).toBe('DELETE');
    expect(values(json.resource.google_project_iam_member)).toHaveLength(1);
  });

  test('GIVEN invalid ids THEN every problem at once, with the Firestore rule', () => {
    expect(() => new RunLedger(stack(), 'l', { project: 'A', databaseId: 'Runs', createAt: 'Europe' })).toThrow(
      /RunLedger at s\/l is invalid:\n {2}- project = "A": .*\n {2}- databaseId = "Runs": "Runs" is not a Firestore database id.*\n {2}- createAt = "Europe": "Europe" is not a Firestore location/,
    );
    expect(() =>
      new RunLedger(stack(), 'l', { project: 'acme-ml', databaseId: 'runs-db' }).grantReadWrite('bob@example.com'),
    ).toThrow(/grantReadWrite\(member\)/);
  });
});
