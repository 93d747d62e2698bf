import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileRows } from '../../src/apply/bucket-files.ts';
import { optimizeBuckets } from '../../src/apply/optimize/optimize-buckets.ts';
import { OptimizeError, OptimizeErrorCode } from '../../src/apply/optimize/optimize-errors.ts';
import { OptimizeEventCode } from '../../src/apply/optimize/optimize-events.ts';
import { bucketsToOptimize, optimizeThresholds } from '../../src/apply/optimize/optimize-plan.ts';
import { optimizeAfterBatch, optimizeTable } from '../../src/apply/optimize/table-optimize.ts';
import { acquireTableLease, LeaseHeldError } from '../../src/apply/table-lease.ts';
import { type Action, type AddFile, parseCommitFile } from '../../src/delta/actions.ts';
import { createTable } from '../../src/delta/create-table.ts';
import { dataFileKey } from '../../src/delta/data-path.ts';
import { loadSnapshot } from '../../src/delta/load-snapshot.ts';
import { commitFileKey } from '../../src/delta/log-files.ts';
import type { Snapshot } from '../../src/delta/snapshot.ts';
import { duckdbEngine } from '../../src/duckdb/duckdb-engine.ts';
import { DuckSession, quoteLiteral } from '../../src/duckdb/session.ts';
import { fileBucket, SYSTEM_COLUMN } from '../../src/lake/table-layout.ts';
import type { ObjectStore } from '../../src/storage/object-store.ts';
import { tempStore } from './run-support.ts';
import {
  appendRows,
  type BuiltTable,
  builtBucket,
  builtKey,
  builtRows,
  createBuiltTable,
  mergeOnRead,
} from './support/lake-table-builder.ts';

let session: DuckSession;
beforeAll(async () => {
  session = await DuckSession.open({ threads: 2 });
});
afterAll(async () => {
  await session.close();
});

/** The first `count` key numbers of `bucket` in a table of `buckets` buckets. */
function keysOfBucket(bucket: number, buckets: number, count: number): number[] {
  const keys: number[] = [];
  for (let i = 0; keys.length < count; i++) if (builtBucket(i, buckets) === bucket) keys.push(i);
  return keys;
}

async function snapshotOf(store: ObjectStore): Promise<Snapshot> {
  return loadSnapshot(store, duckdbEngine(session));
}

async function commitActions(store: ObjectStore, version: number): Promise<Action[]> {
  const key = commitFileKey(version);
  return parseCommitFile(Buffer.from(await store.getBytes(key)).toString('utf8'), key);
}

async function listKeys(store: ObjectStore): Promise<string[]> {
  const keys: string[] = [];
  for await (const object of store.list('')) keys.push(object.key);
  return keys;
}

/** The `_ddb_key`s of a data file in file order, read from the Parquet file itself. */
async function fileKeys(store: ObjectStore, table: Snapshot, path: string): Promise<string[]> {
  const local = `${(store as unknown as { rootDir: string }).rootDir}/${dataFileKey(path, table.tableUrl)}`;
  const reader = await session.all(
    `SELECT ${SYSTEM_COLUMN.key} FROM read_parquet(${quoteLiteral(local)}, file_row_number = true) ORDER BY file_row_number`,
  );
  return reader.getRows().map((row) => String(row[0]));
}

/**
 * A copy-on-write table (no deletion vectors) of two buckets and 10 rows per file, each bucket
 * holding `commits` small files of 3 rows: the files merge-on-read batches leave behind.
 */
async function tableWithSmallFiles(commits: number): Promise<BuiltTable> {
  const table = await createBuiltTable(await tempStore('optimize'), { buckets: 2, rowsPerFile: 10 });
  const bucket0 = keysOfBucket(0, 2, commits * 3);
  const bucket1 = keysOfBucket(1, 2, commits * 3);
  for (let c = 0; c < commits; c++) {
    await appendRows(
      session,
      table,
      [...bucket0.slice(c * 3, c * 3 + 3), ...bucket1.slice(c * 3, c * 3 + 3)],
      {
        seq: c + 1,
      },
    );
  }
  return table;
}

describe('table optimize on a table without deletion vectors', () => {
  it("merges a bucket's small files into key-sorted files of at most rowsPerFile rows, and the table keeps its rows", async () => {
    const table = await tableWithSmallFiles(6);
    const before = await snapshotOf(table.store);
    const rowsBefore = await builtRows(session, table.store);
    expect(before.files).toHaveLength(12);
    expect(rowsBefore.size).toBe(36);

    const events: string[] = [];
    const result = await optimizeTable({ delta: table.store, session, onEvent: (e) => events.push(e.code) });

    expect(result.outcome).toBe('optimized');
    expect(result.version).toBe(before.version + 1);
    expect(result.filesRemoved).toBe(12);
    expect(result.filesAdded).toBe(4);
    expect(result.rows).toBe(36);
    expect(result.deletedRowsPurged).toBe(0);
    expect(result.buckets.map((b) => [b.bucket, b.files, b.filesAdded, b.reasons['small-file']])).toEqual([
      [0, 6, 2, 6],
      [1, 6, 2, 6],
    ]);
    expect(events).toEqual([
      OptimizeEventCode.planned,
      OptimizeEventCode.bucketWritten,
      OptimizeEventCode.bucketWritten,
      OptimizeEventCode.committed,
    ]);

    const after = await snapshotOf(table.store);
    expect(await builtRows(session, table.store)).toEqual(rowsBefore);
    const oldPaths = new Set(before.files.map((f) => f.path));
    expect(after.files.filter((f) => oldPaths.has(f.path))).toEqual([]);
    for (const file of after.files) {
      const keys = await fileKeys(table.store, after, file.path);
      expect(keys).toEqual([...keys].sort());
      expect(keys.length).toBe(fileRows(file));
      expect(keys.length).toBeLessThanOrEqual(10);
      for (const key of keys)
        expect(builtBucket(Number(JSON.parse(key).pk.slice(1)), 2)).toBe(fileBucket(file));
      const stats = JSON.parse(file.stats as string);
      expect(stats.minValues[SYSTEM_COLUMN.key]).toBe(keys[0]);
      expect(stats.maxValues[SYSTEM_COLUMN.key]).toBe(keys.at(-1));
    }
    // Each bucket: 18 rows as 10 + 8, key ranges one after the other.
    expect(after.files.map((f) => fileRows(f)).sort()).toEqual([10, 10, 8, 8].sort());

    const actions = await commitActions(table.store, result.version as number);
    const info = actions.find((a) => 'commitInfo' in a) as { commitInfo: Record<string, unknown> };
    expect(info.commitInfo['operation']).toBe('OPTIMIZE');
    const fileActions = actions.flatMap((a) =>
      'add' in a ? [a.add.dataChange] : 'remove' in a ? [a.remove.dataChange] : [],
    );
    expect(fileActions).toHaveLength(16);
    expect(fileActions.every((dataChange) => dataChange === false)).toBe(true);
  });

  it('writes each bucket whose live rows fit one file as one key-sorted file, every bucket in one write, and the table keeps its rows', async () => {
    const table = await tableWithSmallFiles(3);
    const before = await snapshotOf(table.store);
    const rowsBefore = await builtRows(session, table.store);
    const events: string[] = [];
    const result = await optimizeTable({
      delta: table.store,
      session,
      thresholds: { maxSmallFiles: 2 },
      onEvent: (e) => events.push(e.code),
    });
    expect(result.outcome).toBe('optimized');
    expect(result.buckets.map((b) => [b.bucket, b.files, b.filesAdded, b.rows])).toEqual([
      [0, 3, 1, 9],
      [1, 3, 1, 9],
    ]);
    expect(events.filter((code) => code === OptimizeEventCode.bucketWritten)).toHaveLength(2);
    const after = await snapshotOf(table.store);
    expect(after.files).toHaveLength(2);
    expect(after.files.some((f) => before.files.some((b) => b.path === f.path))).toBe(false);
    expect(await builtRows(session, table.store)).toEqual(rowsBefore);
    for (const file of after.files) {
      const keys = await fileKeys(table.store, after, file.path);
      expect(keys).toEqual([...keys].sort());
      expect(keys).toHaveLength(9);
      for (const key of keys)
        expect(builtBucket(Number(JSON.parse(key).pk.slice(1)), 2)).toBe(fileBucket(file));
      const stats = JSON.parse(file.stats as string);
      expect(stats.minValues[SYSTEM_COLUMN.key]).toBe(keys[0]);
      expect(stats.maxValues[SYSTEM_COLUMN.key]).toBe(keys.at(-1));
    }
  });

  it('plans nothing for a table it just optimized, and commits nothing', async () => {
    const table = await tableWithSmallFiles(6);
    await optimizeTable({ delta: table.store, session });
    const version = (await snapshotOf(table.store)).version;
    const again = await optimizeTable({ delta: table.store, session });
    expect(again.outcome).toBe('nothing-to-do');
    expect(again.version).toBeNull();
    expect((await snapshotOf(table.store)).version).toBe(version);
  });

  it('leaves a bucket alone while it holds no more than --max-small-files small files', async () => {
    const table = await tableWithSmallFiles(4);
    const result = await optimizeTable({ delta: table.store, session });
    expect(result.outcome).toBe('nothing-to-do');
    const lower = await optimizeTable({ delta: table.store, session, thresholds: { maxSmallFiles: 3 } });
    expect(lower.outcome).toBe('optimized');
    expect(lower.buckets.map((b) => b.bucket)).toEqual([0, 1]);
  });

  it('a dry run says what it would rewrite and writes nothing, not even the lease', async () => {
    const table = await tableWithSmallFiles(6);
    const keysBefore = await listKeys(table.store);
    const result = await optimizeTable({ delta: table.store, session, dryRun: true });
    expect(result.outcome).toBe('dry-run');
    expect(result.version).toBeNull();
    expect(result.filesRemoved).toBe(12);
    expect(result.rows).toBe(36);
    expect(result.buckets.map((b) => b.bucket)).toEqual([0, 1]);
    expect(await listKeys(table.store)).toEqual(keysBefore);
  });

  it('refuses while another writer holds the lease, and writes nothing', async () => {
    const table = await tableWithSmallFiles(6);
    const lease = await acquireTableLease(table.store, {});
    try {
      const before = await snapshotOf(table.store);
      // The lease is this process's own, alive: as held as another live writer's.
      await expect(optimizeTable({ delta: table.store, session })).rejects.toBeInstanceOf(LeaseHeldError);
      expect((await snapshotOf(table.store)).version).toBe(before.version);
    } finally {
      await lease.release();
    }
  });

  it('refuses a Delta table apply did not write, and writes nothing', async () => {
    const plain = await tempStore('plain');
    const schema = (await snapshotOf((await tableWithSmallFiles(1)).store)).schema;
    await createTable(plain, { schema, now: 0 });
    const keysBefore = await listKeys(plain);
    await expect(optimizeTable({ delta: plain, session })).rejects.toThrow(/not written by ddb-lake apply/);
    expect(await listKeys(plain)).toEqual(keysBefore);
  });
});

/**
 * A merge-on-read table of two buckets and 10 rows per file: 20 rows per bucket loaded as two full
 * files each, then one batch that replaces 3 rows of bucket 0's first file (30 % deleted) and 1 of
 * its second (10 %), and deletes 1 row of bucket 1 (10 %).
 */
async function tableWithDeletedRows(): Promise<{
  table: BuiltTable;
  damaged: string;
  light: string[];
  replaced: number;
}> {
  const table = await createBuiltTable(await tempStore('optimize-dv'), {
    buckets: 2,
    rowsPerFile: 10,
    deletionVectors: true,
  });
  const zero = keysOfBucket(0, 2, 20);
  const one = keysOfBucket(1, 2, 20);
  for (const keys of [zero.slice(0, 10), zero.slice(10), one.slice(0, 10), one.slice(10)]) {
    await appendRows(session, table, keys, { seq: 1 });
  }
  const hidden = await mergeOnRead(session, table, {
    upsert: [zero[0], zero[4], zero[9], zero[15]] as number[],
    remove: [one[3]] as number[],
    seq: 2,
    factor: 10,
  });
  const damaged = [...hidden].filter(([, rows]) => rows === 3).map(([path]) => path);
  expect(damaged).toHaveLength(1);
  const light = [...hidden].filter(([, rows]) => rows === 1).map(([path]) => path);
  expect(light).toHaveLength(2);
  return { table, damaged: damaged[0] as string, light, replaced: zero[15] as number };
}

describe('table optimize on a table with deletion vectors', () => {
  it('rewrites a file whose deleted share passes 20 % without its deleted rows, with the small files of its bucket and its files past 5 % deleted', async () => {
    const { table, damaged, light, replaced } = await tableWithDeletedRows();
    const before = await snapshotOf(table.store);
    const rowsBefore = await builtRows(session, table.store);
    expect(rowsBefore.size).toBe(39);
    // The batch's new version of a replaced key, not the old one its file's vector hides.
    expect(rowsBefore.get(builtKey(replaced))?.[1]).toBe(BigInt(replaced * 10));

    const result = await optimizeTable({ delta: table.store, session });

    expect(result.outcome).toBe('optimized');
    expect(
      result.buckets.map((b) => [
        b.bucket,
        b.reasons['deleted-share'],
        b.reasons['deleted-along'],
        b.reasons['small-file'],
      ]),
    ).toEqual([[0, 1, 1, 1]]);
    expect(result.filesRemoved).toBe(3);
    expect(result.deletedRowsPurged).toBe(4);
    expect(result.rows).toBe(7 + 9 + 4);
    expect(result.filesAdded).toBe(2);

    const after = await snapshotOf(table.store);
    expect(await builtRows(session, table.store)).toEqual(rowsBefore);
    const active = new Map(after.files.map((f) => [f.path, f]));
    expect(active.has(damaged)).toBe(false);
    // Bucket 0 was rewritten, so its file 10 % deleted went along (past the 5 % taken along); bucket
    // 1 was not due, so its file 10 % deleted keeps its vector.
    const bucketOfPath = (path: string) => fileBucket(before.files.find((f) => f.path === path) as AddFile);
    expect(light.map(bucketOfPath).sort()).toEqual([0, 1]);
    for (const path of light) {
      if (bucketOfPath(path) === 0) expect(active.has(path)).toBe(false);
      else expect(active.get(path)?.deletionVector?.cardinality).toBe(1);
    }
    for (const file of after.files) {
      expect((file.deletionVector?.cardinality ?? 0) / (fileRows(file) as number)).toBeLessThan(0.2);
    }
    // Bucket 0 had 20 rows − 4 replaced + 4 new = 20 live rows, all rewritten: two full files.
    const added = after.files.filter((f) => !before.files.some((b) => b.path === f.path));
    expect(added.map((f) => fileRows(f)).sort()).toEqual([10, 10]);
    for (const file of added) {
      expect(file.deletionVector ?? null).toBeNull();
      const keys = await fileKeys(table.store, after, file.path);
      expect(keys).toEqual([...keys].sort());
      const stats = JSON.parse(file.stats as string);
      expect(stats.minValues[SYSTEM_COLUMN.key]).toBe(keys[0]);
      expect(stats.maxValues[SYSTEM_COLUMN.key]).toBe(keys.at(-1));
    }

    // The remove names the logical file: the path with the vector it had.
    const removes = (await commitActions(table.store, result.version as number)).flatMap((a) =>
      'remove' in a ? [a.remove] : [],
    );
    const removedDamaged = removes.find((r) => r.path === damaged);
    expect(removedDamaged?.deletionVector).toEqual(
      before.files.find((f) => f.path === damaged)?.deletionVector,
    );
    expect(removes.every((r) => r.dataChange === false)).toBe(true);
  });

  it('a dry run of a table with deleted rows reports the rows it would purge and writes nothing', async () => {
    const { table } = await tableWithDeletedRows();
    const keysBefore = await listKeys(table.store);
    const result = await optimizeTable({ delta: table.store, session, dryRun: true });
    expect(result).toMatchObject({ outcome: 'dry-run', filesRemoved: 3, deletedRowsPurged: 4, rows: 20 });
    expect(await listKeys(table.store)).toEqual(keysBefore);
  });

  it('removes a file whose rows are all deleted and writes nothing in its place', async () => {
    const table = await createBuiltTable(await tempStore('optimize-dv'), {
      buckets: 1,
      rowsPerFile: 10,
      deletionVectors: true,
    });
    await appendRows(session, table, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    await appendRows(session, table, [11, 12, 13]);
    await mergeOnRead(session, table, { remove: [11, 12, 13], seq: 2 });
    const rowsBefore = await builtRows(session, table.store);
    const result = await optimizeTable({ delta: table.store, session });
    expect(result).toMatchObject({ outcome: 'optimized', filesRemoved: 1, filesAdded: 0, rows: 0 });
    expect(result.deletedRowsPurged).toBe(3);
    expect(await builtRows(session, table.store)).toEqual(rowsBefore);
    expect((await snapshotOf(table.store)).files).toHaveLength(1);
  });

  it('a lower --deleted-share takes the lightly deleted files too', async () => {
    const { table, light } = await tableWithDeletedRows();
    const rowsBefore = await builtRows(session, table.store);
    const result = await optimizeTable({ delta: table.store, session, thresholds: { deletedShare: 0.1 } });
    expect(result.deletedRowsPurged).toBe(5);
    expect(result.buckets.map((b) => b.bucket)).toEqual([0, 1]);
    const after = await snapshotOf(table.store);
    for (const path of light) expect(after.files.some((f) => f.path === path)).toBe(false);
    expect(after.files.every((f) => (f.deletionVector ?? null) === null)).toBe(true);
    expect(await builtRows(session, table.store)).toEqual(rowsBefore);
  });
});

describe('the optimize apply runs after a batch', () => {
  it('rewrites only the touched buckets that pass the thresholds, under the lease apply holds, marked auto', async () => {
    const { table } = await tableWithDeletedRows();
    const rowsBefore = await builtRows(session, table.store);
    // Apply holds the lease while it optimizes after its batch.
    const lease = await acquireTableLease(table.store, {});
    try {
      const untouched = await optimizeAfterBatch({
        session,
        delta: table.store,
        engine: duckdbEngine(session),
        table: await snapshotOf(table.store),
        buckets: [1],
      });
      // Bucket 0 is due, but the batch did not touch it.
      expect(untouched.outcome).toBe('nothing-to-do');

      const result = await optimizeAfterBatch({
        session,
        delta: table.store,
        engine: duckdbEngine(session),
        table: await snapshotOf(table.store),
        buckets: [0, 1],
      });
      expect(result.outcome).toBe('optimized');
      expect(result.buckets.map((b) => b.bucket)).toEqual([0]);
      const info = (await commitActions(table.store, result.version as number)).find(
        (a) => 'commitInfo' in a,
      ) as {
        commitInfo: { operation: string; operationParameters: Record<string, string> };
      };
      expect(info.commitInfo.operation).toBe('OPTIMIZE');
      expect(info.commitInfo.operationParameters['auto']).toBe('true');
    } finally {
      await lease.release();
    }
    expect(await builtRows(session, table.store)).toEqual(rowsBefore);
  });

  it('writes the checkpoint when its commit is at a checkpoint version', async () => {
    const table = await createBuiltTable(await tempStore('optimize-checkpoint'), {
      buckets: 1,
      rowsPerFile: 10,
      configuration: { 'delta.checkpointInterval': '7' },
    });
    for (let c = 0; c < 6; c++) await appendRows(session, table, [c * 2, c * 2 + 1], { seq: c + 1 });
    const result = await optimizeTable({ delta: table.store, session });
    expect(result).toMatchObject({ outcome: 'optimized', version: 7, checkpoint: 'written' });
    const reloaded = await snapshotOf(table.store);
    expect(reloaded.checkpointVersion).toBe(7);
    expect(reloaded.files).toHaveLength(2);
  });
});

describe('an optimize racing another commit', () => {
  it('refuses, committing nothing, when a concurrent commit changed a file it rewrites', async () => {
    const { table, damaged } = await tableWithDeletedRows();
    const read = await snapshotOf(table.store);
    const plans = bucketsToOptimize(read, optimizeThresholds(read));
    // Another writer deletes one more row of the damaged file after the optimize read the table.
    const key = (await fileKeys(table.store, read, damaged))[1] as string;
    await mergeOnRead(session, table, { remove: [Number(JSON.parse(key).pk.slice(1))], seq: 3 });
    const rowsNow = await builtRows(session, table.store);
    const versionNow = (await snapshotOf(table.store)).version;

    const error = await optimizeBuckets({
      session,
      delta: table.store,
      engine: duckdbEngine(session),
      table: read,
      plans,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OptimizeError);
    expect((error as OptimizeError).code).toBe(OptimizeErrorCode.conflict);
    expect((error as Error).message).toContain(damaged);
    expect((await snapshotOf(table.store)).version).toBe(versionNow);
    expect(await builtRows(session, table.store)).toEqual(rowsNow);
    expect(rowsNow.has(key)).toBe(false);
  });

  it('commits after a concurrent commit that touched none of its files', async () => {
    const { table } = await tableWithDeletedRows();
    const read = await snapshotOf(table.store);
    const plans = bucketsToOptimize(read, optimizeThresholds(read));
    expect(plans.map((p) => p.bucket)).toEqual([0]);
    // A new row in bucket 1 only.
    const fresh = keysOfBucket(1, 2, 40).at(-1) as number;
    await appendRows(session, table, [fresh], { seq: 3 });
    const rowsNow = await builtRows(session, table.store);

    const result = await optimizeBuckets({
      session,
      delta: table.store,
      engine: duckdbEngine(session),
      table: read,
      plans,
    });
    expect(result.version).toBe(read.version + 2);
    expect(await builtRows(session, table.store)).toEqual(rowsNow);
    expect(rowsNow.has(builtKey(fresh))).toBe(true);
  });
});
