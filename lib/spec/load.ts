/**
 * Loading pipeline specs: YAML/JSON text -> raw object -> schema check -> normalized PipelineSpec -> semantic rules.
 * Every problem of every spec is collected and thrown at once as a SpecError, each located (file:line:column) and
 * named by its field path, so one run of `npm run synth` tells the user everything to fix.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ErrorObject } from 'ajv';
import {
  LineCounter,
  isAlias,
  isCollection,
  isMap,
  isScalar,
  isSeq,
  parseDocument,
  visit,
  type Document,
  type Node,
} from 'yaml';
import { LIMITS } from '../core/rules/cloud-tasks';
import { DURATION_FORMAT_HINT } from './duration';
import { normalizeSpec } from './normalize';
import {
  SpecError,
  displayFile,
  formatPath,
  preview,
  toSpecProblem,
  type PathProblem,
  type PathSegment,
  type SpecProblem,
} from '../core/problem';
import { ADVISORY_KEYWORDS, isDurationSchema, rawSpecSchemaErrors } from './schema';
import { type PipelineSpec } from './types';
import { closest, pipelinePathProblems } from './validate';
import { queueIdFor, stackNameFor } from '../core/naming';

export { SpecError, type SpecProblem } from '../core/problem';

/**
 * Finds the line and column of a field path in the source text, when it is there. `at: 'key'` asks for the key of a
 * mapping entry rather than its value (used for unknown keys); a locator may ignore it.
 */
export type Locate = (path: (string | number)[], at?: 'key' | 'value') => { line: number; column: number } | undefined;

export interface SpecSourceInfo {
  /** The spec file, for messages (made relative to the working directory). */
  readonly file?: string;
  readonly locate?: Locate;
}

export interface LoadOptions {
  /**
   * The clock `scheduleTime` is checked against.
   * @default - the current time
   */
  readonly now?: Date;
}

/** The extensions a spec file may have. pipeline.schema.json (and any *.schema.json) is the schema, not a spec. */
const SPEC_EXTENSIONS = ['.yaml', '.yml', '.json'];

/**
 * A raw spec (the YAML/JSON shape, also accepted from TypeScript as a plain object) -> the normalized, validated
 * PipelineSpec. Throws a SpecError listing every problem: shape problems first, then the rules on the parts whose
 * shape was right.
 */
export function parsePipelineSpec(raw: unknown, source: SpecSourceInfo = {}, opts: LoadOptions = {}): PipelineSpec {
  const { spec, problems } = checkRawSpec(raw, opts);
  if (problems.some((stage) => stage.length > 0)) throw new SpecError(locateAll(problems, source));
  return spec;
}

/** Schema check, normalization and semantic rules, with the problems of each stage (not yet located). */
function checkRawSpec(raw: unknown, opts: LoadOptions): { spec: PipelineSpec; problems: PathProblem[][] } {
  const schemaProblems = rawSpecSchemaErrors(raw)
    .filter((e) => !ADVISORY_KEYWORDS.has(e.keyword))
    .map((e) => schemaProblem(e, raw));
  const { spec, problems: normalizeProblems } = normalizeSpec(raw);
  // Parts that failed a check are skipped by the rules: a missing step name must not also be an "unknown step".
  const broken = [...schemaProblems, ...normalizeProblems].map((p) => p.path);
  const touchesBroken = (p: PathProblem): boolean =>
    [p.path, ...(p.inputs ?? [])].some((used) => broken.some((b) => isAtOrUnder(used, b)));
  const ruleProblems = pipelinePathProblems(spec, { now: opts.now ?? new Date() }).filter((p) => !touchesBroken(p));
  return { spec, problems: [schemaProblems, normalizeProblems, ruleProblems] };
}

/** Reads and checks one spec file (.yaml, .yml or .json). Throws a SpecError listing every problem in it. */
export function loadSpecFile(file: string, opts: LoadOptions = {}): PipelineSpec {
  return loadOne(file, opts).spec;
}

interface Loaded {
  readonly file: string;
  readonly spec: PipelineSpec;
  readonly locate: Locate;
}

function loadOne(file: string, opts: LoadOptions): Loaded {
  const shown = displayFile(file);
  const fail = (message: string, where: { line?: number; column?: number } = {}): never => {
    throw new SpecError([{ file: shown, ...where, path: '', message }]);
  };
  const ext = path.extname(file).toLowerCase();
  if (!SPEC_EXTENSIONS.includes(ext))
    fail(`unsupported file type "${ext || '(none)'}": a pipeline spec is .yaml, .yml or .json`);
  let text = '';
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    fail(
      code === 'ENOENT'
        ? 'no such spec file'
        : code === 'EISDIR'
          ? 'is a folder, not a spec file'
          : `cannot read the spec file: ${code ?? (e as Error).message}`,
    );
  }

  const lineCounter = new LineCounter();
  // merge: YAML `<<: *defaults` lets specs share step settings. uniqueKeys (the default) makes duplicates errors.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, merge: true, uniqueKeys: true });
  const position = (offset: number): { line: number; column: number } => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
  // Duplicate keys are errors in both formats (JSON.parse would silently keep the last one).
  const duplicateKeys = doc.errors
    .filter((e) => e.code === 'DUPLICATE_KEY')
    .map((e) => ({
      file: shown,
      ...position(e.pos[0]),
      path: '',
      message: `duplicate key ${keyAt(text, e.pos[0])}: a key may appear only once in a mapping`,
    }));

  let raw: unknown;
  if (ext === '.json') {
    try {
      raw = JSON.parse(text);
    } catch (e) {
      const at = /at position (\d+)/.exec((e as Error).message);
      fail(`JSON syntax error: ${(e as Error).message}`, position(at ? Number(at[1]) : text.length));
    }
  }
  const syntax: SpecProblem[] =
    ext === '.json'
      ? []
      : doc.errors
          .filter((e) => e.code !== 'DUPLICATE_KEY')
          .map((e) => ({ file: shown, ...position(e.pos[0]), path: '', message: `YAML syntax error: ${e.message}` }));
  if (syntax.length + duplicateKeys.length > 0)
    throw new SpecError(
      [...syntax, ...duplicateKeys].sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0)),
    );
  if (ext !== '.json') {
    try {
      raw = doc.toJS({ maxAliasCount: 1000 });
    } catch (e) {
      // An alias to an anchor that is not defined (above it), or an alias bomb: the parser reports these only here.
      let where: { line?: number; column?: number } = {};
      visit(doc, {
        Alias(_, node) {
          if (node.resolve(doc) === undefined && node.range) {
            where = position(node.range[0]);
            return visit.BREAK;
          }
          return undefined;
        },
      });
      fail(`YAML error: ${(e as Error).message}`, where);
    }
  }

  const locate = yamlLocator(doc, position);
  // JSON is YAML 1.2, so the same document locates JSON fields; JSON.parse stays the judge of JSON syntax.
  const spec = parsePipelineSpec(raw, { file: shown, locate }, opts);
  return { file: shown, spec, locate };
}

/** The key written at `offset` (the parser only gives the key's first character), quoted for the message. */
function keyAt(text: string, offset: number): string {
  const m = /^("(?:[^"\\\n]|\\.)*"|'(?:[^'\n]|'')*'|[^:\n]*)/.exec(text.slice(offset));
  const key = (m?.[1] ?? '').trim();
  return /^["']/.test(key) ? key : JSON.stringify(key);
}

/**
 * Where a field path sits in a YAML (or JSON) document: the key for a mapping or list (that is the line a reader
 * looks for), the value itself for a scalar.
 */
function yamlLocator(doc: Document, position: (offset: number) => { line: number; column: number }): Locate {
  return (fieldPath, at = 'value') => {
    let node: unknown = doc.contents;
    let key: Node | undefined;
    for (const segment of fieldPath) {
      if (isAlias(node)) node = node.resolve(doc);
      if (isMap(node)) {
        const pair = node.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === segment);
        if (!pair) return undefined;
        key = isScalar(pair.key) ? pair.key : undefined;
        node = pair.value;
      } else if (isSeq(node) && typeof segment === 'number') {
        node = node.items[segment];
        key = undefined;
        if (node === undefined) return undefined;
      } else return undefined;
    }
    if (isAlias(node)) node = node.resolve(doc);
    const target =
      (at === 'key' || isCollection(node) || node === null) && key?.range ? key : (node as Node | undefined);
    return target?.range ? position(target.range[0]) : undefined;
  };
}

/** Spec files in `dir`: *.yaml, *.yml, *.json (not *.schema.json), sorted; none when the folder does not exist. */
export function findSpecFiles(dir = 'pipelines'): string[] {
  let names: fs.Dirent[];
  try {
    names = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return names
    .filter(
      (d) =>
        d.isFile() && SPEC_EXTENSIONS.includes(path.extname(d.name).toLowerCase()) && !d.name.endsWith('.schema.json'),
    )
    .map((d) => path.join(dir, d.name))
    .sort();
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
        path: '',
        message: exists
          ? 'no pipeline specs (*.yaml, *.yml, *.json) in this folder: add one (docs/spec.md), or set PIPELINE_SPEC to a spec file'
          : 'the specs folder does not exist: create it with a spec (docs/spec.md), or set PIPELINE_SPEC to a spec file',
      },
    ]);
  }

  const problems: SpecProblem[] = [];
  const loaded: Loaded[] = [];
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

/** Rules that span specs: each is a separate stack, but they share project-wide names and quotas. */
function crossSpecProblems(loaded: readonly Loaded[]): SpecProblem[] {
  const out: SpecProblem[] = [];
  const at = (l: Loaded, fieldPath: PathSegment[], value: unknown, message: string): void => {
    out.push({ file: l.file, ...l.locate(fieldPath), path: formatPath(fieldPath), value, message });
  };

  const stacks = new Map<string, Loaded>();
  for (const l of loaded) {
    const name = stackNameFor(l.spec);
    const first = stacks.get(name);
    if (first)
      at(
        l,
        ['pipeline', 'name'],
        name,
        `stack name "${name}" (pipeline.name-environment) is also produced by ${first.file}: give one of them another pipeline name or environment`,
      );
    else stacks.set(name, l);
  }

  // Queues of different stacks share the project's namespace and quota per region.
  const regions = new Map<string, Loaded[]>();
  for (const l of loaded) {
    const key = `${l.spec.project}/${l.spec.region}`;
    regions.set(key, [...(regions.get(key) ?? []), l]);
  }
  for (const [key, specs] of regions) {
    const queues = new Map<string, { l: Loaded; i: number }>();
    for (const l of specs) {
      if (stacks.get(stackNameFor(l.spec)) !== l) continue; // already reported as a duplicate stack
      l.spec.pipeline.steps.forEach((step, i) => {
        const id = queueIdFor(l.spec, step.name);
        const first = queues.get(id);
        if (first && first.l !== l)
          at(
            l,
            ['pipeline', 'steps', i, 'name'],
            step.name,
            `queue id "${id}" is also the queue of ${first.l.file} pipeline.steps[${first.i}] in ${key}: rename the step, the pipeline or the environment`,
          );
        else if (!first) queues.set(id, { l, i });
      });
    }
    const total = specs.reduce((n, l) => n + l.spec.pipeline.steps.length, 0);
    if (specs.length > 1 && total > LIMITS.queuesPerRegion) {
      const last = specs[specs.length - 1];
      at(
        last,
        ['pipeline', 'steps'],
        `${total} queues`,
        `the specs for ${key} need ${total.toLocaleString('en-US')} queues together (${specs.map((l) => `${l.file}: ${l.spec.pipeline.steps.length}`).join(', ')}); Cloud Tasks allows at most ${LIMITS.queuesPerRegion.toLocaleString('en-US')} per project per region`,
      );
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Schema errors -> problems

const TYPE_WORDS: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  integer: 'a whole number',
  boolean: 'true or false',
  object: 'a mapping (key: value)',
  array: 'a list',
};

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'number') return 'the number';
  return `the ${typeof v}`;
}

function schemaProblem(e: ErrorObject, raw: unknown): PathProblem {
  const at = instanceSegments(e.instancePath, raw);
  const parent = (e.parentSchema ?? {}) as { properties?: Record<string, { description?: string }>; enum?: unknown[] };
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String((e.params as { additionalProperty: string }).additionalProperty);
      const allowed = Object.keys(parent.properties ?? {});
      const hint = closest(key, allowed);
      return {
        path: [...at, key],
        atKey: true,
        message: `unknown key "${key}"${hint ? ` (did you mean "${hint}"?)` : ''}; allowed here: ${allowed.join(', ')}`,
      };
    }
    case 'required': {
      const key = String((e.params as { missingProperty: string }).missingProperty);
      const description = parent.properties?.[key]?.description;
      return { path: [...at, key], message: `is required${description ? `: ${description}` : ''}` };
    }
    case 'type': {
      const expected = String((e.params as { type: string }).type);
      const value = e.data;
      if (at.length === 0 && (value === null || value === undefined))
        return {
          path: at,
          message: 'the spec is empty: write project, region, environment and pipeline (docs/spec.md)',
        };
      if (at.length === 0)
        return {
          path: at,
          message: `a pipeline spec must be a mapping with project, region, environment and pipeline, not ${describe(value)}`,
        };
      if (isDurationSchema(e.parentSchema))
        return {
          path: at,
          value,
          message: `must be a duration string, ${DURATION_FORMAT_HINT}, not ${describe(value)}`,
        };
      const quote =
        expected === 'string' && (typeof value === 'number' || typeof value === 'boolean')
          ? ` (quote it: "${String(value)}")`
          : '';
      return {
        path: at,
        value,
        message: `must be ${TYPE_WORDS[expected] ?? expected}, not ${describe(value)}${quote}`,
      };
    }
    case 'enum': {
      const choices = (e.params as { allowedValues: unknown[] }).allowedValues.map(String);
      const hint = typeof e.data === 'string' ? closest(e.data, choices) : undefined;
      return {
        path: at,
        value: e.data,
        message: `${preview(e.data)} is not one of: ${choices.join(', ')}${hint ? ` (did you mean "${hint}"?)` : ''}`,
      };
    }
    default:
      return { path: at, value: e.data, message: `${e.message ?? 'is invalid'} (${e.keyword})` };
  }
}

function describe(v: unknown): string {
  if (v === undefined) return 'empty';
  return v === null || typeof v === 'object' ? typeOf(v) : `${typeOf(v)} ${preview(v)}`;
}

/** ajv's JSON pointer -> segments, with array positions as numbers (so paths print as steps[1]). */
function instanceSegments(pointer: string, raw: unknown): PathSegment[] {
  if (!pointer) return [];
  const out: PathSegment[] = [];
  let node: unknown = raw;
  for (const part of pointer.slice(1).split('/')) {
    const key = part.replace(/~1/g, '/').replace(/~0/g, '~');
    const segment: PathSegment = Array.isArray(node) ? Number(key) : key;
    out.push(segment);
    node = node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined;
  }
  return out;
}

function isAtOrUnder(p: readonly PathSegment[], base: readonly PathSegment[]): boolean {
  return base.length <= p.length && base.every((s, i) => p[i] === s);
}

/** Attaches file and line:column, and orders each stage's problems by position in the file. */
function locateAll(stages: PathProblem[][], source: SpecSourceInfo): SpecProblem[] {
  const file = source.file !== undefined ? displayFile(source.file) : undefined;
  return stages.flatMap((stage) =>
    stage
      .map((p) => toSpecProblem(p, { file, ...nearest(p.path, source.locate, p.atKey ? 'key' : 'value') }))
      .sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity) || (a.column ?? 0) - (b.column ?? 0)),
  );
}

/** The position of the path, or of its nearest ancestor present in the file (a missing key points at its parent). */
function nearest(
  fieldPath: readonly PathSegment[],
  locate: Locate | undefined,
  at: 'key' | 'value',
): { line?: number; column?: number } {
  if (!locate) return {};
  for (let n = fieldPath.length; n >= 0; n--) {
    const found = locate(fieldPath.slice(0, n), n === fieldPath.length ? at : 'value');
    if (found) return found;
  }
  return {};
}
