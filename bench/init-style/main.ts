/**
 * The baseline of `npm run bench`: the dev example (pipelines/recsys-dev.yaml) written the way `cdktf init
 * --template=typescript` sets a project up. Not part of the product; only bench/run.ts runs it.
 *
 * What makes it "init-style" (and slow), on purpose:
 * - `import * as google from "@cdktf/provider-google"`: the package root loads every resource class of the provider;
 * - cdktf.json's app is `npx ts-node main.ts` with the template's tsconfig.json, so ts-node type-checks on every run;
 * - `new App()` with the defaults (stack traces captured into every resource's metadata).
 *
 * What is the same as `npm run synth`: every resource, attribute, output and asset of the recsys-dev stack, written
 * out by hand as a template user would. bench/lib/equivalence.ts checks that both write the same Terraform JSON, so
 * the comparison measures the toolchain, not a smaller stack.
 *
 * The one deviation from the template: `terraform_data` is a small TerraformResource subclass instead of cdktf's
 * `DataResource`, whose constructor runs `terraform version` (synth would need terraform on PATH, and the spawn
 * would be counted against this baseline).
 *
 * Inputs: CDKTF_OUTDIR (where to write; cdktf's App reads it), SEEDER_BUNDLE (path of the seeder.cjs that
 * `npm run synth` bundled; the bench passes it), STATE_PATH (the local backend path, as npm run synth writes it).
 */
import { createHash } from 'crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { Construct } from 'constructs';
import {
  App,
  AssetType,
  ITerraformDependable,
  LocalBackend,
  TerraformAsset,
  TerraformOutput,
  TerraformResource,
  TerraformStack,
  anyToTerraform,
  hashMapper,
} from 'cdktf';
import * as google from '@cdktf/provider-google';

const project = 'acme-ml-dev';
const region = 'us-central1';
const invokerEmail = `recsys-dev@${project}.iam.gserviceaccount.com`;

interface Step {
  name: string;
  host: string;
  worker: string;
  rate: number;
  concurrent: number;
  retry: { maxAttempts: number; minBackoff: string; maxBackoff: string; maxDoublings: number };
  sampling: number;
  deadline: number;
  next: string[];
}

// The dev example after presets are applied (the same values `npm run synth` writes).
const steps: Step[] = [
  {
    name: 'preprocess',
    host: 'preprocess-def456-uc.a.run.app',
    worker: 'recsys-preprocess',
    rate: 5,
    concurrent: 10,
    retry: { maxAttempts: 5, minBackoff: '5s', maxBackoff: '300s', maxDoublings: 4 },
    sampling: 0.1,
    deadline: 300,
    next: ['train'],
  },
  {
    name: 'train',
    host: 'train-def456-uc.a.run.app',
    worker: 'recsys-train',
    rate: 1,
    concurrent: 1,
    retry: { maxAttempts: 3, minBackoff: '60s', maxBackoff: '1800s', maxDoublings: 2 },
    sampling: 1,
    deadline: 1800,
    next: ['infer'],
  },
  {
    name: 'infer',
    host: 'infer-def456-uc.a.run.app',
    worker: 'recsys-infer',
    rate: 20,
    concurrent: 20,
    retry: { maxAttempts: 5, minBackoff: '1s', maxBackoff: '10s', maxDoublings: 3 },
    sampling: 0.1,
    deadline: 60,
    next: [],
  },
];

const seeds: { step: string; id: string; payload: unknown }[] = [
  { step: 'preprocess', id: 'sample-2026-11', payload: { dataset: 'gs://acme-ml-dev-raw/sample/2026-11/', shards: 4 } },
  { step: 'preprocess', id: 'sample-2026-12', payload: { dataset: 'gs://acme-ml-dev-raw/sample/2026-12/', shards: 4 } },
  {
    step: 'infer',
    id: 'smoke-test',
    payload: { model: 'gs://acme-ml-dev-models/recsys/latest/', users: ['u-1001', 'u-1002'] },
  },
];

class TerraformData extends TerraformResource {
  constructor(
    scope: Construct,
    id: string,
    private readonly props: {
      triggersReplace: Record<string, unknown>;
      dependsOn: ITerraformDependable[];
      interpreter: string[];
      command: string;
    },
  ) {
    super(scope, id, {
      terraformResourceType: 'terraform_data',
      terraformGeneratorMetadata: { providerName: 'terraform' },
      dependsOn: props.dependsOn,
      provisioners: [
        { type: 'local-exec', interpreter: props.interpreter, command: props.command, workingDir: '${path.module}' },
      ],
    });
  }
  protected synthesizeAttributes(): { [name: string]: unknown } {
    return { triggers_replace: hashMapper(anyToTerraform)(this.props.triggersReplace) };
  }
}

const sha256 = (text: string | Buffer) => createHash('sha256').update(text).digest('hex');
const queueName = (step: string) => `projects/${project}/locations/${region}/queues/recsys-dev-${step}`;
const memberId = (member: string) => member.replace(/\//g, '_');

class RecsysDevStack extends TerraformStack {
  constructor(scope: Construct, id: string) {
    super(scope, id);

    const provider = new google.provider.GoogleProvider(this, 'google', { project, region });
    provider.addOverride('default_labels', {
      team: 'ml',
      pipeline: 'recsys',
      env: 'dev',
      'managed-by': 'cloud-tasks-pipelines',
      environment: 'dev',
    });
    new LocalBackend(this, { path: process.env.STATE_PATH ?? 'terraform.recsys-dev.tfstate' });

    const api = (id: string, service: string) =>
      new google.projectService.ProjectService(this, id, {
        project,
        service,
        disableOnDestroy: false,
        disableDependentServices: false,
      });
    const apiTasks = api('api-cloudtasks', 'cloudtasks.googleapis.com');
    const apiIam = api('api-iam', 'iam.googleapis.com');
    const apiRun = api('api-run', 'run.googleapis.com');

    const invoker = new Construct(this, 'invoker');
    const account = new google.serviceAccount.ServiceAccount(invoker, 'Resource', {
      project,
      accountId: 'recsys-dev',
      displayName: 'recsys dev task invoker',
      description:
        'Identity on the OIDC/OAuth tokens of Cloud Tasks for pipeline recsys (dev). Managed by cloud-tasks-pipelines.',
      dependsOn: [apiIam],
    });

    const queues: Record<string, { scope: Construct; queue: google.cloudTasksQueue.CloudTasksQueue }> = {};
    for (const s of steps) {
      const scope = new Construct(this, `queue-${s.name}`);
      const url = `https://${s.host}/tasks`;
      const queue = new google.cloudTasksQueue.CloudTasksQueue(scope, 'Resource', {
        name: `recsys-dev-${s.name}`,
        project,
        location: region,
        rateLimits: { maxDispatchesPerSecond: s.rate, maxConcurrentDispatches: s.concurrent },
        retryConfig: s.retry,
        stackdriverLoggingConfig: { samplingRatio: s.sampling },
        httpTarget: {
          httpMethod: 'POST',
          uriOverride: {
            scheme: 'HTTPS',
            host: s.host,
            pathOverride: { path: '/tasks' },
            uriOverrideEnforceMode: 'ALWAYS',
          },
          headerOverrides: [{ header: { key: 'X-Pipeline', value: 'recsys' } }],
          oidcToken: { serviceAccountEmail: invokerEmail, audience: url },
        },
        dependsOn: [apiTasks, account],
      });
      queues[s.name] = { scope, queue };
    }

    const enqueuers: ITerraformDependable[] = [];
    const invokerBindings: ITerraformDependable[] = [];
    for (const s of steps) {
      const member = `serviceAccount:${s.worker}@${project}.iam.gserviceaccount.com`;
      if (s.next.length > 0) {
        invokerBindings.push(
          new google.serviceAccountIamMember.ServiceAccountIamMember(invoker, `ActAs-${memberId(member)}`, {
            serviceAccountId: account.name,
            role: 'roles/iam.serviceAccountUser',
            member,
          }),
        );
        for (const next of s.next) {
          enqueuers.push(
            new google.cloudTasksQueueIamMember.CloudTasksQueueIamMember(
              queues[next].scope,
              `Enqueuer-${memberId(member)}`,
              {
                project,
                location: region,
                name: queues[next].queue.name,
                role: 'roles/cloudtasks.enqueuer',
                member,
              },
            ),
          );
        }
      }
      invokerBindings.push(
        new google.cloudRunV2ServiceIamMember.CloudRunV2ServiceIamMember(invoker, `RunInvoker-${region}-${s.name}`, {
          project,
          location: region,
          name: s.name,
          role: 'roles/run.invoker',
          member: `serviceAccount:${account.email}`,
          dependsOn: [apiRun],
        }),
      );
    }

    // The seed manifest, as canonical JSON (keys sorted, two-space indent) so its hash is stable.
    const tasks = seeds.map((seed) => {
      const step = steps.find((s) => s.name === seed.step) as Step;
      const queue = queueName(step.name);
      const url = `https://${step.host}/tasks`;
      const hash = createHash('sha256').update(queue).update('\0').update(seed.id).digest('hex').slice(0, 16);
      return {
        dispatchDeadlineSeconds: step.deadline,
        httpRequest: {
          body: JSON.stringify(seed.payload),
          headers: { 'Content-Type': 'application/json', 'X-Pipeline': 'recsys' },
          httpMethod: 'POST',
          oidcToken: { audience: url, serviceAccountEmail: invokerEmail },
          url,
        },
        queue,
        seedId: seed.id,
        step: step.name,
        taskId: `${hash}-${seed.id}`,
      };
    });
    const manifestText = `${JSON.stringify({ location: region, project, stack: 'recsys-dev', tasks, version: 1 }, null, 2)}\n`;
    const manifestSha = sha256(manifestText);
    const staged = join(tmpdir(), `init-style-bench-${manifestSha}`);
    mkdirSync(staged, { recursive: true });
    writeFileSync(join(staged, 'seed-manifest.json'), manifestText);

    const seederPath = process.env.SEEDER_BUNDLE;
    if (!seederPath) throw new Error('SEEDER_BUNDLE must name the seeder.cjs to ship (bench/run.ts sets it)');
    const seedTasks = new Construct(this, 'seed-tasks');
    const manifest = new TerraformAsset(seedTasks, 'Manifest', {
      path: join(staged, 'seed-manifest.json'),
      type: AssetType.FILE,
      assetHash: manifestSha,
    });
    const seeder = new TerraformAsset(seedTasks, 'Seeder', {
      path: seederPath,
      type: AssetType.FILE,
      assetHash: sha256(readFileSync(seederPath)),
    });
    const allQueues = steps.map((s) => queues[s.name].queue);
    new TerraformData(seedTasks, 'Resource', {
      triggersReplace: { manifest_sha256: manifestSha, queue_ids: allQueues.map((q) => q.id) },
      dependsOn: [apiTasks, ...allQueues, ...enqueuers, account, ...invokerBindings],
      interpreter: ['node', seeder.path],
      command: manifest.path,
    });

    const output = (id: string, value: unknown, description: string) =>
      new TerraformOutput(this, id, { value, description }).overrideLogicalId(id);
    output(
      'queue_ids',
      Object.fromEntries(steps.map((s) => [s.name, `recsys-dev-${s.name}`])),
      'Cloud Tasks queue id of each step',
    );
    output(
      'queue_names',
      Object.fromEntries(steps.map((s) => [s.name, queueName(s.name)])),
      'Full Cloud Tasks queue name of each step',
    );
    output('invoker_service_account_email', invokerEmail, 'Service account on the OIDC/OAuth token of every task');
    output(
      'pipeline_graph',
      {
        pipeline: 'recsys',
        environment: 'dev',
        steps: steps.map((s) => ({ name: s.name, queueId: `recsys-dev-${s.name}`, next: s.next })),
      },
      'Steps, their queues and the steps each one enqueues into (drawn by the review tool)',
    );
  }
}

const app = new App();
new RecsysDevStack(app, 'recsys-dev');
app.synth();
