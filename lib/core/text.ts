/**
 * The one module that makes user text safe to show: on a terminal (terminalSafe), in GitHub Markdown (markdownInline,
 * markdownCell, markdownText, markdownFence) and inside the few HTML tags a Markdown comment uses (htmlText). Every
 * place the project prints a string it did not write (spec values, task names, payload keys, run ids, anything read
 * from cdk.tf.json or a manifest) goes through one of these. docs/security.md lists what each one neutralises.
 *
 * Pure functions, no dependencies: the bundled seeder uses them too.
 */

/**
 * Characters a terminal or a viewer may act on instead of showing: C0 controls (ESC starts colour, cursor and title
 * sequences; CR and BS overwrite what was printed), DEL, C1 controls (U+009B is a one-character CSI), Unicode format
 * characters (bidi overrides and isolates such as U+202E reorder the line, zero-width characters hide text, U+00AD,
 * U+FEFF), line and paragraph separators, and lone surrogates.
 */
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;

/** `\x1b` for U+0000..U+00FF, `\u202e` for the rest of the BMP, `\u{e0001}` beyond. */
export function escapeCharacter(c: string): string {
  const code = c.codePointAt(0) ?? 0;
  if (code <= 0xff) return `\\x${code.toString(16).padStart(2, '0')}`;
  if (code <= 0xffff) return `\\u${code.toString(16).padStart(4, '0')}`;
  return `\\u{${code.toString(16)}}`;
}

export interface TerminalSafeOptions {
  /**
   * Keep line feeds: for a multi-line block whose lines are meant to be lines (a task body shown with `--show-body`).
   * Everything else a user wrote is one line on the terminal.
   * @default false
   */
  readonly keepNewlines?: boolean;
}

/**
 * `text` with every control, format and separator character shown escaped (`\x1b`, `\u202e`), so what reaches the
 * terminal is exactly what was written, visibly. Tabs are kept; line feeds only with `keepNewlines`.
 */
export function terminalSafe(text: string, opts: TerminalSafeOptions = {}): string {
  return text.replace(UNSAFE, (c) => (c === '\t' || (c === '\n' && opts.keepNewlines) ? c : escapeCharacter(c)));
}

/** The longest run of `char` in `text`. */
function longestRun(text: string, char: string): number {
  let longest = 0;
  let run = 0;
  for (const c of text) {
    run = c === char ? run + 1 : 0;
    if (run > longest) longest = run;
  }
  return longest;
}

/**
 * User text as a GitHub Markdown code span: shown literally (no emphasis, links, HTML, mentions or autolinks), on
 * one line (a raw line break would let the next line start a heading or a fence), delimited by more backticks than
 * any run inside it so nothing inside can close it (CommonMark 6.1).
 */
export function markdownInline(text: string): string {
  const body = terminalSafe(text);
  if (body === '') return '` `';
  const fence = '`'.repeat(longestRun(body, '`') + 1);
  // A leading or trailing backtick would join the fence; one space each side is stripped again by the renderer.
  const pad = body.startsWith('`') || body.endsWith('`') || (body.startsWith(' ') && body.endsWith(' ')) ? ' ' : '';
  return `${fence}${pad}${body}${pad}${fence}`;
}

/** Backslash-escapes the ASCII punctuation Markdown acts on (emphasis, code, links, images, HTML, tables, headings). */
const MARKDOWN_PUNCTUATION = /[\\`*_{}[\]()<>#+\-.!|~&]/g;

/**
 * User prose (a suppression reason) as plain Markdown text: every character that could start emphasis, code, a link,
 * an image, raw HTML (`<!--`, `<img>`) or an entity is backslash-escaped, and the text stays on one line.
 */
export function markdownText(text: string): string {
  return terminalSafe(text).replace(MARKDOWN_PUNCTUATION, (c) => `\\${c}`);
}

export interface MarkdownCellOptions {
  /**
   * Render the text as a code span (identifiers, addresses, values) rather than as escaped prose.
   * @default true
   */
  readonly code?: boolean;
}

/**
 * User text in a GitHub table cell: a code span (or escaped prose) with `|` escaped as `\|`, which GitHub reads
 * before it splits the row, even inside code spans (GFM 4.10), so a pipe cannot add a column.
 */
export function markdownCell(text: string, opts: MarkdownCellOptions = {}): string {
  const cell = opts.code === false ? markdownText(text) : markdownInline(text);
  return opts.code === false ? cell : cell.replace(/\|/g, '\\|');
}

export interface MarkdownFenceOptions {
  /**
   * The info string after the opening fence (`text`, `mermaid`).
   * @default 'text'
   */
  readonly info?: string;
  /**
   * Spaces before every line (a fence inside a list item).
   * @default ''
   */
  readonly indent?: string;
}

/**
 * Lines of user text as a fenced code block that the content cannot close: each line is made terminal-safe (so no
 * line holds a raw line break), and the fence is one backtick longer than the longest backtick run of the content
 * (CommonMark 4.5: a closing fence is at least as long as the opening one). Inside, HTML and Markdown are inert.
 */
export function markdownFence(lines: readonly string[], opts: MarkdownFenceOptions = {}): string[] {
  const indent = opts.indent ?? '';
  const safe = lines.map((l) => terminalSafe(l));
  const fence = '`'.repeat(Math.max(3, longestRun(safe.join('\n'), '`') + 1));
  return [`${indent}${fence}${opts.info ?? 'text'}`, ...safe.map((l) => `${indent}${l}`), `${indent}${fence}`];
}

/** User text inside an HTML element of a Markdown comment (`<summary>`): entities for `& < > " '`, on one line. */
export function htmlText(text: string): string {
  return terminalSafe(text).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );
}
