import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { dataFileKey } from '../../src/delta/data-path.ts';
import { readDeletionVector } from '../../src/delta/deletion-vector.ts';
import { DeltaUnsupportedFeatureError } from '../../src/delta/errors.ts';
import { columnMappingMode, physicalName } from '../../src/delta/reader-features.ts';
import type { DeltaType } from '../../src/delta/schema.ts';
import type { Snapshot } from '../../src/delta/snapshot.ts';
import { type LakeRow, type LakeValue, readLakeRows } from '../../src/duckdb/lake-rows.ts';
import { DuckSession, quoteLiteral } from '../../src/duckdb/session.ts';
import { readSnapshotRows } from '../../src/duckdb/table-scan.ts';
import { LocalFolderStore } from '../../src/storage/local-folder-store.ts';
import { DELTA_FIXTURES, snapshotOf, sortedRows } from './support.ts';

/** Fixture tables whose rows ddb-lake reads (test/fixtures/delta/README.md). */
const READABLE = [
  'delta-0.8-empty',
  'delta-0.8.0-null-partition',
  'delta-0.8.0-partitioned',
  'delta-2.2.0-partitioned-types',
  'simple_table',
  'simple_table_with_checkpoint',
  'table_failed_last_checkpoint_update',
  'table_with_column_mapping',
  'table-with-dv-small',
];

/** Fixture tables for log replay only: without data files (checkpoints), or at reader version 5 (simple_table_features). */
const LOG_ONLY = ['checkpoints', 'simple_table_features'];

let session: DuckSession;

beforeAll(async () => {
  session = await DuckSession.open({ threads: 2 });
});

afterAll(async () => {
  await session.close();
});

/** A partition value of the log as the lake value of its column, by the spec's serialization (test-side). */
function partitionLakeValue(text: string | null | undefined, type: DeltaType): LakeValue {
  if (text === null || text === undefined || text === '') return null;
  if (type.type === 'decimal') return text;
  if (type.type !== 'primitive') throw new Error(`no partition columns of type ${type.type} in the fixtures`);
  switch (type.name) {
    case 'long':
      return BigInt(text);
    case 'integer':
    case 'short':
    case 'byte':
    case 'float':
    case 'double':
      return Number(text);
    case 'boolean':
      return text === 'true';
    case 'string':
    case 'date':
      return text;
    default:
      throw new Error(`no partition columns of type ${type.name} in the fixtures`);
  }
}

/**
 * The rows the table must hold: each active file read alone by read_parquet, less the rows its
 * deletion vector names (decoded by the reader's deletion-vector.ts), plus its partition values.
 */
async function expectedRows(store: LocalFolderStore, snapshot: Snapshot): Promise<LakeRow[]> {
  const mode = columnMappingMode(snapshot.protocol, snapshot.metadata);
  const partition = new Set(snapshot.partitionColumns);
  const rows: LakeRow[] = [];
  for (const add of snapshot.files) {
    const file = path.join(store.rootDir, dataFileKey(add.path, snapshot.tableUrl));
    const fileRows = await readLakeRows(
      session,
      `SELECT * FROM read_parquet(${quoteLiteral(file)}, file_row_number = true) ORDER BY file_row_number`,
    );
    const deleted = new Set(
      add.deletionVector ? await readDeletionVector(store, snapshot.tableUrl, add.deletionVector) : [],
    );
    for (const fileRow of fileRows) {
      if (deleted.has(fileRow.file_row_number as bigint)) continue;
      const row: Record<string, LakeValue> = {};
      for (const field of snapshot.schema.fields) {
        const name = physicalName(field, mode);
        row[field.name] = partition.has(field.name)
          ? partitionLakeValue(add.partitionValues[name], field.type)
          : (fileRow[name] ?? null);
      }
      rows.push(row);
    }
  }
  return rows;
}

describe('the fixture tables of Spark and delta-rs', () => {
  test('every fixture table is classified as readable, refused or log-only', async () => {
    const tables = (await readdir(DELTA_FIXTURES, { withFileTypes: true }))
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
    expect([...tables].sort()).toEqual([...READABLE, ...LOG_ONLY].sort());
  });

  test.each(READABLE)(
    '%s: the view rows equal read_parquet over the active files plus partition values',
    async (table) => {
      const store = new LocalFolderStore(path.join(DELTA_FIXTURES, table));
      const snapshot = await snapshotOf(session, store);
      const actual = await readSnapshotRows(session, store, snapshot);
      const expected = await expectedRows(store, snapshot);
      expect(sortedRows(actual)).toEqual(sortedRows(expected));
      expect(Object.keys(actual[0] ?? {})).toEqual(
        actual.length === 0 ? [] : snapshot.schema.fields.map((f) => f.name),
      );
    },
  );

  test('simple_table_features needs a reader version ddb-lake does not implement and is refused naming it', async () => {
    const store = new LocalFolderStore(path.join(DELTA_FIXTURES, 'simple_table_features'));
    const error = await snapshotOf(session, store)
      .then((snapshot) => readSnapshotRows(session, store, snapshot))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeltaUnsupportedFeatureError);
    expect((error as DeltaUnsupportedFeatureError).feature).toMatch(/^minReaderVersion=/);
  });

  test('a null partition value (written under __HIVE_DEFAULT_PARTITION__) reads as NULL', async () => {
    const store = new LocalFolderStore(path.join(DELTA_FIXTURES, 'delta-0.8.0-null-partition'));
    const rows = await readSnapshotRows(session, store, await snapshotOf(session, store), { orderBy: ['v'] });
    expect(rows).toEqual([
      { k: 'A', v: 1n },
      { k: null, v: 2n },
    ]);
  });
});
