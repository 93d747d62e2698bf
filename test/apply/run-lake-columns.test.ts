import { readdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type AppliedBatch, applyBatch, type LocalBatchResult } from '../../src/apply/apply-batch.ts';
import { dataFileKey } from '../../src/delta/data-path.ts';
import { loadSnapshot } from '../../src/delta/load-snapshot.ts';
import { deltaTypeText } from '../../src/delta/schema.ts';
import type { Snapshot } from '../../src/delta/snapshot.ts';
import { vacuum } from '../../src/delta/vacuum.ts';
import { duckdbEngine } from '../../src/duckdb/duckdb-engine.ts';
import { readLakeRows } from '../../src/duckdb/lake-rows.ts';
import type { LakeRow } from '../../src/duckdb/lake-value.ts';
import { DuckSession } from '../../src/duckdb/session.ts';
import { createSnapshotView, readSnapshotRows } from '../../src/duckdb/table-scan.ts';
import type { Item } from '../../src/dynamo/attribute-value.ts';
import { itemToPlainJson } from '../../src/dynamo/plain-json.ts';
import { SYSTEM_COLUMN } from '../../src/lake/table-layout.ts';
import type { LocalFolderStore } from '../../src/storage/local-folder-store.ts';
import {
  capture,
  change,
  coverageRecord,
  MINUTE,
  orderKey,
  readTable,
  SAMPLE_T,
  sampleClock,
  sampleLanding,
  seq,
  TABLE,
  tempStore,
} from './run-support.ts';

/*
 * The table a data engineer queries (DESIGN.md "Lake table"): read as Delta columns, types and
 * cells, and queried with SQL, not only compared item by item. One type per column from the first
 * batch on, other types and numbers that do not fit in `<name>__<TYPE>` columns (S as its own
 * text), number columns of scale ≤ 18, data files in folders whose names do not start with `_`.
 */

const AFTER = SAMPLE_T + 30 * MINUTE;

function applied(result: LocalBatchResult): AppliedBatch {
  expect(result.outcome).toBe('applied');
  return result as AppliedBatch;
}

/** A table after its first batch: the sample full export and its incremental export. */
async function loadedTable(): Promise<{
  landing: LocalFolderStore;
  delta: LocalFolderStore;
  first: AppliedBatch;
}> {
  const landing = await sampleLanding();
  await capture(landing, [coverageRecord()]);
  const delta = await tempStore('delta');
  const first = applied(await applyBatch({ landing, delta, table: TABLE, now: sampleClock }));
  return { landing, delta, first };
}

interface Lake {
  readonly snapshot: Snapshot;
  /** `name type` per column, in schema order. */
  readonly columns: readonly string[];
  /** `_ddb_key` → the row's attribute and conflict cells that are not null. */
  readonly rows: ReadonlyMap<string, Record<string, unknown>>;
  /** The answer of each query, run over a view of the table named `lake`. */
  readonly answers: readonly LakeRow[][];
}

/** The table as Delta columns and cells, and the answers of `queries` over it (the view `lake`). */
async function readLake(delta: LocalFolderStore, queries: readonly string[] = []): Promise<Lake> {
  const session = await DuckSession.open({ threads: 1 });
  try {
    const snapshot = await loadSnapshot(delta, duckdbEngine(session));
    const columns = snapshot.schema.fields.map((field) => `${field.name} ${deltaTypeText(field.type)}`);
    const rows = new Map<string, Record<string, unknown>>();
    for (const row of await readSnapshotRows(session, delta, snapshot)) {
      const cells: Record<string, unknown> = {};
      for (const [column, cell] of Object.entries(row)) {
        if (cell !== null && !column.startsWith('_ddb_')) cells[column] = cell;
      }
      rows.set(row[SYSTEM_COLUMN.key] as string, cells);
    }
    await createSnapshotView(session, delta, snapshot, 'lake');
    const answers: LakeRow[][] = [];
    for (const query of queries) answers.push(await readLakeRows(session, query));
    return { snapshot, columns, rows, answers };
  } finally {
    await session.close();
  }
}

/** The keys of the data files below the table's root (hidden folders and the log aside). */
async function dataFilesOnDisk(delta: LocalFolderStore): Promise<string[]> {
  const entries = await readdir(delta.rootDir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile() && entry.name.endsWith('.parquet'))
    .map((entry) =>
      path.relative(delta.rootDir, path.join(entry.parentPath, entry.name)).split(path.sep).join('/'),
    )
    .filter((key) => !key.startsWith('_delta_log/') && !key.startsWith('_ddb_lake/'))
    .sort();
}

describe('the table a data engineer queries', () => {
  it('the first batch gives each column one type: the dominant one, the rest in <name>__<TYPE> columns', async () => {
    const { delta, first } = await loadedTable();

    const lake = await readLake(delta, [
      `SELECT sum(total) AS total, count(*) FILTER (WHERE total__S = 'n/a') AS na, CAST(sum(qty) AS BIGINT) AS qty FROM lake`,
      `SELECT sk FROM lake WHERE qty__N = '0.1000000000000000000000000000000000001'`,
    ]);
    expect(lake.columns).toEqual([
      'pk string',
      'sk string',
      'blobs array<binary>',
      'lines string',
      'meta string',
      'note string',
      'paid boolean',
      // 3 (twice) and 0.1000000000000000000000000000000000001: scale 37 is more than 18.
      'qty bigint',
      // Only NULL was seen: a string column, the NULL in refund__NULL.
      'refund string',
      // The one set holds -1E-130 (scale 130).
      'scores array<bigint>',
      'sig binary',
      'tags array<string>',
      // N in 4 items (129.95, 139.95, 5 and a 38-digit integer), S in 1: N, decimal(38,2) holding 3.
      'total decimal(38,2)',
      'qty__N string',
      'refund__NULL string',
      'scores__NS string',
      'total__S string',
      'total__N string',
      '_ddb_key string',
      '_ddb_bucket int',
      '_ddb_seq string',
      '_ddb_ts timestamp',
      '_ddb_source string',
    ]);
    expect(lake.rows.get(orderKey('customer#1', 'order#0001'))).toEqual({
      pk: 'customer#1',
      sk: 'order#0001',
      lines: '[{"price":9.99,"sku":"A-1"},{"price":119.96,"sku":"B-2"}]',
      paid: false,
      qty: 3n,
      tags: ['gift', 'priority'],
      total: '139.95',
    });
    // "n/a" is a string in total__S, without JSON quotes; qty's 37 decimal places are exact text.
    expect(lake.rows.get(orderKey('customer#3', 'order#0001'))).toEqual({
      pk: 'customer#3',
      sk: 'order#0001',
      qty__N: '0.1000000000000000000000000000000000001',
      total__S: 'n/a',
    });
    expect(lake.rows.get(orderKey('customer#4', 'order#0001'))).toEqual({
      pk: 'customer#4',
      sk: 'order#0001',
      total: '5.00',
    });
    expect(lake.rows.get(orderKey('customer#2', 'profile'))).toEqual({
      pk: 'customer#2',
      sk: 'profile',
      blobs: [new Uint8Array([0, 1]), new Uint8Array([0xff])],
      meta: `{"nested":{"deep":[1${'0'.repeat(125)},"x",false]}}`,
      scores__NS: `[-0.${'0'.repeat(129)}1,1,2.5]`,
    });
    // SQL a data engineer writes: sums that do not overflow, and a filter on the string itself.
    expect(lake.answers[0]).toEqual([{ total: '144.95', na: 1n, qty: 3n }]);
    expect(lake.answers[1]).toEqual([{ sk: 'order#0001' }]);

    expect(first.schemaChanges.filter((change) => change.kind === 'conflict')).toEqual([
      expect.objectContaining({ attribute: 'qty', column: 'qty__N', valueType: 'N', added: true, rows: 1 }),
      expect.objectContaining({ attribute: 'refund', column: 'refund__NULL', valueType: 'NULL', rows: 1 }),
      expect.objectContaining({ attribute: 'scores', column: 'scores__NS', valueType: 'NS', rows: 1 }),
      expect.objectContaining({
        attribute: 'total',
        column: 'total__S',
        valueType: 'S',
        rows: 1,
        reason:
          'S values do not fit the decimal(38,2) column "total" (it holds N); kept as their own text in "total__S"',
      }),
      expect.objectContaining({ attribute: 'total', column: 'total__N', valueType: 'N', rows: 1 }),
    ]);
    // The rows still stand for the items exactly.
    const table = await readTable(delta);
    expect(table.items.get(orderKey('customer#3', 'order#0001'))).toBe(
      '{"pk":"customer#3","qty":0.1000000000000000000000000000000000001,"sk":"order#0001","total":"n/a"}',
    );
  });

  it('writes data files in ddb_bucket=N/ folders, never in a folder whose name starts with _', async () => {
    const { delta } = await loadedTable();
    const lake = await readLake(delta);
    expect(lake.snapshot.metadata.partitionColumns).toEqual(['_ddb_bucket']);
    const keys = lake.snapshot.files.map((file) => dataFileKey(file.path, delta.url));
    expect(keys.length).toBe(4);
    for (const file of lake.snapshot.files) {
      const key = dataFileKey(file.path, delta.url);
      expect(key).toMatch(
        new RegExp(`^ddb_bucket=${file.partitionValues['_ddb_bucket']}/part-[0-9a-f-]+\\.zstd\\.parquet$`),
      );
    }
    expect(await dataFilesOnDisk(delta)).toEqual([...keys].sort());
    const folders = (await readdir(delta.rootDir)).sort();
    expect(folders.filter((name) => name.startsWith('_'))).toEqual(['_ddb_lake', '_delta_log']);
  });

  it('later batches keep one type per column: new attributes, other types and numbers that do not fit', async () => {
    const { landing, delta } = await loadedTable();
    const items: Item[] = [];
    const put = (n: number, sk: string, attributes: Item) => {
      const record = change({ op: 'INSERT', pk: 'customer#5', sk, seq: seq(100 + n), ts: AFTER, attributes });
      items.push(record.new as Item);
      return record;
    };
    await capture(landing, [
      put(1, 'a', {
        total: { S: 'pending' },
        qty: { N: '2.5' },
        paid: { S: 'yes' },
        discount: { N: '3' },
        addr: { M: { city: { S: 'Oslo' } } },
      }),
      put(2, 'b', { total: { N: '1E+40' }, discount: { N: '4' }, addr: { M: {} } }),
      put(3, 'c', { total: { N: '12.5' }, discount: { S: 'none' }, addr: { L: [{ S: 'x' }] } }),
    ]);

    const second = applied(await applyBatch({ landing, delta, table: TABLE, now: sampleClock }));
    expect(
      second.schemaChanges.map((c) => [
        c.kind,
        c.column,
        c.kind === 'conflict' ? c.valueType : c.type,
        c.added,
        c.rows,
      ]),
    ).toEqual([
      ['column', 'addr', 'string', true, 2],
      ['column', 'discount', 'bigint', true, 2],
      ['conflict', 'addr__L', 'L', true, 1],
      ['conflict', 'discount__S', 'S', true, 1],
      ['conflict', 'paid__S', 'S', true, 1],
      ['conflict', 'qty__N', 'N', false, 1],
      ['conflict', 'total__S', 'S', false, 1],
      ['conflict', 'total__N', 'N', false, 1],
    ]);

    const lake = await readLake(delta, [
      `SELECT CAST(sum(discount) AS BIGINT) AS discount, sum(total) AS total FROM lake`,
    ]);
    expect(lake.columns.slice(13, 21)).toEqual([
      'qty__N string',
      'refund__NULL string',
      'scores__NS string',
      'total__S string',
      'total__N string',
      '_ddb_key string',
      '_ddb_bucket int',
      '_ddb_seq string',
    ]);
    expect(lake.columns.slice(23)).toEqual([
      'addr string',
      'discount bigint',
      'addr__L string',
      'discount__S string',
      'paid__S string',
    ]);
    expect(lake.rows.get(orderKey('customer#5', 'a'))).toEqual({
      pk: 'customer#5',
      sk: 'a',
      total__S: 'pending',
      qty__N: '2.5',
      paid__S: 'yes',
      discount: 3n,
      addr: '{"city":"Oslo"}',
    });
    expect(lake.rows.get(orderKey('customer#5', 'b'))).toEqual({
      pk: 'customer#5',
      sk: 'b',
      total__N: `1${'0'.repeat(40)}`,
      discount: 4n,
      addr: '{}',
    });
    expect(lake.rows.get(orderKey('customer#5', 'c'))).toEqual({
      pk: 'customer#5',
      sk: 'c',
      total: '12.50',
      discount__S: 'none',
      addr__L: '["x"]',
    });
    expect(lake.answers[0]).toEqual([{ discount: 7n, total: '157.45' }]);

    const table = await readTable(delta);
    for (const item of items) {
      const key = orderKey((item['pk'] as { S: string }).S, (item['sk'] as { S: string }).S);
      expect(table.items.get(key)).toBe(itemToPlainJson(item));
    }
  });

  it('a table whose files sit in _ddb_bucket=N/ folders keeps working: later batches, readers and vacuum go by the log', async () => {
    const { landing, delta } = await loadedTable();
    // Move the table to the layout ddb-lake wrote before: the folders and the log's paths.
    const before = await readLake(delta);
    for (const name of await readdir(delta.rootDir)) {
      if (name.startsWith('ddb_bucket='))
        await rename(path.join(delta.rootDir, name), path.join(delta.rootDir, `_${name}`));
    }
    const log = path.join(delta.rootDir, '_delta_log');
    for (const name of await readdir(log)) {
      if (!name.endsWith('.json')) continue;
      const text = await readFile(path.join(log, name), 'utf8');
      await writeFile(
        path.join(log, name),
        text.replaceAll('"path":"ddb_bucket%3D', '"path":"_ddb_bucket%3D'),
      );
    }
    const old = await readLake(delta);
    expect(
      old.snapshot.files.every((file) => dataFileKey(file.path, delta.url).startsWith('_ddb_bucket=')),
    ).toBe(true);
    expect(old.rows).toEqual(before.rows);

    // customer#1/order#0001 changes: its bucket's data is written anew, in a ddb_bucket=N/ folder.
    await capture(landing, [
      change({
        op: 'MODIFY',
        pk: 'customer#1',
        sk: 'order#0001',
        seq: seq(200),
        ts: AFTER,
        attributes: { total: { N: '150' }, qty: { N: '4' } },
      }),
    ]);
    applied(await applyBatch({ landing, delta, table: TABLE, now: sampleClock }));
    const after = await readLake(delta);
    const keys = after.snapshot.files.map((file) => dataFileKey(file.path, delta.url));
    expect(keys.filter((key) => key.startsWith('ddb_bucket=')).length).toBeGreaterThan(0);
    expect(keys.filter((key) => key.startsWith('_ddb_bucket=')).length).toBeGreaterThan(0);
    expect(after.rows.get(orderKey('customer#1', 'order#0001'))).toMatchObject({ total: '150.00', qty: 4n });
    const unchanged = [...before.rows].filter(([key]) => key !== orderKey('customer#1', 'order#0001'));
    for (const [key, cells] of unchanged) expect(after.rows.get(key)).toEqual(cells);

    // Vacuum deletes exactly the data files no longer in the table, old folders included.
    const onDisk = await dataFilesOnDisk(delta);
    const session = await DuckSession.open({ threads: 1 });
    const result = await vacuum(delta, duckdbEngine(session), {
      retentionHours: 0,
      allowShortRetention: true,
      // Every file was written within the last minutes; the clock is moved past them.
      now: Date.now() + 60 * MINUTE,
    });
    await session.close();
    expect(result.files.map((file) => file.key).sort()).toEqual(onDisk.filter((key) => !keys.includes(key)));
    expect(await dataFilesOnDisk(delta)).toEqual([...keys].sort());
    expect((await readLake(delta)).rows).toEqual(after.rows);
  });
});
