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
const schedulerEmail = `recsys-dev-scheduler@${project}.iam.gserviceaccount.com`;
const ledgerDatabase = 'recsys-dev-runs';
const ledgerName = `projects/${project}/databases/${ledgerDatabase}`;
const cloudPlatformScope = 'https://www.googleapis.com/auth/cloud-platform';

interface Step {
  name: string;
  /** A Cloud Run service step: the service's host (tasks go to https://<host>/tasks, OIDC). */
  host?: string;
  /** A Cloud Run job step: the queue runs the job through the Cloud Run Admin API (OAuth). */
  job?: { name: string; taskCount: number; parallelism: number; timeoutSeconds: number; maxRetries: number };
  worker: string;
  rate: number;
  concurrent: number;
  /** Backoffs in seconds; no maxDoublings means Cloud Tasks' default (16), left out of the queue. */
  retry: { maxAttempts: number; minBackoff: number; maxBackoff: number; maxDoublings?: number };
  sampling: number;
  deadline: number;
  join: 'each' | 'all';
  parents: string[];
  next: string[];
}

// The dev example after presets are applied (the same values `npm run synth` writes).
const preprocess = {
  rate: 5,
  concurrent: 10,
  retry: { maxAttempts: 5, minBackoff: 5, maxBackoff: 300, maxDoublings: 4 },
  sampling: 0.1,
  deadline: 300,
};
const steps: Step[] = [
  {
    name: 'ingest',
    host: 'ingest-def456-uc.a.run.app',
    worker: 'recsys-ingest',
    ...preprocess,
    join: 'each',
    parents: [],
    next: ['user-features', 'item-features'],
  },
  {
    name: 'user-features',
    host: 'user-features-def456-uc.a.run.app',
    worker: 'recsys-features',
    ...preprocess,
    join: 'each',
    parents: ['ingest'],
    next: ['train'],
  },
  {
    name: 'item-features',
    host: 'item-features-def456-uc.a.run.app',
    worker: 'recsys-features',
    ...preprocess,
    join: 'each',
    parents: ['ingest'],
    next: ['train'],
  },
  {
    name: 'train',
    job: { name: 'recsys-train', taskCount: 3, parallelism: 3, timeoutSeconds: 3600, maxRetries: 1 },
    worker: 'recsys-train',
    rate: 1,
    concurrent: 1,
    retry: { maxAttempts: 3, minBackoff: 10, maxBackoff: 1800, maxDoublings: 2 },
    sampling: 1,
    deadline: 60,
    join: 'all',
    parents: ['user-features', 'item-features'],
    next: ['evaluate'],
  },
  {
    name: 'evaluate',
    host: 'evaluate-def456-uc.a.run.app',
    worker: 'recsys-evaluate',
    rate: 1,
    concurrent: 2,
    retry: { maxAttempts: 3, minBackoff: 10, maxBackoff: 300 },
    sampling: 1,
    deadline: 900,
    join: 'all',
    parents: ['train'],
    next: [],
  },
];

const seeds: { step: string; id: string; payload: unknown }[] = [
  { step: 'ingest', id: 'sample-2026-11', payload: { dataset: 'gs://acme-ml-dev-raw/sample/2026-11/', shards: 4 } },
  { step: 'ingest', id: 'sample-2026-12', payload: { dataset: 'gs://acme-ml-dev-raw/sample/2026-12/', shards: 4 } },
  { step: 'evaluate', id: 'smoke-test', payload: { model: 'gs://acme-ml-dev-models/recsys/latest/' } },
];

const schedules = [
  {
    name: 'nightly-retrain',
    step: 'ingest',
    cron: '0 3 * * *',
    timeZone: 'Europe/Berlin',
    payload: { dataset: 'gs://acme-ml-dev-raw/latest/', shards: 4 },
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
const base64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64');
const queueName = (step: string) => `projects/${project}/locations/${region}/queues/recsys-dev-${step}`;
const memberId = (member: string) => member.replace(/\//g, '_');
const workerMember = (s: Step) => `serviceAccount:${s.worker}@${project}.iam.gserviceaccount.com`;
const jobName = (job: string) => `projects/${project}/locations/${region}/jobs/${job}`;
const jobRunPath = (job: string) => `/v2/${jobName(job)}:run`;
const stepUrl = (s: Step) =>
  s.job ? `https://run.googleapis.com${jobRunPath(s.job.name)}` : `https://${s.host}/tasks`;
const stepByName = (name: string) => steps.find((s) => s.name === name) as Step;

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
    const apiFirestore = api('api-firestore', 'firestore.googleapis.com');
    const apiScheduler = api('api-cloudscheduler', 'cloudscheduler.googleapis.com');

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
      // A service step: POST https://<host>/tasks with an OIDC token. A job step: the Cloud Run Admin API's
      // jobs.run with an OAuth token.
      const httpTarget: google.cloudTasksQueue.CloudTasksQueueHttpTarget = s.job
        ? {
            httpMethod: 'POST',
            uriOverride: {
              scheme: 'HTTPS',
              host: 'run.googleapis.com',
              pathOverride: { path: jobRunPath(s.job.name) },
              uriOverrideEnforceMode: 'ALWAYS',
            },
            oauthToken: { serviceAccountEmail: invokerEmail, scope: cloudPlatformScope },
          }
        : {
            httpMethod: 'POST',
            uriOverride: {
              scheme: 'HTTPS',
              host: s.host,
              pathOverride: { path: '/tasks' },
              uriOverrideEnforceMode: 'ALWAYS',
            },
            headerOverrides: [{ header: { key: 'X-Pipeline', value: 'recsys' } }],
            oidcToken: { serviceAccountEmail: invokerEmail, audience: `https://${s.host}` },
          };
      const queue = new google.cloudTasksQueue.CloudTasksQueue(scope, 'Resource', {
        name: `recsys-dev-${s.name}`,
        project,
        location: region,
        rateLimits: { maxDispatchesPerSecond: s.rate, maxConcurrentDispatches: s.concurrent },
        retryConfig: {
          maxAttempts: s.retry.maxAttempts,
          minBackoff: `${s.retry.minBackoff}s`,
          maxBackoff: `${s.retry.maxBackoff}s`,
          maxDoublings: s.retry.maxDoublings,
        },
        stackdriverLoggingConfig: { samplingRatio: s.sampling },
        httpTarget,
        dependsOn: [apiTasks, account],
      });
      queues[s.name] = { scope, queue };
    }

    // Workers that share a service account (user-features, item-features) share its grants.
    const enqueuers: ITerraformDependable[] = [];
    const invokerBindings: ITerraformDependable[] = [];
    const granted = new Set<string>();
    for (const s of steps) {
      const member = workerMember(s);
      if (s.next.length > 0) {
        if (!granted.has(`actAs ${member}`)) {
          granted.add(`actAs ${member}`);
          invokerBindings.push(
            new google.serviceAccountIamMember.ServiceAccountIamMember(invoker, `ActAs-${memberId(member)}`, {
              serviceAccountId: account.name,
              role: 'roles/iam.serviceAccountUser',
              member,
            }),
          );
        }
        for (const next of s.next) {
          if (granted.has(`enqueue ${next} ${member}`)) continue;
          granted.add(`enqueue ${next} ${member}`);
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
      if (s.host) {
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
    }

    // The run ledger: a Firestore database, its index, and read/write on it (only it) for every worker.
    const runLedger = new Construct(this, 'run-ledger');
    const database = new google.firestoreDatabase.FirestoreDatabase(runLedger, 'Database', {
      project,
      name: ledgerDatabase,
      locationId: region,
      type: 'FIRESTORE_NATIVE',
      deletionPolicy: 'ABANDON',
      dependsOn: [apiFirestore],
    });
    const index = new google.firestoreIndex.FirestoreIndex(runLedger, 'Index0', {
      project,
      database: database.name,
      collection: 'runs',
      queryScope: 'COLLECTION',
      fields: [
        { fieldPath: 'status', order: 'ASCENDING' },
        { fieldPath: 'createdAt', order: 'DESCENDING' },
      ],
    });
    const ledgerMembers: ITerraformDependable[] = [];
    for (const member of [...new Set(steps.map(workerMember))]) {
      ledgerMembers.push(
        new google.projectIamMember.ProjectIamMember(runLedger, `ReadWrite-${memberId(member)}`, {
          project,
          role: 'roles/datastore.user',
          member,
          condition: {
            title: 'recsys-dev run ledger',
            description: `Read and write the run ledger ${ledgerName} only (cloud-tasks-pipelines).`,
            expression: `resource.name == "${ledgerName}"`,
          },
          dependsOn: [database],
        }),
      );
    }

    // Job steps: the invoker may run the job (with overrides: the task's shard and message).
    const jobAccess = new Construct(this, 'job-access');
    const jobExecutors = steps
      .filter((s) => s.job)
      .map(
        (s) =>
          new google.cloudRunV2JobIamMember.CloudRunV2JobIamMember(
            jobAccess,
            `run-job-executor-${region}-${s.job?.name}`,
            {
              project,
              location: region,
              name: s.job?.name as string,
              role: 'roles/run.jobsExecutorWithOverrides',
              member: `serviceAccount:${account.email}`,
              dependsOn: [apiRun],
            },
          ),
      );

    // Schedules: a Cloud Scheduler job per schedule creates the run's first task in the step's queue.
    const scheduler = new Construct(this, 'scheduler');
    const schedulerAccount = new google.serviceAccount.ServiceAccount(scheduler, 'ServiceAccount', {
      project,
      accountId: 'recsys-dev-scheduler',
      displayName: 'recsys dev scheduler',
      description:
        'Identity on the OAuth tokens of the Cloud Scheduler jobs of pipeline recsys (dev): creates the first task of each scheduled run. Managed by cloud-tasks-pipelines.',
      dependsOn: [apiScheduler, apiIam],
    });
    const schedulerMember = `serviceAccount:${schedulerEmail}`;
    const schedulerActAs = new google.serviceAccountIamMember.ServiceAccountIamMember(
      invoker,
      `ActAs-${memberId(schedulerMember)}`,
      { serviceAccountId: account.name, role: 'roles/iam.serviceAccountUser', member: schedulerMember },
    );
    const schedulerEnqueuers: Record<string, ITerraformDependable> = {};
    for (const step of [...new Set(schedules.map((sc) => sc.step))]) {
      schedulerEnqueuers[step] = new google.cloudTasksQueueIamMember.CloudTasksQueueIamMember(
        queues[step].scope,
        `Enqueuer-${memberId(schedulerMember)}`,
        {
          project,
          location: region,
          name: queues[step].queue.name,
          role: 'roles/cloudtasks.enqueuer',
          member: schedulerMember,
        },
      );
    }
    for (const sc of schedules) {
      const step = stepByName(sc.step);
      const envelope = {
        envelope: 'cloud-tasks-pipelines/run-v1',
        step: step.name,
        shard: '0',
        generation: 0,
        source: { kind: 'schedule', name: sc.name },
        payload: sc.payload,
      };
      const createTask = {
        task: {
          httpRequest: {
            url: stepUrl(step),
            httpMethod: 'POST',
            headers: { 'Content-Type': 'application/json' },
            body: base64(envelope),
          },
          dispatchDeadline: `${step.deadline}s`,
        },
      };
      new google.cloudSchedulerJob.CloudSchedulerJob(scheduler, sc.name, {
        project,
        region,
        name: `recsys-dev-${sc.name}`,
        description: `Schedule ${sc.name} of pipeline recsys (dev): starts a run at step ${sc.step}. Managed by cloud-tasks-pipelines.`,
        schedule: sc.cron,
        timeZone: sc.timeZone,
        paused: false,
        httpTarget: {
          uri: `https://cloudtasks.googleapis.com/v2/${queueName(sc.step)}/tasks`,
          httpMethod: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: base64(createTask),
          oauthToken: { serviceAccountEmail: schedulerEmail, scope: cloudPlatformScope },
        },
        dependsOn: [schedulerAccount, schedulerActAs, schedulerEnqueuers[sc.step], apiScheduler, apiIam],
      });
    }

    // The seed manifest, as canonical JSON (keys sorted, two-space indent) so its hash is stable.
    const tasks = seeds.map((seed) => {
      const step = stepByName(seed.step);
      const queue = queueName(step.name);
      const url = stepUrl(step);
      const hash = createHash('sha256').update(queue).update('\0').update(seed.id).digest('hex').slice(0, 16);
      return {
        dispatchDeadlineSeconds: step.deadline,
        httpRequest: {
          body: JSON.stringify(seed.payload),
          headers: { 'Content-Type': 'application/json', 'X-Pipeline': 'recsys' },
          httpMethod: 'POST',
          oidcToken: { audience: `https://${step.host}`, serviceAccountEmail: invokerEmail },
          url,
        },
        queue,
        seedId: seed.id,
        step: step.name,
        taskId: `${hash}-${seed.id}`,
      };
    });
    const manifestText = `${JSON.stringify(
      {
        ledger: { database: ledgerDatabase, pipeline: 'recsys', project },
        location: region,
        project,
        stack: 'recsys-dev',
        tasks,
        version: 1,
      },
      null,
      2,
    )}\n`;
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
      dependsOn: [
        apiTasks,
        ...allQueues,
        ...enqueuers,
        account,
        ...invokerBindings,
        database,
        index,
        ...ledgerMembers,
        ...jobExecutors,
      ],
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
        steps: steps.map((s) => ({
          name: s.name,
          queueId: `recsys-dev-${s.name}`,
          next: s.next,
          ...(s.job ? { kind: 'cloudRunJob', job: s.job.name, tasks: s.job.taskCount } : {}),
        })),
      },
      'Steps, their queues and the steps each one enqueues into (drawn by the review tool)',
    );
    output(
      'routes',
      {
        version: 1,
        stack: 'recsys-dev',
        pipeline: 'recsys',
        project,
        location: region,
        ledger: { project, database: ledgerDatabase },
        steps: Object.fromEntries(
          steps.map((s) => [
            s.name,
            {
              kind: s.job ? 'cloudRunJob' : 'service',
              queue: queueName(s.name),
              url: stepUrl(s),
              auth: s.job
                ? { kind: 'oauth', serviceAccountEmail: invokerEmail, scope: cloudPlatformScope }
                : { kind: 'oidc', serviceAccountEmail: invokerEmail, audience: `https://${s.host}` },
              ...(s.job
                ? {
                    job: {
                      kind: 'cloudRunJob',
                      name: jobName(s.job.name),
                      taskCount: s.job.taskCount,
                      parallelism: s.job.parallelism,
                      timeoutSeconds: s.job.timeoutSeconds,
                      maxRetries: s.job.maxRetries,
                    },
                  }
                : {}),
              task: { dispatchDeadlineSeconds: s.deadline },
              retry: {
                maxAttempts: s.retry.maxAttempts,
                minBackoffSeconds: s.retry.minBackoff,
                maxBackoffSeconds: s.retry.maxBackoff,
                maxDoublings: s.retry.maxDoublings ?? 16,
                maxRetryDurationSeconds: 0,
              },
              next: s.next,
              parents: s.parents,
              join: s.join,
            },
          ]),
        ),
      },
      'The pipeline routes a worker reads from CLOUD_TASKS_PIPELINE_ROUTES: `terraform output -json routes` (docs/worker.md)',
    );
    output(
      'ledger_database',
      ledgerName,
      'The run ledger: the Firestore database that keeps the runs of this pipeline',
    );
    output(
      'schedules',
      Object.fromEntries(
        schedules.map((sc) => [
          sc.name,
          {
            job: `projects/${project}/locations/${region}/jobs/recsys-dev-${sc.name}`,
            step: sc.step,
            cron: sc.cron,
            timeZone: sc.timeZone,
            paused: false,
          },
        ]),
      ),
      'Cloud Scheduler job of each schedule: the step it starts runs at, cron, time zone, paused (docs/schedules.md)',
    );
    output(
      'scheduler_service_account_email',
      schedulerEmail,
      'Service account on the OAuth token of every Cloud Scheduler job',
    );
  }
}

const app = new App();
new RecsysDevStack(app, 'recsys-dev');
app.synth();
