import { cp } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DeltaUnsupportedFeatureError } from '../../src/delta/errors.ts';
import { type StructType, serializeSchema } from '../../src/delta/schema.ts';
import { readLakeRows } from '../../src/duckdb/lake-rows.ts';
import { DuckSession, quoteLiteral } from '../../src/duckdb/session.ts';
import { readSnapshotRows } from '../../src/duckdb/table-scan.ts';
import { LocalFolderStore } from '../../src/storage/local-folder-store.ts';
import { TempFolders } from '../storage/helpers.ts';
import {
  DELTA_FIXTURES,
  INTEGER,
  LONG,
  STRING,
  schemaOf,
  snapshotOf,
  writeCommit,
  writeRows,
} from './support.ts';

const folders = new TempFolders();
let session: DuckSession;

beforeAll(async () => {
  session = await DuckSession.open({ threads: 2 });
});

afterAll(async () => {
  await session.close();
  await folders.removeAll();
});

async function newTable(): Promise<LocalFolderStore> {
  return new LocalFolderStore(await folders.make('scan'));
}

describe('reader features applied by the snapshot view', () => {
  test('column mapping by name reads files by physical names, nested struct fields included', async () => {
    const store = await newTable();
    const mapped = (name: string, physical: string, id: number) => ({
      'delta.columnMapping.id': id,
      'delta.columnMapping.physicalName': physical,
      _name: name,
    });
    const schema: StructType = {
      type: 'struct',
      fields: [
        { name: 'Order Id', type: STRING, nullable: true, metadata: mapped('Order Id', 'col-a', 1) },
        {
          name: 'info',
          type: {
            type: 'struct',
            fields: [
              { name: 'title', type: STRING, nullable: true, metadata: mapped('title', 'col-c', 3) },
              {
                name: 'added later',
                type: LONG,
                nullable: true,
                metadata: mapped('added later', 'col-d', 4),
              },
            ],
          },
          nullable: true,
          metadata: mapped('info', 'col-b', 2),
        },
        { name: 'region', type: STRING, nullable: true, metadata: mapped('region', 'col-e', 5) },
      ],
    };
    await session.run(
      `COPY (SELECT * FROM (VALUES ('o1', {'col-c': 'first'}), ('o2', NULL)) t("col-a", "col-b"))
       TO ${quoteLiteral(path.join(store.rootDir, 'part-mapped.parquet'))} (FORMAT parquet)`,
    );
    await writeCommit(store, 0, [
      { protocol: { minReaderVersion: 2, minWriterVersion: 5 } },
      {
        metaData: {
          id: 'a0c3c39e-4f37-4cfd-9d5e-6a3cf0e4f3c1',
          format: { provider: 'parquet', options: {} },
          schemaString: serializeSchema(schema),
          partitionColumns: ['region'],
          configuration: { 'delta.columnMapping.mode': 'name', 'delta.columnMapping.maxColumnId': '5' },
        },
      },
      {
        add: {
          path: 'part-mapped.parquet',
          partitionValues: { 'col-e': 'eu' },
          size: 1,
          modificationTime: 1,
          dataChange: true,
        },
      },
    ]);
    const rows = await readSnapshotRows(session, store, await snapshotOf(session, store), {
      orderBy: ['Order Id'],
    });
    expect(rows).toEqual([
      { 'Order Id': 'o1', info: { title: 'first', 'added later': null }, region: 'eu' },
      { 'Order Id': 'o2', info: null, region: 'eu' },
    ]);
  });

  test('rows named by a deletion vector are not returned; the version before the DELETE has them all', async () => {
    const store = new LocalFolderStore(path.join(DELTA_FIXTURES, 'table-with-dv-small'));
    const after = await readSnapshotRows(session, store, await snapshotOf(session, store), {
      orderBy: ['value'],
    });
    expect(after.map((row) => row.value)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const before = await readSnapshotRows(session, store, await snapshotOf(session, store, 0), {
      orderBy: ['value'],
    });
    expect(before.map((row) => row.value)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  test('a file with a deletion vector and files without one are read together, each correctly', async () => {
    const dir = await folders.make('scan-dv');
    await cp(path.join(DELTA_FIXTURES, 'table-with-dv-small'), dir, { recursive: true });
    const store = new LocalFolderStore(dir);
    const schema = schemaOf([['value', INTEGER]]);
    const more = await writeRows(session, store, schema, [{ value: 100 }, { value: 0 }]);
    await writeCommit(
      store,
      2,
      more.map((add) => ({ add })),
    );
    const rows = await readSnapshotRows(session, store, await snapshotOf(session, store), {
      orderBy: ['value'],
    });
    expect(rows.map((row) => row.value)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 100]);
    const leftovers = await readLakeRows(
      session,
      "SELECT table_name FROM duckdb_tables() WHERE table_name LIKE '__ddb_lake_deleted_rows_%'",
    );
    expect(leftovers).toEqual([]);
  });

  test('column mapping by id is refused naming the feature, not read by name', async () => {
    const store = await newTable();
    const schema: StructType = {
      type: 'struct',
      fields: [
        {
          name: 'v',
          type: STRING,
          nullable: true,
          metadata: { 'delta.columnMapping.id': 1, 'delta.columnMapping.physicalName': 'col-v' },
        },
      ],
    };
    await writeCommit(store, 0, [
      { protocol: { minReaderVersion: 2, minWriterVersion: 5 } },
      {
        metaData: {
          id: '9f1d3f1e-7a4b-4b8e-a0a8-2b8c8b7f1c11',
          format: { provider: 'parquet', options: {} },
          schemaString: serializeSchema(schema),
          partitionColumns: [],
          configuration: { 'delta.columnMapping.mode': 'id' },
        },
      },
    ]);
    const error = await readSnapshotRows(session, store, await snapshotOf(session, store)).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DeltaUnsupportedFeatureError);
    expect((error as DeltaUnsupportedFeatureError).feature).toBe('columnMapping');
  });
});
