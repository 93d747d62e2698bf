import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { winnerCells, winnerItem, winnerRow } from '../../src/apply/changes/batch-rows.ts';
import type { ReducedChange } from '../../src/apply/changes/change-reduction.ts';
import { OP } from '../../src/apply/merge/merge.ts';
import { ItemSpoolLineEncoder } from '../../src/apply/snapshot/item-spool-line.ts';
import { prepareRowsContext } from '../../src/apply/snapshot/snapshot-file-tasks.ts';
import { SpoolFileWriter } from '../../src/apply/snapshot/snapshot-spool-file.ts';
import type { StructType } from '../../src/delta/schema.ts';
import type { LakeRow, LakeValue } from '../../src/duckdb/lake-value.ts';
import type { Item } from '../../src/dynamo/attribute-value.ts';
import { parseItem } from '../../src/dynamo/parse.ts';
import { itemToRow } from '../../src/lake/item-to-row.ts';
import { bucketOf, keyText } from '../../src/lake/key-identity.ts';
import { evolveSchema } from '../../src/lake/schema-evolution.ts';
import { SNAPSHOT_SEQ } from '../../src/lake/sequence-number.ts';
import { type DeletesMode, newTableLayout, SYSTEM_COLUMN } from '../../src/lake/table-layout.ts';
import { sampleOrders } from '../../src/local/sample-orders.ts';
import { valueModel } from '../dynamo/arbitraries.ts';
import { type Model, mapToDynamoJson, type NumberModel, scaledFromText } from '../dynamo/reference.ts';

const folder = mkdtempSync(path.join(tmpdir(), 'ddb-lake-spool-line-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

let files = 0;

/**
 * Writes each row of `rows` through SpoolFileWriter.append (the general path) and, where a line is
 * given, the line through appendLine (else the row again); returns both spool texts and how many
 * rows came without a line.
 */
function spoolBothWays(schema: StructType, rows: Iterable<{ row: LakeRow; line: string | undefined }>) {
  const run = files++;
  const written: string[] = [];
  const general = new SpoolFileWriter(schema, folder, `general-${run}`, (file) => written.push(file));
  const fast = new SpoolFileWriter(schema, folder, `fast-${run}`, (file) => written.push(file));
  let declined = 0;
  for (const { row, line } of rows) {
    general.append(row);
    if (line === undefined) {
      declined++;
      fast.append(row);
    } else {
      fast.appendLine(line);
    }
  }
  general.finishFile();
  fast.finishFile();
  const text = (prefix: string) =>
    written
      .filter((file) => path.basename(file).startsWith(prefix))
      .map((file) => readFileSync(file, 'utf8'))
      .join('');
  return { general: text(`general-${run}-`), fast: text(`fast-${run}-`), declined };
}

/**
 * The spool text of `items` both ways: through itemToRow and SpoolFileWriter.append (the general
 * path), and through the line encoder (the general path only where it declines). Returns both
 * texts and how many items the encoder declined.
 */
function bothWays(items: readonly Item[], deletes: DeletesMode) {
  const layout = newTableLayout({ keys: { partition: 'pk' }, exportTime: 0, buckets: 4, deletes });
  const plan = evolveSchema(layout, { type: 'struct', fields: [] }, items);
  const prepared = prepareRowsContext({
    pass: 'rows',
    layout: plan.layout,
    schema: plan.schema,
    order: { source: 'export', seq: SNAPSHOT_SEQ, tsMicros: 1_700_000_000_123_456n },
    replaced: [],
    softDeleted: [],
    spoolDir: folder,
    spoolPrefix: 'unused',
  });
  return spoolBothWays(
    plan.schema,
    items.map((item) => {
      const key = keyText(item, plan.layout.keys);
      const bucket = bucketOf(key, plan.layout.buckets);
      const row = itemToRow(item, plan.layout, plan.schema).row as Record<string, LakeValue>;
      Object.assign(row, prepared.cells);
      row[SYSTEM_COLUMN.key] = key;
      row[SYSTEM_COLUMN.bucket] = bucket;
      return { row, line: prepared.lines.line(item, key, bucket) };
    }),
  );
}

/** Numbers that fit long and decimal columns, so typed number columns and NS arrays occur often. */
const smallNumberModel: fc.Arbitrary<NumberModel> = fc
  .oneof(
    fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String),
    fc
      .tuple(fc.integer({ min: -99999, max: 99999 }), fc.integer({ min: 0, max: 99 }))
      .map(([w, f]) => `${w}.${String(f).padStart(2, '0')}`),
    fc.constantFrom('9223372036854775808', '0.001', '-0.05', '1e3', '-0', '99999999999999999999.5'),
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
const name = fc.constantFrom('a', 'A', 'n', 'x y', 'a__N', 'é', 'total');
const itemModel = fc.uniqueArray(fc.tuple(name, value), { maxLength: 5, selector: ([n]) => n });

/** Parsed items of the models, each with its own key `pk` = `k<i>`. */
function keyedItems(models: readonly (readonly (readonly [string, Model])[])[]): Item[] {
  return models.map((entries, i) => parseItem(mapToDynamoJson([['pk', { t: 'S', s: `k${i}` }], ...entries])));
}

describe('the snapshot load writes each item straight to its spool line', () => {
  it('writes the sample orders (every type, 38-digit and extreme numbers, conflicts) as the general path does', () => {
    const items = [...sampleOrders(3000, 7)].map((item) => parseItem(item));
    for (const deletes of ['hard', 'soft'] as const) {
      const { general, fast, declined } = bothWays(items, deletes);
      expect(fast).toBe(general);
      expect(general.split('\n').length).toBe(items.length + 1);
      expect(declined).toBe(0);
    }
  });

  it('writes random items, across type conflicts and number columns of every width, as the general path does', () => {
    let handled = 0;
    fc.assert(
      fc.property(fc.array(itemModel, { maxLength: 12 }), fc.boolean(), (models, soft) => {
        const items = keyedItems(models);
        const { general, fast, declined } = bothWays(items, soft ? 'soft' : 'hard');
        expect(fast).toBe(general);
        handled += items.length - declined;
      }),
      { numRuns: 300 },
    );
    // The encoder must take the items itself, not leave them all to the general path.
    expect(handled).toBeGreaterThan(1000);
  });
});

/**
 * A later batch's change-table text of `winners` both ways: winnerRow plus the op through
 * SpoolFileWriter.append, and lineWithCells of the winner's item and cells (append where it declines).
 */
function changeTableBothWays(
  winners: readonly ReducedChange[],
  items: readonly Item[],
  deletes: DeletesMode,
) {
  const layout = newTableLayout({ keys: { partition: 'pk' }, exportTime: 0, buckets: 4, deletes });
  const plan = evolveSchema(layout, { type: 'struct', fields: [] }, items);
  const schema: StructType = {
    type: 'struct',
    fields: [
      ...plan.schema.fields,
      { name: OP, type: { type: 'primitive', name: 'string' }, nullable: false, metadata: {} },
    ],
  };
  const shape = { layout: plan.layout, schema: plan.schema };
  const encoder = new ItemSpoolLineEncoder(plan.layout, schema, {});
  return spoolBothWays(
    schema,
    winners.map((winner) => {
      const row = winnerRow(shape, winner) as Record<string, LakeValue>;
      row[OP] = winner.op;
      const cells = winnerCells(winner, deletes);
      cells[OP] = winner.op;
      return { row, line: encoder.lineWithCells(winnerItem(winner, deletes), cells) };
    }),
  );
}

/** Winners of every kind over `items`: puts, deletes with and without an old image, by TTL or not. */
function winnersOf(items: readonly Item[]): ReducedChange[] {
  return items.map((item, i) => {
    const key = keyText(item, { partition: 'pk' });
    const keys: Item = { pk: item['pk'] as Item[string] };
    const kind = i % 4;
    return {
      key,
      bucket: bucketOf(key, 4),
      op: kind === 0 || kind === 3 ? 'put' : 'delete',
      keys,
      item: kind === 0 || kind === 3 ? item : null,
      oldImage: kind === 1 ? item : null,
      order: {
        source: 'stream',
        seq: String(1000 + i).padStart(40, '0'),
        tsMicros: 1_700_000_000_000_000n + BigInt(i),
      },
      ttl: kind === 2,
      origin: undefined,
    };
  });
}

describe("a later batch's change table writes each winner straight to its spool line", () => {
  it('writes puts and hard and soft deletes of the sample orders as winnerRow does', () => {
    const items = [...sampleOrders(2000, 11)].map((item) => parseItem(item));
    const winners = winnersOf(items);
    for (const deletes of ['hard', 'soft'] as const) {
      const { general, fast, declined } = changeTableBothWays(winners, items, deletes);
      expect(fast).toBe(general);
      expect(general.split('\n').length).toBe(winners.length + 1);
      expect(declined).toBe(0);
    }
  });

  it('writes random winners, across type conflicts and number columns, as winnerRow does', () => {
    let handled = 0;
    fc.assert(
      fc.property(fc.array(itemModel, { maxLength: 12 }), fc.boolean(), (models, soft) => {
        const items = keyedItems(models);
        const { general, fast, declined } = changeTableBothWays(
          winnersOf(items),
          items,
          soft ? 'soft' : 'hard',
        );
        expect(fast).toBe(general);
        handled += items.length - declined;
      }),
      { numRuns: 200 },
    );
    expect(handled).toBeGreaterThan(700);
  });
});
