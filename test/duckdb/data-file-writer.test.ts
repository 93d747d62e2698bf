import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { dataFileKey } from '../../src/delta/data-path.ts';
import { DeltaInvalidWriteError, DeltaUnsupportedFeatureError } from '../../src/delta/errors.ts';
import { writeDataFiles, writePartitionedDataFiles } from '../../src/duckdb/data-file-writer.ts';
import { loadLakeRows, readLakeRows } from '../../src/duckdb/lake-rows.ts';
import { DuckDbError, DuckSession, quoteLiteral } from '../../src/duckdb/session.ts';
import { LocalFolderStore } from '../../src/storage/local-folder-store.ts';
import { filesBelow, TempFolders } from '../storage/helpers.ts';
import { arrayOf, BINARY, decimal, LONG, pageTypeAt, STRING, schemaOf, TIMESTAMP } from './support.ts';

const folders = new TempFolders();
let session: DuckSession;

beforeAll(async () => {
  session = await DuckSession.open({ threads: 2 });
});

afterAll(async () => {
  await session.close();
  await folders.removeAll();
});

const SCHEMA = schemaOf([
  ['id', LONG],
  ['price', decimal(38, 10)],
  ['at', TIMESTAMP],
  ['name', STRING],
  ['raw', BINARY],
  ['tags', arrayOf(STRING)],
  ['region', STRING],
]);

async function newStore(): Promise<LocalFolderStore> {
  return new LocalFolderStore(await folders.make('data-files'));
}

async function loadOrders(rows: number): Promise<void> {
  await loadLakeRows(
    session,
    'orders',
    SCHEMA,
    Array.from({ length: rows }, (_, i) => ({
      id: BigInt(i),
      price: `${i}.0000000001`,
      at: '2026-11-23T00:00:00.123456Z',
      name: `order ${i}`,
      raw: new Uint8Array([i % 256, 0]),
      tags: ['a', null],
      region: 'eu',
    })),
  );
}

function localPath(store: LocalFolderStore, addPath: string): string {
  return path.join(store.rootDir, dataFileKey(addPath, store.url));
}

describe('writeDataFiles', () => {
  test('a data file has the Parquet schema Spark requires: DECIMAL(38,s), TIMESTAMP adjusted to UTC in micros', async () => {
    const store = await newStore();
    await loadOrders(3);
    const [add] = await writeDataFiles(session, store, {
      source: 'orders',
      schema: SCHEMA,
      partitionValues: { region: 'eu' },
    });
    if (add === undefined) throw new Error('no file');
    const schema = await readLakeRows(
      session,
      `SELECT name, type, converted_type, CAST(scale AS VARCHAR) AS scale, CAST(precision AS VARCHAR) AS precision, logical_type
       FROM parquet_schema(${quoteLiteral(localPath(store, add.path))}) WHERE name IN ('id', 'price', 'at', 'name', 'raw')`,
    );
    const byName = new Map(schema.map((row) => [row.name, row]));
    expect(byName.get('price')).toMatchObject({
      type: 'FIXED_LEN_BYTE_ARRAY',
      converted_type: 'DECIMAL',
      scale: '10',
      precision: '38',
    });
    expect(byName.get('at')).toMatchObject({ type: 'INT64', converted_type: 'TIMESTAMP_MICROS' });
    expect(String(byName.get('at')?.logical_type)).toMatch(/isAdjustedToUTC=1.*MICROS=MicroSeconds/);
    expect(byName.get('id')).toMatchObject({ type: 'INT64' });
    expect(byName.get('name')).toMatchObject({ type: 'BYTE_ARRAY', converted_type: 'UTF8' });
    expect(byName.get('raw')).toMatchObject({ type: 'BYTE_ARRAY', converted_type: null });
    expect(byName.has('region')).toBe(false);
  });

  test('every column chunk is zstd-compressed, with V1 data pages and only Parquet 1.0 encodings', async () => {
    const store = await newStore();
    await loadOrders(5000);
    const [add] = await writeDataFiles(session, store, {
      source: 'orders',
      schema: SCHEMA,
      partitionValues: { region: 'eu' },
    });
    if (add === undefined) throw new Error('no file');
    const file = localPath(store, add.path);
    const chunks = await readLakeRows(
      session,
      `SELECT path_in_schema, compression, encodings, data_page_offset FROM parquet_metadata(${quoteLiteral(file)})`,
    );
    expect(chunks.length).toBeGreaterThanOrEqual(6);
    const v1Encodings = new Set(['PLAIN', 'PLAIN_DICTIONARY', 'RLE', 'BIT_PACKED']);
    for (const chunk of chunks) {
      expect(chunk.compression, String(chunk.path_in_schema)).toBe('ZSTD');
      for (const encoding of String(chunk.encodings).split(', ')) {
        expect(v1Encodings, `${chunk.path_in_schema}: ${encoding}`).toContain(encoding);
      }
      expect(await pageTypeAt(file, Number(chunk.data_page_offset)), String(chunk.path_in_schema)).toBe(0);
    }
  });

  test('files are named part-<uuid>.zstd.parquet under the Hive partition folder and the add describes them', async () => {
    const store = await newStore();
    await loadOrders(4);
    const before = Date.now();
    const adds = await writeDataFiles(session, store, {
      source: 'SELECT * FROM orders',
      schema: SCHEMA,
      partitionValues: { region: 'eu/west' },
    });
    expect(adds).toHaveLength(1);
    const add = adds[0];
    if (add === undefined) throw new Error('no file');
    const key = dataFileKey(add.path, store.url);
    expect(key).toMatch(
      /^region=eu%2Fwest\/part-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\.zstd\.parquet$/,
    );
    expect(add.partitionValues).toEqual({ region: 'eu/west' });
    expect(add.dataChange).toBe(true);
    expect(add.size).toBe((await stat(localPath(store, add.path))).size);
    expect(add.modificationTime).toBeGreaterThanOrEqual(before);
    expect(add.modificationTime).toBeLessThanOrEqual(Date.now());
    expect(JSON.parse(add.stats ?? '{}').numRecords).toBe(4);
    expect(await filesBelow(store.rootDir)).toEqual([key]);
  });

  test('the scratch folder holds no file once the data files are uploaded', async () => {
    const store = await newStore();
    await loadOrders(10);
    await writeDataFiles(session, store, {
      source: 'orders',
      schema: SCHEMA,
      maxRowsPerFile: 3,
      partitionValues: { region: 'eu' },
    });
    const left = (await readdir(session.scratchDir)).filter((name) => name.endsWith('.parquet'));
    expect(left).toEqual([]);
  });

  test('maxRowsPerFile splits the rows into files of at most that many rows, each row once', async () => {
    const store = await newStore();
    await loadOrders(10);
    const adds = await writeDataFiles(session, store, {
      source: 'orders',
      schema: SCHEMA,
      maxRowsPerFile: 3,
      partitionValues: { region: 'eu' },
    });
    expect(adds.map((add) => JSON.parse(add.stats ?? '{}').numRecords)).toEqual([3, 3, 3, 1]);
    const list = adds.map((add) => quoteLiteral(localPath(store, add.path))).join(', ');
    const ids = await readLakeRows(session, `SELECT id FROM read_parquet([${list}]) ORDER BY id`);
    expect(ids.map((row) => row.id)).toEqual(Array.from({ length: 10 }, (_, i) => BigInt(i)));
    expect(new Set(adds.map((add) => add.path)).size).toBe(4);
  });

  test('an empty source writes no file and returns no add', async () => {
    const store = await newStore();
    await loadOrders(0);
    expect(
      await writeDataFiles(session, store, {
        source: 'orders',
        schema: SCHEMA,
        partitionValues: { region: 'eu' },
      }),
    ).toEqual([]);
    expect(await filesBelow(store.rootDir)).toEqual([]);
  });

  test('a null partition value goes in the __HIVE_DEFAULT_PARTITION__ folder and stays null in the add', async () => {
    const store = await newStore();
    await loadOrders(1);
    const [add] = await writeDataFiles(session, store, {
      source: 'orders',
      schema: SCHEMA,
      partitionValues: { region: null },
    });
    expect(dataFileKey(add?.path ?? '', store.url)).toMatch(/^region=__HIVE_DEFAULT_PARTITION__\/part-/);
    expect(add?.partitionValues).toEqual({ region: null });
  });

  test('a source that lacks a data column fails naming DuckDB’s reason and writes nothing', async () => {
    const store = await newStore();
    await session.run('CREATE OR REPLACE TABLE partial AS SELECT 1::BIGINT AS id');
    const error = await writeDataFiles(session, store, { source: 'partial', schema: SCHEMA }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DuckDbError);
    expect((error as Error).message).toContain('price');
    expect(await filesBelow(store.rootDir)).toEqual([]);
  });

  test('a partition value for a column the schema lacks is refused', async () => {
    const store = await newStore();
    await expect(
      writeDataFiles(session, store, {
        source: 'orders',
        schema: SCHEMA,
        partitionValues: { country: 'fr' },
      }),
    ).rejects.toBeInstanceOf(DeltaInvalidWriteError);
  });

  test('a schema with column-mapping physical names is refused for writing', async () => {
    const store = await newStore();
    const mapped = {
      type: 'struct' as const,
      fields: [
        { name: 'id', type: LONG, nullable: true, metadata: { 'delta.columnMapping.physicalName': 'col-1' } },
      ],
    };
    const error = await writeDataFiles(session, store, { source: 'orders', schema: mapped }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DeltaUnsupportedFeatureError);
    expect((error as DeltaUnsupportedFeatureError).feature).toBe('columnMapping');
  });
});

describe('writePartitionedDataFiles', () => {
  const BUCKETED = schemaOf([
    ['id', LONG],
    ['name', STRING],
    ['price', decimal(38, 10)],
    ['bucket', LONG],
  ]);

  test('writes one key-sorted file per partition value in one statement, with exact stats, and nothing for an empty source', async () => {
    const store = await newStore();
    // Rows whose name order differs from their insertion order, spread over five buckets.
    await session.run(
      `CREATE OR REPLACE TABLE bucketed AS SELECT i AS id, md5(CAST(i AS VARCHAR)) AS name, CAST(i AS DECIMAL(38,10)) + 0.0000000001 AS price, i % 5 AS bucket FROM range(5000) r(i)`,
    );
    const adds = await writePartitionedDataFiles(session, store, {
      source: 'bucketed',
      schema: BUCKETED,
      partitionColumn: 'bucket',
      orderBy: 'name',
    });
    expect(adds.map((add) => add.partitionValues)).toEqual(
      [0, 1, 2, 3, 4].map((b) => ({ bucket: String(b) })),
    );
    for (const add of adds) {
      const key = dataFileKey(add.path, store.url);
      expect(key.startsWith(`bucket=${add.partitionValues['bucket']}/part-`)).toBe(true);
      const file = localPath(store, add.path);
      expect((await stat(file)).size).toBe(add.size);
      const stats = JSON.parse(add.stats as string) as {
        numRecords: number;
        minValues: Record<string, unknown>;
        maxValues: Record<string, unknown>;
      };
      expect(stats.numRecords).toBe(1000);
      const reader = await session.all(
        `SELECT count(*) FILTER (WHERE name < previous), min(name), max(name), count(*) FROM (SELECT name, lag(name) OVER (ORDER BY file_row_number) AS previous FROM read_parquet(${quoteLiteral(file)}, file_row_number = true))`,
      );
      const [unsorted, min, max, rows] = reader.getRows()[0] as unknown[];
      expect(Number(unsorted)).toBe(0);
      expect(Number(rows)).toBe(1000);
      expect(stats.minValues['name']).toBe(min);
      expect(stats.maxValues['name']).toBe(max);
      // The partition column is in the log, not in the file.
      const columns = (
        await session.all(
          `SELECT * FROM read_parquet(${quoteLiteral(file)}, hive_partitioning = false) LIMIT 0`,
        )
      ).columnNames();
      expect(columns).toEqual(['id', 'name', 'price']);
    }
    const none = await writePartitionedDataFiles(session, store, {
      source: 'SELECT * FROM bucketed WHERE false',
      schema: BUCKETED,
      partitionColumn: 'bucket',
      orderBy: 'name',
    });
    expect(none).toEqual([]);
  });

  test('null counts of arrays counted in the source give the stats that reading the files back gives', async () => {
    const LISTED = schemaOf([
      ['id', LONG],
      ['tags', arrayOf(STRING)],
      ['scores', arrayOf(LONG)],
      ['bucket', LONG],
    ]);
    // Null lists, empty lists and lists of nulls, unevenly over three buckets (bucket 2 has no null list).
    await session.run(
      `CREATE OR REPLACE TABLE listed AS SELECT i AS id,
         CASE WHEN i % 4 = 0 THEN NULL WHEN i % 4 = 1 THEN [] WHEN i % 4 = 2 THEN [NULL, 'x'] ELSE ['y'] END AS tags,
         CASE WHEN i % 7 = 0 AND i % 3 <> 2 THEN NULL ELSE [i, NULL] END AS scores,
         i % 3 AS bucket FROM range(100) r(i)`,
    );
    const write = async (countNullsInSource: boolean) =>
      await writePartitionedDataFiles(session, await newStore(), {
        source: 'SELECT * FROM listed',
        schema: LISTED,
        partitionColumn: 'bucket',
        orderBy: 'id',
        countNullsInSource,
      });
    const counted = await write(true);
    const readBack = await write(false);
    expect(counted.map((add) => add.stats)).toEqual(readBack.map((add) => add.stats));
    const nullCounts = counted.map((add) => JSON.parse(add.stats as string).nullCount);
    expect(nullCounts[0]).toMatchObject({ tags: 9, scores: 5 });
    expect(nullCounts[2]).toMatchObject({ scores: 0 });
  });
});
