import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyBatch } from '../../src/apply/apply-batch.ts';
import { readBatchRecord } from '../../src/apply/batch-record.ts';
import { schemaChangesOf } from '../../src/apply/batch-result.ts';
import { encodeTombstones } from '../../src/apply/changes/tombstones.ts';
import { batchStatements, type PlannedStatement } from '../../src/apply/statements/batch-statements.ts';
import {
  evolutionSummaryOf,
  type SchemaStatisticsInput,
  schemaStatisticsStatement,
} from '../../src/apply/statements/schema-statistics.ts';
import { loadReadSnapshot } from '../../src/delta/load-snapshot.ts';
import type { StructType } from '../../src/delta/schema.ts';
import { duckdbEngine } from '../../src/duckdb/duckdb-engine.ts';
import { DuckSession } from '../../src/duckdb/session.ts';
import {
  duckdbStatementDialect,
  duckdbTableStatements,
  registerStatementFunctions,
} from '../../src/duckdb/statement-dialect.ts';
import type { AttributeValue, Item } from '../../src/dynamo/attribute-value.ts';
import { compareUtf8 } from '../../src/dynamo/plain-json.ts';
import type { InferenceSummary } from '../../src/dynamo/schema-inference.ts';
import type { ChangeRecord } from '../../src/formats/change-record.ts';
import { openExport } from '../../src/formats/export-layout.ts';
import { bucketOf, keyText } from '../../src/lake/key-identity.ts';
import { type EvolutionSummary, SchemaEvolution } from '../../src/lake/schema-evolution.ts';
import {
  layoutSchema,
  newTableLayout,
  readTableLayout,
  type TableLayout,
} from '../../src/lake/table-layout.ts';
import type { LocalFolderStore } from '../../src/storage/local-folder-store.ts';
import { rewriteDataFile, writeGzipLines } from '../formats/support.ts';
import {
  capture,
  change,
  coverageRecord,
  MINUTE,
  orderKeys,
  SAMPLE_EXPORT_ID,
  SAMPLE_T,
  sampleClock,
  sampleLanding,
  seq,
  TABLE,
  tempStore,
} from './run-support.ts';
import { randomNumber, randomValue, VALUE_TYPES } from './support/random-values.ts';
import { SeededRandom } from './support/seeded-random.ts';
import { planTableDifferences, tombstoneFilesBefore } from './support/statement-plan-check.ts';

/*
 * The schema statistics statement (schema-statistics.ts) rendered for DuckDB: its rows, read by
 * evolutionSummaryOf and merged into a SchemaEvolution, must give what observing the same items
 * one by one gives — the summary itself (type counts in first-seen order, every number statistic)
 * and the evolved layout, schema, changes and conflicts.
 */

const AFTER = SAMPLE_T + 30 * MINUTE;

/** Numbers of every shape the statistics count digits of. */
const SHAPES = [
  '0',
  '-0',
  '0.0',
  '1E+125',
  '-1E-130',
  '1E-130',
  '12345678901234567890123456789012345678',
  '-1234567890123456789.0123456789012345678',
  '0.00000000000000000000000000000000000001',
  '9223372036854775807',
  '-9223372036854775808',
  '9223372036854775808',
  '-9223372036854775809',
  '10000000000000000000',
  '99999999999999999999',
  '1000',
  '-1000.500',
  '100.25',
  '0.5',
  '7',
];

/** A number of scale `scale` (0 to 20), or one of SHAPES. */
function shapedNumber(random: SeededRandom): string {
  if (random.chance(0.4)) return random.pick(SHAPES);
  const scale = random.between(0, 20);
  const whole = random.chance(0.3) ? '0' : String(random.between(1, 10 ** random.between(1, 6)));
  const sign = random.chance(0.3) ? '-' : '';
  return scale === 0
    ? `${sign}${whole}`
    : `${sign}${whole}.${random.digits(scale - 1)}${random.between(1, 9)}`;
}

/** Attributes of random types (some change type from item to item), numbers of many shapes, sets, NULLs. */
function randomAttributes(random: SeededRandom, prefix: string): Item {
  const item: Record<string, AttributeValue> = {};
  for (let i = 0; i < random.int(5); i++) {
    item[`${prefix}${random.int(6)}`] = randomValue(random, VALUE_TYPES[random.int(VALUE_TYPES.length)]);
  }
  if (random.chance(0.6))
    item['amount'] = { N: random.chance(0.5) ? shapedNumber(random) : randomNumber(random) };
  if (random.chance(0.4)) {
    const set = new Set<string>();
    for (let i = random.between(1, 4); i > 0; i--) set.add(shapedNumber(random));
    // Equal values differ only in text here ('0', '-0', '0.0'): keep one of them, as DynamoDB would.
    const distinct = [...new Map([...set].map((n) => [Number(n) === 0 ? '0' : n, n])).values()];
    item['sizes'] = { NS: distinct };
  }
  if (random.chance(0.3))
    item['qty'] = random.chance(0.8) ? { N: String(random.between(-50, 50)) } : { S: 'n/a' };
  if (random.chance(0.2)) item['gone'] = { NULL: true };
  // Zero alone: precision 1, no integer digit.
  if (random.chance(0.2)) item['zero'] = { N: random.pick(['0', '-0', '0.000', '0E+5']) };
  if (random.chance(0.2)) item['zeros'] = { NS: ['0'] };
  if (random.chance(0.3)) item['flag'] = random.chance(0.5) ? { BOOL: true } : { NULL: true };
  return item;
}

/** `count` changes, each of a key of its own, from sequence number `from` on. */
function randomChanges(random: SeededRandom, from: number, count: number, prefix: string): ChangeRecord[] {
  const records: ChangeRecord[] = [];
  for (let i = 0; i < count; i++) {
    const remove = random.int(5) === 0;
    records.push(
      change({
        op: remove ? 'REMOVE' : random.chance(0.5) ? 'INSERT' : 'MODIFY',
        pk: `customer#${from + i}`,
        sk: random.chance(0.5) ? 'profile' : `order#${random.digits(3)}`,
        seq: seq(from + i),
        ts: AFTER + i * 1000,
        ...(remove
          ? { old: random.chance(0.7) ? randomAttributes(random, prefix) : null }
          : { attributes: randomAttributes(random, prefix) }),
      }),
    );
  }
  return records;
}

/** The item the local engine observes for a winner (batch-rows.ts `winnerItem`). */
function observedItem(record: ChangeRecord, deletes: 'hard' | 'soft'): Item {
  if (record.op !== 'REMOVE') return record.new as Item;
  if (deletes === 'soft' && record.old !== null) return record.old;
  return record.keys;
}

/** Observes the records' items as the local engine does: winners ordered by bucket, then key. */
function observe(layout: TableLayout, schema: StructType, records: readonly ChangeRecord[]): SchemaEvolution {
  const evolution = new SchemaEvolution(layout, schema);
  const winners = records
    .map((record) => {
      const key = keyText(record.keys, layout.keys);
      return { record, key, bucket: bucketOf(key, layout.buckets) };
    })
    .sort((a, b) => a.bucket - b.bucket || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  for (const { record } of winners) evolution.observe(observedItem(record, layout.deletes));
  return evolution;
}

async function runStatement(
  session: DuckSession,
  statement: PlannedStatement,
): Promise<Record<string, unknown>[]> {
  const parameters = Object.fromEntries(statement.parameters.map((p) => [p.name, p.value]));
  return (await session.all(statement.sql, parameters)).getRowObjects() as Record<string, unknown>[];
}

async function summaryOnDuckDB(
  session: DuckSession,
  input: SchemaStatisticsInput,
): Promise<EvolutionSummary> {
  const rows = await runStatement(session, schemaStatisticsStatement(duckdbStatementDialect, input));
  const summary = evolutionSummaryOf(rows, input.layout, input.schema);
  // A warehouse returns every value as text (or null): the same summary.
  const texts = rows.map((row) =>
    Object.fromEntries(
      Object.entries(row).map(([column, value]) => [column, value === null ? null : String(value)]),
    ),
  );
  expect(evolutionSummaryOf(texts, input.layout, input.schema)).toEqual(summary);
  return summary;
}

/** Attributes first seen in one item are listed in the item's order by observation, by name here. */
function byName(summary: EvolutionSummary): EvolutionSummary {
  const inference: InferenceSummary = {
    ...summary.inference,
    columns: [...summary.inference.columns].sort((a, b) => compareUtf8(a.name, b.name)),
  };
  const conflicts = [...summary.conflicts].sort(
    (a, b) => compareUtf8(a.attribute, b.attribute) || compareUtf8(a.type, b.type),
  );
  return { inference, conflicts };
}

function merged(layout: TableLayout, schema: StructType, summary: EvolutionSummary): SchemaEvolution {
  const evolution = new SchemaEvolution(layout, schema);
  evolution.merge(summary);
  return evolution;
}

async function changeFile(landing: LocalFolderStore, records: readonly ChangeRecord[]): Promise<string> {
  return path.join(landing.rootDir, (await capture(landing, records)).key);
}

describe('the schema statistics statement rendered for DuckDB', () => {
  for (const deletes of ['hard', 'soft'] as const) {
    it(`gives the summary and the evolution that observing the items gives, for a new table and then an existing one (${deletes} deletes)`, async () => {
      const random = new SeededRandom(deletes === 'hard' ? 2101 : 2102);
      const landing = await sampleLanding({ incremental: false });
      const layout = newTableLayout({ keys: { partition: 'pk', sort: 'sk' }, exportTime: SAMPLE_T, deletes });
      const schema = layoutSchema(layout, new Map());
      const session = await DuckSession.open({ threads: 1 });
      try {
        registerStatementFunctions(session);
        // A new table: every attribute is new.
        const first = randomChanges(random, 10, 80, 'a');
        const firstFile = await changeFile(landing, first);
        const local = observe(layout, schema, first);
        const summary = await summaryOnDuckDB(session, {
          batch: 1,
          tombstoneFiles: [],
          layout,
          schema,
          changeFiles: [firstFile],
        });
        expect(byName(summary)).toEqual(byName(local.summary()));
        const plan = local.result();
        expect(merged(layout, schema, summary).result()).toEqual(plan);
        expect(plan.changes.some((c) => c.reason.includes('seen as'))).toBe(true);
        expect(summary.inference.columns.some((c) => c.numbers !== null && !c.numbers.allFitInt64)).toBe(
          true,
        );

        // The table as the first batch left it: the next batch's values that fit no column are conflicts.
        const later = randomChanges(random, 1000, 80, 'b').map((record, i) =>
          // Half the keys of the first batch again, with attributes of the first batch's names.
          i % 2 === 0 ? { ...record, keys: orderKeys(`customer#${10 + i}`, 'profile') } : record,
        );
        const renamed = later.map((record) => rename(record, 'b', 'a'));
        const laterFile = await changeFile(landing, renamed);
        // With hard deletes, a tombstone newer than a winner leaves it out, as the local engine does.
        const tombstoned = renamed.filter((_, i) => i % 7 === 3);
        const tombstoneFile = path.join(landing.rootDir, 'tombstones-of-batch-1.jsonl.gz');
        await writeFile(
          tombstoneFile,
          encodeTombstones(
            tombstoned.map((record) => ({
              key: keyText(record.keys, layout.keys),
              order: { source: 'stream' as const, seq: '9'.repeat(40), tsMicros: 0n },
            })),
          ),
        );
        const kept = deletes === 'hard' ? renamed.filter((record) => !tombstoned.includes(record)) : renamed;
        const laterLocal = observe(plan.layout, plan.schema, kept);
        const laterSummary = await summaryOnDuckDB(session, {
          batch: 2,
          tombstoneFiles: [tombstoneFile],
          layout: plan.layout,
          schema: plan.schema,
          changeFiles: [laterFile],
        });
        expect(byName(laterSummary)).toEqual(byName(laterLocal.summary()));
        expect(laterSummary.conflicts.length).toBeGreaterThan(3);
        expect(merged(plan.layout, plan.schema, laterSummary).result()).toEqual(laterLocal.result());
        if (deletes === 'hard') {
          // Without the tombstones, the summary differs: they matter.
          expect(byName(observe(plan.layout, plan.schema, renamed).summary())).not.toEqual(
            byName(laterSummary),
          );
        }
      } finally {
        await session.close();
      }
    });
  }
});

/** The record with attribute names starting `from` renamed to start `to`, its keys in its images. */
function rename(record: ChangeRecord, from: string, to: string): ChangeRecord {
  const image = (item: Item | null): Item | null => {
    if (item === null) return null;
    const renamed: Record<string, AttributeValue> = {};
    for (const [name, value] of Object.entries(item)) {
      renamed[name.startsWith(from) ? `${to}${name.slice(from.length)}` : name] = value;
    }
    return { ...renamed, ...record.keys };
  };
  return { ...record, new: image(record.new), old: image(record.old) };
}

const LAKE = 'lake';

/** The sample export's data files rewritten with random items of distinct keys (`perFile` items each). */
async function randomExport(
  landing: LocalFolderStore,
  random: SeededRandom,
  perFile: readonly number[],
): Promise<void> {
  const exportDir = `AWSDynamoDB/${SAMPLE_EXPORT_ID}/`;
  const manifest = await readFile(path.join(landing.rootDir, exportDir, 'manifest-files.json'), 'utf8');
  const keys = manifest
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => (JSON.parse(line) as { dataFileS3Key: string }).dataFileS3Key);
  let n = 0;
  for (const [i, key] of keys.entries()) {
    const lines: string[] = [];
    for (let j = 0; j < (perFile[i] ?? 0); j++, n++) {
      const item = {
        ...randomAttributes(random, 'a'),
        ...orderKeys(`customer#${(n % 6) + 1}`, `order#${n}`),
      };
      lines.push(JSON.stringify({ Item: item }));
    }
    const file = path.join(landing.rootDir, key);
    await rewriteDataFile(landing.rootDir, exportDir, key, await writeGzipLines(file, lines), lines.length);
  }
}

/** Random changes on the export's keys and a few more, with attributes of the same names. */
function changesOnKeys(random: SeededRandom, from: number, count: number): ChangeRecord[] {
  return randomChanges(random, from, count, 'a').map((record) => {
    const keys = orderKeys(`customer#${random.between(1, 6)}`, `order#${random.int(40)}`);
    return {
      ...record,
      keys,
      new: record.new && { ...record.new, ...keys },
      old: record.old && { ...record.old, ...keys },
    };
  });
}

/** The reason texts left out: a first batch may list a new attribute's types in another order (schema-statistics.ts). */
function withoutReasons<T extends object>(changes: readonly T[]): Omit<T, 'reason'>[] {
  return changes.map((change) => {
    const { reason: _, ...rest } = change as T & { reason?: string };
    return rest;
  });
}

describe('the schema statistics statement with the rest of the plan, on DuckDB', () => {
  for (const deletes of ['hard', 'soft'] as const) {
    it(`evolves the layout and schema as the local engine does, and the plan then gives its table, batch after batch (${deletes} deletes)`, async () => {
      const random = new SeededRandom(deletes === 'hard' ? 2201 : 2202);
      const landing = await sampleLanding({ incremental: false });
      await randomExport(landing, random, [40, 25, 0]);
      const delta = await tempStore('delta');
      await capture(landing, [coverageRecord(), ...changesOnKeys(random, 10, 30)]);
      const session = await DuckSession.open({ threads: 1 });
      try {
        registerStatementFunctions(session);
        let layout: TableLayout | undefined;
        let schema: StructType = { type: 'struct', fields: [] };
        for (let batch = 1; batch <= 4; batch++) {
          if (batch > 1) {
            const records = changesOnKeys(random, batch * 1000, 40);
            await capture(landing, records.slice(0, 25));
            await capture(landing, records.slice(20));
          }
          const result = await applyBatch({ landing, delta, table: TABLE, now: sampleClock, deletes });
          if (result.outcome !== 'applied') throw new Error(`batch ${batch}: ${result.outcome}`);
          const record = await readBatchRecord(delta, batch);
          if (record === undefined) throw new Error(`no record of batch ${batch}`);
          const at = (key: string): string => path.join(landing.rootDir, key);
          let snapshot: { files: string[]; source: 'export' | 'scan' } | undefined;
          if (record.snapshot !== undefined) {
            const opened = await openExport(landing, `AWSDynamoDB/${record.snapshot.exportId}/`);
            snapshot = { files: opened.files.map((file) => at(file.key)), source: record.snapshot.kind };
          }
          const table = await loadReadSnapshot(delta, duckdbEngine(session));
          const engineLayout = readTableLayout(table.metadata.configuration);
          const before =
            layout ??
            newTableLayout({
              keys: engineLayout.keys,
              exportTime: engineLayout.exportTime,
              buckets: engineLayout.buckets,
              deletes: engineLayout.deletes,
              marginMs: engineLayout.marginMs,
              appId: engineLayout.appId,
            });
          const input = {
            batch,
            tombstoneFiles: await tombstoneFilesBefore(delta, batch),
            layout: before,
            schema,
            changeFiles: record.changeFiles.map(at),
            ...(snapshot === undefined ? {} : { snapshot }),
          };
          const summary = await summaryOnDuckDB(session, input);
          const plan = merged(before, schema, summary).result();
          expect(plan.layout, `layout after batch ${batch}`).toEqual(engineLayout);
          expect(plan.schema, `schema after batch ${batch}`).toEqual(table.schema);
          if (batch === 1) {
            expect(withoutReasons(schemaChangesOf(plan))).toEqual(withoutReasons(result.schemaChanges));
            expect(summary.inference.itemCount).toBeGreaterThan(60);
          } else {
            expect(schemaChangesOf(plan), `changes of batch ${batch}`).toEqual(result.schemaChanges);
          }
          // The rest of the plan, rendered with the evolved layout and schema, gives the engine's table.
          for (const statement of batchStatements(duckdbStatementDialect, duckdbTableStatements, {
            batch,
            table: [LAKE],
            tombstoneFiles: input.tombstoneFiles,
            layout: plan.layout,
            schema: plan.schema,
            previousSchema: batch === 1 ? undefined : schema,
            changeFiles: input.changeFiles,
            ...(snapshot === undefined ? {} : { snapshot }),
          })) {
            if (statement.check) expect(await runStatement(session, statement)).toEqual([]);
            else
              await session.run(
                statement.sql,
                Object.fromEntries(statement.parameters.map((p) => [p.name, p.value])),
              );
          }
          expect(await planTableDifferences(session, delta, LAKE), `after batch ${batch}`).toEqual([]);
          layout = plan.layout;
          schema = plan.schema;
        }
        expect(schemaChangesSeen(schema)).toBeGreaterThan(10);
      } finally {
        await session.close();
      }
    });
  }
});

/** Conflict columns of the final schema: the batches did add some. */
function schemaChangesSeen(schema: StructType): number {
  return schema.fields.filter((field) => field.name.includes('__')).length;
}

describe('evolutionSummaryOf', () => {
  const layout = newTableLayout({ keys: { partition: 'pk' }, exportTime: SAMPLE_T });
  const schema = layoutSchema(layout, new Map());
  const evolution = new SchemaEvolution(layout, schema);
  evolution.observe({ pk: { S: 'a' }, price: { N: '1.5' } });
  const plan = evolution.result();

  it('refuses rows the statement does not return', () => {
    const row = { entry: 'attribute', attribute: 'price', value_type: 'N', value_count: 1n, first_seen: '1' };
    expect(() => evolutionSummaryOf([row], plan.layout, plan.schema)).toThrow(/has a column/);
    expect(() => evolutionSummaryOf([{ ...row, entry: 'conflict' }], layout, schema)).toThrow(
      /has no column/,
    );
    expect(() => evolutionSummaryOf([{ ...row, value_count: '1.5' }], layout, schema)).toThrow(/not a count/);
    expect(() => evolutionSummaryOf([{ ...row, value_type: 'X' }], layout, schema)).toThrow(
      /not a DynamoDB type/,
    );
    expect(() => evolutionSummaryOf([{ ...row, entry: 'other' }], layout, schema)).toThrow(/unknown entry/);
  });
});
