/**
 * User strings on a terminal (run ids, step outputs, failure reasons, payloads): every control, format and separator
 * character is shown escaped (`\x1b`, `\u202e`), so a failure reason cannot move the cursor, recolour the terminal,
 * set its title or reorder the line. Tabs are kept.
 *
 * A small local version until lib/core/text.ts (terminalSafe, issue 9) lands on main; it has the same name and
 * signature so the switch is an import change.
 */
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;

function escapeCharacter(c: string): string {
  const code = c.codePointAt(0) ?? 0;
  if (code <= 0xff) return `\\x${code.toString(16).padStart(2, '0')}`;
  if (code <= 0xffff) return `\\u${code.toString(16).padStart(4, '0')}`;
  return `\\u{${code.toString(16)}}`;
}

export function terminalSafe(text: string): string {
  return text.replace(UNSAFE, (c) => (c === '\t' ? c : escapeCharacter(c)));
}
