import { cp, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { AddFile, DeletionVectorDescriptor, RemoveFile } from '../../src/delta/actions.ts';
import { commit } from '../../src/delta/commit.ts';
import { CREATED_DV_TABLE_PROTOCOL, createTable } from '../../src/delta/create-table.ts';
import { readDeletionVector } from '../../src/delta/deletion-vector.ts';
import { deletionVectorUpdate, statsWithWideBounds } from '../../src/delta/deletion-vector-update.ts';
import {
  extendDeletionVector,
  unionRowIndexes,
  writeDeletionVector,
} from '../../src/delta/deletion-vector-write.ts';
import { DeltaConflictError, DeltaInvalidWriteError } from '../../src/delta/errors.ts';
import { loadReadSnapshot, loadSnapshot } from '../../src/delta/load-snapshot.ts';
import { logicalFileKey } from '../../src/delta/log-replay.ts';
import type { Snapshot } from '../../src/delta/snapshot.ts';
import { startTransaction } from '../../src/delta/transaction.ts';
import { writeCheckpoint } from '../../src/delta/write-checkpoint.ts';
import { assertWritable } from '../../src/delta/writer-features.ts';
import { readSnapshotRows } from '../../src/duckdb/table-scan.ts';
import { LocalFolderStore } from '../../src/storage/local-folder-store.ts';
import {
  commitLines,
  logBytes,
  ORDERS_SCHEMA,
  type OrderRow,
  rowsOf,
  WriterWorkspace,
  writeOrders,
} from './writer-support.ts';

/*
 * Tables with deletion vectors (PROTOCOL.md, "Deletion Vectors", "Action Reconciliation",
 * "Per-file Statistics", "Checkpoints"): created with the feature, files given vectors in commits
 * of remove (path, old vector) + add (path, new vector), read back through loadSnapshot and the
 * DuckDB table scan with the deleted rows gone, from JSON commits and from checkpoints.
 */

const workspace = new WriterWorkspace();
afterAll(() => workspace.close());

const NOW = Date.UTC(2026, 0, 15);

const ORDERS: OrderRow[] = [
  { pk: 'a', amount: '1.5', qty: 1 },
  { pk: 'b', amount: '12345678901234567890123456.0123456789', qty: 2 },
  { pk: 'c', amount: '3', qty: '9007199254740993' },
  { pk: 'd', amount: '4', qty: 4, note: 'x' },
  { pk: 'e', amount: '-5', qty: 5 },
];

/** A table with deletion vectors holding ORDERS in one data file (rows in ORDERS' order). */
async function dvTable(): Promise<{ store: LocalFolderStore; snapshot: Snapshot; file: AddFile }> {
  const store = await workspace.store('dv-table');
  const engine = await workspace.engine();
  const created = await createTable(store, { schema: ORDERS_SCHEMA, deletionVectors: true, now: NOW });
  const adds = await writeOrders(workspace, store, ORDERS);
  await commit(store, engine, startTransaction(created).addFiles(adds), { now: NOW });
  const snapshot = await loadSnapshot(store, engine);
  return { store, snapshot, file: snapshot.files[0] as AddFile };
}

/** Gives `file` a vector of `rows` and commits it; returns the new snapshot. */
async function markDeleted(
  store: LocalFolderStore,
  snapshot: Snapshot,
  file: AddFile,
  rows: bigint[],
  inlineMaxBytes = 0,
): Promise<Snapshot> {
  const engine = await workspace.engine();
  const deletionVector = await writeDeletionVector(store, rows, { inlineMaxBytes });
  const tx = startTransaction(snapshot, { operation: 'DELETE' }).updateDeletionVectors([
    { file, deletionVector },
  ]);
  await commit(store, engine, tx, { now: NOW });
  return loadSnapshot(store, engine);
}

async function pks(store: LocalFolderStore, snapshot: Snapshot): Promise<string[]> {
  return (await rowsOf(workspace, store, snapshot)).map((row) => row.pk as string);
}

describe('creating a table with deletion vectors', () => {
  it('writes reader 3 / writer 7 with the deletionVectors feature and delta.enableDeletionVectors=true', async () => {
    const store = await workspace.store();
    const snapshot = await createTable(store, { schema: ORDERS_SCHEMA, deletionVectors: true, now: NOW });
    const [, protocolLine, metadataLine] = await commitLines(store, 0);
    expect(protocolLine).toEqual({ protocol: CREATED_DV_TABLE_PROTOCOL });
    expect(CREATED_DV_TABLE_PROTOCOL.readerFeatures).toEqual(['deletionVectors']);
    expect(CREATED_DV_TABLE_PROTOCOL.writerFeatures).toContain('deletionVectors');
    expect(metadataLine?.metaData).toMatchObject({
      configuration: { 'delta.enableDeletionVectors': 'true', 'delta.checkpointPolicy': 'classic' },
    });
    const loaded = await loadSnapshot(store, await workspace.engine());
    expect(loaded.protocol).toEqual(snapshot.protocol);
    expect(() => assertWritable(loaded, { addsDeletionVectors: true })).not.toThrow();
  });

  it('without the option the table keeps reader 1 / writer 2 and refuses delta.enableDeletionVectors=true, at creation and later', async () => {
    const store = await workspace.store();
    const snapshot = await createTable(store, { schema: ORDERS_SCHEMA, now: NOW });
    expect(snapshot.protocol).toEqual({ minReaderVersion: 1, minWriterVersion: 2 });
    expect(snapshot.metadata.configuration['delta.enableDeletionVectors']).toBe('false');
    expect(() =>
      startTransaction(snapshot).updateConfiguration({
        ...snapshot.metadata.configuration,
        'delta.enableDeletionVectors': 'true',
      }),
    ).toThrow(/deletionVectors table feature/);
    await expect(
      createTable(await workspace.store(), {
        schema: ORDERS_SCHEMA,
        configuration: { 'delta.enableDeletionVectors': 'true' },
      }),
    ).rejects.toThrow(DeltaInvalidWriteError);
    expect(() => assertWritable(snapshot, { addsDeletionVectors: true })).toThrow(
      /deletionVectors table feature/,
    );
  });

  it('a table with deletion vectors refuses being created with them disabled, and may switch them off later', async () => {
    await expect(
      createTable(await workspace.store(), {
        schema: ORDERS_SCHEMA,
        deletionVectors: true,
        configuration: { 'delta.enableDeletionVectors': 'false' },
      }),
    ).rejects.toThrow(/delta\.enableDeletionVectors/);
    const { store, snapshot, file } = await dvTable();
    const engine = await workspace.engine();
    const off = startTransaction(snapshot).updateConfiguration({
      ...snapshot.metadata.configuration,
      'delta.enableDeletionVectors': 'false',
    });
    await commit(store, engine, off, { now: NOW });
    const disabled = await loadSnapshot(store, engine);
    const deletionVector = await writeDeletionVector(store, [0n]);
    expect(() => startTransaction(disabled).updateDeletionVectors([{ file, deletionVector }])).toThrow(
      /does not allow new deletion vectors/,
    );
    expect(() => assertWritable(disabled, { addsDeletionVectors: true })).toThrow(/is not true/);
  });
});

describe('giving files deletion vectors', () => {
  it('a commit removes (path, no vector) and adds (path, vector) with tightBounds false; the deleted rows are gone', async () => {
    const { store, snapshot, file } = await dvTable();
    expect(await pks(store, snapshot)).toEqual(['a', 'b', 'c', 'd', 'e']);
    const v2 = await markDeleted(store, snapshot, file, [1n, 3n]);
    const lines = await commitLines(store, 2);
    const remove = lines.find((line) => 'remove' in line)?.remove as RemoveFile;
    const add = lines.find((line) => 'add' in line)?.add as AddFile;
    expect(remove.path).toBe(file.path);
    expect(remove.deletionVector).toBeUndefined();
    expect(remove.dataChange).toBe(true);
    expect(add.path).toBe(file.path);
    expect(add.deletionVector).toMatchObject({ storageType: 'u', offset: 1, cardinality: 2 });
    expect(add.size).toBe(file.size);
    expect(JSON.parse(add.stats as string)).toMatchObject({ numRecords: 5, tightBounds: false });
    // The 38-digit bound stays exactly as written.
    expect(add.stats).toContain('12345678901234567890123456.0123456789');
    expect(lines[0]?.commitInfo).toMatchObject({
      operation: 'DELETE',
      isBlindAppend: false,
      operationMetrics: { numDeletionVectorsAdded: '1', numDeletionVectorsRemoved: '0', numDeletedRows: '2' },
    });

    expect(v2.files).toHaveLength(1);
    expect(v2.files[0]?.deletionVector).toEqual(add.deletionVector);
    expect(v2.tombstones.map(logicalFileKey)).toEqual([logicalFileKey(file)]);
    expect(await pks(store, v2)).toEqual(['a', 'c', 'e']);
  });

  it('a second vector replaces the first: the old logical file becomes a tombstone with its vector', async () => {
    const { store, snapshot, file } = await dvTable();
    const v2 = await markDeleted(store, snapshot, file, [1n]);
    const first = v2.files[0] as AddFile;
    const v3 = await markDeleted(store, v2, first, [1n, 2n, 4n], 1000);
    const lines = await commitLines(store, 3);
    const remove = lines.find((line) => 'remove' in line)?.remove as RemoveFile | undefined;
    expect(remove?.deletionVector).toEqual(first.deletionVector);
    expect(v3.files).toHaveLength(1);
    expect(v3.files[0]?.deletionVector).toMatchObject({ storageType: 'i', cardinality: 3 });
    expect(v3.tombstones.map(logicalFileKey).sort()).toEqual(
      [logicalFileKey(file), logicalFileKey(first)].sort(),
    );
    expect(await pks(store, v3)).toEqual(['a', 'd']);
    // Time travel: version 2 still reads through its own vector.
    const engine = await workspace.engine();
    expect(await pks(store, await loadSnapshot(store, engine, { version: 2 }))).toEqual(['a', 'c', 'd', 'e']);
  });

  it('removing a file that has a vector removes that logical file: no row and no file stays', async () => {
    const { store, snapshot, file } = await dvTable();
    const v2 = await markDeleted(store, snapshot, file, [0n]);
    const engine = await workspace.engine();
    await commit(store, engine, startTransaction(v2).removeFiles(v2.files), { now: NOW });
    const v3 = await loadSnapshot(store, engine);
    expect(v3.files).toEqual([]);
    expect(await pks(store, v3)).toEqual([]);
    const remove = (await commitLines(store, 3)).find((line) => 'remove' in line)?.remove as RemoveFile;
    expect(remove.deletionVector).toEqual(v2.files[0]?.deletionVector);
  });

  it('two writers marking rows of the same file conflict; the loser writes nothing', async () => {
    const { store, snapshot, file } = await dvTable();
    await markDeleted(store, snapshot, file, [0n]);
    const engine = await workspace.engine();
    const deletionVector = await writeDeletionVector(store, [4n]);
    const late = startTransaction(snapshot).updateDeletionVectors([{ file, deletionVector }]);
    const before = await logBytes(store);
    await expect(commit(store, engine, late, { now: NOW })).rejects.toBeInstanceOf(DeltaConflictError);
    expect(await logBytes(store)).toEqual(before);
  });

  it('plans that would break the table are refused before anything is written', async () => {
    const { store, snapshot, file } = await dvTable();
    const two = await writeDeletionVector(store, [0n, 1n]);
    const v2 = await markDeleted(store, snapshot, file, [0n, 1n, 2n]);
    const marked = v2.files[0] as AddFile;
    expect(() => startTransaction(v2).updateDeletionVectors([{ file: marked, deletionVector: two }])).toThrow(
      /fewer than its current one/,
    );
    expect(() =>
      startTransaction(v2).updateDeletionVectors([
        { file: marked, deletionVector: marked.deletionVector as DeletionVectorDescriptor },
      ]),
    ).toThrow(/already has the deletion vector/);
    const six = { ...two, cardinality: 6 };
    expect(() => startTransaction(v2).updateDeletionVectors([{ file: marked, deletionVector: six }])).toThrow(
      /the file holds 5/,
    );
    expect(() =>
      startTransaction(v2).updateDeletionVectors([{ file: 'missing.parquet', deletionVector: two }]),
    ).toThrow(/not in the table/);
    expect(() =>
      startTransaction(v2)
        .updateDeletionVectors([{ file: marked, deletionVector: { ...two, cardinality: 4 } }])
        .removeFiles([marked]),
    ).toThrow(/both removed and given a new deletion vector/);
    const noStats = { ...marked, stats: null };
    expect(() => deletionVectorUpdate(noStats, two, { deletionTimestamp: NOW })).toThrow(/numRecords/);
  });
});

describe('checkpoints carry deletion vectors', () => {
  it('a checkpoint of a table with file and inline vectors reads back the same files and rows', async () => {
    const { store, snapshot, file } = await dvTable();
    const engine = await workspace.engine();
    const more = await writeOrders(workspace, store, [
      { pk: 'f', amount: '6', qty: 6 },
      { pk: 'g', amount: '7', qty: 7 },
    ]);
    await commit(store, engine, startTransaction(snapshot).addFiles(more), { now: NOW });
    let current = await loadSnapshot(store, engine);
    current = await markDeleted(store, current, file, [0n, 4n]);
    const other = current.files.find((f) => f.path !== file.path) as AddFile;
    current = await markDeleted(store, current, other, [1n], 1000);
    expect(current.files.map((f) => f.deletionVector?.storageType).sort()).toEqual(['i', 'u']);
    const expected = await pks(store, current);
    expect(expected).toEqual(['b', 'c', 'd', 'f']);

    await writeCheckpoint(store, engine, current, { now: NOW });
    // Only the checkpoint: the commits it covers are gone, so nothing else can supply the vectors.
    const folder = await workspace.folder('dv-checkpoint');
    await cp(store.rootDir, folder, { recursive: true });
    for (let version = 0; version <= current.version; version++) {
      await rm(path.join(folder, '_delta_log', `${String(version).padStart(20, '0')}.json`));
    }
    const copy = new LocalFolderStore(folder);
    const fromCheckpoint = await loadSnapshot(copy, engine);
    expect(fromCheckpoint.checkpointVersion).toBe(current.version);
    expect(fromCheckpoint.files).toEqual(current.files);
    expect(fromCheckpoint.tombstones.map(logicalFileKey).sort()).toEqual(
      current.tombstones.map(logicalFileKey).sort(),
    );
    expect(await pks(copy, fromCheckpoint)).toEqual(expected);

    // A reader's load leaves the checkpoint's removes out and keeps everything else.
    expect(fromCheckpoint.tombstones.length).toBeGreaterThan(0);
    const { tombstones: _tombstones, ...withoutTombstones } = fromCheckpoint;
    const forReading = await loadReadSnapshot(copy, engine);
    expect(forReading).toEqual(withoutTombstones);
    expect('tombstones' in forReading).toBe(false);
    expect(
      (await readSnapshotRows(await workspace.session(), copy, forReading, { orderBy: ['pk'] })).map(
        (row) => row.pk,
      ),
    ).toEqual(expected);
  });
});

describe("Spark's table with deletion vectors (table-with-dv-small)", () => {
  it("ddb-lake adds rows to its vector: the new vector holds Spark's rows and ours, and Spark's stays a tombstone", async () => {
    const store = await workspace.fixtureCopy('table-with-dv-small');
    const engine = await workspace.engine();
    const snapshot = await loadSnapshot(store, engine);
    const file = snapshot.files[0] as AddFile;
    const values = async (s: Snapshot) =>
      (await readSnapshotRows(await workspace.session(), store, s, { orderBy: ['value'] })).map((row) =>
        Number(row.value),
      );
    expect(await values(snapshot)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const deletionVector = await extendDeletionVector(store, file, [5n]);
    expect(await readDeletionVector(store, store.url, deletionVector)).toEqual([0n, 5n, 9n]);
    // Rows already deleted add nothing: the file keeps its vector, and nothing is written.
    expect(await extendDeletionVector(store, file, [0n, 9n])).toBe(file.deletionVector);
    await expect(extendDeletionVector(store, file, [10n])).rejects.toThrow(
      /holds 10 rows, so it has no row 10/,
    );
    await commit(store, engine, startTransaction(snapshot).updateDeletionVectors([{ file, deletionVector }]));
    const next = await loadSnapshot(store, engine);
    expect(await values(next)).toEqual([1, 2, 3, 4, 6, 7, 8]);
    expect(
      next.tombstones.some((t) => t.deletionVector?.pathOrInlineDv === file.deletionVector?.pathOrInlineDv),
    ).toBe(true);
  });
});

describe('unionRowIndexes', () => {
  it('merges two ascending lists into one, each row once', () => {
    expect(unionRowIndexes([1n, 4n, 9n], [0n, 4n, 5n, 2n ** 40n])).toEqual([0n, 1n, 4n, 5n, 9n, 2n ** 40n]);
    expect(unionRowIndexes([], [3n])).toEqual([3n]);
    expect(unionRowIndexes([3n], [])).toEqual([3n]);
  });
});

describe('statsWithWideBounds', () => {
  it('sets the top-level tightBounds to false, adds it when absent, and leaves a column named tightBounds alone', () => {
    expect(statsWithWideBounds('{"numRecords":3,"tightBounds":true}', 'f')).toBe(
      '{"numRecords":3,"tightBounds":false}',
    );
    expect(statsWithWideBounds('{"numRecords":3}', 'f')).toBe('{"numRecords":3,"tightBounds":false}');
    const nested =
      '{"numRecords":3,"minValues":{"tightBounds":"x\\"}","n":0.1000000000000000000000000000000000001},"maxValues":{"tightBounds":"y"},"nullCount":{"tightBounds":0}}';
    const widened = statsWithWideBounds(nested, 'f');
    expect(widened).toBe(`${nested.slice(0, -1)},"tightBounds":false}`);
    expect(widened).toContain('0.1000000000000000000000000000000000001');
    expect(() => statsWithWideBounds('{"minValues":{}}', 'part-1.parquet')).toThrow(
      /part-1\.parquet has no numRecords/,
    );
    expect(() => statsWithWideBounds(undefined, 'f')).toThrow(DeltaInvalidWriteError);
  });
});
