/**
 * Every import of the CDKTF core library goes through this file. CDKTF is archived (0.21.0 is the last release) and
 * its community fork, CDK Terrain, renames the package (`cdktf` -> `cdktn`): moving over means editing this file and
 * lib/cdktf/google.ts, nothing else (docs/decisions.md).
 */
export {
  Annotations,
  App,
  Aspects,
  AssetType,
  Fn,
  GcsBackend,
  LocalBackend,
  TerraformAsset,
  TerraformOutput,
  TerraformResource,
  TerraformStack,
  Testing,
  Token,
} from 'cdktf';
export type { IAspect, TerraformResourceLifecycle } from 'cdktf';
// For the terraform_data resource in lib/constructs/terraform-data.ts (attribute mappers, provisioner, dependencies).
export { anyToHclTerraform, anyToTerraform, hashMapper, hashMapperHcl } from 'cdktf';
export type { ITerraformDependable, LocalExecProvisioner } from 'cdktf';
