import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { itemToRow } from '../../src/apply/item-to-row.ts';
import { RowShapeError } from '../../src/apply/model-errors.ts';
import { rowToPlainItem } from '../../src/apply/row-to-item.ts';
import { evolveSchema, type SchemaEvolutionPlan } from '../../src/apply/schema-evolution.ts';
import { newTableLayout } from '../../src/apply/table-layout.ts';
import type { StructType } from '../../src/delta/schema.ts';
import { loadLakeRows, readLakeRows } from '../../src/duckdb/lake-rows.ts';
import type { LakeRow } from '../../src/duckdb/lake-value.ts';
import { DuckSession } from '../../src/duckdb/session.ts';
import type { Item } from '../../src/dynamo/attribute-value.ts';
import { parseItem } from '../../src/dynamo/parse.ts';
import { itemToPlainJson } from '../../src/dynamo/plain-json.ts';
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
    const seen = { conflictRows: 0, typedNumbers: 0, jsonColumns: 0 };
    fc.assert(
      fc.property(
        fc.array(itemModel, { maxLength: 8 }),
        fc.array(itemModel, { maxLength: 8 }),
        (first, second) => {
          const one = evolveSchema(fresh(), EMPTY, first.map(toItem));
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
          for (const kind of two.layout.kinds.values()) if (kind === 'JSON') seen.jsonColumns++;
        },
      ),
      { numRuns: 400 },
    );
    // The generator must reach the cases this property is about.
    expect(seen.conflictRows).toBeGreaterThan(50);
    expect(seen.typedNumbers).toBeGreaterThan(50);
    expect(seen.jsonColumns).toBeGreaterThan(50);
  });

  it('never creates a conflict column for values that fit their column', () => {
    fc.assert(
      fc.property(fc.array(itemModel, { maxLength: 10 }), (models) => {
        const items = models.map(toItem);
        const plan = evolveSchema(fresh(), EMPTY, items);
        // Only NULL in a typed column needs a conflict column in the batch that creates the column.
        for (const conflict of plan.layout.conflictColumns) expect(conflict.type).toBe('NULL');
        const again = evolveSchema(plan.layout, plan.schema, items);
        expect(again.changed).toBe(false);
        expect(again.changes).toEqual([]);
        for (const item of items) {
          const { conflicts } = itemToRow(item, plan.layout, plan.schema);
          for (const conflict of conflicts) expect(conflict.type).toBe('NULL');
        }
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
    { pk: { S: 'b' }, qty: { N: '4' }, total: { N: '5' }, big: { N: '7' }, ids: { NS: ['2', '1'] } },
  ].map((item) => parseItem(item));
  const plan = evolveSchema(fresh(), EMPTY, items);

  it('types each column as DESIGN.md says and writes exact values', () => {
    const { row, conflicts } = itemToRow(items[0] as Item, plan.layout, plan.schema);
    expect(conflicts).toEqual([]);
    expect(row).toEqual({
      pk: 'a',
      qty: 3n,
      total: '129.95',
      big: `1${'0'.repeat(125)}`,
      scores: [`-0.${'0'.repeat(129)}1`, '1', '2.5'],
      sig: new Uint8Array([0xde, 0xad, 0xbe, 0xef]),
      paid: true,
      tags: ['gift', 'priority'],
      blobs: [new Uint8Array([0, 1]), new Uint8Array([0xff])],
      meta: '{"a":["x"],"z":1.5}',
      refund: 'null',
    });
    expect(itemToRow(items[1] as Item, plan.layout, plan.schema).row).toEqual({
      pk: 'b',
      qty: 4n,
      total: '5.00',
      big: '7',
      ids: [1n, 2n],
    });
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
    const { row, conflicts } = itemToRow(late, evolved.layout, evolved.schema);
    expect(row).toEqual({ pk: 'c', qty__N: '0.5', total__S: '"n/a"', paid__NULL: 'null' });
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
      rowToPlainItem({ pk: 'c', total: '1.00', total__S: '"n/a"' }, evolved.layout, evolved.schema),
    ).toThrow(/holds a value while the column "total" holds one too/);
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
