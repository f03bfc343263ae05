/**
 * The manifest's sha256 against the hash in its asset folder's name. SeedTasks stages the manifest as a
 * TerraformAsset whose `assetHash` is the sha256 of the file's exact bytes, so cdktf writes it to
 * `assets/seed-tasks_Manifest_<id>/<sha256>/seed-manifest.json` and the provisioner's command names that path; the
 * path sits in cdk.tf.json, apart from the file. A file whose bytes no longer match the folder was changed after synth.
 */
import { createHash } from 'node:crypto';
import { basename, dirname, resolve } from 'node:path';

const SHA256_HEX = /^[0-9a-f]{64}$/;

export type IntegrityCheck =
  | { readonly status: 'verified'; readonly sha256: string }
  /** Not in a `<sha256>/` folder (a manifest run by hand): nothing to compare with. */
  | { readonly status: 'unverifiable'; readonly sha256: string }
  | { readonly status: 'mismatch'; readonly sha256: string; readonly expected: string };

export function checkManifestIntegrity(file: string, bytes: Uint8Array): IntegrityCheck {
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const expected = basename(dirname(resolve(file)));
  if (!SHA256_HEX.test(expected)) return { status: 'unverifiable', sha256 };
  return expected === sha256 ? { status: 'verified', sha256 } : { status: 'mismatch', sha256, expected };
}
