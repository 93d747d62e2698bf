import { rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { dataFileKey } from '../../src/delta/data-path.ts';
import { DeltaLogCorruptError } from '../../src/delta/errors.ts';
import { DataFileReadError } from '../../src/duckdb/errors.ts';
import { readLakeRows } from '../../src/duckdb/lake-rows.ts';
import { DuckSession, quoteLiteral } from '../../src/duckdb/session.ts';
import { createSnapshotView, readSnapshotRows } from '../../src/duckdb/table-scan.ts';
import { LocalFolderStore } from '../../src/storage/local-folder-store.ts';
import { TempFolders } from '../storage/helpers.ts';
import {
  BINARY,
  BOOLEAN,
  DATE,
  decimal,
  INTEGER,
  LONG,
  ORDER_ROWS,
  ORDERS,
  STRING,
  schemaOf,
  snapshotOf,
  TIMESTAMP,
  tableHeader,
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

describe('reading a snapshot through DuckDB', () => {
  test('a table of every lake type, written as data files, reads back exactly (38-digit decimals included)', async () => {
    const store = await newTable();
    const eu = await writeRows(session, store, ORDERS, ORDER_ROWS.slice(0, 2), { region: 'eu' });
    const none = await writeRows(session, store, ORDERS, ORDER_ROWS.slice(2), { region: null });
    await writeCommit(store, 0, [
      ...tableHeader(ORDERS, ['region']),
      ...[...eu, ...none].map((add) => ({ add })),
    ]);
    const expected = [
      { ...ORDER_ROWS[0], region: 'eu' },
      { ...ORDER_ROWS[1], region: 'eu' },
      { ...ORDER_ROWS[2], region: null },
    ];
    const snapshot = await snapshotOf(session, store);
    await createSnapshotView(session, store, snapshot, 'orders_exact');
    expect(await readLakeRows(session, 'SELECT * FROM orders_exact ORDER BY pk')).toEqual(expected);
    expect(await readSnapshotRows(session, store, snapshot, { orderBy: ['pk'] })).toEqual(expected);
  });

  test('the view has the logical columns and the DuckDB types of the table schema', async () => {
    const store = await newTable();
    const adds = await writeRows(session, store, ORDERS, ORDER_ROWS, { region: 'eu' });
    await writeCommit(store, 0, [...tableHeader(ORDERS, ['region']), ...adds.map((add) => ({ add }))]);
    await createSnapshotView(session, store, await snapshotOf(session, store), 'orders_view');
    const described = await readLakeRows(
      session,
      'SELECT column_name, column_type FROM (DESCRIBE orders_view)',
    );
    expect(described.map((row) => row.column_name)).toEqual(ORDERS.fields.map((field) => field.name));
    expect(described.map((row) => row.column_type)).toEqual([
      'VARCHAR',
      'BIGINT',
      'DECIMAL(38,10)',
      'DECIMAL(38,0)',
      'DECIMAL(38,38)',
      'BLOB',
      'BOOLEAN',
      'TIMESTAMP WITH TIME ZONE',
      'VARCHAR[]',
      'DECIMAL(38,2)[]',
      'BLOB[]',
      'VARCHAR',
    ]);
  });

  test('1.0000000001 stays exact when one file is decimal(38,0) and a later one decimal(38,10)', async () => {
    const store = await newTable();
    const before = schemaOf([
      ['id', LONG],
      ['amount', decimal(38, 0)],
    ]);
    const after = schemaOf([
      ['id', LONG],
      ['amount', decimal(38, 10)],
    ]);
    const first = await writeRows(session, store, before, [
      { id: 1n, amount: '1' },
      { id: 2n, amount: '12345678901234567890123456' },
    ]);
    await writeCommit(store, 0, [...tableHeader(before), ...first.map((add) => ({ add }))]);
    const second = await writeRows(session, store, after, [
      { id: 3n, amount: '1.0000000001' },
      { id: 4n, amount: '-0.0000000001' },
    ]);
    const [, metaData] = tableHeader(after);
    await writeCommit(store, 1, [metaData as never, ...second.map((add) => ({ add }))]);
    const files = [...first, ...second].map((add) =>
      path.join(store.rootDir, dataFileKey(add.path, store.url)),
    );
    const types = await readLakeRows(
      session,
      `SELECT DISTINCT CAST(type AS VARCHAR) AS t FROM (SELECT typeof(amount) AS type FROM read_parquet(${quoteLiteral(files[0] as string)}) UNION ALL SELECT typeof(amount) FROM read_parquet(${quoteLiteral(files[1] as string)})) ORDER BY t`,
    );
    expect(types.map((row) => row.t)).toEqual(['DECIMAL(38,0)', 'DECIMAL(38,10)']);
    const rows = await readSnapshotRows(session, store, await snapshotOf(session, store), {
      orderBy: ['id'],
    });
    expect(rows).toEqual([
      { id: 1n, amount: '1.0000000000' },
      { id: 2n, amount: '12345678901234567890123456.0000000000' },
      { id: 3n, amount: '1.0000000001' },
      { id: 4n, amount: '-0.0000000001' },
    ]);
  });

  test('a column added by a later metaData is NULL in the files written before it', async () => {
    const store = await newTable();
    const before = schemaOf([['pk', STRING]]);
    const after = schemaOf([
      ['pk', STRING],
      ['color', STRING],
      ['n', LONG],
    ]);
    const old = await writeRows(session, store, before, [{ pk: 'old' }]);
    await writeCommit(store, 0, [...tableHeader(before), ...old.map((add) => ({ add }))]);
    const fresh = await writeRows(session, store, after, [{ pk: 'new', color: 'red', n: 5n }]);
    const [, metaData] = tableHeader(after);
    await writeCommit(store, 1, [metaData as never, ...fresh.map((add) => ({ add }))]);
    const rows = await readSnapshotRows(session, store, await snapshotOf(session, store), {
      orderBy: ['pk'],
    });
    expect(rows).toEqual([
      { pk: 'new', color: 'red', n: 5n },
      { pk: 'old', color: null, n: null },
    ]);
  });

  test('partition values of every serialized form become typed values, empty and null as NULL', async () => {
    const store = await newTable();
    const schema = schemaOf([
      ['v', STRING],
      ['p_long', LONG],
      ['p_int', INTEGER],
      ['p_dec', decimal(38, 2)],
      ['p_date', DATE],
      ['p_ts', TIMESTAMP],
      ['p_bool', BOOLEAN],
      ['p_str', STRING],
      ['p_bin', BINARY],
    ]);
    const partitionColumns = ['p_long', 'p_int', 'p_dec', 'p_date', 'p_ts', 'p_bool', 'p_str', 'p_bin'];
    const one = await writeRows(session, store, schema, [{ v: 'one' }], {
      p_long: '-9223372036854775808',
      p_int: '42',
      p_dec: '-123456789012345678901234567890123456.78',
      p_date: '2026-11-23',
      p_ts: '2026-11-23 01:02:03.123456',
      p_bool: 'true',
      p_str: 'a=b/c d',
      p_bin: '\u0001\u0002\u0000',
    });
    const two = await writeRows(session, store, schema, [{ v: 'two' }], {
      p_long: null,
      p_int: '',
      p_dec: null,
      p_date: null,
      p_ts: '1970-01-01T00:00:00.000001Z',
      p_bool: 'false',
      p_str: '',
      p_bin: null,
    });
    await writeCommit(store, 0, [
      ...tableHeader(schema, partitionColumns),
      ...[...one, ...two].map((add) => ({ add })),
    ]);
    const rows = await readSnapshotRows(session, store, await snapshotOf(session, store), { orderBy: ['v'] });
    expect(rows).toEqual([
      {
        v: 'one',
        p_long: -9223372036854775808n,
        p_int: 42,
        p_dec: '-123456789012345678901234567890123456.78',
        p_date: '2026-11-23',
        p_ts: '2026-11-23T01:02:03.123456Z',
        p_bool: true,
        p_str: 'a=b/c d',
        p_bin: new Uint8Array([1, 2, 0]),
      },
      {
        v: 'two',
        p_long: null,
        p_int: null,
        p_dec: null,
        p_date: null,
        p_ts: '1970-01-01T00:00:00.000001Z',
        p_bool: false,
        p_str: null,
        p_bin: null,
      },
    ]);
  });

  test('a partition value that is not of its column type is refused as a corrupt log', async () => {
    const store = await newTable();
    const schema = schemaOf([
      ['v', STRING],
      ['p', decimal(38, 2)],
    ]);
    const adds = await writeRows(session, store, schema, [{ v: 'x' }], { p: '1.234' });
    await writeCommit(store, 0, [...tableHeader(schema, ['p']), ...adds.map((add) => ({ add }))]);
    const error = await readSnapshotRows(session, store, await snapshotOf(session, store)).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DeltaLogCorruptError);
    expect((error as Error).message).toContain('"1.234"');
  });

  test('a table with no active file is an empty view with the table columns', async () => {
    const store = await newTable();
    await writeCommit(store, 0, tableHeader(ORDERS, ['region']));
    const snapshot = await snapshotOf(session, store);
    await createSnapshotView(session, store, snapshot, 'empty_view');
    const described = await readLakeRows(session, 'SELECT column_name FROM (DESCRIBE empty_view)');
    expect(described.map((row) => row.column_name)).toEqual(ORDERS.fields.map((field) => field.name));
    expect(await readSnapshotRows(session, store, snapshot)).toEqual([]);
  });

  test('a data file missing from the folder fails naming the file', async () => {
    const store = await newTable();
    const schema = schemaOf([['v', STRING]]);
    const adds = await writeRows(session, store, schema, [{ v: 'x' }]);
    await writeCommit(store, 0, [...tableHeader(schema), ...adds.map((add) => ({ add }))]);
    const key = dataFileKey(adds[0]?.path ?? '', store.url);
    await rm(path.join(store.rootDir, key));
    const error = await readSnapshotRows(session, store, await snapshotOf(session, store)).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DataFileReadError);
    expect((error as Error).message).toContain(key);
  });
});
