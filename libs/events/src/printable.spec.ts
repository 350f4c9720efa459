import { describe, expect, it } from 'vitest';
import { printable } from './printable.js';

describe('printable', () => {
  it.each([
    ['plain text stays', 'plain text stays'],
    ['qemu-system-aar', 'qemu-system-aar'],
    ['élan — ünïcode 中文', 'élan — ünïcode 中文'],
    // the forged header of the finding: ESC and a newline starting a line of mnsim's own
    ['\x1b[2K\rmnsim: imported run FORGED\n', '\\x1b[2K\\rmnsim: imported run FORGED\\n'],
    ['a\tb\0c\x7fd\x9be', 'a\\tb\\x00c\\x7fd\\x9be'],
    ['evil\u202egnp.exe', 'evil\\u{202e}gnp.exe'],
    ['one\u2028two', 'one\\u{2028}two'],
  ])('%j prints as %j', (text, shown) => {
    expect(printable(text)).toBe(shown);
  });

  it('leaves nothing below U+0020 or in the C1 range', () => {
    const all = Array.from({ length: 0xa0 }, (_, i) => String.fromCharCode(i)).join('');
    // eslint-disable-next-line no-control-regex
    expect(printable(all)).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
  });
});
