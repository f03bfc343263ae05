/**
 * PipelineInvoker: the dedicated service account whose OIDC/OAuth token is on every task of one pipeline.
 *
 * One account per pipeline and environment, so a worker can check exactly who calls it, and revoking one pipeline
 * touches nothing else. Every grant is on a single resource (this account, one Cloud Run service), never on the
 * project.
 */
import { Construct } from 'constructs';
import { projectIdProblems } from '../core/rules/resource-manager';
import type { ITerraformDependable } from '../cdktf/core';
import { CloudRunV2ServiceIamMember, ServiceAccount, ServiceAccountIamMember } from '../cdktf/google';
import { invokerAccountIdFor, serviceAccountEmailFor, serviceAccountMember } from '../core/naming';
import { keepStringsLiteral } from './literal-strings';
import { checkIamMember, throwIfProblems } from './validation';

export interface PipelineInvokerProps {
  readonly project: string;
  /** Pipeline name; with `environment` it names the account (see invokerAccountIdFor). */
  readonly pipeline: string;
  readonly environment: string;
  /**
   * @default - `<pipeline> <environment> task invoker`
   */
  readonly displayName?: string;
  /**
   * @default - a sentence naming the pipeline and what the account is for
   */
  readonly description?: string;
  /**
   * Resources the account waits for (e.g. the `iam.googleapis.com` API service).
   * @default - none
   */
  readonly dependsOn?: ITerraformDependable[];
}

export class PipelineInvoker extends Construct {
  public readonly resource: ServiceAccount;
  /** 6-30 character account id, derived deterministically from pipeline and environment. */
  public readonly accountId: string;
  /** `<accountId>@<project>.iam.gserviceaccount.com`, as a plain string (no token). */
  public readonly email: string;
  /** `serviceAccount:<email>`. */
  public readonly member: string;
  public readonly project: string;
  private readonly bindings = new Map<string, ITerraformDependable>();

  constructor(scope: Construct, id: string, props: PipelineInvokerProps) {
    super(scope, id);
    throwIfProblems(this, 'PipelineInvoker', projectIdProblems(props.project));
    keepStringsLiteral(this);
    this.project = props.project;
    this.accountId = invokerAccountIdFor({ pipeline: { name: props.pipeline }, environment: props.environment });
    this.email = serviceAccountEmailFor(this.accountId, props.project);
    this.member = serviceAccountMember(this.email);
    this.resource = new ServiceAccount(this, 'Resource', {
      project: props.project,
      accountId: this.accountId,
      displayName: props.displayName ?? `${props.pipeline} ${props.environment} task invoker`,
      description:
        props.description ??
        `Identity on the OIDC/OAuth tokens of Cloud Tasks for pipeline ${props.pipeline} (${props.environment}). Managed by cloud-tasks-pipelines.`,
      dependsOn: props.dependsOn,
    });
  }

  /**
   * Lets `member` create tasks whose token is this account: `roles/iam.serviceAccountUser`
   * (`iam.serviceAccounts.actAs`) on this account only. Cloud Tasks requires it of whoever creates a task with an
   * OIDC/OAuth token (cloud-tasks-facts.md). Granting the same member twice returns the first binding.
   */
  public grantActAs(member: string): ServiceAccountIamMember {
    checkIamMember(this, 'PipelineInvoker', 'grantActAs', member);
    const key = `actAs|${member}`;
    const existing = this.bindings.get(key);
    if (existing) return existing as ServiceAccountIamMember;
    const binding = new ServiceAccountIamMember(this, `ActAs-${member.replace(/\//g, '_')}`, {
      // The resource's `name` (projects/.../serviceAccounts/<email>) so Terraform creates the account first.
      serviceAccountId: this.resource.name,
      role: 'roles/iam.serviceAccountUser',
      member,
    });
    this.bindings.set(key, binding);
    return binding;
  }

  /**
   * Lets this account call the Cloud Run service `service` in `region`: `roles/run.invoker` (`run.routes.invoke`)
   * on that service only. Granting the same service twice returns the first binding.
   */
  public grantRunInvoker(
    service: string,
    region: string,
    dependsOn?: ITerraformDependable[],
  ): CloudRunV2ServiceIamMember {
    const key = `runInvoker|${region}|${service}`;
    const existing = this.bindings.get(key);
    if (existing) return existing as CloudRunV2ServiceIamMember;
    const binding = new CloudRunV2ServiceIamMember(this, `RunInvoker-${region}-${service}`, {
      project: this.project,
      location: region,
      name: service,
      role: 'roles/run.invoker',
      // The resource's e-mail reference (not the literal) so Terraform creates the account first.
      member: `serviceAccount:${this.resource.email}`,
      dependsOn,
    });
    this.bindings.set(key, binding);
    return binding;
  }

  /** Every IAM binding this account made (for `depends_on` lists). */
  public get iamBindings(): ITerraformDependable[] {
    return [...this.bindings.values()];
  }
}
