/**
 * The bundled seeder as the package ships it: `dist/seeder/seeder.cjs`, the one file Terraform's local-exec runs with
 * plain `node`, and `dist/seeder/seeder.json`, its record (sha256, size, what it was built from).
 *
 * Built once by scripts/seeder-bundle.ts: at `npm run build` and `npm pack`, and in a clone by `npm run synth`,
 * `npm run local` and the test setup whenever lib/seeder, lib/core or the lock file changed. Synth only reads the
 * record and lets cdktf copy the file: it never bundles, never hashes the bundle, never writes inside the package.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from './package';

export const SEEDER_BUNDLE_FILE = 'seeder.cjs';
export const SEEDER_RECORD_FILE = 'seeder.json';

/** A self-contained seeder script, run as `node <path> <seed-manifest.json>`. */
export interface SeederBundle {
  /** Absolute path of the script. */
  readonly path: string;
  /** sha256 (hex) of the file's bytes: the TerraformAsset hash, so it changes exactly when the bundle changes. */
  readonly sha256: string;
}

/** `seeder.json`. */
export interface SeederBundleRecord {
  readonly file: typeof SEEDER_BUNDLE_FILE;
  readonly sha256: string;
  readonly bytes: number;
  /** Hash of everything the bundle was built from: a clone rebuilds when it differs (scripts/seeder-bundle.ts). */
  readonly inputHash: string;
}

/** `<package>/dist/seeder`. */
export function seederBundleDir(root: string = packageRoot()): string {
  return join(root, 'dist', 'seeder');
}

/** The record in `dir`, or undefined when there is none or it is not one (a rebuild replaces it). */
export function readSeederBundleRecord(dir: string): SeederBundleRecord | undefined {
  let record: Partial<SeederBundleRecord>;
  try {
    record = JSON.parse(readFileSync(join(dir, SEEDER_RECORD_FILE), 'utf8')) as Partial<SeederBundleRecord>;
  } catch {
    return undefined;
  }
  const valid =
    record.file === SEEDER_BUNDLE_FILE &&
    typeof record.sha256 === 'string' &&
    /^[0-9a-f]{64}$/.test(record.sha256) &&
    Number.isSafeInteger(record.bytes) &&
    typeof record.inputHash === 'string';
  return valid ? (record as SeederBundleRecord) : undefined;
}

const located = new Map<string, SeederBundle>();

/**
 * The prebuilt seeder of this package (read once per process). Throws, saying how to build it, when it is missing or
 * does not match its record.
 */
export function prebuiltSeederBundle(dir: string = seederBundleDir()): SeederBundle {
  const known = located.get(dir);
  if (known) return known;
  const path = join(dir, SEEDER_BUNDLE_FILE);
  const record = readSeederBundleRecord(dir);
  let bytes: number | undefined;
  try {
    bytes = statSync(path).size;
  } catch {
    bytes = undefined;
  }
  if (!record || bytes !== record.bytes)
    throw new Error(
      `the bundled seeder ${path} is ${bytes === undefined ? 'missing' : record ? `${bytes} bytes, not the ${record.bytes} its ${SEEDER_RECORD_FILE} records` : `there, but ${SEEDER_RECORD_FILE} is missing or invalid`}. ` +
        'In a clone of cloud-tasks-pipelines run `npm run build:seeder` (npm run synth, npm run local and npm test do it when needed); ' +
        'an installed package ships it, so reinstall the package.',
    );
  const bundle = { path, sha256: record.sha256 };
  located.set(dir, bundle);
  return bundle;
}
