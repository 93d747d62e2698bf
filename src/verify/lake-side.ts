import { randomUUID } from 'node:crypto';
import type { DuckDBAppender } from '@duckdb/node-api';
import { loadReadSnapshot } from '../delta/load-snapshot.ts';
import type { ReadSnapshot } from '../delta/snapshot.ts';
import { duckdbEngine } from '../duckdb/duckdb-engine.ts';
import type { LakeRow, LakeValue } from '../duckdb/lake-value.ts';
import { duckdbValueToLake } from '../duckdb/lake-value-from-duckdb.ts';
import { DuckSession, quoteIdentifier } from '../duckdb/session.ts';
import { createSnapshotView } from '../duckdb/table-scan.ts';
import { bucketOf } from '../lake/key-identity.ts';
import { rowToPlainItem } from '../lake/row-to-item.ts';
import {
  fileBucket,
  hasTableLayout,
  readTableLayout,
  SYSTEM_COLUMN,
  type TableLayout,
} from '../lake/table-layout.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { itemHash } from './item-hash.ts';
import { VerifyError, VerifyErrorCode } from './verify-errors.ts';

/*
 * The Delta side of verify: the latest snapshot with its layout, every live row as (`_ddb_key`,
 * canonical hash) streamed chunk by chunk into a table of the comparison's DuckDB session (never all
 * rows in JS at once), and the rows of a few keys as canonical plain JSON for the point checks.
 * Each read runs in a DuckDB session of its own, closed afterwards, so the data files it downloads
 * from S3 go with it, and the comparison session is free to take appends while a read streams.
 */

/** The lake table as verify compares it. */
export interface LakeTable {
  readonly store: ObjectStore;
  readonly snapshot: ReadSnapshot;
  readonly layout: TableLayout;
}

/**
 * Loads the latest snapshot of the Delta table at `store` and its layout.
 * @throws VerifyError (`VERIFY_NOT_A_LAKE_TABLE`) for a table apply did not create; the snapshot
 *   loader's errors (DeltaTableNotFoundError for a location with no table).
 */
export async function openLakeTable(store: ObjectStore): Promise<LakeTable> {
  const session = await DuckSession.open({ threads: 1 });
  try {
    const snapshot = await loadReadSnapshot(store, duckdbEngine(session));
    if (!hasTableLayout(snapshot.metadata.configuration)) {
      throw new VerifyError(
        VerifyErrorCode.notALakeTable,
        `The Delta table at ${store.url} was not written by ddb-lake apply (its properties hold no ddb_lake.keys), so its rows cannot be matched to items. Point --delta at the table apply maintains.`,
      );
    }
    return { store, snapshot, layout: readTableLayout(snapshot.metadata.configuration) };
  } finally {
    await session.close();
  }
}

function isLive(row: LakeRow, layout: TableLayout): boolean {
  return !(layout.deletes === 'soft' && row[SYSTEM_COLUMN.deleted] === true);
}

/**
 * Streams every row of `lake` (deletion vectors applied; soft-deleted rows left out) through
 * `onRow`, chunk by chunk: each row as lake values, in no particular order. Uses a session of its own.
 * @throws as createSnapshotView; whatever `onRow` throws.
 */
async function streamRows(
  lake: LakeTable,
  files: ReadSnapshot['files'],
  where: string,
  prepare: (session: DuckSession) => Promise<void>,
  onChunk: (rows: LakeRow[]) => void | Promise<void>,
): Promise<void> {
  const session = await DuckSession.open();
  try {
    await prepare(session);
    const view = `__ddb_lake_verify_${randomUUID()}`;
    await createSnapshotView(session, lake.store, { ...lake.snapshot, files }, view);
    const result = await session.connection.stream(`SELECT * FROM ${quoteIdentifier(view)} AS v${where}`);
    const names = result.columnNames();
    const types = result.columnTypes();
    for (;;) {
      const chunk = await result.fetchChunk();
      if (chunk === null || chunk.rowCount === 0) break;
      const rows = chunk.getRows().map((values) => {
        const row: Record<string, LakeValue> = {};
        names.forEach((name, index) => {
          const type = types[index];
          if (type !== undefined) row[name] = duckdbValueToLake(values[index] ?? null, type, name);
        });
        return row;
      });
      await onChunk(rows.filter((row) => isLive(row, lake.layout)));
    }
  } finally {
    await session.close();
  }
}

/**
 * Appends (`_ddb_key`, canonical hash) of every live row of `lake` to `appender` (a table of two
 * VARCHAR columns) and returns how many rows that was. The hash is `itemHash(rowToPlainItem(row))`,
 * equal to the hash of the DynamoDB item the row was written from. Memory: one DuckDB chunk of rows.
 * @throws RowShapeError for a row that does not match the layout; as createSnapshotView.
 */
export async function appendLakeHashes(
  lake: LakeTable,
  appender: DuckDBAppender,
  onRows?: (rows: number) => void,
): Promise<number> {
  let count = 0;
  await streamRows(
    lake,
    lake.snapshot.files,
    '',
    async () => {},
    (rows) => {
      for (const row of rows) {
        appender.appendVarchar(row[SYSTEM_COLUMN.key] as string);
        appender.appendVarchar(itemHash(rowToPlainItem(row, lake.layout, lake.snapshot.schema)));
        appender.endRow();
      }
      count += rows.length;
      onRows?.(count);
    },
  );
  appender.flushSync();
  return count;
}

/**
 * The live rows of `lake` for `keys`, as `_ddb_key` → canonical plain JSON of the item; a key with
 * no live row is absent. Reads only the buckets that can hold the keys, filtered inside DuckDB.
 * @throws as appendLakeHashes.
 */
export async function readLakeItems(lake: LakeTable, keys: readonly string[]): Promise<Map<string, string>> {
  const items = new Map<string, string>();
  if (keys.length === 0) return items;
  const buckets = new Set(keys.map((key) => bucketOf(key, lake.layout.buckets)));
  const files = lake.snapshot.files.filter((file) => {
    const bucket = fileBucket(file);
    return bucket === undefined || buckets.has(bucket);
  });
  const wanted = `__ddb_lake_verify_keys_${randomUUID()}`;
  await streamRows(
    lake,
    files,
    ` WHERE v.${quoteIdentifier(SYSTEM_COLUMN.key)} IN (SELECT key FROM ${quoteIdentifier(wanted)})`,
    async (session) => {
      await session.run(`CREATE TABLE ${quoteIdentifier(wanted)} (key VARCHAR)`);
      await session.appendTextRows(wanted, keys);
    },
    (rows) => {
      for (const row of rows) {
        items.set(row[SYSTEM_COLUMN.key] as string, rowToPlainItem(row, lake.layout, lake.snapshot.schema));
      }
    },
  );
  return items;
}
