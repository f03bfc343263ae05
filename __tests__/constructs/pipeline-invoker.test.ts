import { LIMITS } from '../../lib/core/rules/cloud-tasks';
import { TerraformStack, Testing } from '../../lib/cdktf/core';
import { invokerAccountIdFor } from '../../lib/core/naming';
import { PipelineInvoker } from '../../lib/constructs/pipeline-invoker';

type Json = Record<string, any>;

const id = (pipeline: string, environment: string) =>
  invokerAccountIdFor({ pipeline: { name: pipeline }, environment });

describe('invokerAccountIdFor: a valid, deterministic IAM account id (6-30 chars)', () => {
  test('GIVEN a short pipeline-environment THEN it is used as is', () => {
    expect(id('recsys', 'dev')).toBe('recsys-dev');
  });

  test('GIVEN fewer than 6 characters THEN an -invoker suffix', () => {
    expect(id('ml', 'qa')).toBe('ml-qa-invoker');
  });

  test('GIVEN upper case, underscores and a leading digit THEN lower-cased, hyphenated and prefixed with a letter', () => {
    expect(id('9Recsys_Ranker', 'Prod')).toBe('p-9recsys-ranker-prod');
  });

  test('GIVEN more than 30 characters THEN cut and suffixed with a hash of the full name; same input, same id', () => {
    const a = id('recommendation-candidate-generation', 'production');
    expect(a).toHaveLength(30);
    expect(a).toMatch(/^recommendation-candidat-[0-9a-f]{6}$/);
    expect(id('recommendation-candidate-generation', 'production')).toBe(a);
    // Same prefix, different name: different account.
    expect(id('recommendation-candidate-generation', 'staging')).not.toBe(a);
  });

  test.each([
    ['a', 'b'],
    ['x'.repeat(100), 'prod'],
    ['---', '---'],
    ['pipe-', '-line'],
    ['UPPER', 'CASE'],
    ['a'.repeat(24), 'e'],
  ])('GIVEN %s / %s THEN the id matches the IAM pattern', (p, e) => {
    expect(id(p, e)).toMatch(LIMITS.serviceAccountIdPattern);
  });
});

describe('PipelineInvoker', () => {
  function synth(configure: (inv: PipelineInvoker) => void = () => undefined): {
    json: Json;
    invoker: PipelineInvoker;
  } {
    const stack = new TerraformStack(Testing.app(), 'test');
    const invoker = new PipelineInvoker(stack, 'invoker', {
      project: 'ml-platform-dev',
      pipeline: 'recsys',
      environment: 'dev',
    });
    configure(invoker);
    return { json: JSON.parse(Testing.synth(stack)), invoker };
  }

  test('GIVEN a pipeline THEN one service account with a deterministic e-mail known at synth time', () => {
    const { json, invoker } = synth();
    expect(invoker.email).toBe('recsys-dev@ml-platform-dev.iam.gserviceaccount.com');
    expect(invoker.member).toBe('serviceAccount:recsys-dev@ml-platform-dev.iam.gserviceaccount.com');
    const accounts = Object.values(json.resource.google_service_account as Json);
    expect(accounts).toEqual([
      {
        project: 'ml-platform-dev',
        account_id: 'recsys-dev',
        display_name: 'recsys dev task invoker',
        description: expect.stringContaining('pipeline recsys (dev)'),
      },
    ]);
  });

  test('grantActAs: roles/iam.serviceAccountUser on the invoker account only, deduplicated', () => {
    const { json } = synth((inv) => {
      inv.grantActAs('serviceAccount:w@ml-platform-dev.iam.gserviceaccount.com');
      inv.grantActAs('serviceAccount:w@ml-platform-dev.iam.gserviceaccount.com');
    });
    const bindings = Object.values(json.resource.google_service_account_iam_member as Json);
    expect(bindings).toEqual([
      {
        service_account_id: expect.stringMatching(/^\$\{google_service_account\.[\w-]+\.name\}$/),
        role: 'roles/iam.serviceAccountUser',
        member: 'serviceAccount:w@ml-platform-dev.iam.gserviceaccount.com',
      },
    ]);
    expect(json.resource).not.toHaveProperty('google_project_iam_member');
  });

  test('grantActAs refuses a value that is not an IAM member', () => {
    expect(() => synth((inv) => inv.grantActAs('worker'))).toThrow(
      /PipelineInvoker at test\/invoker is invalid:\n {2}- grantActAs\(member\) = "worker": "worker" is not an IAM member: use serviceAccount:<email>/,
    );
  });

  test('grantRunInvoker: roles/run.invoker on one Cloud Run service for the invoker, deduplicated per service', () => {
    const { json } = synth((inv) => {
      inv.grantRunInvoker('preprocess', 'us-central1');
      inv.grantRunInvoker('preprocess', 'us-central1');
      inv.grantRunInvoker('train', 'europe-west4');
    });
    const bindings = Object.values(json.resource.google_cloud_run_v2_service_iam_member as Json);
    expect(bindings).toHaveLength(2);
    expect(bindings).toContainEqual({
      project: 'ml-platform-dev',
      location: 'us-central1',
      name: 'preprocess',
      role: 'roles/run.invoker',
      member: expect.stringMatching(/^serviceAccount:\$\{google_service_account\.[\w-]+\.email\}$/),
    });
    expect(bindings.map((b: any) => b.location).sort()).toEqual(['europe-west4', 'us-central1']);
  });

  test('GIVEN a bad project id THEN the error names the construct, field and value', () => {
    const stack = new TerraformStack(Testing.app(), 'test');
    expect(
      () => new PipelineInvoker(stack, 'invoker', { project: 'Bad_Project', pipeline: 'recsys', environment: 'dev' }),
    ).toThrow(
      /PipelineInvoker at test\/invoker is invalid:\n {2}- project = "Bad_Project": "Bad_Project" is not a valid Google Cloud project id/,
    );
  });
});
