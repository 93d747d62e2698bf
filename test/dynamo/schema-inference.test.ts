import { describe, expect, it } from 'vitest';
import type { Item } from '../../src/dynamo/attribute-value.ts';
import { decimalType, lakeTypeEquals, lakeTypeSql } from '../../src/dynamo/lake-type.ts';
import { parseItem } from '../../src/dynamo/parse.ts';
import {
  describeSchema,
  type InferredColumn,
  type InferredSchema,
  inferSchema,
  SchemaInference,
} from '../../src/dynamo/schema-inference.ts';

const n = (text: string) => ({ N: text });

function column(schema: InferredSchema, name: string): InferredColumn {
  const found = schema.columns.find((c) => c.name === name);
  if (found === undefined) throw new Error(`no column ${name}`);
  return found;
}

function sqlOf(items: Item[], name = 'x'): string {
  return lakeTypeSql(column(inferSchema(items.map((item) => parseItem(item))), name).lakeType);
}

describe('lake types', () => {
  it('render their SQL names', () => {
    expect(lakeTypeSql({ kind: 'bigint' })).toBe('bigint');
    expect(lakeTypeSql(decimalType(2))).toBe('decimal(38,2)');
    expect(lakeTypeSql({ kind: 'array', element: { kind: 'array', element: { kind: 'binary' } } })).toBe(
      'array<array<binary>>',
    );
    expect(lakeTypeEquals(decimalType(3), { kind: 'decimal', precision: 38, scale: 3 })).toBe(true);
    expect(() => decimalType(39)).toThrow(/scale must be an integer from 0 to 38/);
  });
});

describe('schema inference maps each DynamoDB type to its lake type', () => {
  it.each([
    [[{ x: { S: 'a' } }], 'string'],
    [[{ x: { B: 'AA==' } }], 'binary'],
    [[{ x: { BOOL: true } }], 'boolean'],
    [[{ x: { SS: ['a'] } }], 'array<string>'],
    [[{ x: { BS: ['AA=='] } }], 'array<binary>'],
    [[{ x: { M: { a: n('1') } } }], 'string'],
    [[{ x: { L: [n('1')] } }], 'string'],
    [[{ x: { NULL: true } }], 'string'],
  ] as [Item[], string][])('%j → %s', (items, sql) => {
    expect(sqlOf(items)).toBe(sql);
  });

  it('types integers that fit int64 as bigint', () => {
    expect(sqlOf([{ x: n('9223372036854775807') }, { x: n('-9223372036854775808') }, { x: n('1E+3') }])).toBe(
      'bigint',
    );
  });

  it('types integers beyond int64 as decimal(38,0) while they have at most 38 digits', () => {
    expect(sqlOf([{ x: n('9223372036854775808') }, { x: n('1') }])).toBe('decimal(38,0)');
    expect(sqlOf([{ x: n('12345678901234567890123456789012345678') }])).toBe('decimal(38,0)');
  });

  it('types decimals as decimal(38, largest scale) when every value also fits the integer digits left', () => {
    expect(sqlOf([{ x: n('129.95') }, { x: n('3') }, { x: n('0.001') }])).toBe('decimal(38,3)');
    // 35 integer digits and scale 3: exactly 38.
    expect(sqlOf([{ x: n(`${'9'.repeat(35)}`) }, { x: n('0.125') }])).toBe('decimal(38,3)');
  });

  it('falls back to exact number text when no decimal(38, s) holds every value, saying why', () => {
    const schema = inferSchema([{ x: n(`${'9'.repeat(36)}`) }, { x: n('0.125') }]);
    const x = column(schema, 'x');
    expect(lakeTypeSql(x.lakeType)).toBe('string');
    expect(x.encoding).toBe('number-text');
    expect(x.notes.join()).toMatch(/scale 3 and 36 integer digits/);
    expect(sqlOf([{ x: n('1E+125') }])).toBe('string');
    expect(sqlOf([{ x: n('1E-39') }])).toBe('string');
  });

  it('types NS as an array of the number type its elements need', () => {
    expect(sqlOf([{ x: { NS: ['1', '2'] } }])).toBe('array<bigint>');
    expect(sqlOf([{ x: { NS: ['1', '2.5'] } }, { x: { NS: ['0.25'] } }])).toBe('array<decimal(38,2)>');
    expect(sqlOf([{ x: { NS: ['1', '-1E-130'] } }])).toBe('array<string>');
  });
});

describe('schema inference records presence, nulls and conflicts', () => {
  it('counts items with and without the attribute and marks the column nullable', () => {
    const schema = inferSchema([
      { a: n('1'), b: { S: 'x' } },
      { a: n('2') },
      { a: { NULL: true }, b: { S: 'y' } },
    ]);
    expect(schema.itemCount).toBe(3);
    const a = column(schema, 'a');
    expect(a).toMatchObject({
      presentCount: 3,
      absentCount: 0,
      nullCount: 1,
      nullable: true,
      conflict: null,
    });
    expect(a.typeCounts).toEqual({ N: 2, NULL: 1 });
    expect(lakeTypeSql(a.lakeType)).toBe('bigint');
    expect(column(schema, 'b')).toMatchObject({ presentCount: 2, absentCount: 1, nullable: true });
    expect(inferSchema([{ c: { S: 'x' } }]).columns[0]?.nullable).toBe(false);
  });

  it('types an attribute seen with two types as string of plain JSON, recording which and how often', () => {
    const schema = inferSchema([{ t: n('1') }, { t: { S: 'n/a' } }, { t: n('2.5') }, { t: { NULL: true } }]);
    const t = column(schema, 't');
    expect(lakeTypeSql(t.lakeType)).toBe('string');
    expect(t.encoding).toBe('plain-json');
    expect(t.conflict?.types).toEqual([
      { type: 'N', count: 2 },
      { type: 'S', count: 1 },
    ]);
    expect(t.conflict?.reason).toBe(
      'seen as N in 2 items and S in 1 item; typed string holding each value as plain JSON',
    );
    expect(t.numbers).toMatchObject({ count: 2, integerCount: 1, decimalCount: 1, maxScale: 1 });
  });

  it('keeps columns in first-seen order and can report at any point', () => {
    const inference = new SchemaInference();
    inference.observe({ z: { S: 'a' }, a: { S: 'b' } });
    expect(inference.result().columns.map((c) => c.name)).toEqual(['z', 'a']);
    inference.observe({ m: { S: 'c' }, a: { BOOL: true } });
    expect(inference.itemCount).toBe(2);
    const schema = inference.result();
    expect(schema.columns.map((c) => c.name)).toEqual(['z', 'a', 'm']);
    expect(describeSchema(schema)).toEqual([
      'z: string',
      'a: string not null (seen as S in 1 item and BOOL in 1 item; typed string holding each value as plain JSON)',
      'm: string',
    ]);
  });

  it('gathers number stats over N values: precision, scale, integer digits', () => {
    const schema = inferSchema([
      { q: n('3') },
      { q: n('0.1000000000000000000000000000000000001') },
      { q: n('-0.5') },
    ]);
    expect(column(schema, 'q').numbers).toEqual({
      count: 3,
      integerCount: 1,
      decimalCount: 2,
      allFitInt64: false,
      maxPrecision: 37,
      maxScale: 37,
      maxIntegerDigits: 1,
    });
    expect(lakeTypeSql(column(schema, 'q').lakeType)).toBe('decimal(38,37)');
    // One more integer digit and decimal(38,37) no longer holds every value.
    expect(sqlOf([{ x: n('0.1000000000000000000000000000000000001') }, { x: n('12') }])).toBe('string');
  });
});
