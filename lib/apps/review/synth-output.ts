/**
 * A `cdktf.out/` directory as the review tool needs it: every stack (read by lib/core/synthesized-stack.ts, the one
 * reader of synth output), its seed manifest (if it has one) and a content fingerprint of each asset. Nothing here
 * needs terraform or credentials.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { SeedManifest } from '../../core/manifest';
import {
  readSynthOutput as readOutput,
  SynthOutputError,
  type RecordedSuppression,
} from '../../core/synthesized-stack';

export { SEED_MANIFEST_FILE_NAME as SEED_MANIFEST_FILE } from '../../core/manifest';

/** Exit code for inputs the tool cannot read (missing directory, not a cdktf output, unreadable manifest). */
export const INPUT_ERROR_EXIT_CODE = 2;

export class ReviewInputError extends Error {
  readonly exitCode = INPUT_ERROR_EXIT_CODE;
  constructor(message: string) {
    super(message);
    this.name = 'ReviewInputError';
  }
}

/** One asset as synthesized: the id cdktf gave it (`assets/<id>/...`) and a hash of its content. */
export interface AssetFingerprint {
  readonly id: string;
  /** Files inside the asset, relative to its hash directory. */
  readonly files: readonly string[];
  readonly sizeBytes: number;
  /** sha256 over file names and contents: moves only when the content moves. */
  readonly sha256: string;
}

export interface ReviewedStack {
  readonly name: string;
  /** Parsed cdk.tf.json. */
  readonly config: Record<string, unknown>;
  readonly seedManifest?: SeedManifest;
  readonly assets: Readonly<Record<string, AssetFingerprint>>;
  /**
   * Policy suppressions recorded in the stack's JSON.
   * @default - none
   */
  readonly policySuppressions?: readonly RecordedSuppression[];
}

export interface ReviewInput {
  readonly dir: string;
  readonly stacks: Readonly<Record<string, ReviewedStack>>;
}

/** An empty output: used for `--allow-missing-base` (first PR of a repository: everything is added). */
export function emptySynthOutput(dir: string): ReviewInput {
  return { dir, stacks: {} };
}

export function readSynthOutput(dir: string): ReviewInput {
  let output: ReturnType<typeof readOutput>;
  try {
    output = readOutput(dir);
  } catch (e) {
    if (e instanceof SynthOutputError) throw new ReviewInputError(e.message);
    throw e;
  }
  const stacks: Record<string, ReviewedStack> = {};
  for (const [name, s] of Object.entries(output.stacks))
    stacks[name] = {
      name,
      config: s.config,
      assets: readAssets(path.join(s.dir, 'assets')),
      seedManifest: s.seedManifestFile ? readSeedManifest(s.dir, s.seedManifestFile) : undefined,
      policySuppressions: s.policySuppressions,
    };
  return { dir, stacks };
}

function readSeedManifest(stackDir: string, file: string): SeedManifest {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as SeedManifest;
  } catch (e) {
    throw new ReviewInputError(
      `${path.relative(stackDir, file)} in ${stackDir}: unreadable seed manifest (${(e as Error).message})`,
    );
  }
}

/** `assets/<id>/<hash>/...`: fingerprint each asset id by content, so a hash directory rename is not a change. */
function readAssets(assetsDir: string): Record<string, AssetFingerprint> {
  const out: Record<string, AssetFingerprint> = {};
  if (!fs.existsSync(assetsDir)) return out;
  for (const idEntry of fs.readdirSync(assetsDir, { withFileTypes: true })) {
    if (!idEntry.isDirectory()) continue;
    const idDir = path.join(assetsDir, idEntry.name);
    const files = listFiles(idDir).map((f) => ({ rel: stripHashDir(path.relative(idDir, f)), abs: f }));
    files.sort((a, b) => a.rel.localeCompare(b.rel));
    const hash = createHash('sha256');
    let size = 0;
    for (const f of files) {
      const content = fs.readFileSync(f.abs);
      size += content.length;
      hash.update(f.rel).update('\0').update(content).update('\0');
    }
    out[idEntry.name] = {
      id: idEntry.name,
      files: files.map((f) => f.rel),
      sizeBytes: size,
      sha256: hash.digest('hex'),
    };
  }
  return out;
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listFiles(p));
    else if (entry.isFile()) out.push(p);
  }
  return out;
}

/** `77EFB8.../seed-manifest.json` -> `seed-manifest.json`. */
function stripHashDir(rel: string): string {
  const parts = rel.split(path.sep);
  return parts.length > 1 ? parts.slice(1).join('/') : parts.join('/');
}
