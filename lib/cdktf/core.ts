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
  Lazy,
  LocalBackend,
  TerraformAsset,
  TerraformBackend,
  TerraformElement,
  TerraformOutput,
  TerraformResource,
  TerraformStack,
  Testing,
  Token,
  Tokenization,
} from 'cdktf';
export type { IAspect, TerraformResourceLifecycle } from 'cdktf';
// For the terraform_data resource in lib/constructs/terraform-data.ts (attribute mappers, provisioner, dependencies).
export { anyToHclTerraform, anyToTerraform, hashMapper, hashMapperHcl } from 'cdktf';
export type { ITerraformDependable, LocalExecProvisioner } from 'cdktf';

/**
 * Runs `fn` (building and synthesizing stacks) without formatting the stack trace that cdktf captures for every token
 * it creates (`creationStack` of references, Lazy values and intrinsics; it only ever appears in the text of a token
 * resolution error). Formatting those traces, with the source-map lookups tsx turns on, was 30-40% of the CPU time of
 * a 1,000-queue synth (docs/BENCHMARKS.md). Inside `fn`, a plain object's trace (cdktf's capture) formats as ''; an
 * Error's `.stack` read inside `fn` goes to the previous hook if there is one, else is formatted without source maps.
 * V8 formats `.stack` when it is first read, so an Error thrown out of `fn` and read afterwards keeps its normal,
 * source-mapped trace. The previous `Error.prepareStackTrace` is restored on the way out.
 */
export function withoutTokenStackTraces<T>(fn: () => T): T {
  const previous = Error.prepareStackTrace;
  Error.prepareStackTrace = (error: unknown, callSites: NodeJS.CallSite[]): string =>
    !(error instanceof Error)
      ? ''
      : previous
        ? previous(error, callSites)
        : `${String(error)}${callSites.map((c) => `\n    at ${c}`).join('')}`;
  try {
    return fn();
  } finally {
    Error.prepareStackTrace = previous;
  }
}
