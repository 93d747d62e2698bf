import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DeltaType, deltaTypeText, type StructType } from '../../src/delta/schema.ts';
import { loadLakeRows, readLakeRows } from '../../src/duckdb/lake-rows.ts';
import type { LakeRow } from '../../src/duckdb/lake-value.ts';
import { DuckSession } from '../../src/duckdb/session.ts';
import type { Item } from '../../src/dynamo/attribute-value.ts';
import { parseItem } from '../../src/dynamo/parse.ts';
import { itemToPlainJson } from '../../src/dynamo/plain-json.ts';
import { itemToRow } from '../../src/lake/item-to-row.ts';
import { RowShapeError } from '../../src/lake/model-errors.ts';
import { rowToPlainItem } from '../../src/lake/row-to-item.ts';
import { evolveSchema, type SchemaEvolutionPlan } from '../../src/lake/schema-evolution.ts';
import {
  layoutConfiguration,
  layoutSchema,
  newTableLayout,
  readTableLayout,
} from '../../src/lake/table-layout.ts';
import { valueModel } from '../dynamo/arbitraries.ts';
import {
  expectedMapPlain,
  type Model,
  mapToDynamoJson,
  type NumberModel,
  scaledFromText,
} from '../dynamo/reference.ts';

const EMPTY: StructType = { type: 'struct', fields: [] };
const fresh = () => newTableLayout({ keys: { partition: 'pk' }, exportTime: 0 });

/** Numbers a bigint or decimal column holds, so that typed number columns occur often. */
const smallNumberModel: fc.Arbitrary<NumberModel> = fc
  .oneof(
    fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String),
    fc
      .tuple(fc.integer({ min: -99999, max: 99999 }), fc.integer({ min: 0, max: 99 }))
      .map(([w, f]) => `${w}.${String(f).padStart(2, '0')}`),
    fc.constantFrom('9223372036854775808', '0.001', '1e3', '-0'),
  )
  .map((text) => ({ text, scaled: scaledFromText(text) as bigint }));

const value: fc.Arbitrary<Model> = fc.oneof(
  { weight: 4, arbitrary: valueModel },
  { weight: 3, arbitrary: smallNumberModel.map((n): Model => ({ t: 'N', n })) },
  {
    weight: 1,
    arbitrary: fc
      .uniqueArray(smallNumberModel, { minLength: 1, maxLength: 3, selector: (n) => n.scaled })
      .map((ns): Model => ({ t: 'NS', ns })),
  },
);

/** Few names, so that attributes recur across items with other types; some clash with system or conflict names. */
const name = fc.constantFrom('a', 'A', 'n', 'x y', '_ddb_key', 'a__N', 'é', 'total');
const itemModel = fc.uniqueArray(fc.tuple(name, value), { maxLength: 5, selector: ([n]) => n });

const toItem = (entries: readonly (readonly [string, Model])[]): Item => parseItem(mapToDynamoJson(entries));

function rowsOf(items: readonly Item[], plan: SchemaEvolutionPlan): LakeRow[] {
  return items.map((item) => itemToRow(item, plan.layout, plan.schema).row);
}

describe('itemToRow and rowToPlainItem', () => {
  it('give back the plain JSON of every item, across batches with type conflicts', () => {
    const seen = { conflictRows: 0, typedNumbers: 0, firstBatchConflicts: 0 };
    fc.assert(
      fc.property(
        fc.array(itemModel, { maxLength: 8 }),
        fc.array(itemModel, { maxLength: 8 }),
        (first, second) => {
          const one = evolveSchema(fresh(), EMPTY, first.map(toItem));
          seen.firstBatchConflicts += one.conflicts.filter((c) => c.type !== 'NULL').length;
          const two = evolveSchema(one.layout, one.schema, second.map(toItem));
          for (const entries of [...first, ...second]) {
            const item = toItem(entries);
            const { row, conflicts } = itemToRow(item, two.layout, two.schema);
            seen.conflictRows += conflicts.filter((c) => c.type !== 'NULL').length;
            const plain = rowToPlainItem(row, two.layout, two.schema);
            expect(plain).toBe(itemToPlainJson(item));
            expect(plain).toBe(expectedMapPlain(entries));
          }
          for (const field of two.schema.fields) {
            if (
              field.type.type === 'decimal' ||
              (field.type.type === 'primitive' && field.type.name === 'long')
            )
              seen.typedNumbers++;
          }
          // One type per column: no new column is of kind JSON (plain JSON of any type).
          for (const kind of two.layout.kinds.values()) expect(kind).not.toBe('JSON');
        },
      ),
      { numRuns: 400 },
    );
    // The generator must reach the cases this property is about.
    expect(seen.conflictRows).toBeGreaterThan(50);
    expect(seen.typedNumbers).toBeGreaterThan(50);
    expect(seen.firstBatchConflicts).toBeGreaterThan(50);
  });

  it('creates a conflict column only for values that do not fit their column, in the batch that creates the column', () => {
    fc.assert(
      fc.property(fc.array(itemModel, { maxLength: 10 }), (models) => {
        const items = models.map(toItem);
        const plan = evolveSchema(fresh(), EMPTY, items);
        const again = evolveSchema(plan.layout, plan.schema, items);
        expect(again.changed).toBe(false);
        expect(again.changes).toEqual([]);
        // Every conflict column holds a value of the batch, and holds as many as the plan counted.
        const used = new Map<string, number>();
        for (const item of items) {
          const { row, conflicts } = itemToRow(item, plan.layout, plan.schema);
          for (const conflict of conflicts) used.set(conflict.column, (used.get(conflict.column) ?? 0) + 1);
          // A value in its attribute column is of the column's own type.
          for (const [attribute, value] of Object.entries(item)) {
            const column = plan.layout.columns.get(attribute) as string;
            if (row[column] !== undefined)
              expect(Object.keys(value)[0]).toBe(plan.layout.kinds.get(attribute));
          }
        }
        expect(new Map(plan.conflicts.map((c) => [c.column, c.rows]))).toEqual(used);
        expect(plan.layout.conflictColumns.map((c) => c.column).sort()).toEqual([...used.keys()].sort());
      }),
      { numRuns: 300 },
    );
  });

  it('is the same whatever order the batch is evolved in', () => {
    fc.assert(
      fc.property(fc.array(itemModel, { maxLength: 8 }), (models) => {
        const items = models.map(toItem);
        const forward = evolveSchema(fresh(), EMPTY, items);
        const backward = evolveSchema(fresh(), EMPTY, [...items].reverse());
        expect(backward.schema).toEqual(forward.schema);
        expect(backward.layout).toEqual(forward.layout);
      }),
      { numRuns: 200 },
    );
  });
});

describe('itemToRow cells', () => {
  const items = [
    {
      pk: { S: 'a' },
      qty: { N: '3' },
      total: { N: '129.95' },
      big: { N: '1E+125' },
      scores: { NS: ['2.5', '1', '-1E-130'] },
      sig: { B: '3q2+7w==' },
      paid: { BOOL: true },
      tags: { SS: ['priority', 'gift'] },
      blobs: { BS: ['/w==', 'AAE='] },
      meta: { M: { z: { N: '1.50' }, a: { L: [{ S: 'x' }] } } },
      refund: { NULL: true },
    },
    {
      pk: { S: 'b' },
      qty: { N: '4' },
      total: { N: '5' },
      big: { N: '7' },
      ids: { NS: ['2', '1'] },
      scores: { NS: ['0.25'] },
      meta: { L: [] },
    },
    { pk: { S: 'c' }, scores: { NS: ['1', '1.5'] }, meta: { M: {} } },
  ].map((item) => parseItem(item));
  const plan = evolveSchema(fresh(), EMPTY, items);

  it('types each column as DESIGN.md says and writes exact values, the rest to conflict columns', () => {
    expect(
      plan.schema.fields.slice(0, -5).map((field) => `${field.name} ${deltaTypeText(field.type)}`),
    ).toEqual([
      'pk string',
      'big bigint',
      'blobs array<binary>',
      'ids array<bigint>',
      'meta string',
      'paid boolean',
      'qty bigint',
      'refund string',
      'scores array<decimal(38,2)>',
      'sig binary',
      'tags array<string>',
      'total decimal(38,2)',
      'big__N string',
      'meta__L string',
      'refund__NULL string',
      'scores__NS string',
    ]);
    expect(plan.layout.kinds.get('meta')).toBe('M');
    expect(plan.layout.kinds.get('refund')).toBe('S');
    const { row, conflicts } = itemToRow(items[0] as Item, plan.layout, plan.schema);
    expect(conflicts.map((c) => c.column)).toEqual(['big__N', 'scores__NS', 'refund__NULL']);
    expect(row).toEqual({
      pk: 'a',
      qty: 3n,
      total: '129.95',
      big__N: `1${'0'.repeat(125)}`,
      scores__NS: `[-0.${'0'.repeat(129)}1,1,2.5]`,
      sig: new Uint8Array([0xde, 0xad, 0xbe, 0xef]),
      paid: true,
      tags: ['gift', 'priority'],
      blobs: [new Uint8Array([0, 1]), new Uint8Array([0xff])],
      meta: '{"a":["x"],"z":1.5}',
      refund__NULL: 'null',
    });
    expect(itemToRow(items[1] as Item, plan.layout, plan.schema).row).toEqual({
      pk: 'b',
      qty: 4n,
      total: '5.00',
      big: 7n,
      ids: [1n, 2n],
      scores: ['0.25'],
      meta__L: '[]',
    });
    expect(itemToRow(items[2] as Item, plan.layout, plan.schema).row).toEqual({
      pk: 'c',
      scores: ['1.00', '1.50'],
      meta: '{}',
    });
    for (const item of items) {
      const { row } = itemToRow(item, plan.layout, plan.schema);
      expect(rowToPlainItem(row, plan.layout, plan.schema)).toBe(itemToPlainJson(item));
    }
  });

  it('sends a value that does not fit to its conflict column once the schema has it', () => {
    const late = parseItem({ pk: { S: 'c' }, qty: { N: '0.5' }, total: { S: 'n/a' }, paid: { NULL: true } });
    expect(() => itemToRow(late, plan.layout, plan.schema)).toThrow(RowShapeError);
    const evolved = evolveSchema(plan.layout, plan.schema, [late]);
    expect(evolved.changes.map((c) => [c.attribute, c.column, c.rows])).toEqual([
      ['paid', 'paid__NULL', 1],
      ['qty', 'qty__N', 1],
      ['total', 'total__S', 1],
    ]);
    expect(evolved.changes[1]?.reason).toContain('more digits or scale than the bigint column "qty"');
    expect(evolved.changes[2]?.reason).toContain('kept as their own text in "total__S"');
    const { row, conflicts } = itemToRow(late, evolved.layout, evolved.schema);
    // An S in its conflict column is its own text: total__S = 'n/a' finds it.
    expect(row).toEqual({ pk: 'c', qty__N: '0.5', total__S: 'n/a', paid__NULL: 'null' });
    expect(conflicts.map((c) => c.column)).toEqual(['qty__N', 'total__S', 'paid__NULL']);
    expect(rowToPlainItem(row, evolved.layout, evolved.schema)).toBe(itemToPlainJson(late));
  });

  it('refuses an attribute without a column', () => {
    expect(() =>
      itemToRow(parseItem({ pk: { S: 'x' }, fresh: { S: 'y' } }), plan.layout, plan.schema),
    ).toThrow(/"fresh" has no column/);
  });

  it('refuses a row with a value in both an attribute column and its conflict column', () => {
    const evolved = evolveSchema(plan.layout, plan.schema, [
      parseItem({ pk: { S: 'c' }, total: { S: 'n/a' } }),
    ]);
    expect(() =>
      rowToPlainItem({ pk: 'c', total: '1.00', total__S: 'n/a' }, evolved.layout, evolved.schema),
    ).toThrow(/holds a value while the column "total" holds one too/);
  });
});

describe('tables written before one type per column', () => {
  // As apply wrote them: a JSON column taking every type, a decimal(38,37) column, an S conflict
  // column holding JSON-quoted text (three members, no "text").
  const configuration = {
    'ddb_lake.keys': '{"partition":"pk"}',
    'ddb_lake.buckets': '16',
    'ddb_lake.deletes': 'hard',
    'ddb_lake.exportTime': '0',
    'ddb_lake.marginMs': '900000',
    'ddb_lake.appId': 'ddb-lake-apply',
    'ddb_lake.columnNames': '[["pk","pk"],["total","total"],["qty","qty"]]',
    'ddb_lake.columnKinds': '[["pk","S"],["total","JSON"],["qty","N"]]',
    'ddb_lake.conflictColumns': '[["qty","S","qty__S"]]',
  };
  const layout = readTableLayout(configuration);
  const schema = layoutSchema(
    layout,
    new Map<string, DeltaType>([
      ['pk', { type: 'primitive', name: 'string' }],
      ['total', { type: 'primitive', name: 'string' }],
      ['qty', { type: 'decimal', precision: 38, scale: 37 }],
    ]),
  );

  it('keep their JSON columns, wide decimals and JSON-quoted S conflict columns; new S conflict columns hold text', () => {
    const items = [
      { pk: { S: 'a' }, total: { S: 'n/a' }, code: { N: '1' } },
      { pk: { S: 'b' }, total: { N: '1.5' }, code: { N: '2' } },
      { pk: { S: 'c' }, qty: { S: 'x' }, code: { S: 'z' } },
      { pk: { S: 'd' }, qty: { N: '0.5' }, total: { M: { k: { BOOL: true } } } },
    ].map((item) => parseItem(item));
    const plan = evolveSchema(layout, schema, items);
    expect(plan.changes.map((c) => [c.change, c.column, c.type])).toEqual([
      ['column-added', 'code', 'bigint'],
      ['conflict-column-added', 'code__S', 'string'],
    ]);
    expect(plan.layout.kinds.get('total')).toBe('JSON');
    const rows = items.map((item) => itemToRow(item, plan.layout, plan.schema).row);
    expect(rows).toEqual([
      { pk: 'a', total: '"n/a"', code: 1n },
      { pk: 'b', total: '1.5', code: 2n },
      { pk: 'c', qty__S: '"x"', code__S: 'z' },
      { pk: 'd', qty: `0.5${'0'.repeat(36)}`, total: '{"k":true}' },
    ]);
    for (const [index, row] of rows.entries()) {
      expect(rowToPlainItem(row, plan.layout, plan.schema)).toBe(itemToPlainJson(items[index] as Item));
    }
    const written = layoutConfiguration(plan.layout);
    expect(written['ddb_lake.conflictColumns']).toBe('[["qty","S","qty__S"],["code","S","code__S","text"]]');
    expect(readTableLayout(written).conflictColumns).toEqual(plan.layout.conflictColumns);
  });
});

describe('rows through DuckDB', () => {
  let session: DuckSession;
  beforeAll(async () => {
    session = await DuckSession.open({ threads: 1 });
  });
  afterAll(async () => {
    await session.close();
  });

  it('read back from DuckDB, rows still give the plain JSON of their items', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(itemModel, { minLength: 1, maxLength: 6 }),
        fc.array(itemModel, { maxLength: 6 }),
        async (first, second) => {
          const one = evolveSchema(fresh(), EMPTY, first.map(toItem));
          const two = evolveSchema(one.layout, one.schema, second.map(toItem));
          const items = [...first, ...second].map(toItem);
          // System cells are the caller's: left null here.
          await loadLakeRows(session, 'rows', two.schema, rowsOf(items, two));
          const back = await readLakeRows(session, 'SELECT * FROM rows');
          expect(back.map((row) => rowToPlainItem(row, two.layout, two.schema))).toEqual(
            items.map((item) => itemToPlainJson(item)),
          );
        },
      ),
      { numRuns: 60 },
    );
  });
});
