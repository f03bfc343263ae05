/**
 * JobStepAccess: what the pipeline's invoker (the identity on every task's token) needs to start the jobs of job
 * steps, and nothing more (docs/jobs.md, "IAM"):
 *
 * - a Cloud Run job step: `roles/run.jobsExecutorWithOverrides` on that job only (`google_cloud_run_v2_job_iam_member`):
 *   `run.jobs.runWithOverrides`, which a `:run` with `overrides` (the message, taskCount, timeout) needs;
 * - a Vertex AI step: `aiplatform.customJobs.create`, through a custom role holding that one permission, granted on
 *   the project: custom jobs have no IAM policy of their own ("Vertex AI access control with IAM": resource-level
 *   access exists for a few resource types only), and the predefined `roles/aiplatform.user` would add every other
 *   Vertex permission; plus `roles/iam.serviceAccountUser` on the job's service account only, because creating a job
 *   that runs as an account is acting as it.
 *
 * The jobs themselves (Cloud Run jobs, images, the training accounts) are the user's: the stack names them, it does
 * not create them.
 */
import { createHash } from 'node:crypto';
import { Construct } from 'constructs';
import type { ITerraformDependable } from '../cdktf/core';
import {
  CloudRunV2JobIamMember,
  ProjectIamCustomRole,
  ProjectIamMember,
  ServiceAccountIamMember,
} from '../cdktf/google';
import { VERTEX_AI_LIMITS } from '../core/rules/vertex-ai';
import type { CloudRunJobTarget, VertexAITarget } from '../spec/types';
import type { PipelineInvoker } from './pipeline-invoker';

/** The predefined role that allows `:run` with overrides (`roles/run.jobsExecutor` allows it without). */
export const RUN_JOB_EXECUTOR_ROLE = 'roles/run.jobsExecutorWithOverrides';

export interface JobStepAccessProps {
  readonly project: string;
  /** `<pipeline>-<environment>`: names the custom role. */
  readonly stackName: string;
  readonly invoker: PipelineInvoker;
  /** The job steps, by name. */
  readonly steps: ReadonlyArray<{
    readonly name: string;
    readonly cloudRunJob?: CloudRunJobTarget;
    readonly vertexAI?: VertexAITarget;
  }>;
  /**
   * The API services the grants wait for: run.googleapis.com (the job bindings), aiplatform.googleapis.com (the
   * custom role).
   * @default - none
   */
  readonly apis?: { readonly run?: ITerraformDependable; readonly aiplatform?: ITerraformDependable };
}

export class JobStepAccess extends Construct {
  /** `roles/run.jobsExecutorWithOverrides` of the invoker, by step. */
  public readonly runJobExecutors: Readonly<Record<string, CloudRunV2JobIamMember>>;
  /** The project's custom role with `aiplatform.customJobs.create`; present when a step is a Vertex AI job. */
  public readonly customJobCreatorRole?: ProjectIamCustomRole;
  /** The invoker's binding to that role. */
  public readonly customJobCreator?: ProjectIamMember;
  /** `roles/iam.serviceAccountUser` of the invoker on each Vertex job's service account, by account e-mail. */
  public readonly trainingAccountUsers: Readonly<Record<string, ServiceAccountIamMember>>;

  constructor(scope: Construct, id: string, props: JobStepAccessProps) {
    super(scope, id);
    // The resource's e-mail reference (not the literal) so Terraform creates the account first.
    const member = `serviceAccount:${props.invoker.resource.email}`;
    const executors: Record<string, CloudRunV2JobIamMember> = {};
    const seenJobs = new Map<string, CloudRunV2JobIamMember>();
    for (const s of props.steps) {
      const j = s.cloudRunJob;
      if (!j) continue;
      // Two steps may start the same job: one binding.
      const key = `${j.region}/${j.job}`;
      executors[s.name] =
        seenJobs.get(key) ??
        new CloudRunV2JobIamMember(this, `run-job-executor-${j.region}-${j.job}`, {
          project: props.project,
          location: j.region,
          name: j.job,
          role: RUN_JOB_EXECUTOR_ROLE,
          member,
          dependsOn: props.apis?.run ? [props.apis.run] : undefined,
        });
      seenJobs.set(key, executors[s.name]);
    }
    this.runJobExecutors = executors;

    const vertex = props.steps.filter((s) => s.vertexAI);
    const users: Record<string, ServiceAccountIamMember> = {};
    if (vertex.length > 0) {
      this.customJobCreatorRole = new ProjectIamCustomRole(this, 'custom-job-creator-role', {
        project: props.project,
        roleId: customJobCreatorRoleId(props.stackName),
        title: `${props.stackName}: create Vertex AI custom jobs`.slice(0, 100),
        description: `Lets the task invoker of pipeline stack ${props.stackName} create Vertex AI custom jobs (one permission). Managed by cloud-tasks-pipelines.`,
        permissions: [VERTEX_AI_LIMITS.createPermission],
        dependsOn: props.apis?.aiplatform ? [props.apis.aiplatform] : undefined,
      });
      this.customJobCreator = new ProjectIamMember(this, 'custom-job-creator', {
        project: props.project,
        role: this.customJobCreatorRole.name,
        member,
      });
      for (const s of vertex) {
        const account = s.vertexAI!.customJob.serviceAccount;
        if (account === undefined || users[account]) continue;
        users[account] = new ServiceAccountIamMember(this, `act-as-${account.replace(/[@.]/g, '_')}`, {
          // `-`: IAM infers the account's project from its e-mail (the training account may live elsewhere).
          serviceAccountId: `projects/-/serviceAccounts/${account}`,
          role: 'roles/iam.serviceAccountUser',
          member,
        });
      }
    }
    this.trainingAccountUsers = users;
  }

  /** Every grant (for the `depends_on` of what dispatches: the seed tasks). */
  public get iamBindings(): ITerraformDependable[] {
    return [
      ...new Set(Object.values(this.runJobExecutors)),
      ...(this.customJobCreator ? [this.customJobCreator] : []),
      ...Object.values(this.trainingAccountUsers),
    ];
  }
}

/**
 * The custom role's id: `ctp_<stack>_customJobCreator` (role ids: 3-64 letters, digits, `_` and `.`); a stack name
 * too long for it is cut and given a hash, so two stacks never share a role.
 */
export function customJobCreatorRoleId(stackName: string): string {
  const base = `ctp_${stackName.replace(/[^A-Za-z0-9]/g, '_')}`;
  const suffix = '_customJobCreator';
  if (base.length + suffix.length <= 64) return `${base}${suffix}`;
  const hash = createHash('sha256').update(stackName).digest('hex').slice(0, 8);
  return `${base.slice(0, 64 - suffix.length - 9)}_${hash}${suffix}`;
}
