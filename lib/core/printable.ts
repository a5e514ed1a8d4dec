/** Characters of a printable() result before it is cut short. */
export const PRINTABLE_MAX = 300;

/**
 * `text` made safe for one log line, when another process wrote it (a
 * notification's payload): control characters (C0, DEL, C1), line and
 * paragraph separators, bidirectional overrides and lone surrogates become
 * escapes (`\n`, `\x1b`, `\u{202e}`), a backslash doubles so that escapes
 * stay unambiguous, and a long text is cut at `max` characters with its
 * size appended. Nothing it returns can end a line, forge a new one, move a
 * terminal's cursor or reorder what a reader sees.
 */
export function printable(text: string, max = PRINTABLE_MAX): string {
  let out = '';
  for (const ch of text) {
    if (out.length >= max) return `${out}... (${Buffer.byteLength(text)} bytes)`;
    out += escapeOne(ch);
  }
  return out;
}

function escapeOne(ch: string): string {
  const code = ch.codePointAt(0)!;
  if (ch === '\\') return '\\\\';
  if (ch === '\n') return '\\n';
  if (ch === '\r') return '\\r';
  if (ch === '\t') return '\\t';
  if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) return `\\x${code.toString(16).padStart(2, '0')}`;
  const invisible =
    code === 0x2028 || code === 0x2029 || (code >= 0x202a && code <= 0x202e) || (code >= 0x2066 && code <= 0x2069) || code === 0x200e || code === 0x200f || code === 0x061c || (code >= 0xd800 && code <= 0xdfff);
  return invisible ? `\\u{${code.toString(16)}}` : ch;
}
