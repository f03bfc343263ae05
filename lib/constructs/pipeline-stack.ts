/**
 * PipelineStack: everything one pipeline needs in one Google Cloud project and region, from a normalized spec.
 *
 * Contents: the google provider (default labels), the backend, the API services, one TaskQueue per step, the
 * pipeline's invoker service account, least-privilege IAM (resource-level only), the SeedTasks resource when the
 * spec has seed tasks, and outputs for people and for the review tool. TypeScript users get the same validation as
 * YAML users: the constructor runs pipelineProblems() and throws SpecError.
 */
import { Construct } from 'constructs';
import { Annotations, GcsBackend, LocalBackend, TerraformOutput, TerraformStack } from '../cdktf/core';
import { formatProblem } from '../core/problem';
import { GoogleProvider, ProjectService, type ServiceAccountIamMember } from '../cdktf/google';
import { prebuiltSeederBundle } from '../core/seeder-bundle';
import { buildSeedManifest } from './build-manifest';
import { SpecError } from '../spec/errors';
import { type PipelineSpec } from '../spec/types';
import { pipelineProblems } from '../spec/validate';
import { PolicyPack } from '../policy/pack';
import { MONITORING_API, monitoringProblems, QueueAlerts } from './queue-alerts';
import { PipelineSchedules } from './pipeline-schedules';
import { SCHEDULER_API } from '../core/rules/scheduler';
import {
  MANAGED_BY,
  defaultStatePrefixFor,
  serviceAccountMember,
  queueIdFor,
  queueNameFor,
  schedulerJobIdFor,
  schedulerJobNameFor,
  stackNameFor,
} from '../core/naming';
import { keepStringsLiteral } from './literal-strings';
import { PipelineInvoker } from './pipeline-invoker';
import { type SeederBundle, SeedTasks } from './seed-tasks';
import { TaskQueue } from './task-queue';
import { RunLedger } from './run-ledger';
import { buildRoutes } from '../core/routes';
import { ledgerLocationFor } from '../core/ledger-layout';
import { JobAlerts } from './job-alerts';
import { JobStepAccess } from './job-step-access';

export interface PipelineStackProps {
  /** The normalized pipeline (lib/spec/types.ts), e.g. from loadSpecs() or written in TypeScript. */
  readonly spec: PipelineSpec;
  /**
   * The spec's file, named in validation errors.
   * @default - errors name no file
   */
  readonly source?: string;
  /**
   * Clock for time-dependent rules (a seed task's scheduleTime is at most 30 days ahead).
   * @default - the current time
   */
  readonly now?: Date;
  /**
   * The seeder the SeedTasks provisioner runs.
   * @default - prebuiltSeederBundle(): the bundled seeder this package ships (`dist/seeder/seeder.cjs`)
   */
  readonly seeder?: SeederBundle;
  /**
   * State file of the local backend, relative to the stack directory (where Terraform runs), used when the spec
   * has no `backend.gcs`. The default puts it in the project root when the stack is synthesized to
   * `cdktf.out/stacks/<stack>/` (covered by .gitignore's `terraform.*.tfstate*`), the same place on every machine.
   * @default '../../../terraform.<stack>.tfstate'
   */
  readonly localStatePath?: string;
}

/** Google APIs the stack turns on. */
export const API_SERVICES = {
  cloudTasks: 'cloudtasks.googleapis.com',
  iam: 'iam.googleapis.com',
  run: 'run.googleapis.com',
  scheduler: SCHEDULER_API,
  firestore: 'firestore.googleapis.com',
  aiplatform: 'aiplatform.googleapis.com',
} as const;

export class PipelineStack extends TerraformStack {
  public readonly spec: PipelineSpec;
  /** `<pipeline>-<environment>`. */
  public readonly stackName: string;
  public readonly provider: GoogleProvider;
  /**
   * The `google_project_service` resources, by API (run only when a step names `target.cloudRun` or
   * `target.cloudRunJob`, aiplatform only when a step is a `vertexAI` job).
   */
  public readonly apiServices: {
    readonly cloudTasks: ProjectService;
    readonly iam: ProjectService;
    readonly run?: ProjectService;
    /** `cloudscheduler.googleapis.com`, only when the spec has schedules. */
    readonly scheduler?: ProjectService;
    /** Present when the run ledger is in the pipeline's project. */
    readonly firestore?: ProjectService;
    readonly aiplatform?: ProjectService;
  };
  /** One queue per step, by step name. */
  public readonly queues: Readonly<Record<string, TaskQueue>>;
  public readonly invoker: PipelineInvoker;
  /**
   * `roles/iam.serviceAccountUser` on the invoker for each `deployer` member of the spec, in spec order; every queue
   * and the seeding depend on them. Empty when the spec has no `deployer`.
   */
  public readonly deployerBindings: readonly ServiceAccountIamMember[];
  /** The run ledger's database (created, or the spec's existing `ledger.database`) and its grants. */
  public readonly ledger: RunLedger;
  /** Present only when the spec has seed tasks. */
  public readonly seedTasks?: SeedTasks;
  /** The policy pack checking this stack (docs/policy.md); suppress rules with `policy.suppress(rule, reason)`. */
  public readonly policy: PolicyPack;
  /** Alert policies (docs/monitoring.md); present only when the spec has a `monitoring` block. */
  public readonly monitoring?: QueueAlerts;
  /** The Cloud Scheduler jobs and their identity (docs/schedules.md); present only when the spec has schedules. */
  public readonly schedules?: PipelineSchedules;
  /** The invoker's grants to start the jobs of job steps (docs/jobs.md); present only when the spec has one. */
  public readonly jobAccess?: JobStepAccess;
  /** A failed-job alert per job step; present only with `monitoring` and a job step. */
  public readonly jobAlerts?: JobAlerts;

  /** Set by synthesizeOnce: the stack's Terraform JSON, computed at most once while it is set. */
  private terraformOnce: { json?: ReturnType<TerraformStack['toTerraform']> } | undefined;

  constructor(scope: Construct, id: string, props: PipelineStackProps) {
    super(scope, id);
    const spec = props.spec;
    const checked = pipelineProblems(spec, { now: props.now ?? new Date() }).map((p) => ({
      ...p,
      file: p.file ?? props.source,
    }));
    const problems = checked.filter((p) => p.severity !== 'warning');
    if (problems.length) throw new SpecError(problems);
    // Warnings become cdktf warning annotations (`cdktf synth` prints them; npm run synth prints the loader's).
    for (const w of checked.filter((p) => p.severity === 'warning')) Annotations.of(this).addWarning(formatProblem(w));

    this.spec = spec;
    this.stackName = stackNameFor(spec);
    // Every string the spec puts into this stack is literal for Terraform (tokens stay live): ./literal-strings.ts.
    keepStringsLiteral(this);

    // Provider and backend.
    this.provider = new GoogleProvider(this, 'google', { project: spec.project, region: spec.region });
    // The spec's labels first: the three below identify what manages the resource and cannot be overridden.
    // Written as an override because cdktf 0.21 snake-cases every key of a provider's attributes, map keys included
    // (`managed-by` would become `managed_by`, and so would the user's `cost-center`); overrides are written verbatim.
    this.provider.addOverride('default_labels', {
      ...spec.labels,
      'managed-by': MANAGED_BY,
      pipeline: spec.pipeline.name,
      environment: spec.environment,
    });
    if (spec.backend?.gcs) {
      new GcsBackend(this, {
        bucket: spec.backend.gcs.bucket,
        prefix: spec.backend.gcs.prefix ?? defaultStatePrefixFor(this.stackName),
      });
    } else {
      new LocalBackend(this, { path: props.localStatePath ?? `../../../terraform.${this.stackName}.tfstate` });
    }

    // APIs. Never disabled on destroy: other workloads in the project may use them.
    const api = (id: string, service: string) =>
      new ProjectService(this, id, {
        project: spec.project,
        service,
        disableOnDestroy: false,
        disableDependentServices: false,
      });
    const usesCloudRun = spec.pipeline.steps.some(
      (s) => s.target.cloudRun !== undefined || s.target.cloudRunJob !== undefined,
    );
    const jobSteps = spec.pipeline.steps.filter((s) => s.target.cloudRunJob || s.target.vertexAI);
    const usesVertex = jobSteps.some((s) => s.target.vertexAI);
    const ledgerAt = ledgerLocationFor(spec);
    this.apiServices = {
      cloudTasks: api('api-cloudtasks', API_SERVICES.cloudTasks),
      iam: api('api-iam', API_SERVICES.iam),
      run: usesCloudRun ? api('api-run', API_SERVICES.run) : undefined,
      scheduler: spec.pipeline.schedules?.length ? api('api-cloudscheduler', API_SERVICES.scheduler) : undefined,
      // A database in another project is that project's: its API is on already.
      firestore: ledgerAt.project === spec.project ? api('api-firestore', API_SERVICES.firestore) : undefined,
      ...(usesVertex ? { aiplatform: api('api-aiplatform', API_SERVICES.aiplatform) } : {}),
    };

    // The identity on every task's token.
    this.invoker = new PipelineInvoker(this, 'invoker', {
      project: spec.project,
      pipeline: spec.pipeline.name,
      environment: spec.environment,
      dependsOn: [this.apiServices.iam],
    });

    // Whoever creates a queue whose http_target token names the invoker (and the seed tasks) needs actAs on it, and
    // the invoker is created by this same deploy: granting it here, before the queues, makes the first deploy work.
    // Granted first, so a worker with the same identity reuses this binding (grantActAs deduplicates).
    this.deployerBindings = (spec.deployer ?? []).map((member) => this.invoker.grantActAs(member));

    // One queue per step.
    const queues: Record<string, TaskQueue> = {};
    for (const step of spec.pipeline.steps) {
      const t = step.target;
      queues[step.name] = new TaskQueue(this, `queue-${step.name}`, {
        queueId: queueIdFor(spec, step.name),
        project: spec.project,
        location: spec.region,
        rateLimits: step.rateLimits,
        retry: step.retry,
        dispatchDeadlineSeconds: step.dispatchDeadlineSeconds,
        logSamplingRatio: step.logSamplingRatio,
        httpTarget: {
          url: t.url,
          method: t.method,
          headers: t.headers,
          auth: t.auth,
          audience: t.audience,
          scope: t.scope,
          serviceAccountEmail: t.auth === 'none' ? undefined : this.invoker.email,
        },
        // The token's account is named by its literal e-mail: the explicit dependency makes it exist first, and the
        // deployers' actAs bindings on it before the queue (Terraform: account -> bindings -> queues -> seeding).
        dependsOn: [this.apiServices.cloudTasks, this.invoker.resource, ...this.deployerBindings],
      });
    }
    this.queues = queues;

    // IAM, resource-level only. A worker that enqueues into `next` queues creates tasks whose token is the invoker:
    // it needs enqueuer on those queues and actAs on the invoker. The invoker calls Cloud Run workers.
    for (const step of spec.pipeline.steps) {
      const worker = step.target.serviceAccount;
      if (worker && step.next.length > 0) {
        const member = serviceAccountMember(worker);
        this.invoker.grantActAs(member);
        for (const next of step.next) queues[next].grantEnqueue(member);
      }
      const run = step.target.cloudRun;
      if (run)
        this.invoker.grantRunInvoker(
          run.service,
          run.region,
          this.apiServices.run ? [this.apiServices.run] : undefined,
        );
    }

    // The run ledger (docs/runs.md): the database the stack creates (never deleted on destroy) or the spec's existing
    // one; every worker identity and deploy identity (the seeder writes run documents) may read and write it only.
    this.ledger = new RunLedger(this, 'run-ledger', {
      project: ledgerAt.project,
      databaseId: ledgerAt.database,
      createAt: spec.ledger?.database === undefined ? (spec.ledger?.location ?? spec.region) : undefined,
      title: this.stackName,
      dependsOn: this.apiServices.firestore ? [this.apiServices.firestore] : undefined,
    });
    for (const member of new Set([
      ...spec.pipeline.steps.flatMap((s) =>
        s.target.serviceAccount ? [serviceAccountMember(s.target.serviceAccount)] : [],
      ),
      ...(spec.deployer ?? []),
    ]))
      this.ledger.grantReadWrite(member);
    // Job steps: the invoker may start their jobs (one job, or custom jobs), and nothing else (job-step-access.ts).
    if (jobSteps.length > 0)
      this.jobAccess = new JobStepAccess(this, 'job-access', {
        project: spec.project,
        stackName: this.stackName,
        invoker: this.invoker,
        steps: jobSteps.map((s) => ({ name: s.name, cloudRunJob: s.target.cloudRunJob, vertexAI: s.target.vertexAI })),
        apis: { run: this.apiServices.run, aiplatform: this.apiServices.aiplatform },
      });

    // Seeding: one resource for all seed tasks, after everything a task needs to be created and dispatched.
    if (spec.pipeline.seedTasks.length > 0) {
      const allQueues = Object.values(queues);
      this.seedTasks = new SeedTasks(this, 'seed-tasks', {
        manifest: buildSeedManifest(spec),
        seeder: props.seeder ?? prebuiltSeederBundle(),
        queues: allQueues,
        dependsOn: [
          this.apiServices.cloudTasks,
          ...allQueues.map((q) => q.resource),
          ...allQueues.flatMap((q) => q.iamBindings),
          this.invoker.resource,
          ...this.invoker.iamBindings,
          // The seeder records each seed's run in the ledger before its task.
          ...this.ledger.dependables,
          ...(this.jobAccess?.iamBindings ?? []),
        ],
      });
    }

    // ---------------------------------------------------------------------------------------------------------------
    // EXTENSION POINT: monitoring (alert policies) and the policy pack (an Aspect: Aspects.of(this).add(...)) are
    // added here. They read `this.spec`, `this.queues` (TaskQueue: queueId, queueName, resource), `this.invoker`,
    // `this.apiServices` and `this.seedTasks`; add new constructs below this line, outputs after them.
    // ---------------------------------------------------------------------------------------------------------------

    // delivery: the policy pack (docs/policy.md). Errors stop synth before this stack is written; warnings print.
    this.policy = PolicyPack.applyTo(this, {
      source: props.source,
      spec,
      // The provider and the queues come from the spec: the spec check reports them, in the spec's terms.
      coveredBySpec: [this.provider, ...Object.values(queues).map((q) => q.resource)],
    });

    // delivery: alert policies per queue, only when the spec has a `monitoring` block (docs/monitoring.md).
    if (spec.monitoring) {
      const monitoring = monitoringProblems(spec.monitoring);
      if (monitoring.length) throw new SpecError(monitoring.map((p) => ({ ...p, file: props.source })));
      this.monitoring = new QueueAlerts(this, 'monitoring', {
        project: spec.project,
        location: spec.region,
        queues: spec.pipeline.steps.map((s) => ({ step: s.name, queueId: queueIdFor(spec, s.name), preset: s.preset })),
        notificationChannels: spec.monitoring.notificationChannels,
        queueDepth: spec.monitoring.queueDepth,
        failedAttempts: spec.monitoring.failedAttempts,
        labels: {
          ...spec.labels,
          'managed-by': MANAGED_BY,
          pipeline: spec.pipeline.name,
          environment: spec.environment,
        },
        dependsOn: Object.values(queues).map((q) => q.resource),
      });
      if (jobSteps.length > 0)
        this.jobAlerts = new JobAlerts(this, 'job-alerts', {
          project: spec.project,
          pipeline: spec.pipeline.name,
          steps: jobSteps.map((s) => ({
            step: s.name,
            kind: s.target.cloudRunJob ? 'cloudRunJob' : 'vertexAI',
            job: s.target.cloudRunJob?.job,
            region: s.target.cloudRunJob?.region,
          })),
          notificationChannels: spec.monitoring.notificationChannels,
          labels: {
            ...spec.labels,
            'managed-by': MANAGED_BY,
            pipeline: spec.pipeline.name,
            environment: spec.environment,
          },
          monitoringApi: this.monitoring.apiService,
        });
    }

    // delivery: recurring runs through Cloud Scheduler, only when the spec has schedules (docs/schedules.md).
    if (spec.pipeline.schedules?.length) this.schedules = this.addSchedules(spec, queues);

    this.addOutputs();
  }

  private addSchedules(spec: PipelineSpec, queues: Readonly<Record<string, TaskQueue>>): PipelineSchedules {
    const labels = {
      ...spec.labels,
      'managed-by': MANAGED_BY,
      pipeline: spec.pipeline.name,
      environment: spec.environment,
    };
    // The failed-attempt alerts need the Monitoring API: the queue alerts' when they enabled it, else its own.
    const monitoringApi = spec.monitoring
      ? (this.monitoring?.apiService ??
        new ProjectService(this, 'api-monitoring-schedules', {
          project: spec.project,
          service: MONITORING_API,
          disableOnDestroy: false,
          disableDependentServices: false,
        }))
      : undefined;
    return new PipelineSchedules(this, 'scheduler', {
      project: spec.project,
      region: spec.region,
      pipeline: spec.pipeline.name,
      environment: spec.environment,
      invoker: this.invoker,
      deployers: spec.deployer ?? [],
      schedules: (spec.pipeline.schedules ?? []).map((s) => ({
        name: s.name,
        step: s.step,
        queue: queues[s.step],
        url: spec.pipeline.steps.find((step) => step.name === s.step)!.target.url,
        cron: s.cron,
        timeZone: s.timeZone,
        payload: s.payload,
        paused: s.paused,
        retry: s.retry,
        attemptDeadlineSeconds: s.attemptDeadlineSeconds,
      })),
      alerts: spec.monitoring
        ? { notificationChannels: spec.monitoring.notificationChannels, labels, dependsOn: [monitoringApi!] }
        : undefined,
      dependsOn: [this.apiServices.scheduler!, this.apiServices.iam],
    });
  }

  private addOutputs(): void {
    const spec = this.spec;
    const output = (id: string, value: unknown, description: string) =>
      new TerraformOutput(this, id, { value, description }).overrideLogicalId(id);
    const steps = spec.pipeline.steps;
    output(
      'queue_ids',
      Object.fromEntries(steps.map((s) => [s.name, queueIdFor(spec, s.name)])),
      'Cloud Tasks queue id of each step',
    );
    output(
      'queue_names',
      Object.fromEntries(steps.map((s) => [s.name, queueNameFor(spec.project, spec.region, queueIdFor(spec, s.name))])),
      'Full Cloud Tasks queue name of each step',
    );
    output(
      'invoker_service_account_email',
      this.invoker.email,
      'Service account on the OIDC/OAuth token of every task',
    );
    output(
      'pipeline_graph',
      {
        pipeline: spec.pipeline.name,
        environment: spec.environment,
        steps: steps.map((s) => ({
          name: s.name,
          queueId: queueIdFor(spec, s.name),
          next: [...s.next],
          // Job steps only, so a stack of services synthesizes as before (the graph reads a missing kind as service).
          ...jobGraphFields(s),
        })),
      },
      'Steps, their queues and the steps each one enqueues into (drawn by the review tool)',
    );
    const schedules = spec.pipeline.schedules ?? [];
    if (this.schedules && schedules.length) {
      output(
        'schedules',
        Object.fromEntries(
          schedules.map((s) => [
            s.name,
            {
              step: s.step,
              cron: s.cron,
              timeZone: s.timeZone,
              paused: s.paused,
              job: schedulerJobNameFor(spec.project, spec.region, schedulerJobIdFor(spec, s.name)),
            },
          ]),
        ),
        'Cloud Scheduler job of each schedule: the step it starts runs at, cron, time zone, paused (docs/schedules.md)',
      );
      output(
        'scheduler_service_account_email',
        this.schedules.email,
        'Service account on the OAuth token of every Cloud Scheduler job',
      );
    }
    output(
      'ledger_database',
      this.ledger.databaseName,
      'The run ledger: the Firestore database that keeps the runs of this pipeline',
    );
    output(
      'routes',
      buildRoutes(spec),
      'The pipeline routes a worker reads from CLOUD_TASKS_PIPELINE_ROUTES: `terraform output -json routes` (docs/worker.md)',
    );
  }

  /**
   * The stack's Terraform JSON. Inside synthesizeOnce (lib/constructs/synthesize-once.ts) it is resolved once and the
   * same JSON serves the policy pack and the written cdk.tf.json; resolving a 1,000-queue stack takes seconds.
   */
  public override toTerraform(): ReturnType<TerraformStack['toTerraform']> {
    if (!this.terraformOnce) return super.toTerraform();
    return (this.terraformOnce.json ??= super.toTerraform());
  }

  /** @internal synthesizeOnce's switch: on, the next toTerraform() result is kept until it is switched off. */
  public computeTerraformOnce(on: boolean): void {
    this.terraformOnce = on ? {} : undefined;
  }
}

/** What the review's graph shows of a job step: its kind and job. */
function jobGraphFields(s: PipelineSpec['pipeline']['steps'][number]): Record<string, unknown> {
  const t = s.target;
  if (t.cloudRunJob) return { kind: 'cloudRunJob', job: t.cloudRunJob.job, tasks: t.cloudRunJob.taskCount };
  if (t.vertexAI)
    return {
      kind: 'vertexAI',
      job: t.vertexAI.customJob.machineType,
      tasks: t.vertexAI.customJob.replicaCount,
    };
  return {};
}
