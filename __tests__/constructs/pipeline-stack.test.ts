import { Testing } from '../../lib/cdktf/core';
import { PipelineStack, type PipelineStackProps } from '../../lib/constructs/pipeline-stack';
import { SpecError } from '../../lib/spec/errors';
import { formatPath } from '../../lib/core/problem';
import type { PipelineSpec } from '../../lib/spec/types';
import { NOW, fakeSeeder, pipelineSpec, step } from './fixtures';

type Json = Record<string, any>;

function synth(
  spec: PipelineSpec = pipelineSpec(),
  props: Partial<PipelineStackProps> = {},
): { json: Json; stack: PipelineStack } {
  const stack = new PipelineStack(Testing.app(), 'recsys-dev', { spec, now: NOW, seeder: fakeSeeder(), ...props });
  return { json: JSON.parse(Testing.synth(stack)), stack };
}
const values = (o: Json | undefined): Json[] => Object.values(o ?? {});

describe('PipelineStack: snapshot', () => {
  test('the fixture pipeline (cloud run, oidc, oauth, port and query, headers, seed tasks)', () => {
    expect(Testing.synth(synth().stack)).toMatchSnapshot();
  });
});

describe('PipelineStack: provider and backend', () => {
  test('default labels: the spec labels plus managed-by, pipeline and environment, keys written verbatim (hyphens kept)', () => {
    const { json } = synth(
      pipelineSpec({ labels: { team: 'recsys', 'cost-center': 'ml-42', pipeline: 'overridden' } }),
    );
    expect(json.provider.google).toEqual([
      {
        project: 'ml-platform-dev',
        region: 'us-central1',
        default_labels: {
          team: 'recsys',
          'cost-center': 'ml-42',
          'managed-by': 'cloud-tasks-pipelines',
          pipeline: 'recsys',
          environment: 'dev',
        },
      },
    ]);
  });

  test('GIVEN no backend in the spec THEN a local backend at a relative, machine-independent path', () => {
    expect(synth().json.terraform.backend).toEqual({ local: { path: '../../../terraform.recsys-dev.tfstate' } });
    expect(synth(undefined, { localStatePath: 'state/x.tfstate' }).json.terraform.backend).toEqual({
      local: { path: 'state/x.tfstate' },
    });
  });

  test('GIVEN backend.gcs THEN a gcs backend; the prefix defaults to cloud-tasks-pipelines/<stack>', () => {
    expect(
      synth(pipelineSpec({ backend: { gcs: { bucket: 'acme-tf', prefix: 'recsys/dev' } } })).json.terraform.backend,
    ).toEqual({
      gcs: { bucket: 'acme-tf', prefix: 'recsys/dev' },
    });
    expect(synth(pipelineSpec({ backend: { gcs: { bucket: 'acme-tf' } } })).json.terraform.backend).toEqual({
      gcs: { bucket: 'acme-tf', prefix: 'cloud-tasks-pipelines/recsys-dev' },
    });
  });
});

describe('PipelineStack: API services', () => {
  test('cloudtasks, iam and firestore (the run ledger) always, run when a step names cloudRun; never disabled on destroy', () => {
    const services = values(synth().json.resource.google_project_service);
    expect(services.map((s) => s.service).sort()).toEqual([
      'cloudtasks.googleapis.com',
      'firestore.googleapis.com',
      'iam.googleapis.com',
      'run.googleapis.com',
    ]);
    for (const s of services)
      expect(s).toMatchObject({
        project: 'ml-platform-dev',
        disable_on_destroy: false,
        disable_dependent_services: false,
      });
  });

  test('GIVEN no step on Cloud Run THEN no run API and no run.invoker binding', () => {
    const base = pipelineSpec();
    const steps = base.pipeline.steps.map((s) => ({ ...s, target: { ...s.target, cloudRun: undefined } }));
    const { json, stack } = synth(pipelineSpec({ pipeline: { ...base.pipeline, steps } }));
    expect(values(json.resource.google_project_service).map((s) => s.service)).not.toContain('run.googleapis.com');
    expect(json.resource).not.toHaveProperty('google_cloud_run_v2_service_iam_member');
    expect(stack.apiServices.run).toBeUndefined();
  });

  test('queues wait for the Cloud Tasks API and the invoker account', () => {
    for (const q of values(synth().json.resource.google_cloud_tasks_queue)) {
      expect(q.depends_on).toEqual([
        'google_project_service.api-cloudtasks',
        expect.stringMatching(/^google_service_account\.invoker_\w+$/),
      ]);
    }
  });
});

describe('PipelineStack: queues and tokens', () => {
  test('one queue per step named <pipeline>-<environment>-<step>, tokens minted for the pipeline invoker', () => {
    const { json, stack } = synth();
    const queues = values(json.resource.google_cloud_tasks_queue);
    expect(queues.map((q) => q.name).sort()).toEqual(['recsys-dev-infer', 'recsys-dev-preprocess', 'recsys-dev-train']);
    expect(Object.keys(stack.queues)).toEqual(['preprocess', 'train', 'infer']);
    expect(stack.queues.train.queueName).toBe('projects/ml-platform-dev/locations/us-central1/queues/recsys-dev-train');
    const byName = Object.fromEntries(queues.map((q) => [q.name, q]));
    expect(byName['recsys-dev-preprocess'].http_target.oidc_token.service_account_email).toBe(stack.invoker.email);
    expect(byName['recsys-dev-infer'].http_target.oauth_token.service_account_email).toBe(stack.invoker.email);
  });

  test('GIVEN a step with auth none THEN its queue has no token and needs no service account', () => {
    const base = pipelineSpec();
    const hook = step('notify', {
      target: { url: 'https://hooks.example.com/n', auth: 'none', headers: {}, method: 'POST' },
    });
    const { json } = synth(pipelineSpec({ pipeline: { ...base.pipeline, steps: [...base.pipeline.steps, hook] } }));
    const q = values(json.resource.google_cloud_tasks_queue).find((x) => x.name === 'recsys-dev-notify')!;
    expect(q.http_target).not.toHaveProperty('oidc_token');
    expect(q.http_target).not.toHaveProperty('oauth_token');
  });
});

describe('PipelineStack: IAM, least privilege and resource-level only', () => {
  test('each worker that enqueues gets enqueuer on exactly its next queues and actAs on the invoker', () => {
    const { json } = synth();
    const enqueuers = values(json.resource.google_cloud_tasks_queue_iam_member);
    expect(enqueuers).toHaveLength(2);
    expect(enqueuers.map((b) => [b.name, b.member, b.role])).toEqual(
      expect.arrayContaining([
        [
          expect.stringContaining('queue-infer'),
          'serviceAccount:train-worker@ml-platform-dev.iam.gserviceaccount.com',
          'roles/cloudtasks.enqueuer',
        ],
        [
          expect.stringContaining('queue-train'),
          'serviceAccount:preprocess-worker@ml-platform-dev.iam.gserviceaccount.com',
          'roles/cloudtasks.enqueuer',
        ],
      ]),
    );
    const actAs = values(json.resource.google_service_account_iam_member);
    expect(actAs.map((b) => b.member).sort()).toEqual([
      'serviceAccount:preprocess-worker@ml-platform-dev.iam.gserviceaccount.com',
      'serviceAccount:train-worker@ml-platform-dev.iam.gserviceaccount.com',
    ]);
    for (const b of actAs) expect(b.role).toBe('roles/iam.serviceAccountUser');
  });

  test('the invoker gets run.invoker on each Cloud Run worker service, in its region', () => {
    const run = values(synth().json.resource.google_cloud_run_v2_service_iam_member);
    expect(run).toEqual([
      expect.objectContaining({
        name: 'preprocess',
        location: 'us-central1',
        project: 'ml-platform-dev',
        role: 'roles/run.invoker',
      }),
    ]);
  });

  test('GIVEN two steps sharing a worker account and a next queue THEN the bindings are deduplicated', () => {
    const sa = 'shared-worker@ml-platform-dev.iam.gserviceaccount.com';
    const target = (name: string) => ({
      url: `https://${name}.example.com/t`,
      auth: 'oidc' as const,
      headers: {},
      method: 'POST' as const,
      serviceAccount: sa,
    });
    const spec = pipelineSpec({
      pipeline: {
        name: 'recsys',
        steps: [
          step('a', { target: target('a'), next: ['c'] }),
          step('b', { target: target('b'), next: ['c'] }),
          step('c', { target: { ...target('c'), cloudRun: { service: 'c', region: 'us-central1' } } }),
          step('d', { target: { ...target('d'), cloudRun: { service: 'c', region: 'us-central1' } } }),
        ],
        seedTasks: [],
      },
    });
    const { json } = synth(spec);
    expect(values(json.resource.google_cloud_tasks_queue_iam_member)).toHaveLength(1);
    expect(values(json.resource.google_service_account_iam_member)).toHaveLength(1);
    expect(values(json.resource.google_cloud_run_v2_service_iam_member)).toHaveLength(1);
  });

  test('GIVEN a step with next but no worker account THEN no binding is made for it', () => {
    const base = pipelineSpec();
    const [pre, ...rest] = base.pipeline.steps;
    const spec = pipelineSpec({
      pipeline: {
        ...base.pipeline,
        steps: [{ ...pre, target: { ...pre.target, serviceAccount: undefined } }, ...rest],
      },
    });
    const members = values(synth(spec).json.resource.google_service_account_iam_member).map((b) => b.member);
    expect(members).toEqual(['serviceAccount:train-worker@ml-platform-dev.iam.gserviceaccount.com']);
  });

  test('the only project-level IAM resources: roles/datastore.user conditioned on the ledger database', () => {
    const { json } = synth();
    const types = Object.keys(json.resource);
    expect(types.filter((t) => t.startsWith('google_project_iam'))).toEqual(['google_project_iam_member']);
    for (const b of values(json.resource.google_project_iam_member))
      expect(b).toMatchObject({
        role: 'roles/datastore.user',
        condition: { expression: 'resource.name == "projects/ml-platform-dev/databases/recsys-dev-runs"' },
      });
  });
});

describe('PipelineStack: deployer (actAs on the invoker for the deploy identities)', () => {
  const DEPLOYER = 'serviceAccount:pipelines-deployer@ml-platform-dev.iam.gserviceaccount.com';
  const withDeployer = (deployer: string[], base: PipelineSpec = pipelineSpec()): PipelineSpec => ({
    ...base,
    deployer,
  });
  /** Terraform address (`type.name`) of each resource of a type whose attributes match. */
  const addresses = (json: Json, type: string, match: (r: Json) => boolean): string[] =>
    Object.entries((json.resource[type] ?? {}) as Record<string, Json>)
      .filter(([, r]) => match(r))
      .map(([name]) => `${type}.${name}`);

  test('GIVEN deployer members THEN each gets roles/iam.serviceAccountUser on the invoker account, and on nothing else', () => {
    const group = 'group:ml-deployers@example.com';
    const { json, stack } = synth(withDeployer([DEPLOYER, group]));
    const invoker = `\${google_service_account.${Object.keys(json.resource.google_service_account)[0]}.name}`;
    for (const member of [DEPLOYER, group]) {
      const bindings = values(json.resource.google_service_account_iam_member).filter((b) => b.member === member);
      expect(bindings).toEqual([{ member, role: 'roles/iam.serviceAccountUser', service_account_id: invoker }]);
    }
    // No other IAM resource grants the deployers anything but the run ledger (the seeder writes run documents): no
    // unconditioned project-level grant, no queue or Cloud Run binding.
    const grantsToDeployers = Object.entries(json.resource as Record<string, Record<string, Json>>).flatMap(
      ([type, byName]) =>
        Object.values(byName)
          .filter(
            (r) =>
              r.member === DEPLOYER ||
              r.member === group ||
              (r.members ?? []).some((m: string) => m === DEPLOYER || m === group),
          )
          .map(() => type),
    );
    expect(grantsToDeployers.sort()).toEqual([
      'google_project_iam_member',
      'google_project_iam_member',
      'google_service_account_iam_member',
      'google_service_account_iam_member',
    ]);
    expect(stack.deployerBindings).toHaveLength(2);
  });

  test('every queue and the seeding depend on the deployer bindings: account -> binding -> queues -> seeding', () => {
    const { json } = synth(withDeployer([DEPLOYER]));
    const [binding] = addresses(json, 'google_service_account_iam_member', (b) => b.member === DEPLOYER);
    const account = addresses(json, 'google_service_account', () => true)[0];
    expect(binding).toBeDefined();
    // The binding names the account by reference, so Terraform creates the account first.
    expect(json.resource.google_service_account_iam_member[binding.split('.')[1]].service_account_id).toBe(
      `\${${account}.name}`,
    );
    const queues = values(json.resource.google_cloud_tasks_queue);
    expect(queues).toHaveLength(3);
    for (const q of queues) expect(q.depends_on).toEqual(['google_project_service.api-cloudtasks', account, binding]);
    const [seeding] = values(json.resource.terraform_data);
    expect(seeding.depends_on).toEqual(
      expect.arrayContaining([binding, ...addresses(json, 'google_cloud_tasks_queue', () => true)]),
    );
  });

  test("worker actAs bindings are not queue dependencies (only the deployers' are)", () => {
    const { json } = synth(withDeployer([DEPLOYER]));
    const workerBindings = addresses(json, 'google_service_account_iam_member', (b) => b.member !== DEPLOYER);
    expect(workerBindings).toHaveLength(2);
    for (const q of values(json.resource.google_cloud_tasks_queue))
      for (const w of workerBindings) expect(q.depends_on).not.toContain(w);
  });

  test('GIVEN a deployer that is also a worker identity THEN one binding, shared, and the queues depend on it', () => {
    const worker = 'serviceAccount:preprocess-worker@ml-platform-dev.iam.gserviceaccount.com';
    const { json, stack } = synth(withDeployer([worker]));
    const bindings = values(json.resource.google_service_account_iam_member);
    expect(bindings.map((b) => b.member).sort()).toEqual([
      worker,
      'serviceAccount:train-worker@ml-platform-dev.iam.gserviceaccount.com',
    ]);
    const [shared] = addresses(json, 'google_service_account_iam_member', (b) => b.member === worker);
    for (const q of values(json.resource.google_cloud_tasks_queue)) expect(q.depends_on).toContain(shared);
    expect(stack.invoker.grantActAs(worker)).toBe(stack.deployerBindings[0]);
  });

  test('GIVEN no deployer (or an empty list) THEN no extra binding and the queues wait only for the API and the account', () => {
    for (const spec of [pipelineSpec(), withDeployer([])]) {
      const { json, stack } = synth(spec);
      expect(values(json.resource.google_service_account_iam_member)).toHaveLength(2);
      expect(stack.deployerBindings).toEqual([]);
      for (const q of values(json.resource.google_cloud_tasks_queue)) expect(q.depends_on).toHaveLength(2);
    }
  });

  test('GIVEN a bare e-mail in deployer (TypeScript spec) THEN SpecError naming the path, the value and the fix', () => {
    const bare = 'pipelines-deployer@ml-platform-dev.iam.gserviceaccount.com';
    expect(() => synth(withDeployer([bare]), { source: 'pipelines/recsys-dev.yaml' })).toThrow(
      `pipelines/recsys-dev.yaml: deployer[0]: "${bare}" is not an IAM member: a bare e-mail needs its IAM type; write serviceAccount:${bare}`,
    );
  });
});

describe('PipelineStack: outputs', () => {
  test('queue_ids, queue_names, invoker_service_account_email, pipeline_graph, ledger_database and routes, under stable names', () => {
    const { output } = synth().json;
    expect(Object.keys(output).sort()).toEqual([
      'invoker_service_account_email',
      'ledger_database',
      'pipeline_graph',
      'queue_ids',
      'queue_names',
      'routes',
    ]);
    expect(output.queue_ids.value).toEqual({
      preprocess: 'recsys-dev-preprocess',
      train: 'recsys-dev-train',
      infer: 'recsys-dev-infer',
    });
    expect(output.queue_names.value.infer).toBe(
      'projects/ml-platform-dev/locations/us-central1/queues/recsys-dev-infer',
    );
    expect(output.invoker_service_account_email.value).toBe('recsys-dev@ml-platform-dev.iam.gserviceaccount.com');
    expect(output.pipeline_graph.value).toEqual({
      pipeline: 'recsys',
      environment: 'dev',
      steps: [
        { name: 'preprocess', queueId: 'recsys-dev-preprocess', next: ['train'] },
        { name: 'train', queueId: 'recsys-dev-train', next: ['infer'] },
        { name: 'infer', queueId: 'recsys-dev-infer', next: [] },
      ],
    });
  });
});

describe('PipelineStack: the same validation as YAML users get', () => {
  test('GIVEN an invalid spec THEN SpecError with every problem, its field path and the source file', () => {
    const base = pipelineSpec();
    const [pre, ...rest] = base.pipeline.steps;
    const spec = pipelineSpec({
      pipeline: {
        ...base.pipeline,
        steps: [{ ...pre, rateLimits: { maxDispatchesPerSecond: 900 }, next: ['nope'] }, ...rest],
      },
    });
    let error: unknown;
    try {
      synth(spec, { source: 'pipelines/recsys-dev.yaml' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SpecError);
    const e = error as SpecError;
    expect(e.problems.map((p) => formatPath(p.path))).toEqual(
      expect.arrayContaining([
        'pipeline.steps[0].rateLimits.maxDispatchesPerSecond',
        expect.stringMatching(/^pipeline\.steps\[0\]\.next/),
      ]),
    );
    expect(e.problems.every((p) => p.file === 'pipelines/recsys-dev.yaml')).toBe(true);
    expect(e.message).toMatch(
      /pipelines\/recsys-dev\.yaml: pipeline\.steps\[0\]\.rateLimits\.maxDispatchesPerSecond: .*500/,
    );
  });

  test('GIVEN a seed task scheduled more than 30 days after `now` THEN refused', () => {
    const base = pipelineSpec();
    const spec = pipelineSpec({
      pipeline: {
        ...base.pipeline,
        seedTasks: [{ step: 'preprocess', id: 'late', payload: {}, scheduleTime: '2026-03-01T00:00:00Z' }],
      },
    });
    expect(() => synth(spec)).toThrow(SpecError);
    expect(() => synth(spec)).toThrow(/scheduleTime/);
  });
});
