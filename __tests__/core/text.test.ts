import MarkdownIt from 'markdown-it';
import {
  escapeCharacter,
  htmlText,
  markdownCell,
  markdownFence,
  markdownInline,
  markdownText,
  terminalSafe,
} from '../../lib/core/text';

// GitHub's renderer is CommonMark + GFM tables, with raw HTML allowed: markdown-it with html on is the same grammar.
const md = new MarkdownIt({ html: true });

describe('terminalSafe', () => {
  test.each([
    ['ESC (colour, cursor, title sequences)', 'red\u001b[31mtext', 'red\\x1b[31mtext'],
    ['CR (overwrites the line)', 'ok\rFAILED', 'ok\\x0dFAILED'],
    ['NUL and backspace', 'a\u0000b\u0008', 'a\\x00b\\x08'],
    ['DEL', 'x\u007f', 'x\\x7f'],
    ['C1 CSI (U+009B)', '\u009b31m', '\\x9b31m'],
    ['bidi override U+202E', 'invoice\u202etxt.exe', 'invoice\\u202etxt.exe'],
    ['bidi isolate U+2066', '\u2066x\u2069', '\\u2066x\\u2069'],
    ['zero-width space and BOM', 'a\u200bb\ufeff', 'a\\u200bb\\ufeff'],
    ['line separator U+2028', 'a\u2028b', 'a\\u2028b'],
    ['a lone surrogate', 'a\ud800b', 'a\\ud800b'],
    ['a tag character beyond the BMP', 'a\u{e0041}', 'a\\u{e0041}'],
    ['a line feed in a one-line field', 'one\ntwo', 'one\\x0atwo'],
  ])('GIVEN %s THEN it is shown escaped', (_what, input, shown) => {
    expect(terminalSafe(input)).toBe(shown);
  });

  test('tabs, ordinary Unicode and emoji stay as written; line feeds stay when lines are meant', () => {
    expect(terminalSafe('a\tb café Ünïcödé 東京 ✓')).toBe('a\tb café Ünïcödé 東京 ✓');
    expect(terminalSafe('one\ntwo\u001b', { keepNewlines: true })).toBe('one\ntwo\\x1b');
  });

  test('escapeCharacter: \\xHH up to U+00FF, \\uHHHH in the BMP, \\u{...} beyond', () => {
    expect([escapeCharacter('\u001b'), escapeCharacter('\u202e'), escapeCharacter('\u{1d173}')]).toEqual([
      '\\x1b',
      '\\u202e',
      '\\u{1d173}',
    ]);
  });
});

describe('Markdown', () => {
  const forgery = 'x\n```\n# Forged heading\n<!-- hide the rest\n<img src=x onerror=alert(1)>';

  test('markdownInline: a code span nothing inside can close, on one line, HTML inert', () => {
    const html = md.renderInline(markdownInline(forgery));
    expect(html).toMatch(/^<code>.*<\/code>$/);
    expect(html).not.toMatch(/<img|<!--|<h1/);
    expect(md.renderInline(markdownInline('a ``` b `` c'))).toBe('<code>a ``` b `` c</code>');
    expect(md.renderInline(markdownInline('`edge`'))).toBe('<code>`edge`</code>');
    expect(md.renderInline(markdownInline(''))).toBe('<code> </code>');
  });

  test('markdownCell: a pipe cannot add a column, inside a code span or in prose', () => {
    const table = (cell: string) => md.render(`| a | b |\n|---|---|\n| ${cell} | end |\n`);
    for (const cell of [markdownCell('x | y | z'), markdownCell('x | y', { code: false })]) {
      const html = table(cell);
      expect(html.match(/<td>/g)).toHaveLength(2);
      expect(html).toContain('<td>end</td>');
    }
  });

  test('markdownText: prose shows every character literally (no emphasis, link, image, HTML or heading)', () => {
    const text = '# *bold* _it_ [link](https://x) ![img](https://x) <b>tag</b> <!-- c --> &lt; `code` ~~s~~';
    const html = md.renderInline(markdownText(text));
    expect(html).not.toMatch(/<(em|strong|a|img|b|code|s|del)\b|<!--/);
    expect(html).toContain('&lt;b&gt;tag&lt;/b&gt;');
    expect(html).toContain('&amp;lt;');
  });

  test('markdownFence: content with fences of any length, headings and comments stays inside the block', () => {
    const lines = ['ok', '```', '# Forged', '````', '<!-- hidden', 'ev\u001bil\nsplit'];
    const html = md.render([...markdownFence(lines), '', 'after'].join('\n'));
    expect(html.match(/<pre>/g)).toHaveLength(1);
    expect(html).not.toMatch(/<h1|<!--/);
    expect(html).toContain('<p>after</p>');
    expect(html).toContain('ev\\x1bil\\x0asplit');
    expect(markdownFence(['a'], { info: 'mermaid', indent: '  ' })).toEqual(['  ```mermaid', '  a', '  ```']);
  });

  test('htmlText: entities inside an HTML element, one line', () => {
    expect(htmlText('<b>"x" & \'y\'</b>\n')).toBe('&lt;b&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/b&gt;\\x0a');
  });
});
