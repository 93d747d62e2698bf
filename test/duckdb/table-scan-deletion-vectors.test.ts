import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Action, AddFile } from '../../src/delta/actions.ts';
import { dataFileKey } from '../../src/delta/data-path.ts';
import { deletionVectorUpdate } from '../../src/delta/deletion-vector-update.ts';
import { writeDeletionVector } from '../../src/delta/deletion-vector-write.ts';
import { type StructType, serializeSchema } from '../../src/delta/schema.ts';
import { DataFileReadError } from '../../src/duckdb/errors.ts';
import { readLakeRows } from '../../src/duckdb/lake-rows.ts';
import type { LakeRow } from '../../src/duckdb/lake-value.ts';
import { DuckSession, quoteLiteral } from '../../src/duckdb/session.ts';
import { readSnapshotRows } from '../../src/duckdb/table-scan.ts';
import { LocalFolderStore } from '../../src/storage/local-folder-store.ts';
import { TempFolders } from '../storage/helpers.ts';
import { decimal, LONG, STRING, schemaOf, snapshotOf, writeCommit, writeRows } from './support.ts';

/*
 * Tables whose files carry deletion vectors, read through the snapshot view: many files in several
 * groups (Parquet schemas × partitions) read with one anti join per group, checked against each
 * file read on its own with its vector applied by row number.
 */

const folders = new TempFolders();
let session: DuckSession;

beforeAll(async () => {
  session = await DuckSession.open({ threads: 2 });
});

afterAll(async () => {
  await session.close();
  await folders.removeAll();
});

const NOW = Date.UTC(2026, 0, 15);

function dvHeader(schema: StructType, partitionColumns: readonly string[]): Action[] {
  return [
    {
      protocol: {
        minReaderVersion: 3,
        minWriterVersion: 7,
        readerFeatures: ['deletionVectors'],
        writerFeatures: ['deletionVectors'],
      },
    },
    metaDataOf(schema, partitionColumns),
  ];
}

function metaDataOf(schema: StructType, partitionColumns: readonly string[]): Action {
  return {
    metaData: {
      id: '9f1f3c0e-6c1b-4d7e-8a4f-2b8f6f0e5d21',
      format: { provider: 'parquet', options: {} },
      schemaString: serializeSchema(schema),
      partitionColumns: [...partitionColumns],
      createdTime: NOW,
      configuration: { 'delta.enableDeletionVectors': 'true' },
    },
  };
}

/** The `pk` at each row position of a data file, as DuckDB numbers them. */
async function pksByRow(store: LocalFolderStore, add: AddFile): Promise<string[]> {
  const local = path.join(store.rootDir, dataFileKey(add.path, store.url));
  const rows = await readLakeRows(
    session,
    `SELECT pk FROM read_parquet(${quoteLiteral(local)}, file_row_number = true) ORDER BY file_row_number`,
  );
  return rows.map((row) => row.pk as string);
}

/**
 * Gives `add` a deletion vector of the rows whose pk is in `deleted` (written as a file unless
 * `inline`); returns the remove and add actions that commit it.
 */
async function markDeleted(
  store: LocalFolderStore,
  add: AddFile,
  deleted: ReadonlySet<string>,
  inline: boolean,
): Promise<Action[]> {
  const pks = await pksByRow(store, add);
  const rows = pks.flatMap((pk, index) => (deleted.has(pk) ? [BigInt(index)] : []));
  const vector = await writeDeletionVector(store, rows, inline ? {} : { inlineMaxBytes: 0 });
  const update = deletionVectorUpdate(add, vector, { deletionTimestamp: NOW });
  return [{ remove: update.remove }, { add: update.add }];
}

const byPk = (a: LakeRow, b: LakeRow) => ((a.pk as string) < (b.pk as string) ? -1 : 1);

describe('reading tables whose files carry deletion vectors', () => {
  test('many files with vectors, in two Parquet schemas and two partitions, read exactly the rows their vectors leave', async () => {
    const store = new LocalFolderStore(await folders.make('scan-dvs'));
    const before = schemaOf([
      ['pk', STRING],
      ['n', LONG],
      ['amount', decimal(10, 0)],
      ['region', STRING],
    ]);
    const after = schemaOf([
      ['pk', STRING],
      ['n', LONG],
      ['amount', decimal(20, 4)],
      ['region', STRING],
      ['note', STRING],
    ]);
    const expected: LakeRow[] = [];
    const deleted = new Set<string>();
    const files: AddFile[] = [];
    const write = async (schema: StructType, region: string, file: number, withNote: boolean) => {
      const rows: LakeRow[] = Array.from({ length: 12 }, (_, i) => ({
        pk: `${region}-${withNote ? 'new' : 'old'}-${file}-${String(i).padStart(2, '0')}`,
        n: BigInt(file * 100 + i),
        amount: withNote ? `${i}.0001` : String(i),
        ...(withNote ? { note: `note ${i}` } : {}),
      }));
      // Every third row of every file but the first of each group is deleted.
      for (const [i, row] of rows.entries()) {
        if (file > 0 && i % 3 === file % 3) deleted.add(row.pk as string);
        else
          expected.push({
            ...row,
            amount: withNote ? `${i}.0001` : `${i}.0000`,
            region,
            note: withNote ? `note ${i}` : null,
          });
      }
      files.push(...(await writeRows(session, store, schema, rows, { region })));
    };
    for (const region of ['eu', 'us'])
      for (let file = 0; file < 4; file++) await write(before, region, file, false);
    const oldFiles = files.length;
    for (const region of ['eu', 'us'])
      for (let file = 0; file < 4; file++) await write(after, region, file, true);
    await writeCommit(store, 0, [
      ...dvHeader(before, ['region']),
      ...files.slice(0, oldFiles).map((add) => ({ add })),
    ]);
    await writeCommit(store, 1, [
      metaDataOf(after, ['region']),
      ...files.slice(oldFiles).map((add) => ({ add })),
    ]);
    const marks: Action[] = [];
    for (const [index, add] of files.entries()) {
      const pks = await pksByRow(store, add);
      if (!pks.some((pk) => deleted.has(pk))) continue;
      marks.push(...(await markDeleted(store, add, deleted, index % 2 === 0)));
    }
    await writeCommit(store, 2, marks);

    const snapshot = await snapshotOf(session, store);
    expect(snapshot.files.filter((add) => add.deletionVector)).toHaveLength(12);
    const rows = await readSnapshotRows(session, store, snapshot, { orderBy: ['pk'] });
    expect(rows).toEqual([...expected].sort(byPk));
    expect(rows.some((row) => deleted.has(row.pk as string))).toBe(false);
  });

  test('a column of the files named file_index is read as data, and the vectors still leave out their own rows', async () => {
    const store = new LocalFolderStore(await folders.make('scan-file-index'));
    const schema = schemaOf([
      ['pk', STRING],
      ['FILE_INDEX', LONG],
    ]);
    // Every row of every file holds 0 in its file_index column: read as DuckDB's file index, the
    // vector of the first file would leave out rows of the second.
    const first = await writeRows(session, store, schema, [
      { pk: 'a0', FILE_INDEX: 0n },
      { pk: 'a1', FILE_INDEX: 0n },
      { pk: 'a2', FILE_INDEX: 0n },
    ]);
    const second = await writeRows(session, store, schema, [
      { pk: 'b0', FILE_INDEX: 0n },
      { pk: 'b1', FILE_INDEX: 0n },
      { pk: 'b2', FILE_INDEX: 0n },
    ]);
    const adds = [...first, ...second];
    await writeCommit(store, 0, [...dvHeader(schema, []), ...adds.map((add) => ({ add }))]);
    await writeCommit(store, 1, [
      ...(await markDeleted(store, first[0] as AddFile, new Set(['a1']), true)),
      ...(await markDeleted(store, second[0] as AddFile, new Set(['b0', 'b2']), false)),
    ]);
    const rows = await readSnapshotRows(session, store, await snapshotOf(session, store), {
      orderBy: ['pk'],
    });
    expect(rows).toEqual([
      { pk: 'a0', FILE_INDEX: 0n },
      { pk: 'a2', FILE_INDEX: 0n },
      { pk: 'b1', FILE_INDEX: 0n },
    ]);
  });

  test('a file with a column named file_row_number is read while it has no vector, and refused, naming it, once it has one', async () => {
    const store = new LocalFolderStore(await folders.make('scan-file-row-number'));
    const schema = schemaOf([
      ['pk', STRING],
      ['File_Row_Number', LONG],
    ]);
    const [add] = await writeRows(session, store, schema, [
      { pk: 'a0', File_Row_Number: 7n },
      { pk: 'a1', File_Row_Number: 8n },
    ]);
    const file = add as AddFile;
    await writeCommit(store, 0, [...dvHeader(schema, []), { add: file }]);
    expect(
      await readSnapshotRows(session, store, await snapshotOf(session, store), { orderBy: ['pk'] }),
    ).toEqual([
      { pk: 'a0', File_Row_Number: 7n },
      { pk: 'a1', File_Row_Number: 8n },
    ]);

    // DuckDB gives no row positions for such a file, so its vector cannot be applied.
    const update = deletionVectorUpdate(file, await writeDeletionVector(store, [0n]), {
      deletionTimestamp: NOW,
    });
    await writeCommit(store, 1, [{ remove: update.remove }, { add: update.add }]);
    const refused = await readSnapshotRows(session, store, await snapshotOf(session, store)).catch(
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(DataFileReadError);
    expect((refused as DataFileReadError).path).toBe(dataFileKey(file.path, store.url));
    expect((refused as Error).message).toMatch(
      /has a deletion vector and a column named "file_row_number".*REORG TABLE/,
    );
  });
});
