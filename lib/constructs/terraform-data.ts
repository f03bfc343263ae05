/**
 * Terraform's built-in `terraform_data` resource (Terraform >= 1.4; no provider to download).
 *
 * Why not cdktf's own `DataResource`: its constructor adds a validation that runs `terraform version`, so
 * `app.synth()` and `cdktf synth` fail with "Could not determine version of terraform" on a machine without
 * terraform on PATH (../shared/docs/cdktf-notes.md). Synthesis must not need terraform: only `deploy` does, and
 * terraform itself rejects the resource type if it is older than 1.4. This class emits the same JSON without that
 * validation. See docs/decisions/seeding-resource.md.
 */
import type { Construct } from 'constructs';
import {
  TerraformResource,
  anyToHclTerraform,
  anyToTerraform,
  hashMapper,
  hashMapperHcl,
  type ITerraformDependable,
  type LocalExecProvisioner,
} from '../cdktf/core';

export interface TerraformDataProps {
  /**
   * Values stored in state; when any changes, Terraform replaces the resource (and so re-runs its create-time
   * provisioners).
   * @default - never replaced because of a value change
   */
  readonly triggersReplace?: { readonly [key: string]: unknown };
  /** @default - no explicit dependencies */
  readonly dependsOn?: ITerraformDependable[];
  /** @default - no provisioners */
  readonly provisioners?: LocalExecProvisioner[];
}

export class TerraformData extends TerraformResource {
  public static readonly tfResourceType = 'terraform_data';

  private readonly triggersReplace?: { readonly [key: string]: unknown };

  constructor(scope: Construct, id: string, props: TerraformDataProps = {}) {
    super(scope, id, {
      terraformResourceType: TerraformData.tfResourceType,
      terraformGeneratorMetadata: { providerName: 'terraform' },
      dependsOn: props.dependsOn,
      provisioners: props.provisioners,
    });
    this.triggersReplace = props.triggersReplace;
  }

  /** `terraform_data.<name>.id`: a random id Terraform assigns on create. */
  public get id(): string {
    return this.getStringAttribute('id');
  }

  protected synthesizeAttributes(): { [name: string]: unknown } {
    return { triggers_replace: hashMapper(anyToTerraform)(this.triggersReplace) };
  }

  protected synthesizeHclAttributes(): { [name: string]: unknown } {
    return { triggers_replace: hashMapperHcl(anyToHclTerraform)(this.triggersReplace) };
  }
}
