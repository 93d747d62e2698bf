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
    // 20 integer digits and scale 18: exactly 38.
    expect(sqlOf([{ x: n(`${'9'.repeat(20)}`) }, { x: n('0.125000000000000001') }])).toBe('decimal(38,18)');
  });

  it('never gives a scale above 18: numbers with more scale stay exact in the conflict column', () => {
    const schema = inferSchema([{ x: n('0.1000000000000000000000000000000000001') }, { x: n('2.5') }]);
    const x = column(schema, 'x');
    expect(lakeTypeSql(x.lakeType)).toBe('decimal(38,1)');
    expect(x.notHeld).toBe(1);
    expect(x.notes.join()).toMatch(
      /1 value of 2 needs more than decimal\(38,1\) holds \(numbers with up to 37 decimal places and 1 integer digit; a number column has a scale of at most 18\)/,
    );
  });

  it('picks the number type that holds the most values; the others go to the conflict column', () => {
    // decimal(38,3) holds 0.125 but not 36 integer digits (36 > 38 − 3); decimal(38,0) the reverse.
    const twoOfThree = inferSchema([{ x: n(`${'9'.repeat(36)}`) }, { x: n('0.125') }, { x: n('0.375') }]);
    expect(lakeTypeSql(column(twoOfThree, 'x').lakeType)).toBe('decimal(38,3)');
    expect(column(twoOfThree, 'x').notHeld).toBe(1);
    // A tie: the smallest scale holding that many (here 0, the most integer digits).
    const tie = inferSchema([{ x: n(`${'9'.repeat(36)}`) }, { x: n('0.125') }]);
    expect(lakeTypeSql(column(tie, 'x').lakeType)).toBe('decimal(38,0)');
    expect(column(tie, 'x').notHeld).toBe(1);
    // bigint on a tie with decimal(38,0); a decimal as soon as it holds more.
    expect(sqlOf([{ x: n('1') }, { x: n('1E-39') }])).toBe('bigint');
    expect(sqlOf([{ x: n('1') }, { x: n('0.5') }])).toBe('decimal(38,1)');
    // Nothing fits: bigint, every value in the conflict column.
    const none = inferSchema([{ x: n('1E+125') }, { x: n('1E-39') }]);
    expect(lakeTypeSql(column(none, 'x').lakeType)).toBe('bigint');
    expect(column(none, 'x').notHeld).toBe(2);
  });

  it('types NS as an array of the number type holding the most sets, a set fitting when all its elements do', () => {
    expect(sqlOf([{ x: { NS: ['1', '2'] } }])).toBe('array<bigint>');
    expect(sqlOf([{ x: { NS: ['1', '2.5'] } }, { x: { NS: ['0.25'] } }])).toBe('array<decimal(38,2)>');
    const schema = inferSchema([{ x: { NS: ['1', '-1E-130'] } }, { x: { NS: ['1', '2.5'] } }]);
    const x = column(schema, 'x');
    expect(lakeTypeSql(x.lakeType)).toBe('array<decimal(38,1)>');
    expect(x.notHeld).toBe(1);
    expect(x.setNumbers).toMatchObject({ count: 4, values: 2, int64Values: 0, maxScale: 130 });
    expect(x.numbers).toBeNull();
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

  it('types an attribute seen with two types by its dominant type, recording which and how often', () => {
    const schema = inferSchema([{ t: n('1') }, { t: { S: 'n/a' } }, { t: n('2.5') }, { t: { NULL: true } }]);
    const t = column(schema, 't');
    expect(t.valueType).toBe('N');
    expect(lakeTypeSql(t.lakeType)).toBe('decimal(38,1)');
    expect(t.encoding).toBe('value');
    expect(t.notHeld).toBe(0);
    expect(t.conflict?.types).toEqual([
      { type: 'N', count: 2 },
      { type: 'S', count: 1 },
    ]);
    expect(t.conflict?.reason).toBe(
      'seen as N in 2 items and S in 1 item; the column holds N, the type of the most items, and each other type goes to a column of its own',
    );
    expect(t.numbers).toMatchObject({ count: 2, integerCount: 1, decimalCount: 1, maxScale: 1 });
  });

  it('breaks a tie between types by the order DynamoDB lists them, whatever the order of the items', () => {
    const items = [
      { t: { M: {} } },
      { t: { BOOL: true } },
      { t: n('3') },
      { t: { L: [] } },
      { t: n('4') },
      { t: { BOOL: false } },
    ];
    const forward = column(inferSchema(items.map((item) => parseItem(item))), 't');
    const backward = column(inferSchema(items.reverse().map((item) => parseItem(item))), 't');
    expect(forward.valueType).toBe('N');
    expect(backward.valueType).toBe('N');
    expect(forward.conflict?.reason).toMatch(
      /the column holds N, the type of the most items \(a tie, which goes to the type DynamoDB lists first\)/,
    );
    expect(column(inferSchema([{ m: { L: [] } }, { m: { M: {} } }]), 'm').valueType).toBe('L');
  });

  it('types M and L columns as string holding plain JSON of that one type', () => {
    const m = column(inferSchema([{ m: { M: {} } }, { m: { M: { a: n('1') } } }, { m: { L: [] } }]), 'm');
    expect(m).toMatchObject({ valueType: 'M', encoding: 'plain-json', notHeld: 0 });
    expect(lakeTypeSql(m.lakeType)).toBe('string');
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
      'a: string not null (seen as S in 1 item and BOOL in 1 item; the column holds S, the type of the most items (a tie, which goes to the type DynamoDB lists first), and each other type goes to a column of its own)',
      'm: string',
    ]);
  });

  it('gathers number stats over N values: precision, scale, integer digits, values each type holds', () => {
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
      values: 3,
      int64Values: 1,
      decimalValues: [1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2],
    });
    expect(lakeTypeSql(column(schema, 'q').lakeType)).toBe('decimal(38,1)');
    expect(column(schema, 'q').notHeld).toBe(1);
  });

  it('merges summaries of parts into the state of observing every item in one inference', () => {
    const items = [
      { q: n('3'), s: { NS: ['1', '0.25'] } },
      { q: n('0.1000000000000000000000000000000000001'), s: { S: 'x' } },
      { q: { S: 'n/a' }, s: { NS: ['1E+40'] } },
      { q: n('12345678901234567890.5') },
    ].map((item) => parseItem(item));
    const whole = new SchemaInference();
    for (const item of items) whole.observe(item);
    const first = new SchemaInference();
    const second = new SchemaInference();
    for (const item of items.slice(0, 2)) first.observe(item);
    for (const item of items.slice(2)) second.observe(item);
    first.merge(structuredClone(second.summary()));
    expect(first.summary()).toEqual(whole.summary());
    expect(first.result()).toEqual(whole.result());
  });
});
