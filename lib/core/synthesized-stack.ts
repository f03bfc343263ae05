/**
 * The synthesized stack: what synth writes and every reader reads (`npm run local`, `npm run emulator -- --stack`,
 * the review tool). Like the seed manifest it is a contract between synth and tools that run later, possibly on a
 * copy of the folder, so it is read in one place, with plain fs and no cdktf.
 *
 * Layout (cdktf 0.21): `<outdir>/manifest.json` lists stacks with `synthesizedStackPath`; each stack folder
 * (`<outdir>/stacks/<stack>/`) holds `cdk.tf.json` and `assets/<asset id>/<hash>/...`; the seed manifest asset file
 * is `seed-manifest.json` (./manifest.ts). The policy pack records the suppressions it applied under the stack's
 * `"//"` key (Terraform JSON ignores it): `{ "//": { "policy": { "suppressions": [...] } } }`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SEED_MANIFEST_FILE_NAME } from './manifest';
import { validateRoutes, type PipelineRoutes } from './routes';

/** The Terraform JSON file of a stack folder. */
export const STACK_FILE_NAME = 'cdk.tf.json';

/** A policy suppression the pack applied, as recorded in the stack's JSON. */
export interface RecordedSuppression {
  /** Rule id, e.g. `CTP002`. */
  readonly rule: string;
  readonly reason: string;
  /** Where it was written: the spec's `policy.suppress`, the pack's props, or `suppressPolicyRule` on a construct. */
  readonly source: 'spec' | 'pack' | 'construct';
  /** The construct path it covers (the construct and everything below it); the stack's for stack-wide ones. */
  readonly scope: string;
}

/** `stack["//"].policy`: what the policy pack writes into the synthesized JSON. */
export interface PolicyRecord {
  readonly suppressions: readonly RecordedSuppression[];
}

export interface SynthesizedStack {
  /** The stack name (`<pipeline>-<environment>`), the folder's name unless the output manifest says otherwise. */
  readonly name: string;
  /** The stack folder. */
  readonly dir: string;
  /** Its cdk.tf.json. */
  readonly file: string;
  /** The parsed Terraform JSON. */
  readonly config: Record<string, unknown>;
  /** The seed manifest asset, when the stack seeds tasks. */
  readonly seedManifestFile?: string;
  /** The policy suppressions recorded in the JSON (none when no rule was suppressed). */
  readonly policySuppressions: readonly RecordedSuppression[];
}

export interface SynthOutput {
  readonly dir: string;
  readonly stacks: Readonly<Record<string, SynthesizedStack>>;
}

/** The folder is not (readable) synth output: the message names the path, what is wrong and what to do. */
export class SynthOutputError extends Error {
  override readonly name = 'SynthOutputError';
}

const STACK_HINT = 'run `npm run synth` and pass a folder cdktf.out/stacks/<stack>';

export interface ReadStackOptions {
  /**
   * The stack's name.
   * @default - the folder's name
   */
  readonly name?: string;
  /**
   * What to do about a folder that is not a stack, appended to the message.
   * @default 'run `npm run synth` and pass a folder cdktf.out/stacks/<stack>'
   */
  readonly hint?: string;
}

/** Reads one stack folder. Throws SynthOutputError naming the path when it is not a synthesized stack. */
export function readSynthesizedStack(stackDir: string, opts: ReadStackOptions = {}): SynthesizedStack {
  const hint = opts.hint ?? STACK_HINT;
  const file = path.join(stackDir, STACK_FILE_NAME);
  const dir = fs.statSync(stackDir, { throwIfNoEntry: false });
  if (!dir) throw new SynthOutputError(`${stackDir}: no such folder; ${hint}`);
  if (!dir.isDirectory())
    throw new SynthOutputError(
      `${stackDir} is a file, not a stack folder: pass the folder that holds ${STACK_FILE_NAME}, e.g. cdktf.out/stacks/<stack>`,
    );
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') throw new SynthOutputError(`${file}: cannot read it (${code ?? (err as Error).message})`);
    // A common slip: the output folder or its stacks/ folder instead of one stack.
    const stacks = [stackDir, path.join(stackDir, 'stacks')].flatMap((d) => stackFoldersIn(d));
    const also = stacks.length > 0 ? `; the stacks below it: ${stacks.join(', ')}` : `; ${hint}`;
    throw new SynthOutputError(`${stackDir} is not a synthesized stack: it has no ${STACK_FILE_NAME}${also}`);
  }
  let config: Record<string, unknown>;
  try {
    const json = JSON.parse(text) as unknown;
    if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new Error('not a JSON object');
    config = json as Record<string, unknown>;
  } catch (err) {
    throw new SynthOutputError(`${file} is not Terraform JSON (${(err as Error).message}); ${hint}`);
  }
  return {
    name: opts.name ?? path.basename(path.resolve(stackDir)),
    dir: stackDir,
    file,
    config,
    seedManifestFile: findFile(path.join(stackDir, 'assets'), SEED_MANIFEST_FILE_NAME),
    policySuppressions: policyRecordOf(config).suppressions,
  };
}

/** Reads a cdktf output folder: every stack its manifest.json lists. */
export function readSynthOutput(outdir: string): SynthOutput {
  const stat = fs.statSync(outdir, { throwIfNoEntry: false });
  if (!stat)
    throw new SynthOutputError(
      `${outdir}: no such directory; pass the cdktf output directory (run \`npm run synth\` first)`,
    );
  if (!stat.isDirectory())
    throw new SynthOutputError(
      `${outdir}: is a file, not a directory; pass the cdktf output directory (e.g. cdktf.out)`,
    );
  const manifestPath = path.join(outdir, 'manifest.json');
  if (!fs.existsSync(manifestPath))
    throw new SynthOutputError(
      `${outdir}: not a cdktf output directory (no manifest.json); run \`npm run synth\` and pass its cdktf.out`,
    );
  let manifest: { stacks?: Record<string, { name?: string; synthesizedStackPath?: string }> };
  try {
    manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
  } catch (e) {
    throw new SynthOutputError(
      `${manifestPath}: unreadable cdktf manifest (${(e as Error).message}); synthesize again`,
    );
  }
  if (!manifest || typeof manifest !== 'object' || !manifest.stacks || typeof manifest.stacks !== 'object')
    throw new SynthOutputError(`${manifestPath}: not a cdktf manifest (no "stacks" object); synthesize again`);

  const stacks: Record<string, SynthesizedStack> = {};
  for (const [key, entry] of Object.entries(manifest.stacks)) {
    const name = entry.name ?? key;
    if (!entry.synthesizedStackPath)
      throw new SynthOutputError(`${manifestPath}: stacks.${key} has no synthesizedStackPath; synthesize again`);
    const stackDir = path.dirname(path.join(outdir, entry.synthesizedStackPath));
    stacks[name] = readSynthesizedStack(stackDir, { name, hint: 'synthesize again' });
  }
  return { dir: outdir, stacks };
}

/** What the policy pack recorded in a stack's JSON (no suppressions when there is no record). */
export function policyRecordOf(config: Readonly<Record<string, unknown>>): PolicyRecord {
  const comment = config['//'] as { policy?: { suppressions?: unknown } } | undefined;
  const list = comment?.policy?.suppressions;
  return { suppressions: Array.isArray(list) ? (list as RecordedSuppression[]) : [] };
}

/**
 * The stack's `routes` output (PipelineStack: buildRoutes(spec)), validated as a worker validates it; undefined for a
 * stack synthesized before the run ledger. Throws RoutesError naming the file when it breaks a rule.
 */
export function routesOf(stack: Pick<SynthesizedStack, 'config' | 'file'>): PipelineRoutes | undefined {
  const outputs = stack.config.output as Record<string, { value?: unknown }> | undefined;
  const value = outputs?.routes?.value;
  return value === undefined ? undefined : validateRoutes(value, `${stack.file}: output.routes`);
}

/** The first file named `name` below `dir` (sorted walk), if any. */
export function findFile(dir: string, name: string): string | undefined {
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

function stackFoldersIn(dir: string): string[] {
  try {
    return fs
      .readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory() && fs.existsSync(path.join(dir, d.name, STACK_FILE_NAME)))
      .map((d) => path.join(dir, d.name));
  } catch {
    return [];
  }
}
