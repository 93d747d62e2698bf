import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { DeltaUnsupportedFeatureError } from '../../src/delta/errors.ts';
import { duckdbTypeOf } from '../../src/duckdb/duckdb-type.ts';
import {
  formatDate,
  formatDecimal,
  formatTimestampMicros,
  formatTimestampMillisUtc,
  parseDateText,
  parseDecimalText,
  parseTimestampText,
} from '../../src/duckdb/lake-text.ts';
import { escapePartitionPathName, partitionFolder } from '../../src/duckdb/partition-path.ts';
import { arrayOf, decimal, LONG, STRING } from './support.ts';

const MICROS_RANGE = { min: -62135596800000000n, max: 253402300799999999n }; // 0001-01-01 … 9999-12-31

describe('exact text of decimals, dates and timestamps', () => {
  test('decimal text round trips through its unscaled bigint at every scale', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: -(10n ** 38n) + 1n, max: 10n ** 38n - 1n }),
        fc.integer({ min: 0, max: 38 }),
        (unscaled, scale) => {
          expect(parseDecimalText(formatDecimal(unscaled, scale), 38, scale)).toBe(unscaled);
        },
      ),
    );
  });

  test('a decimal is refused, not rounded, when digits would be lost or it exceeds the precision', () => {
    expect(parseDecimalText('1.005', 38, 2)).toMatch(/more than 2 digits after/);
    expect(parseDecimalText('1.0050', 38, 3)).toBe(1005n);
    expect(parseDecimalText('1e38', 38, 0)).toMatch(/more than 38 digits before/);
    expect(parseDecimalText('12.5', 3, 2)).toMatch(/more than 1 digits before/);
    expect(parseDecimalText('1,5', 38, 2)).toMatch(/not a decimal/);
    expect(parseDecimalText('-', 38, 2)).toMatch(/not a decimal/);
    expect(parseDecimalText('0e999999', 38, 2)).toBe(0n);
  });

  test('timestamps round trip through microseconds from year 1 to 9999', () => {
    fc.assert(
      fc.property(fc.bigInt(MICROS_RANGE), (micros) => {
        expect(parseTimestampText(formatTimestampMicros(micros, true), 'required')).toBe(micros);
        expect(parseTimestampText(formatTimestampMicros(micros, false), 'none')).toBe(micros);
      }),
    );
  });

  test('the stats form floors to milliseconds, also before 1970', () => {
    expect(formatTimestampMillisUtc(-1n)).toBe('1969-12-31T23:59:59.999Z');
    expect(formatTimestampMillisUtc(1_795_392_000_123_999n)).toBe('2026-11-23T00:00:00.123Z');
    expect(formatTimestampMicros(-1n, true)).toBe('1969-12-31T23:59:59.999999Z');
  });

  test('dates agree with the JS calendar and impossible dates are refused', () => {
    fc.assert(
      fc.property(fc.integer({ min: -719162, max: 2932896 }), (days) => {
        const text = formatDate(days);
        expect(parseDateText(text)).toBe(days);
        expect(new Date(days * 86_400_000).toISOString().slice(-24, -14)).toBe(text.slice(-10));
      }),
    );
    expect(parseDateText('2025-02-29')).toBeUndefined();
    expect(parseDateText('2024-02-29')).toBe(19782);
  });
});

describe('DuckDB types of Delta types', () => {
  test('nested and primitive Delta types map to their DuckDB spelling', () => {
    expect(duckdbTypeOf(LONG)).toBe('BIGINT');
    expect(duckdbTypeOf({ type: 'primitive', name: 'short' })).toBe('SMALLINT');
    expect(duckdbTypeOf({ type: 'primitive', name: 'byte' })).toBe('TINYINT');
    expect(duckdbTypeOf({ type: 'primitive', name: 'float' })).toBe('FLOAT');
    expect(duckdbTypeOf({ type: 'primitive', name: 'timestamp_ntz' })).toBe('TIMESTAMP');
    expect(duckdbTypeOf(arrayOf(decimal(38, 4)))).toBe('DECIMAL(38,4)[]');
    expect(
      duckdbTypeOf({ type: 'map', keyType: STRING, valueType: arrayOf(LONG), valueContainsNull: true }),
    ).toBe('MAP(VARCHAR, BIGINT[])');
    expect(
      duckdbTypeOf({
        type: 'struct',
        fields: [{ name: 'a "b"', type: STRING, nullable: true, metadata: {} }],
      }),
    ).toBe('STRUCT("a ""b""" VARCHAR)');
  });

  test('void and variant columns are refused naming the type', () => {
    expect(() => duckdbTypeOf({ type: 'primitive', name: 'variant' })).toThrow(DeltaUnsupportedFeatureError);
    expect(() => duckdbTypeOf({ type: 'primitive', name: 'void' })).toThrow(/void/);
  });
});

describe('partition folders', () => {
  test('values are escaped as Hive escapes path names, null as the default partition', () => {
    expect(escapePartitionPathName('a/b=c%d:e')).toBe('a%2Fb%3Dc%25d%3Ae');
    expect(escapePartitionPathName('tab\there 🚀')).toBe('tab%09here 🚀');
    expect(partitionFolder(['region', 'day'], { region: null, day: '2026-11-23' })).toBe(
      'region=__HIVE_DEFAULT_PARTITION__/day=2026-11-23',
    );
    expect(partitionFolder([], {})).toBe('');
  });

  test('a column whose name starts with _ or . names a folder without them, so no data folder is hidden', () => {
    expect(partitionFolder(['_ddb_bucket'], { _ddb_bucket: '3' })).toBe('ddb_bucket=3');
    expect(partitionFolder(['._x', 'day'], { '._x': 'a', day: '1' })).toBe('x=a/day=1');
    expect(partitionFolder(['__'], { __: '0' })).toBe('partition=0');
  });
});
