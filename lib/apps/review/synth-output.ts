/**
 * Reads a `cdktf.out/` directory the way the review tool needs it: every stack's Terraform JSON, its seed manifest
 * (if it has one) and a content fingerprint of each asset. Nothing here needs terraform or credentials.
 *
 * Layout (cdktf 0.21): `manifest.json` lists stacks with `synthesizedStackPath`; assets sit under
 * `stacks/<stack>/assets/<asset id>/<hash>/`; the seed manifest asset file is named `seed-manifest.json`
 * (lib/core/manifest.ts).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { SeedManifest } from '../../core/manifest';

/** Exit code for inputs the tool cannot read (missing directory, not a cdktf output, unreadable manifest). */
export const INPUT_ERROR_EXIT_CODE = 2;

export class ReviewInputError extends Error {
  readonly exitCode = INPUT_ERROR_EXIT_CODE;
  constructor(message: string) {
    super(message);
    this.name = 'ReviewInputError';
  }
}

export const SEED_MANIFEST_FILE = 'seed-manifest.json';

/** One asset as synthesized: the id cdktf gave it (`assets/<id>/...`) and a hash of its content. */
export interface AssetFingerprint {
  readonly id: string;
  /** Files inside the asset, relative to its hash directory. */
  readonly files: readonly string[];
  readonly sizeBytes: number;
  /** sha256 over file names and contents: moves only when the content moves. */
  readonly sha256: string;
}

export interface SynthesizedStack {
  readonly name: string;
  /** Parsed cdk.tf.json. */
  readonly config: Record<string, unknown>;
  readonly seedManifest?: SeedManifest;
  readonly assets: Readonly<Record<string, AssetFingerprint>>;
}

export interface SynthOutput {
  readonly dir: string;
  readonly stacks: Readonly<Record<string, SynthesizedStack>>;
}

interface ManifestStackEntry {
  readonly name?: string;
  readonly synthesizedStackPath?: string;
  readonly workingDirectory?: string;
}

/** An empty output: used for `--allow-missing-base` (first PR of a repository: everything is added). */
export function emptySynthOutput(dir: string): SynthOutput {
  return { dir, stacks: {} };
}

export function readSynthOutput(dir: string): SynthOutput {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(dir);
  } catch {
    throw new ReviewInputError(
      `${dir}: no such directory; pass the cdktf output directory (run \`npm run synth\` first)`,
    );
  }
  if (!stat.isDirectory())
    throw new ReviewInputError(`${dir}: is a file, not a directory; pass the cdktf output directory (e.g. cdktf.out)`);
  const manifestPath = path.join(dir, 'manifest.json');
  if (!fs.existsSync(manifestPath))
    throw new ReviewInputError(
      `${dir}: not a cdktf output directory (no manifest.json); run \`npm run synth\` and pass its cdktf.out`,
    );
  let manifest: { stacks?: Record<string, ManifestStackEntry> };
  try {
    manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
  } catch (e) {
    throw new ReviewInputError(
      `${manifestPath}: unreadable cdktf manifest (${(e as Error).message}); synthesize again`,
    );
  }
  if (!manifest || typeof manifest !== 'object' || !manifest.stacks || typeof manifest.stacks !== 'object')
    throw new ReviewInputError(`${manifestPath}: not a cdktf manifest (no "stacks" object); synthesize again`);

  const stacks: Record<string, SynthesizedStack> = {};
  for (const [key, entry] of Object.entries(manifest.stacks)) {
    const name = entry.name ?? key;
    if (!entry.synthesizedStackPath)
      throw new ReviewInputError(`${manifestPath}: stacks.${key} has no synthesizedStackPath; synthesize again`);
    const stackFile = path.join(dir, entry.synthesizedStackPath);
    let config: Record<string, unknown>;
    try {
      config = JSON.parse(fs.readFileSync(stackFile, 'utf8'));
    } catch (e) {
      throw new ReviewInputError(`${stackFile}: cannot read stack ${name} (${(e as Error).message}); synthesize again`);
    }
    const stackDir = path.dirname(stackFile);
    const assets = readAssets(path.join(stackDir, 'assets'));
    stacks[name] = { name, config, assets, seedManifest: readSeedManifest(stackDir, path.join(stackDir, 'assets')) };
  }
  return { dir, stacks };
}

function readSeedManifest(stackDir: string, assetsDir: string): SeedManifest | undefined {
  const file = findFile(assetsDir, SEED_MANIFEST_FILE);
  if (!file) return undefined;
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as SeedManifest;
  } catch (e) {
    throw new ReviewInputError(
      `${path.relative(stackDir, file)} in ${stackDir}: unreadable seed manifest (${(e as Error).message})`,
    );
  }
}

function findFile(dir: string, name: string): string | undefined {
  if (!fs.existsSync(dir)) return undefined;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = path.join(dir, entry.name);
    if (entry.isFile() && entry.name === name) return p;
    if (entry.isDirectory()) {
      const found = findFile(p, name);
      if (found) return found;
    }
  }
  return undefined;
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
