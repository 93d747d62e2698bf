import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { truncateMaxString, truncateMinString } from '../../src/duckdb/stats-string-bounds.ts';

const MAX = '\uDBFF\uDFFF';
const ASCII_MAX = '\u007F';
const R = '\uFFFD';

function utf8Compare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

describe('the max string bound', () => {
  // delta-spark's own cases (StatsCollectionSuite, "Truncate max string"): input, expected, prefix length.
  const sparkCases: [string, string | undefined, number][] = [
    ['abcd', 'abcd', 6],
    ['abcdef', 'abcdef', 6],
    [`abcde${R}`, `abcde${R}`, 6],
    [`abcd${R}abcd`, `abcd${R}a${ASCII_MAX}`, 6],
    [`${R}abcd`, `${R}abcd`, 6],
    [`abcdef${R}`, `abcdef${MAX}`, 6],
    [`abcdef${R}${R}`, `abcdef${MAX}`, 6],
    [`abcdef-abcdef${R}`, `abcdef${ASCII_MAX}`, 6],
    [`abcdef${R}abcdef`, `abcdef${MAX}`, 6],
    [`abcde${R}abcdef${R}abcdef${R}abcdef`, `abcde${R}${ASCII_MAX}`, 6],
    ['漢字仮名한글தமி', `漢字仮名한글${MAX}`, 6],
    [`漢字仮名한글${R}${R}`, `漢字仮名한글${MAX}`, 6],
    ['漢字仮名한글', '漢字仮名한글', 6],
    ['abcdef🚀', `abcdef${MAX}`, 6],
    [MAX.repeat(4), undefined, 1],
    [MAX.repeat(4), MAX.repeat(4), 4],
    [R.repeat(4), `${R}${R}${MAX}`, 2],
    [R.repeat(3), `${R}${MAX}`, 1],
    ['abcdefghijklm💞😉💕\n🥀🌹💐🌺🌷🌼🌻🌷🥀', `abcdefghijklm💞😉💕\n🥀🌹💐🌺🌷🌼${MAX}`, 32],
  ];

  test.each(sparkCases)('Spark case %j is bounded by %j at prefix length %i', (input, expected, prefix) => {
    expect(truncateMaxString(input, prefix)).toBe(expected);
  });

  // Derived from the algorithm (not Spark's list): the default prefix of 32 code units.
  test('a string of at most 32 code units is its own bound', () => {
    expect(truncateMaxString('x'.repeat(32))).toBe('x'.repeat(32));
  });

  test('a longer ASCII string is cut to 32 units and closed with U+007F', () => {
    expect(truncateMaxString(`${'x'.repeat(32)}yz`)).toBe(`${'x'.repeat(32)}${ASCII_MAX}`);
  });

  test('U+007F at the cut is not below U+007F, so the bound closes with U+10FFFF', () => {
    expect(truncateMaxString(`${'x'.repeat(32)}${ASCII_MAX}a`)).toBe(`${'x'.repeat(32)}${MAX}`);
  });

  test('a surrogate pair across the cut is kept whole before the tie-breaker', () => {
    expect(truncateMaxString(`${'x'.repeat(31)}🚀abc`)).toBe(`${'x'.repeat(31)}🚀${ASCII_MAX}`);
  });

  test('U+10FFFF characters after the prefix are skipped, up to 64 units, then no bound', () => {
    expect(truncateMaxString(`${'x'.repeat(32)}${MAX}a`)).toBe(`${'x'.repeat(32)}${MAX}${ASCII_MAX}`);
    expect(truncateMaxString(`${'x'.repeat(32)}${MAX.repeat(16)}a`)).toBe(
      `${'x'.repeat(32)}${MAX.repeat(16)}${ASCII_MAX}`,
    );
    expect(truncateMaxString(`${'x'.repeat(32)}${MAX.repeat(17)}a`)).toBeUndefined();
    expect(truncateMaxString(`${'x'.repeat(32)}${MAX.repeat(16)}`)).toBe(
      `${'x'.repeat(32)}${MAX.repeat(16)}`,
    );
  });

  test('the bound is never below the string in UTF-8 byte order', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 80 }), (text) => {
        const bound = truncateMaxString(text);
        if (bound !== undefined) expect(utf8Compare(bound, text)).toBeGreaterThanOrEqual(0);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('the min string bound', () => {
  test('a string of at most 32 code units is its own bound, a longer one its first 32 units', () => {
    expect(truncateMinString('abcd', 6)).toBe('abcd');
    expect(truncateMinString('abcdef', 6)).toBe('abcdef');
    expect(truncateMinString('abcdefgh', 6)).toBe('abcdef');
    expect(truncateMinString('y'.repeat(40))).toBe('y'.repeat(32));
  });

  test('a surrogate pair across the cut is kept whole (33 units)', () => {
    expect(truncateMinString(`${'x'.repeat(31)}🚀tail`)).toBe(`${'x'.repeat(31)}🚀`);
    expect(truncateMinString('abcde🚀z', 6)).toBe('abcde🚀');
  });

  test('the bound is a prefix, so never above the string in UTF-8 byte order', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 80 }), (text) => {
        const bound = truncateMinString(text);
        expect(text.startsWith(bound)).toBe(true);
        expect(utf8Compare(bound, text)).toBeLessThanOrEqual(0);
      }),
      { numRuns: 2000 },
    );
  });
});
