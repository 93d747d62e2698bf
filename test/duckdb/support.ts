import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { type Action, type AddFile, serializeCommitFile } from '../../src/delta/actions.ts';
import { loadSnapshot } from '../../src/delta/load-snapshot.ts';
import { commitFileKey } from '../../src/delta/log-files.ts';
import { type DeltaType, type StructType, serializeSchema } from '../../src/delta/schema.ts';
import type { Snapshot } from '../../src/delta/snapshot.ts';
import { writeDataFiles } from '../../src/duckdb/data-file-writer.ts';
import { duckdbEngine } from '../../src/duckdb/duckdb-engine.ts';
import { type LakeRow, loadLakeRows } from '../../src/duckdb/lake-rows.ts';
import type { DuckSession } from '../../src/duckdb/session.ts';
import type { ObjectStore } from '../../src/storage/object-store.ts';

/** The Delta tables written by Spark and delta-rs (test/fixtures/delta/README.md). */
export const DELTA_FIXTURES = path.resolve(import.meta.dirname, '../fixtures/delta');

export const STRING: DeltaType = { type: 'primitive', name: 'string' };
export const LONG: DeltaType = { type: 'primitive', name: 'long' };
export const INTEGER: DeltaType = { type: 'primitive', name: 'integer' };
export const DOUBLE: DeltaType = { type: 'primitive', name: 'double' };
export const BOOLEAN: DeltaType = { type: 'primitive', name: 'boolean' };
export const BINARY: DeltaType = { type: 'primitive', name: 'binary' };
export const DATE: DeltaType = { type: 'primitive', name: 'date' };
export const TIMESTAMP: DeltaType = { type: 'primitive', name: 'timestamp' };
export const decimal = (precision: number, scale: number): DeltaType => ({
  type: 'decimal',
  precision,
  scale,
});
export const arrayOf = (elementType: DeltaType): DeltaType => ({
  type: 'array',
  elementType,
  containsNull: true,
});

/** A schema of nullable columns, in the given order. */
export function schemaOf(columns: readonly (readonly [string, DeltaType])[]): StructType {
  return {
    type: 'struct',
    fields: columns.map(([name, type]) => ({ name, type, nullable: true, metadata: {} })),
  };
}

/** Writes commit `version` of a table with exactly these actions (put-if-absent, as a writer would). */
export async function writeCommit(
  store: ObjectStore,
  version: number,
  actions: readonly Action[],
): Promise<void> {
  const outcome = await store.putIfAbsent(commitFileKey(version), serializeCommitFile(actions));
  if (outcome.outcome !== 'created') throw new Error(`commit ${version} exists already`);
}

/** The protocol and metaData actions of a plain table (reader 1, writer 2) with `schema`. */
export function tableHeader(schema: StructType, partitionColumns: readonly string[] = []): Action[] {
  return [
    { protocol: { minReaderVersion: 1, minWriterVersion: 2 } },
    {
      metaData: {
        id: '4bd1b6f0-0d41-4b47-9a43-6d3c5a2e57b1',
        format: { provider: 'parquet', options: {} },
        schemaString: serializeSchema(schema),
        partitionColumns,
        createdTime: 1_700_000_000_000,
        configuration: {},
      },
    },
  ];
}

/** The table's snapshot, read through the log with the DuckDB engine. */
export function snapshotOf(session: DuckSession, store: ObjectStore, version?: number): Promise<Snapshot> {
  return loadSnapshot(store, duckdbEngine(session), version === undefined ? {} : { version });
}

/** The first Parquet page header's type of a column chunk: 0 DATA_PAGE, 2 DICTIONARY_PAGE, 3 DATA_PAGE_V2. */
export async function pageTypeAt(file: string, offset: number): Promise<number> {
  const bytes = await readFile(file);
  // PageHeader (Thrift compact): field 1 `type` (i32) comes first, header byte 0x15, then a zigzag varint.
  if (bytes[offset] !== 0x15) throw new Error(`no page header at ${offset} of ${file}`);
  const zigzag = bytes[offset + 1] as number;
  return (zigzag >>> 1) ^ -(zigzag & 1);
}

/** Rows in a stable order, whatever order they were read in. */
export function sortedRows<T>(rows: readonly T[]): T[] {
  const key = (row: T): string =>
    JSON.stringify(row, (_, value: unknown) => {
      if (typeof value === 'bigint') return `${value}n`;
      if (value instanceof Uint8Array) return `0x${Buffer.from(value).toString('hex')}`;
      if (value instanceof Map) return [...value];
      return value;
    });
  return [...rows].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

/** Writes `rows` as the data files of a table with `schema` (in one partition at most); returns the adds. */
export async function writeRows(
  session: DuckSession,
  store: ObjectStore,
  schema: StructType,
  rows: readonly LakeRow[],
  partitionValues?: Readonly<Record<string, string | null>>,
): Promise<AddFile[]> {
  await loadLakeRows(session, 'incoming', schema, rows);
  return writeDataFiles(session, store, {
    source: 'incoming',
    schema,
    ...(partitionValues ? { partitionValues } : {}),
  });
}

/** A lake table of every lake type, partitioned by `region`. */
export const ORDERS = schemaOf([
  ['pk', STRING],
  ['qty', LONG],
  ['price', decimal(38, 10)],
  ['big', decimal(38, 0)],
  ['tiny', decimal(38, 38)],
  ['raw', BINARY],
  ['paid', BOOLEAN],
  ['_ddb_ts', TIMESTAMP],
  ['tags', arrayOf(STRING)],
  ['amounts', arrayOf(decimal(38, 2))],
  ['blobs', arrayOf(BINARY)],
  ['region', STRING],
]);

/** Rows of ORDERS (without `region`): 38-digit decimals, int64 limits, binary with zero bytes, nulls. */
export const ORDER_ROWS: LakeRow[] = [
  {
    pk: 'a#1',
    qty: 9223372036854775807n,
    price: '1234567890123456789012345678.0123456789',
    big: '99999999999999999999999999999999999999',
    tiny: '0.00000000000000000000000000000000000001',
    raw: new Uint8Array([0, 1, 0]),
    paid: true,
    _ddb_ts: '2026-11-23T00:00:00.123456Z',
    tags: ['x', null, '🚀'],
    amounts: ['-0.01', null],
    blobs: [new Uint8Array([0]), null],
  },
  {
    pk: 'b#2',
    qty: -9223372036854775808n,
    price: '-9999999999999999999999999999.9999999999',
    big: '-99999999999999999999999999999999999999',
    tiny: '-0.99999999999999999999999999999999999999',
    raw: new Uint8Array([]),
    paid: false,
    _ddb_ts: '1969-12-31T23:59:59.999999Z',
    tags: [],
    amounts: [],
    blobs: [],
  },
  {
    pk: 'c#3',
    qty: null,
    price: null,
    big: null,
    tiny: null,
    raw: null,
    paid: null,
    _ddb_ts: null,
    tags: null,
    amounts: null,
    blobs: null,
  },
];
