/**
 * Reading a spec file: YAML or JSON text -> the raw value and a locator that finds the line and column of a field
 * path in the text. Syntax errors (and duplicate keys, in both formats) are thrown as a SpecError with positions.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
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
import { byPosition, displayFile, type FieldPath, type Problem } from '../core/problem';
import { SpecError } from './errors';

/**
 * The largest spec file read (64 MiB). A spec holds at most 1,000 queues and seed payloads of at most 1 MB each that
 * are meant to start a pipeline, not carry its data; a bigger file is a mistake (or an attempt to exhaust memory),
 * and is refused before it is read.
 */
export const MAX_SPEC_FILE_BYTES = 64 * 1024 * 1024;

/** The extensions a spec file may have. pipeline.schema.json (and any *.schema.json) is the schema, not a spec. */
export const SPEC_EXTENSIONS = ['.yaml', '.yml', '.json'];

/**
 * Finds the line and column of a field path in the source text, when it is there. `at: 'key'` asks for the key of a
 * mapping entry rather than its value (used for unknown keys); a locator may ignore it.
 */
export type Locate = (path: FieldPath, at?: 'key' | 'value') => { line: number; column: number } | undefined;

export interface SpecSource {
  /** The file as messages name it (relative to the working directory when inside it). */
  readonly file: string;
  readonly raw: unknown;
  readonly locate: Locate;
}

/** Reads one spec file (.yaml, .yml or .json). Throws a SpecError when it cannot be read or parsed. */
export function readSpecSource(file: string): SpecSource {
  const shown = displayFile(file);
  const fail = (message: string, where: { line?: number; column?: number } = {}): never => {
    throw new SpecError([{ file: shown, ...where, path: [], message }]);
  };
  const ext = path.extname(file).toLowerCase();
  if (!SPEC_EXTENSIONS.includes(ext))
    fail(`unsupported file type "${ext || '(none)'}": a pipeline spec is .yaml, .yml or .json`);
  let text = '';
  let stat: fs.Stats | undefined;
  try {
    stat = fs.statSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    fail(code === 'ENOENT' ? 'no such spec file' : `cannot read the spec file: ${code ?? (e as Error).message}`);
  }
  if (stat!.isDirectory()) fail('is a folder, not a spec file');
  // A device or a pipe (a symlink to /dev/zero) would be read for ever.
  if (!stat!.isFile()) fail('is not a regular file: a spec is a .yaml, .yml or .json file');
  if (stat!.size > MAX_SPEC_FILE_BYTES)
    fail(
      `is ${stat!.size.toLocaleString('en-US')} bytes; a spec file is at most ${MAX_SPEC_FILE_BYTES.toLocaleString('en-US')} bytes (64 MiB): seed payloads start a pipeline, they do not carry its data (pass gs:// paths)`,
    );
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    fail(`cannot read the spec file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }

  const lineCounter = new LineCounter();
  // merge: YAML `<<: *defaults` lets specs share step settings. uniqueKeys (the default) makes duplicates errors.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, merge: true, uniqueKeys: true });
  const position = (offset: number): { line: number; column: number } => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
  // Duplicate keys are errors in both formats (JSON.parse would silently keep the last one).
  const duplicateKeys: Problem[] = doc.errors
    .filter((e) => e.code === 'DUPLICATE_KEY')
    .map((e) => ({
      file: shown,
      ...position(e.pos[0]),
      path: [],
      message: `duplicate key ${keyAt(text, e.pos[0])}: a key may appear only once in a mapping`,
    }));

  let raw: unknown;
  if (ext === '.json') {
    try {
      raw = JSON.parse(text);
    } catch {
      const { message, offset } = jsonSyntaxError(text);
      fail(`JSON syntax error: ${message}`, offset === undefined ? {} : position(offset));
    }
  }
  const syntax: Problem[] =
    ext === '.json'
      ? []
      : doc.errors
          .filter((e) => e.code !== 'DUPLICATE_KEY')
          .map((e) => ({ file: shown, ...position(e.pos[0]), path: [], message: `YAML syntax error: ${e.message}` }));
  if (syntax.length + duplicateKeys.length > 0) throw new SpecError([...syntax, ...duplicateKeys].sort(byPosition));
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
  // JSON is YAML 1.2, so the same document locates JSON fields; JSON.parse stays the judge of JSON syntax.
  return { file: shown, raw, locate: yamlLocator(doc, position) };
}

/**
 * JSON.parse judges a JSON spec; when it refuses one, jsonc-parser (strict: no comments, no trailing commas) finds
 * the first offending character, because V8's message has no position on Node 20 for most errors and quotes the text
 * around it (which may hold a secret). The message says what is wrong in JSON's terms and never quotes the file.
 */
function jsonSyntaxError(text: string): { message: string; offset?: number } {
  const { parse, printParseErrorCode } = require('jsonc-parser') as typeof import('jsonc-parser');
  const errors: import('jsonc-parser').ParseError[] = [];
  parse(text, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
  const first = errors[0];
  if (!first) return { message: 'the file is not valid JSON' };
  const code = printParseErrorCode(first.error);
  const at = text[first.offset];
  if ((code === 'PropertyNameExpected' || code === 'ValueExpected') && (at === '}' || at === ']')) {
    const comma = text.slice(0, first.offset).search(/,\s*$/);
    if (comma >= 0)
      return {
        message: `trailing comma: JSON allows no comma after the last ${at === '}' ? 'entry of an object' : 'item of a list'}; remove it`,
        offset: comma,
      };
  }
  const what: Readonly<Record<string, string>> = {
    InvalidSymbol: 'this is not a JSON value (strings need double quotes; true, false and null are lower case)',
    InvalidNumberFormat: 'not a JSON number (no leading zeros, no trailing dot)',
    PropertyNameExpected: 'a property name in double quotes is expected here',
    ValueExpected: 'a value is expected here',
    ColonExpected: 'a colon (:) is expected after the property name',
    CommaExpected: 'a comma (,) or a closing bracket is expected here',
    CloseBraceExpected: 'a closing brace (}) is expected here',
    CloseBracketExpected: 'a closing bracket (]) is expected here',
    EndOfFileExpected: 'nothing may follow the top-level value',
    InvalidCommentToken: 'JSON has no comments (write the spec in YAML to comment it)',
    UnexpectedEndOfComment: 'JSON has no comments',
    UnexpectedEndOfString: 'the string is not closed (a line break inside a string is written \\n)',
    UnexpectedEndOfNumber: 'the number is cut short',
    InvalidUnicode: 'invalid \\u escape in a string',
    InvalidEscapeCharacter: 'invalid escape in a string (\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)',
    InvalidCharacter: 'a control character in a string must be escaped',
  };
  return { message: what[code] ?? 'the file is not valid JSON', offset: first.offset };
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
