import { copyFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type AppliedBatch, type ApplyBatchResult, applyBatch } from '../../src/apply/apply-batch.ts';
import type { Action } from '../../src/delta/actions.ts';
import { commit } from '../../src/delta/commit.ts';
import { dataFileKey } from '../../src/delta/data-path.ts';
import { readDeletionVector } from '../../src/delta/deletion-vector.ts';
import { loadSnapshot } from '../../src/delta/load-snapshot.ts';
import { commitFileKey } from '../../src/delta/log-files.ts';
import type { StructField } from '../../src/delta/schema.ts';
import type { Snapshot } from '../../src/delta/snapshot.ts';
import { startTransaction, type Transaction } from '../../src/delta/transaction.ts';
import { duckdbEngine } from '../../src/duckdb/duckdb-engine.ts';
import { DuckSession } from '../../src/duckdb/session.ts';
import type { Item } from '../../src/dynamo/attribute-value.ts';
import type { ChangeRecord } from '../../src/formats/change-record.ts';
import { readTableLayout } from '../../src/lake/table-layout.ts';
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
 * Merge-on-read (DESIGN.md rule 6): a later batch marks the rows it replaces or deletes in
 * deletion vectors of their files and appends the winners as new files; no data file is rewritten.
 */

const AFTER = SAMPLE_T + 30 * MINUTE;

function applied(result: ApplyBatchResult): AppliedBatch {
  expect(result.outcome).toBe('applied');
  return result as AppliedBatch;
}

/** The sample table in one bucket, so its rows share a file: a batch marks some of a file's rows. */
async function loadedTable(
  options: { deletes?: 'hard' | 'soft'; deletionVectors?: boolean; buckets?: number } = {},
) {
  const landing = await sampleLanding();
  await capture(landing, [coverageRecord()]);
  const delta = await tempStore('delta');
  applied(await applyBatch({ landing, delta, table: TABLE, now: sampleClock, buckets: 1, ...options }));
  return { landing, delta };
}

/** A later batch; without the automatic optimize unless asked, so the vectors it writes stay to be seen. */
async function apply(landing: LocalFolderStore, delta: LocalFolderStore, autoOptimize = false) {
  return applied(await applyBatch({ landing, delta, table: TABLE, now: sampleClock, autoOptimize }));
}

/** A MODIFY of customer#2's profile that sets `attributes`. */
function profileChange(sequence: number, attributes: Item, ts = AFTER): ChangeRecord {
  return change({ op: 'MODIFY', pk: 'customer#2', sk: 'profile', seq: seq(sequence), ts, attributes });
}

/** The MODIFY of customer#2's profile that sets `vip`, the change most of these batches carry. */
function vipChange(sequence: number, vip: boolean, ts = AFTER): ChangeRecord {
  return profileChange(sequence, { vip: { BOOL: vip } }, ts);
}

/** One later batch per record, each updating its key's one row: the row is marked and appended anew. */
async function applyEachUpdate(
  landing: LocalFolderStore,
  delta: LocalFolderStore,
  records: readonly ChangeRecord[],
): Promise<void> {
  for (const record of records) {
    await capture(landing, [record]);
    expect(await apply(landing, delta)).toMatchObject({ updated: 1, rowsMarked: 1 });
  }
}

/** Commits the transaction `change` makes on the table's latest snapshot, as another writer would. */
async function commitAsAnotherWriter(
  delta: LocalFolderStore,
  change: (snapshot: Snapshot) => Promise<Transaction>,
): Promise<void> {
  const session = await DuckSession.open({ threads: 1 });
  try {
    const engine = duckdbEngine(session);
    await commit(delta, engine, await change(await loadSnapshot(delta, engine)));
  } finally {
    await session.close();
  }
}

/** A batch of one change refused as a table mismatch with `message`, leaving the table's version. */
async function expectBatchRefused(
  landing: LocalFolderStore,
  delta: LocalFolderStore,
  message: string | RegExp,
): Promise<void> {
  const version = (await readTable(delta)).snapshot.version;
  await capture(landing, [vipChange(10, true)]);
  await expect(applyBatch({ landing, delta, table: TABLE, now: sampleClock })).rejects.toMatchObject({
    code: 'APPLY_TABLE_MISMATCH',
    message: typeof message === 'string' ? expect.stringContaining(message) : expect.stringMatching(message),
  });
  expect((await readTable(delta)).snapshot.version).toBe(version);
}

async function commitActions(delta: LocalFolderStore, version: number): Promise<Action[]> {
  const text = Buffer.from(await delta.getBytes(commitFileKey(version))).toString('utf8');
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Action);
}

describe('merge-on-read', () => {
  it('creates tables with deletion vectors: reader 3, writer 7, the feature and the property', async () => {
    const { delta } = await loadedTable();
    const { snapshot } = await readTable(delta);
    expect(snapshot.protocol).toMatchObject({ minReaderVersion: 3, minWriterVersion: 7 });
    expect(snapshot.protocol.readerFeatures).toContain('deletionVectors');
    expect(snapshot.protocol.writerFeatures).toContain('deletionVectors');
    expect(snapshot.metadata.configuration['delta.enableDeletionVectors']).toBe('true');
  });

  it('a batch marks the replaced and deleted rows in deletion vectors, appends the winners, and rewrites no file', async () => {
    const { landing, delta } = await loadedTable();
    const before = await readTable(delta);
    const beforePaths = before.snapshot.files.map((file) => file.path).sort();
    await capture(landing, [
      vipChange(10, true),
      change({
        op: 'INSERT',
        pk: 'customer#5',
        sk: 'order#0001',
        seq: seq(11),
        ts: AFTER,
        attributes: { qty: { N: '2' } },
      }),
      change({ op: 'REMOVE', pk: 'customer#3', sk: 'order#0001', seq: seq(12), ts: AFTER }),
    ]);
    const second = await apply(landing, delta);
    expect(second).toMatchObject({
      inserted: 1,
      updated: 1,
      deleted: 1,
      filesRewritten: 0,
      bytesRewritten: 0,
      rowsMarked: 2,
    });
    expect(second.filesMarked).toBeGreaterThan(0);
    expect(second.filesWritten).toBeGreaterThan(0);

    const after = await readTable(delta);
    // Every data file of batch 1 is still there, now some under a deletion vector.
    for (const path of beforePaths)
      expect(after.snapshot.files.some((file) => file.path === path)).toBe(true);
    const withVectors = after.snapshot.files.filter((file) => file.deletionVector != null);
    expect(withVectors.length).toBe(second.filesMarked);
    let marked = 0;
    for (const file of withVectors) {
      const rows = await readDeletionVector(delta, after.snapshot.tableUrl, file.deletionVector as never);
      marked += rows.length;
      expect(JSON.parse(file.stats as string)).toMatchObject({ tightBounds: false });
    }
    expect(marked).toBe(2);
    expect(after.items.get(orderKey('customer#2', 'profile'))).toContain('"vip":true');
    expect(after.items.get(orderKey('customer#5', 'order#0001'))).toBe(
      '{"pk":"customer#5","qty":2,"sk":"order#0001"}',
    );
    expect(after.items.has(orderKey('customer#3', 'order#0001'))).toBe(false);
    expect(after.rows).toBe(before.rows);
    for (const key of [orderKey('customer#1', 'order#0001'), orderKey('customer#4', 'order#0001')]) {
      expect(after.items.get(key)).toBe(before.items.get(key));
    }
    // The commit removes each marked file as it was and adds it back under its vector.
    const actions = await commitActions(delta, second.version);
    const removes = actions.flatMap((action) => ('remove' in action ? [action.remove] : []));
    const adds = actions.flatMap((action) => ('add' in action ? [action.add] : []));
    for (const file of withVectors) {
      expect(removes.some((remove) => remove.path === file.path && remove.deletionVector == null)).toBe(true);
      expect(adds.some((add) => add.path === file.path && add.deletionVector != null)).toBe(true);
    }
  });

  it("a batch finds the rows of its keys in files that hold a column named as its lookup's file path column", async () => {
    const { landing, delta } = await loadedTable();
    const named = (sequence: number, text: string) =>
      profileChange(sequence, { __ddb_lake_file_path: { S: text }, __DDB_LAKE_FILE_PATH_: { S: text } });
    await applyEachUpdate(landing, delta, [named(10, 'first'), named(20, 'second')]);
    const after = await readTable(delta);
    expect(after.items.get(orderKey('customer#2', 'profile'))).toContain('"__ddb_lake_file_path":"second"');
    expect(after.system.get(orderKey('customer#2', 'profile'))?.[0]).toBe(String(seq(20)).padStart(40, '0'));
  });

  it('refuses a batch whose key has two live rows in the table, naming the key, and commits nothing', async () => {
    const { landing, delta } = await loadedTable();
    // Another writer's copy of the one data file: every key of the table now has two live rows.
    await commitAsAnotherWriter(delta, async (snapshot) => {
      const file = snapshot.files[0] as NonNullable<(typeof snapshot.files)[0]>;
      const key = dataFileKey(file.path, snapshot.tableUrl);
      const copy = key.replace(/part-[^/]*$/, 'part-copy.zstd.parquet');
      await copyFile(path.join(delta.rootDir, key), path.join(delta.rootDir, copy));
      return startTransaction(snapshot).addFiles([{ ...file, path: copy }]);
    });
    await expectBatchRefused(landing, delta, `2 live rows of the key ${orderKey('customer#2', 'profile')}`);
  });

  it('an attribute named file_row_number, in any case, gets a column of another name, and the batches find and mark its rows', async () => {
    const { landing, delta } = await loadedTable();
    // DuckDB reads row positions as file_row_number and refuses files with a column of that name.
    const named = (sequence: number, value: string) =>
      profileChange(sequence, { file_row_number: { N: value }, FILE_ROW_NUMBER: { S: value } });
    await applyEachUpdate(landing, delta, [named(10, '7'), named(20, '8')]);
    const after = await readTable(delta);
    const columns = readTableLayout(after.snapshot.metadata.configuration).columns;
    expect(columns.get('FILE_ROW_NUMBER')).toBe('FILE_ROW_NUMBER_2');
    expect(columns.get('file_row_number')).toBe('file_row_number_3');
    const item = after.items.get(orderKey('customer#2', 'profile'));
    expect(item).toContain('"FILE_ROW_NUMBER":"8"');
    expect(item).toContain('"file_row_number":8');
    expect(after.rows).toBe(after.items.size);
  });

  it('refuses a batch on a table that has a column named file_row_number, saying why and what to do, and commits nothing', async () => {
    const { landing, delta } = await loadedTable();
    // As a table written before the name was reserved would have it.
    await commitAsAnotherWriter(delta, async (snapshot) => {
      const field: StructField = {
        name: 'File_Row_Number',
        type: { type: 'primitive', name: 'string' },
        nullable: true,
        metadata: {},
      };
      return startTransaction(snapshot).updateSchema({
        ...snapshot.schema,
        fields: [...snapshot.schema.fields, field],
      });
    });
    await expectBatchRefused(landing, delta, /has a column named "file_row_number".*--deletion-vectors off/);
  });

  it('a later batch on a marked file keeps the old vector rows and adds the new ones, removing the file under its old vector', async () => {
    const { landing, delta } = await loadedTable();
    await capture(landing, [vipChange(10, true)]);
    await apply(landing, delta);
    const afterSecond = await readTable(delta);
    const firstVector = afterSecond.snapshot.files.find((file) => file.deletionVector != null);
    expect(firstVector).toBeDefined();
    await capture(landing, [
      vipChange(20, false, AFTER + MINUTE),
      change({ op: 'REMOVE', pk: 'customer#1', sk: 'order#0001', seq: seq(21), ts: AFTER + MINUTE }),
    ]);
    const third = await apply(landing, delta);
    expect(third).toMatchObject({ updated: 1, deleted: 1, rowsMarked: 2, filesRewritten: 0 });
    const afterThird = await readTable(delta);
    expect(afterThird.items.get(orderKey('customer#2', 'profile'))).toContain('"vip":false');
    expect(afterThird.items.has(orderKey('customer#1', 'order#0001'))).toBe(false);
    expect(afterThird.rows).toBe(afterSecond.rows - 1);
    const actions = await commitActions(delta, third.version);
    const removes = actions.flatMap((action) => ('remove' in action ? [action.remove] : []));
    const old = firstVector as NonNullable<typeof firstVector>;
    const removedOld = removes.find((remove) => remove.path === old.path);
    // The file marked in batch 2 (the table's one bucket) is touched again: removed under the vector batch 2 gave it.
    expect(removedOld?.deletionVector).toEqual(old.deletionVector);
    const now = afterThird.snapshot.files.find((file) => file.path === old.path);
    const rows = await readDeletionVector(delta, afterThird.snapshot.tableUrl, now?.deletionVector as never);
    const previous = await readDeletionVector(
      delta,
      afterSecond.snapshot.tableUrl,
      old.deletionVector as never,
    );
    for (const row of previous) expect(rows).toContain(row);
    // customer#1's row is marked there; customer#2's live row was in the file batch 2 appended,
    // which holds nothing else and is removed whole.
    expect(rows.length).toBe(previous.length + 1);
    const appended = afterSecond.snapshot.files
      .filter((file) => file.deletionVector == null)
      .map((file) => file.path);
    expect(appended.length).toBe(1);
    expect(afterThird.snapshot.files.some((file) => file.path === appended[0])).toBe(false);
  });

  it('a file whose every row is replaced is removed whole, without a deletion vector', async () => {
    // 16 buckets for 4 items: files of one row each.
    const { landing, delta } = await loadedTable({ buckets: 16 });
    const before = await readTable(delta);
    await capture(landing, [vipChange(10, true)]);
    const second = await apply(landing, delta);
    expect(second).toMatchObject({ updated: 1, filesMarked: 0, rowsMarked: 1, filesWritten: 1 });
    const after = await readTable(delta);
    expect(after.snapshot.files.every((file) => file.deletionVector == null)).toBe(true);
    expect(after.snapshot.files.length).toBe(before.snapshot.files.length);
    expect(after.items.get(orderKey('customer#2', 'profile'))).toContain('"vip":true');
  });

  it('apply optimizes a bucket after a batch once its deleted share passes 20 %, and not with --no-auto-optimize', async () => {
    const { landing, delta } = await loadedTable();
    const before = await readTable(delta);
    await capture(landing, [vipChange(10, true)]);
    // One row of the bucket's four replaced: a 25 % deleted share.
    const kept = await apply(landing, delta, false);
    expect(kept.optimize).toBeNull();
    const marked = await readTable(delta);
    expect(marked.snapshot.files.filter((file) => file.deletionVector != null)).toHaveLength(1);

    await capture(landing, [
      change({
        op: 'MODIFY',
        pk: 'customer#4',
        sk: 'order#0001',
        seq: seq(11),
        ts: AFTER,
        attributes: { note: { S: 'x' } },
      }),
    ]);
    const optimized = await apply(landing, delta, true);
    expect(optimized.optimize).toMatchObject({ outcome: 'optimized', buckets: 1 });
    const after = await readTable(delta);
    expect(after.snapshot.version).toBe(optimized.version + 1);
    expect(after.snapshot.files.every((file) => file.deletionVector == null)).toBe(true);
    expect(after.snapshot.files).toHaveLength(1);
    expect(after.rows).toBe(before.rows);
    expect(after.items.get(orderKey('customer#2', 'profile'))).toContain('"vip":true');
    expect(after.items.get(orderKey('customer#4', 'order#0001'))).toContain('"note":"x"');
  });

  it('a batch in a session it is given leaves no table or view of its own behind', async () => {
    const { landing, delta } = await loadedTable();
    await capture(landing, [vipChange(10, true)]);
    const session = await DuckSession.open({ threads: 1 });
    try {
      applied(
        await applyBatch({ landing, delta, table: TABLE, now: sampleClock, session, autoOptimize: false }),
      );
      const left = await session.all(
        `SELECT table_name FROM duckdb_tables() UNION ALL SELECT view_name FROM duckdb_views() WHERE NOT internal`,
      );
      expect(left.getRows().map(([name]) => String(name))).toEqual([]);
    } finally {
      await session.close();
    }
  });

  it('a change older than the row marks nothing and writes nothing', async () => {
    const { landing, delta } = await loadedTable();
    await capture(landing, [vipChange(30, true)]);
    await apply(landing, delta);
    const before = await readTable(delta);
    await capture(landing, [vipChange(25, false)]);
    const late = await apply(landing, delta);
    expect(late).toMatchObject({ filesMarked: 0, rowsMarked: 0, filesWritten: 0 });
    expect(late.skipped.olderThanRow).toBe(1);
    const after = await readTable(delta);
    expect(after.items).toEqual(before.items);
    expect(after.snapshot.files.map((file) => file.path).sort()).toEqual(
      before.snapshot.files.map((file) => file.path).sort(),
    );
  });

  it('with soft deletes a delete marks the row and appends it flagged, with the attributes it had', async () => {
    const { landing, delta } = await loadedTable({ deletes: 'soft' });
    const before = await readTable(delta);
    await capture(landing, [
      change({ op: 'REMOVE', pk: 'customer#3', sk: 'order#0001', seq: seq(12), ts: AFTER }),
    ]);
    const second = await apply(landing, delta);
    expect(second).toMatchObject({ deleted: 1, rowsMarked: 1, filesRewritten: 0 });
    const after = await readTable(delta);
    const key = orderKey('customer#3', 'order#0001');
    expect(after.items.get(key)).toBe(before.items.get(key));
    expect(after.system.get(key)?.[2]).toBe(true);
    expect(after.rows).toBe(before.rows);
  });

  it('--deletion-vectors off keeps copy-on-write: a table without the feature, files rewritten, no vectors', async () => {
    const { landing, delta } = await loadedTable({ deletionVectors: false });
    const before = await readTable(delta);
    expect(before.snapshot.protocol.readerFeatures ?? []).not.toContain('deletionVectors');
    expect(before.snapshot.metadata.configuration['delta.enableDeletionVectors']).toBe('false');
    await capture(landing, [vipChange(10, true)]);
    const second = await apply(landing, delta);
    expect(second.filesRewritten).toBeGreaterThan(0);
    expect(second).toMatchObject({ filesMarked: 0, rowsMarked: 0 });
    const after = await readTable(delta);
    expect(after.snapshot.files.every((file) => file.deletionVector == null)).toBe(true);
    expect(after.items.get(orderKey('customer#2', 'profile'))).toContain('"vip":true');
  });
});
