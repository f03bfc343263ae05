/**
 * Loading pipeline specs: file -> raw object (./source.ts) -> shape check (./schema-check.ts) -> normalized
 * PipelineSpec (./normalize.ts) -> semantic rules (./rules/) -> rules across specs (./rules/cross-spec.ts). Every
 * problem of every spec is collected and thrown at once as a SpecError, each located (file:line:column, ./locate.ts)
 * and named by its field path, so one run of `npm run synth` tells the user everything to fix.
 */
import * as fs from 'node:fs';
import { displayFile, type Problem } from '../core/problem';
import { SpecError } from './errors';
import { locateAll, withoutFollowOns, type SpecSourceInfo } from './locate';
import { normalizeSpec } from './normalize';
import { crossSpecProblems, type LoadedSpec } from './rules/cross-spec';
import { specRuleProblems } from './rules';
import { specShapeProblems } from './schema-check';
import { findSpecFiles, readSpecSource } from './source';
import { type PipelineSpec } from './types';

export { SpecError } from './errors';

/** What the loader used to place a problem is of no use to the caller (as in SpecError). */
function withoutLocatorHints({ inputs: _inputs, atKey: _atKey, ...p }: Problem): Problem {
  return p;
}
export { findSpecFiles, type Locate } from './source';
export type { SpecSourceInfo } from './locate';

export interface LoadOptions {
  /**
   * The clock `scheduleTime` is checked against.
   * @default - the current time
   */
  readonly now?: Date;
  /**
   * Called with each warning (severity `warning`: a `scheduleTime` in the past), located like the errors. Warnings
   * never stop the load. synth prints them (`warning: <file>:<line>:<column>: ...`).
   * @default - warnings are dropped
   */
  readonly onWarning?: (warning: Problem) => void;
}

/**
 * A raw spec (the YAML/JSON shape, also accepted from TypeScript as a plain object) -> the normalized, validated
 * PipelineSpec. Throws a SpecError listing every problem: shape problems first, then the rules on the parts whose
 * shape was right.
 */
export function parsePipelineSpec(raw: unknown, source: SpecSourceInfo = {}, opts: LoadOptions = {}): PipelineSpec {
  const shape = specShapeProblems(raw);
  const { spec, problems: normalize } = normalizeSpec(raw);
  // Parts that failed a check are skipped by the rules: a missing step name must not also be an "unknown step".
  const broken = [...shape, ...normalize].map((p) => p.path);
  const checked = withoutFollowOns(specRuleProblems(spec, { now: opts.now ?? new Date() }), broken);
  const rules = checked.filter((p) => p.severity !== 'warning');
  const stages: Problem[][] = [shape, normalize, rules];
  if (stages.some((stage) => stage.length > 0)) throw new SpecError(locateAll(stages, source));
  const warnings = checked.filter((p) => p.severity === 'warning');
  if (opts.onWarning && warnings.length > 0)
    for (const w of locateAll([warnings], source)) opts.onWarning(withoutLocatorHints(w));
  return spec;
}

/** Reads and checks one spec file (.yaml, .yml or .json). Throws a SpecError listing every problem in it. */
export function loadSpecFile(file: string, opts: LoadOptions = {}): PipelineSpec {
  return loadOne(file, opts).spec;
}

function loadOne(file: string, opts: LoadOptions): LoadedSpec {
  const source = readSpecSource(file);
  const spec = parsePipelineSpec(source.raw, { file: source.file, locate: source.locate }, opts);
  return { file: source.file, spec, locate: source.locate };
}

export interface LoadSpecsOptions extends LoadOptions {
  /** One spec file (`PIPELINE_SPEC`); when set, `dir` is not read. */
  readonly specPath?: string;
  /**
   * Folder of spec files.
   * @default 'pipelines'
   */
  readonly dir?: string;
}

/**
 * Loads `specPath`, or every spec in `dir`. Checks ALL files before throwing one SpecError with every problem of
 * every file, including clashes between specs (same stack name; same queue id, or too many queues, in one project
 * and region).
 */
export function loadSpecs(opts: LoadSpecsOptions = {}): Array<{ file: string; spec: PipelineSpec }> {
  const dir = opts.dir ?? 'pipelines';
  const files = opts.specPath !== undefined ? [opts.specPath] : findSpecFiles(dir);
  if (files.length === 0) {
    const exists = fs.existsSync(dir);
    throw new SpecError([
      {
        file: displayFile(dir),
        path: [],
        message: exists
          ? 'no pipeline specs (*.yaml, *.yml, *.json) in this folder: add one (docs/spec.md), or set PIPELINE_SPEC to a spec file'
          : 'the specs folder does not exist: create it with a spec (docs/spec.md), or set PIPELINE_SPEC to a spec file',
      },
    ]);
  }

  const problems: Problem[] = [];
  const loaded: LoadedSpec[] = [];
  for (const file of files) {
    try {
      loaded.push(loadOne(file, opts));
    } catch (e) {
      if (!(e instanceof SpecError)) throw e;
      problems.push(...e.problems);
    }
  }
  problems.push(...crossSpecProblems(loaded));
  if (problems.length > 0) throw new SpecError(problems);
  return loaded.map(({ file, spec }) => ({ file, spec }));
}
