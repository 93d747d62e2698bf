import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { dataFileKey } from '../../src/delta/data-path.ts';
import { writeDataFiles } from '../../src/duckdb/data-file-writer.ts';
import { LakeValueError } from '../../src/duckdb/errors.ts';
import { type LakeRow, loadLakeRows, readLakeRows } from '../../src/duckdb/lake-rows.ts';
import { DuckDbError, DuckSession, quoteLiteral } from '../../src/duckdb/session.ts';
import { LocalFolderStore } from '../../src/storage/local-folder-store.ts';
import { TempFolders } from '../storage/helpers.ts';
import {
  arrayOf,
  BINARY,
  BOOLEAN,
  DATE,
  DOUBLE,
  decimal,
  INTEGER,
  LONG,
  STRING,
  schemaOf,
  TIMESTAMP,
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

/** Every lake type of DESIGN.md, plus the other primitive Delta types a table may hold. */
const LAKE_SCHEMA = schemaOf([
  ['s', STRING],
  ['n', LONG],
  ['d0', decimal(38, 0)],
  ['d10', decimal(38, 10)],
  ['d38', decimal(38, 38)],
  ['b', BINARY],
  ['ok', BOOLEAN],
  ['ts', TIMESTAMP],
  ['ss', arrayOf(STRING)],
  ['ns', arrayOf(decimal(38, 2))],
  ['nl', arrayOf(LONG)],
  ['bs', arrayOf(BINARY)],
  ['i', INTEGER],
  ['f', DOUBLE],
  ['day', DATE],
]);

const NINES = '9'.repeat(38);

const LAKE_ROWS: LakeRow[] = [
  {
    s: 'plain',
    n: 9223372036854775807n,
    d0: NINES,
    d10: `${'9'.repeat(28)}.${'9'.repeat(10)}`,
    d38: `0.${'9'.repeat(38)}`,
    b: new Uint8Array([0, 0, 255, 0]),
    ok: true,
    ts: '2026-11-23T00:00:00.123456Z',
    ss: [],
    ns: ['1.50', null, '-0.01'],
    nl: [9223372036854775807n, null, -9223372036854775808n],
    bs: [new Uint8Array([0]), null, new Uint8Array([])],
    i: 2147483647,
    f: 0.1,
    day: '2026-02-28',
  },
  {
    s: 'astral 🚀 𝄞 and ünïcödé and "quotes" \\ and \u0000 nul',
    n: -9223372036854775808n,
    d0: `-${NINES}`,
    d10: '-1234567890123456789012345678.0123456789',
    d38: `-0.${'0'.repeat(37)}1`,
    b: new Uint8Array([]),
    ok: false,
    ts: '1969-12-31T23:59:59.999999Z',
    ss: [null, '', '🚀'],
    ns: [],
    nl: [],
    bs: [],
    i: -2147483648,
    f: -1e300,
    day: '1900-01-01',
  },
  {
    s: null,
    n: null,
    d0: null,
    d10: null,
    d38: null,
    b: null,
    ok: null,
    ts: null,
    ss: null,
    ns: null,
    nl: null,
    bs: null,
    i: null,
    f: null,
    day: null,
  },
];

describe('lake rows through a real Parquet file', () => {
  test('every lake type comes back exactly after a Parquet round trip', async () => {
    const store = new LocalFolderStore(await folders.make('lake-rows'));
    await loadLakeRows(session, 'lake_rows', LAKE_SCHEMA, LAKE_ROWS);
    const [add] = await writeDataFiles(session, store, { source: 'lake_rows', schema: LAKE_SCHEMA });
    if (add === undefined) throw new Error('no data file was written');
    const file = path.join(store.rootDir, dataFileKey(add.path, store.url));
    const back = await readLakeRows(
      session,
      `SELECT * EXCLUDE (file_row_number) FROM read_parquet(${quoteLiteral(file)}, file_row_number = true) ORDER BY file_row_number`,
    );
    expect(back).toEqual(LAKE_ROWS);
  });

  test('the DuckDB table has the DuckDB type of each Delta type', async () => {
    await loadLakeRows(session, 'typed', LAKE_SCHEMA, []);
    const described = await readLakeRows(session, 'SELECT column_name, column_type FROM (DESCRIBE typed)');
    expect(described.map((row) => row.column_name)).toEqual(LAKE_SCHEMA.fields.map((field) => field.name));
    expect(described.map((row) => row.column_type)).toEqual([
      'VARCHAR',
      'BIGINT',
      'DECIMAL(38,0)',
      'DECIMAL(38,10)',
      'DECIMAL(38,38)',
      'BLOB',
      'BOOLEAN',
      'TIMESTAMP WITH TIME ZONE',
      'VARCHAR[]',
      'DECIMAL(38,2)[]',
      'BIGINT[]',
      'BLOB[]',
      'INTEGER',
      'DOUBLE',
      'DATE',
    ]);
  });

  test('decimal text in any exact notation is stored exactly and read back with the column scale', async () => {
    const schema = schemaOf([['d', decimal(38, 4)]]);
    await loadLakeRows(session, 'decimals', schema, [
      { d: '1.5' },
      { d: '15E-1' },
      { d: '-0.0001' },
      { d: '1.25000' },
      { d: 7n },
    ]);
    const back = await readLakeRows(session, 'SELECT d FROM decimals ORDER BY rowid');
    expect(back.map((row) => row.d)).toEqual(['1.5000', '1.5000', '-0.0001', '1.2500', '7.0000']);
  });

  test('a decimal with more fractional digits than the scale is refused, never rounded', async () => {
    const schema = schemaOf([['price', decimal(38, 2)]]);
    const error = await loadLakeRows(session, 'refused', schema, [
      { price: '1.00' },
      { price: '1.005' },
    ]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LakeValueError);
    expect((error as LakeValueError).message).toContain('row 1, column "price"');
  });

  test('a decimal with 39 digits is refused naming the column', async () => {
    const schema = schemaOf([['big', decimal(38, 0)]]);
    const error = await loadLakeRows(session, 'refused', schema, [{ big: '1'.repeat(39) }]).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(LakeValueError);
    expect((error as LakeValueError).column).toBe('big');
  });

  test('a long given as a JS number is refused, so no rounded value is stored', async () => {
    const schema = schemaOf([['n', LONG]]);
    const error = await loadLakeRows(session, 'refused', schema, [{ n: 2 ** 53 + 1 }]).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(LakeValueError);
    expect((error as LakeValueError).message).toContain('bigint');
  });

  test('a timestamp without a zone or with an impossible date is refused', async () => {
    const schema = schemaOf([['ts', TIMESTAMP]]);
    for (const ts of ['2026-11-23T00:00:00.123456', '2026-02-30T00:00:00Z', 'yesterday']) {
      const error = await loadLakeRows(session, 'refused', schema, [{ ts }]).catch((e: unknown) => e);
      expect(error, ts).toBeInstanceOf(LakeValueError);
    }
  });

  test('timestamps with an offset or fewer digits are stored as the same instant', async () => {
    const schema = schemaOf([['ts', TIMESTAMP]]);
    await loadLakeRows(session, 'instants', schema, [
      { ts: '2026-11-23T02:00:00.5+02:00' },
      { ts: '2026-11-23 00:00:00Z' },
    ]);
    const back = await readLakeRows(session, 'SELECT ts FROM instants ORDER BY rowid');
    expect(back.map((row) => row.ts)).toEqual(['2026-11-23T00:00:00.500000Z', '2026-11-23T00:00:00.000000Z']);
  });

  test('a row key that is not a column is refused', async () => {
    const error = await loadLakeRows(session, 'refused', schemaOf([['a', STRING]]), [
      { a: 'x', b: 'y' },
    ]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LakeValueError);
    expect((error as LakeValueError).column).toBe('b');
  });

  test('maps and structs round trip as Map and plain object', async () => {
    const schema = schemaOf([
      ['m', { type: 'map', keyType: STRING, valueType: LONG, valueContainsNull: true }],
      [
        'st',
        {
          type: 'struct',
          fields: [
            { name: 'when', type: DATE, nullable: true, metadata: {} },
            { name: 'amount', type: decimal(38, 6), nullable: true, metadata: {} },
          ],
        },
      ],
    ]);
    const rows: LakeRow[] = [
      {
        m: new Map([
          ['a', 1n],
          ['b', null],
        ]),
        st: { when: '2000-02-29', amount: '-12345678901234567890123456789012.123456' },
      },
      { m: new Map(), st: { when: null, amount: null } },
      { m: null, st: null },
    ];
    await loadLakeRows(session, 'nested', schema, rows);
    expect(await readLakeRows(session, 'SELECT * FROM nested ORDER BY rowid')).toEqual(rows);
  });

  test('readLakeRows binds parameters and refuses a type with no lake form', async () => {
    expect(await readLakeRows(session, 'SELECT $1::VARCHAR AS v', ['x'])).toEqual([{ v: 'x' }]);
    await expect(readLakeRows(session, "SELECT INTERVAL '1 day' AS i")).rejects.toBeInstanceOf(
      LakeValueError,
    );
  });

  test('a query DuckDB refuses fails as a DuckDbError naming the query', async () => {
    const error = await readLakeRows(session, 'SELECT no_such_column').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DuckDbError);
    expect((error as Error).message).toContain('SELECT no_such_column');
  });
});
