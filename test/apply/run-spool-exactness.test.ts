import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { LakeRowSink } from '../../src/apply/snapshot/lake-row-sink.ts';
import { LakeRowSpool } from '../../src/apply/snapshot/lake-row-spool.ts';
import {
  ROWS_PER_SPOOL_FILE,
  SPOOL_QUOTE,
  SpoolFileWriter,
} from '../../src/apply/snapshot/snapshot-spool-file.ts';
import type { DeltaType, StructField, StructType } from '../../src/delta/schema.ts';
import { LakeValueError } from '../../src/duckdb/errors.ts';
import type { LakeRow, LakeValue } from '../../src/duckdb/lake-value.ts';
import { DuckSession, quoteIdentifier } from '../../src/duckdb/session.ts';
import { SeededRandom } from './support/seeded-random.ts';

/*
 * The row spool (CSV files loaded by DuckDB's CSV reader) against the appender (LakeRowSink) for
 * the same rows: every column type a spool carries, with the values most likely to be bent on the
 * way (empty string against null, quote and line-break characters, NUL, the spool's own quote
 * character, a string longer than the reader's default line limit, 38-digit decimals of every
 * scale, longs at the 64-bit bounds, every byte, empty against null arrays). Every cell of every
 * row must be what the appender stored.
 */

const primitive = (name: string): DeltaType => ({ type: 'primitive', name }) as DeltaType;
const decimal = (precision: number, scale: number): DeltaType => ({ type: 'decimal', precision, scale });
const arrayOf = (elementType: DeltaType): DeltaType => ({ type: 'array', elementType, containsNull: true });

const STRINGS: readonly string[] = [
  '',
  ' ',
  'plain',
  'a,b',
  ',',
  '"',
  '""',
  'he said "hi", then left',
  'line\nbreak',
  '\n',
  'carriage\rreturn',
  '\r\n',
  'tab\there',
  'back\\slash\\',
  '\\"',
  '\\N',
  'NULL',
  'null',
  'true',
  '#not a comment',
  'ünïcödé ✓ 😀 𝄞',
  '\u0000',
  'nul\u0000inside',
  SPOOL_QUOTE,
  `${SPOOL_QUOTE}${SPOOL_QUOTE}`,
  `a${SPOOL_QUOTE},\n${SPOOL_QUOTE}b`,
  '\u0002\u001f\u007f',
  '{"pk":"customer#1","sk":"order#2"}',
  '[1,"x",null]',
];
/** Longer than DuckDB's default longest line (2 MB) and than the spool's own default (8 MB). */
const LONG_STRING = `${'long "text", \n'.repeat(700_000)}end`;

const LONGS: readonly bigint[] = [
  0n,
  1n,
  -1n,
  2n ** 63n - 1n,
  -(2n ** 63n),
  2n ** 53n + 1n,
  -(2n ** 53n) - 1n,
];
const INTEGERS: readonly number[] = [0, 1, -1, 2147483647, -2147483648];
const BOOLEANS: readonly boolean[] = [true, false];
const EVERY_BYTE = Uint8Array.from({ length: 256 }, (_, i) => i);
const BINARIES: readonly Uint8Array[] = [
  new Uint8Array(0),
  Uint8Array.of(0),
  Uint8Array.of(255),
  EVERY_BYTE,
  EVERY_BYTE.slice().reverse(),
  Uint8Array.of(0x2c, 0x22, 0x0a, 0x0d, 0x01),
];
const TIMESTAMPS: readonly string[] = [
  '1970-01-01T00:00:00.000000Z',
  '2026-11-23T12:34:56.123456Z',
  '0001-01-01T00:00:00.000000Z',
  '9999-12-31T23:59:59.999999Z',
  '1969-12-31T23:59:59.999999Z',
];

/** Decimal texts of decimal(precision, scale): the bounds, the smallest step, zero, fewer digits. */
function decimals(precision: number, scale: number): string[] {
  const whole = precision - scale;
  const int = whole === 0 ? '0' : '9'.repeat(whole);
  const largest = scale === 0 ? int : `${int}.${'9'.repeat(scale)}`;
  const step = scale === 0 ? '1' : `0.${'0'.repeat(scale - 1)}1`;
  const values = [largest, `-${largest}`, step, `-${step}`, '0', '-0'];
  if (whole > 0)
    values.push(`1${'0'.repeat(whole - 1)}`, `-${'12345678901234567890123456789012345678'.slice(0, whole)}`);
  if (scale > 0)
    values.push(
      '0.5',
      `${whole > 0 ? '7' : '0'}.${'1234567890123456789012345678901234567890'.slice(0, scale)}`,
    );
  if (scale > 1) values.push('-0.25');
  return values;
}

const DECIMAL_TYPES: readonly [number, number][] = [
  [38, 0],
  [38, 1],
  [38, 2],
  [38, 10],
  [38, 18],
  [38, 19],
  [38, 37],
  [38, 38],
  [10, 2],
  [18, 0],
  [18, 6],
  [19, 4],
];

/** A column: its type and the non-null values it cycles through. */
interface Column {
  readonly field: StructField;
  readonly values: readonly LakeValue[];
}

function column(name: string, type: DeltaType, values: readonly LakeValue[]): Column {
  return { field: { name, type, nullable: true, metadata: {} }, values };
}

/** Arrays of `values`: empty, each alone, all of them, all of them reversed. */
function arrays(values: readonly LakeValue[]): LakeValue[] {
  return [[], ...values.map((value) => [value]), [...values], [...values].reverse()];
}

const COLUMNS: readonly Column[] = [
  column('id', primitive('integer'), []),
  column('s', primitive('string'), [...STRINGS, LONG_STRING]),
  column('l', primitive('long'), LONGS),
  column('i', primitive('integer'), INTEGERS),
  column('b', primitive('boolean'), BOOLEANS),
  column('bin', primitive('binary'), BINARIES),
  column('ts', primitive('timestamp'), TIMESTAMPS),
  ...DECIMAL_TYPES.map(([p, s]) => column(`d${p}_${s}`, decimal(p, s), decimals(p, s))),
  column('d_from_bigint', decimal(38, 4), [5n, -(10n ** 33n) + 1n, 0n]),
  column('as', arrayOf(primitive('string')), arrays(STRINGS)),
  column('al', arrayOf(primitive('long')), arrays(LONGS)),
  column('ai', arrayOf(primitive('integer')), arrays(INTEGERS)),
  column('ab', arrayOf(primitive('boolean')), arrays(BOOLEANS)),
  column('abin', arrayOf(primitive('binary')), arrays(BINARIES)),
  column('ats', arrayOf(primitive('timestamp')), arrays(TIMESTAMPS)),
  ...DECIMAL_TYPES.map(([p, s]) => column(`ad${p}_${s}`, arrayOf(decimal(p, s)), arrays(decimals(p, s)))),
];
const SCHEMA: StructType = { type: 'struct', fields: COLUMNS.map((c) => c.field) };

/**
 * Enough rows that every column shows each of its values, each next to nulls and non-nulls of the
 * other columns; the last row is all nulls, the one before it has every column present.
 */
function nastyRows(): LakeRow[] {
  const count = Math.max(...COLUMNS.map((c) => c.values.length)) * 3;
  const rows: LakeRow[] = [];
  for (let n = 0; n < count; n++) {
    const row: Record<string, LakeValue> = { id: n };
    COLUMNS.forEach((c, index) => {
      if (c.values.length === 0) return;
      if ((n + index) % 4 === 3) return; // absent: null
      if ((n + index) % 4 === 2 && n % 2 === 0) {
        row[c.field.name] = null;
        return;
      }
      row[c.field.name] = c.values[(n * 7 + index) % c.values.length] as LakeValue;
    });
    rows.push(row);
  }
  const full: Record<string, LakeValue> = { id: count };
  for (const c of COLUMNS) if (c.values.length > 0) full[c.field.name] = c.values[0] as LakeValue;
  rows.push(full, { id: count + 1 });
  return rows;
}

/** Columns (by name) where a row of `actual` differs from the row of `expected` with its id. */
async function differences(
  session: DuckSession,
  schema: StructType,
  actual: string,
  expected: string,
): Promise<Record<string, number>> {
  const a = quoteIdentifier(actual);
  const e = quoteIdentifier(expected);
  const counts = schema.fields.map(
    (field) =>
      `count(*) FILTER (WHERE ${a}.${quoteIdentifier(field.name)} IS DISTINCT FROM ${e}.${quoteIdentifier(field.name)})`,
  );
  const sql = `SELECT (SELECT count(*) FROM ${a}), (SELECT count(*) FROM ${e}), ${counts.join(', ')}
    FROM ${a} FULL OUTER JOIN ${e} ON ${a}.id = ${e}.id`;
  const row = (await session.all(sql)).getRows()[0] ?? [];
  const result: Record<string, number> = { rows: Number(row[0]), expectedRows: Number(row[1]) };
  schema.fields.forEach((field, index) => {
    const count = Number(row[index + 2]);
    if (count !== 0) result[field.name] = count;
  });
  return result;
}

async function throughSink(
  session: DuckSession,
  table: string,
  schema: StructType,
  rows: readonly LakeRow[],
) {
  const sink = await LakeRowSink.open(session, table, schema);
  try {
    for (const row of rows) sink.append(row);
  } finally {
    sink.close();
  }
}

let session: DuckSession;

beforeAll(async () => {
  session = await DuckSession.open({ threads: 4 });
});

afterAll(async () => {
  await session?.close();
});

describe('the row spool', () => {
  test('stores every cell of every column type exactly as the appender does', async () => {
    const rows = nastyRows();
    await throughSink(session, 'by_appender', SCHEMA, rows);
    const spool = await LakeRowSpool.open(session, 'by_spool', SCHEMA);
    for (const row of rows) spool.append(row);
    await spool.close();
    expect(await differences(session, SCHEMA, 'by_spool', 'by_appender')).toEqual({
      rows: rows.length,
      expectedRows: rows.length,
    });
    // The appender is the reference; a few cells checked against the JS values as well, so the
    // comparison cannot pass by both paths bending a value the same way.
    const picked = (
      await session.all(
        `SELECT s, CAST(d38_37 AS VARCHAR), CAST(l AS VARCHAR), bin, "as" FROM by_spool WHERE id = ${rows.length - 2}`,
      )
    ).getRows()[0];
    expect(picked?.[0]).toBe(STRINGS[0]);
    expect(picked?.[1]).toBe(decimals(38, 37)[0]);
    expect(picked?.[2]).toBe(String(LONGS[0]));
    const empty = (
      await session.all(
        `SELECT count(*) FILTER (WHERE s = ''), count(*) FILTER (WHERE s IS NULL), count(*) FILTER (WHERE len("as") = 0), count(*) FILTER (WHERE "as" IS NULL), count(*) FILTER (WHERE s = $long) FROM by_spool`,
        { long: LONG_STRING },
      )
    ).getRows()[0];
    expect(empty?.map(Number).every((count) => count > 0)).toBe(true);
  });

  test('loads a spool file written apart (as the worker threads write them) into the same rows', async () => {
    const rows = nastyRows();
    await throughSink(session, 'apart_appender', SCHEMA, rows);
    const files: string[] = [];
    const writer = new SpoolFileWriter(SCHEMA, session.scratchDir, 'apart', (file) => files.push(file));
    for (const row of rows) writer.append(row);
    writer.finishFile();
    expect(files.map((file) => path.basename(file))).toEqual(['apart-0.csv']);
    const spool = await LakeRowSpool.open(session, 'apart_spool', SCHEMA);
    for (const file of files) spool.load(file);
    await spool.close();
    expect(await differences(session, SCHEMA, 'apart_spool', 'apart_appender')).toEqual({
      rows: rows.length,
      expectedRows: rows.length,
    });
  });

  test('random text full of quotes, line breaks and separators survives files DuckDB splits over threads', async () => {
    const schema: StructType = {
      type: 'struct',
      fields: [
        { name: 'id', type: primitive('integer'), nullable: true, metadata: {} },
        { name: 'text', type: primitive('string'), nullable: true, metadata: {} },
        { name: 'list', type: arrayOf(primitive('string')), nullable: true, metadata: {} },
        { name: 'amount', type: decimal(38, 9), nullable: true, metadata: {} },
      ],
    };
    const random = new SeededRandom(20261125);
    const alphabet = ['a', 'b', ',', '"', '\n', '\r', SPOOL_QUOTE, '\\', '\u0000', '✓', '😀', ' '];
    const text = (length: number) => Array.from({ length }, () => random.pick(alphabet)).join('');
    const rows: LakeRow[] = [];
    // More than one spool file, each several of DuckDB's per-thread ranges long.
    for (let n = 0; n < ROWS_PER_SPOOL_FILE + 5_000; n++) {
      const digits = String(random.between(0, 999_999_999)).padStart(9, '0');
      rows.push({
        id: n,
        text: random.chance(0.1) ? null : text(random.between(0, 400)),
        list: random.chance(0.1) ? null : Array.from({ length: random.between(0, 3) }, () => text(20)),
        amount: random.chance(0.1)
          ? null
          : `${random.chance(0.5) ? '-' : ''}${random.between(0, 10 ** 9)}.${digits}`,
      });
    }
    await throughSink(session, 'random_appender', schema, rows);
    const spool = await LakeRowSpool.open(session, 'random_spool', schema);
    for (const row of rows) spool.append(row);
    await spool.close();
    expect(await differences(session, schema, 'random_spool', 'random_appender')).toEqual({
      rows: rows.length,
      expectedRows: rows.length,
    });
  });

  test('a decimal with more fractional digits than its scale is refused naming the column; nothing is written', async () => {
    const schema: StructType = {
      type: 'struct',
      fields: [{ name: 'amount', type: decimal(38, 2), nullable: true, metadata: {} }],
    };
    const spool = await LakeRowSpool.open(session, 'refused', schema);
    spool.append({ amount: '1.25' });
    const error = (() => {
      try {
        spool.append({ amount: '1.255' });
      } catch (thrown) {
        return thrown;
      }
    })();
    expect(error).toBeInstanceOf(LakeValueError);
    expect((error as Error).message).toContain('amount');
    await spool.close();
    const rows = (await session.all('SELECT CAST(amount AS VARCHAR) FROM refused')).getRows();
    expect(rows).toEqual([['1.25']]);
  });
});
