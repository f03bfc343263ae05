/**
 * The cdktf app: every pipeline spec -> one PipelineStack each -> `<outdir>/stacks/<pipeline>-<environment>/`.
 *
 * All specs are loaded and validated BEFORE the App exists (cdktf's App creates the output folder in its
 * constructor), so an invalid spec leaves the output folder exactly as it was. main.ts is the thin entry point.
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { loadSpecs } from '../spec/load';
import { PolicyError } from '../policy/errors';
import { SpecError } from '../spec/errors';
import { stackNameFor } from '../core/naming';
import { formatProblem, type Problem } from '../core/problem';
import { terminalSafe } from '../core/text';

/** A spec warning on stderr; under `cdktf synth` (which sets this variable) the CLI prints the annotation instead. */
function defaultWarn(warning: Problem): void {
  if (process.env.CDKTF_CONTINUE_SYNTH_ON_ERROR_ANNOTATIONS === undefined)
    process.stderr.write(`warning: ${formatProblem(warning)}\n`);
}

export interface SynthOptions {
  /**
   * One spec file; when set, `dir` is not read.
   * @default - every spec in `dir`
   */
  readonly specPath?: string;
  /** @default 'pipelines' */
  readonly dir?: string;
  /**
   * Where stacks are written. `cdktf synth` passes its output folder as CDKTF_OUTDIR.
   * @default - CDKTF_OUTDIR, else 'cdktf.out'
   */
  readonly outdir?: string;
  /**
   * Folder that holds the local Terraform state files (`terraform.<stack>.tfstate`) of stacks without a GCS backend.
   * @default - the working directory (the project root, where cdktf.json is)
   */
  readonly stateDir?: string;
  /** @default - the current time */
  readonly now?: Date;
  /**
   * Called with each spec warning (a `scheduleTime` in the past), before anything is written.
   * @default - `warning: <file>:<line>:<column>: ...` on stderr, except under `cdktf synth`, which prints the stacks'
   * warning annotations itself
   */
  readonly onWarning?: (warning: Problem) => void;
}

/** What synth wrote for one spec (the stack folder itself is read with lib/core/synthesized-stack.ts). */
export interface WrittenStack {
  readonly name: string;
  /** The spec file it came from. */
  readonly file: string;
  readonly queues: number;
  readonly seedTasks: number;
  /** The stack folder (relative to the working directory when inside it). */
  readonly path: string;
}

/** Loads, validates and synthesizes. Throws SpecError (having written nothing) when any spec is invalid. */
export function synthPipelines(opts: SynthOptions = {}): WrittenStack[] {
  const now = opts.now ?? new Date();
  const specs = loadSpecs({ specPath: opts.specPath, dir: opts.dir, now, onWarning: opts.onWarning ?? defaultWarn });

  const outdir = opts.outdir ?? process.env.CDKTF_OUTDIR ?? 'cdktf.out';
  const stateDir = path.resolve(opts.stateDir ?? process.cwd());
  const outdirExisted = existsSync(outdir);
  try {
    // Loaded only once the specs are valid: cdktf and the provider classes are most of the start-up time, and a user
    // fixing a spec should get the problems back at once.
    const { App, withoutTokenStackTraces } = require('../cdktf/core') as typeof import('../cdktf/core');
    const { PipelineStack } = require('../constructs/pipeline-stack') as typeof import('../constructs/pipeline-stack');
    // cdktf captures a stack trace per token; not formatting them is 30-40% of a large synth (lib/cdktf/core.ts).
    const stacks = withoutTokenStackTraces(() => {
      const app = new App({ outdir, stackTraces: false });
      const built = specs.map(({ file, spec }) => {
        const name = stackNameFor(spec);
        const stackDir = path.resolve(outdir, 'stacks', name);
        const stack = new PipelineStack(app, name, {
          spec,
          source: file,
          now,
          // Relative to the stack folder, where Terraform runs: the same text on every machine for the default layout.
          localStatePath: path
            .relative(stackDir, path.join(stateDir, `terraform.${name}.tfstate`))
            .split(path.sep)
            .join('/'),
        });
        return { stack, file, stackDir };
      });
      // delivery (docs/policy.md): the policy pack runs before anything is written. Warnings go to stderr; an error
      // throws PolicyError, so no stack (not even a compliant one) is written. The pack and the write share each
      // stack's resolved JSON (lib/constructs/synthesize-once.ts).
      const { synthesizeOnce } =
        require('../constructs/synthesize-once') as typeof import('../constructs/synthesize-once');
      synthesizeOnce(
        built.map((b) => b.stack),
        () => {
          (require('../policy/report') as typeof import('../policy/report')).assertPolicy(app);
          app.synth();
        },
      );
      return built;
    });
    removeOrphanedStacks(outdir, new Set(stacks.map((s) => s.stack.stackName)));
    return stacks.map(({ stack, file, stackDir }) => ({
      name: stack.stackName,
      file,
      queues: Object.keys(stack.queues).length,
      seedTasks: stack.seedTasks?.taskCount ?? 0,
      path: displayPath(stackDir),
    }));
  } catch (e) {
    // Leave no half-written output folder behind when something fails after the App created it.
    if (!outdirExisted) rmSync(outdir, { recursive: true, force: true });
    throw e;
  }
}

/**
 * Stack folders of specs that no longer exist, removed as `cdktf synth` does after running the app, so that
 * `npm run synth` and `cdktf synth` leave the same tree. Only folders directly under `<outdir>/stacks/`.
 */
function removeOrphanedStacks(outdir: string, keep: ReadonlySet<string>): void {
  const stacksDir = path.join(outdir, 'stacks');
  if (!existsSync(stacksDir)) return;
  for (const d of readdirSync(stacksDir, { withFileTypes: true })) {
    if (d.isDirectory() && !keep.has(d.name)) rmSync(path.join(stacksDir, d.name), { recursive: true, force: true });
  }
}

function displayPath(p: string): string {
  const rel = path.relative(process.cwd(), p);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : p;
}

export function formatStackLine(s: WrittenStack): string {
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  return `${s.name}: ${plural(s.queues, 'queue')}, ${plural(s.seedTasks, 'seed task')} -> ${s.path} (from ${s.file})`;
}

/**
 * The CLI (`cloud-tasks-pipelines synth`, main.ts): exit code 0 when every stack was written, 1 on an invalid spec or
 * any other failure. `options` come from the command line and win over PIPELINE_SPEC and CDKTF_OUTDIR.
 */
export function runSynthCli(
  env: NodeJS.ProcessEnv = process.env,
  out: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
  err: (text: string) => void = (t) => process.stderr.write(`${t}\n`),
  options: Pick<SynthOptions, 'specPath' | 'dir' | 'outdir'> = {},
): number {
  try {
    const stacks = synthPipelines({
      specPath: options.specPath ?? (env.PIPELINE_SPEC || undefined),
      dir: options.dir,
      outdir: options.outdir ?? (env.CDKTF_OUTDIR || undefined),
      onWarning: (w) => {
        if (env.CDKTF_CONTINUE_SYNTH_ON_ERROR_ANNOTATIONS === undefined) err(`warning: ${formatProblem(w)}`);
      },
    });
    for (const s of stacks) out(formatStackLine(s));
    return 0;
  } catch (e) {
    if (e instanceof SpecError || e instanceof PolicyError) {
      err(e.message);
      err('Nothing was written. Fix the problems above and run the synth again.');
    } else {
      // An unexpected error can quote construct ids or values: shown terminal-safe, its lines kept.
      err(
        terminalSafe(`synth failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`, {
          keepNewlines: true,
        }),
      );
    }
    return 1;
  }
}
