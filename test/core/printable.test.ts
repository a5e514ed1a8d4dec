// lib/core/printable.ts: text another process wrote, made safe for one log line.
import { describe, expect, it } from 'vitest';
import { printable } from '../../lib/core';

describe('printable', () => {
  it.each([
    ['READY=1', 'READY=1'],
    ['a\nb\r\tc', 'a\\nb\\r\\tc'],
    ['\x1b[31mred\x1b[0m\x07\x00\x7f', '\\x1b[31mred\\x1b[0m\\x07\\x00\\x7f'],
    ['\u0085 C1 \u009b', '\\x85 C1 \\x9b'],
    ['line\u2028sep\u2029', 'line\\u{2028}sep\\u{2029}'],
    ['evil\u202egnp.exe \u2066x\u2069', 'evil\\u{202e}gnp.exe \\u{2066}x\\u{2069}'],
    ['lone \ud800 surrogate', 'lone \\u{d800} surrogate'],
    ['back\\slash \\n', 'back\\\\slash \\\\n'],
    ['é ü 日本 🙂', 'é ü 日本 🙂'],
  ])('%j -> %j', (text, expected) => {
    expect(printable(text)).toBe(expected);
  });

  it('cuts a long text and says how long it was', () => {
    expect(printable('x'.repeat(5000), 10)).toBe('xxxxxxxxxx... (5000 bytes)');
    expect(printable('x'.repeat(10), 10)).toBe('xxxxxxxxxx');
    expect(printable('\n'.repeat(100)).length).toBeLessThan(320);
  });
});
