import { describe, expect, it } from 'vitest';
import { formatAddress, formatSize, parseAddress, parseSize } from './units.js';

const GiB = 1024 ** 3;

describe('parseSize', () => {
  it.each([
    [4096, 4096],
    ['4096', 4096],
    ['4KiB', 4096],
    ['512 MiB', 512 * 1024 ** 2],
    ['3GiB', 3 * GiB],
    ['16TiB', 16 * 1024 ** 4],
    [' 2MiB ', 2 * 1024 ** 2],
    ['0x1000', 4096],
    [0, 0],
  ] as const)('%j is %d bytes', (input, bytes) => {
    expect(parseSize(input)).toBe(bytes);
  });

  it.each([
    [
      '8GB',
      'size unit "GB" is not accepted: use GiB (units are KiB, MiB, GiB, TiB, powers of 1024); GB would be ambiguous (powers of 1000 or of 1024)',
    ],
    [
      '8mb',
      'size unit "mb" is not accepted: use MiB (units are KiB, MiB, GiB, TiB, powers of 1024); mb would be ambiguous (powers of 1000 or of 1024)',
    ],
    ['4k', 'size unit "k" is not accepted: use KiB (units are KiB, MiB, GiB, TiB, powers of 1024)'],
    [
      '4gib',
      'size unit "gib" is not accepted: use GiB (units are KiB, MiB, GiB, TiB, powers of 1024)',
    ],
    ['4 pages', 'unknown size unit "pages": use KiB, MiB, GiB or TiB, or a plain number of bytes'],
    [
      '1.5GiB',
      'size "1.5GiB" is not a whole number: write it in a smaller unit (e.g. 1536MiB, not 1.5GiB)',
    ],
    ['-4KiB', 'size must not be negative, got "-4KiB"'],
    [-1, 'size must not be negative, got -1'],
    [1.5, 'size must be a whole number of bytes, got 1.5'],
    [2 ** 53, 'size must be below 2^53 (a safe integer), got 9007199254740992'],
    ['16384TiB', 'size must be below 2^53 (a safe integer), got "16384TiB"'],
    ['', 'expected a size such as 4096 or "3GiB", got an empty string'],
    [true, 'expected a size such as 4096 or "3GiB", got boolean true'],
    [null, 'expected a size such as 4096 or "3GiB", got null'],
  ] as const)('rejects %j', (input, reason) => {
    expect(() => parseSize(input)).toThrow(reason);
  });
});

describe('parseAddress', () => {
  it.each([
    [0x40000000, 0x40000000],
    ['0x40000000', 0x40000000],
    ['0x7FC0000000', 0x7fc0000000],
    ['1073741824', 0x40000000],
  ] as const)('%j is %d', (input, addr) => {
    expect(parseAddress(input)).toBe(addr);
  });

  it.each([
    ['1GiB', 'expected an address such as 0x40000000 or 1073741824, got "1GiB"'],
    [
      '0xfffffffffffffffff',
      'address must be below 2^53 (a safe integer), got "0xfffffffffffffffff"',
    ],
    [-4096, 'address must not be negative, got -4096'],
    [[1], 'expected an address such as 0x40000000, got a list'],
  ] as const)('rejects %j', (input, reason) => {
    expect(() => parseAddress(input)).toThrow(reason);
  });
});

describe('formatting', () => {
  it('prints sizes in the largest binary unit that divides them', () => {
    expect(formatSize(3 * GiB)).toBe('3GiB');
    expect(formatSize(1536 * 1024 ** 2)).toBe('1536MiB');
    expect(formatSize(16384)).toBe('16KiB');
    expect(formatSize(1000)).toBe('1000');
    expect(formatAddress(0x40000000)).toBe('0x40000000');
  });
});
