import path from 'node:path';
import type { AddFile } from '../../../src/delta/actions.ts';
import { commit } from '../../../src/delta/commit.ts';
import { createTable } from '../../../src/delta/create-table.ts';
import { dataFileKey } from '../../../src/delta/data-path.ts';
import { readDeletionVector } from '../../../src/delta/deletion-vector.ts';
import { writeDeletionVector } from '../../../src/delta/deletion-vector-write.ts';
import { loadSnapshot } from '../../../src/delta/load-snapshot.ts';
import type { Snapshot } from '../../../src/delta/snapshot.ts';
import { type DeletionVectorChange, startTransaction } from '../../../src/delta/transaction.ts';
import { writeDataFiles } from '../../../src/duckdb/data-file-writer.ts';
import { duckdbEngine } from '../../../src/duckdb/duckdb-engine.ts';
import { type DuckSession, quoteIdentifier, quoteLiteral } from '../../../src/duckdb/session.ts';
import { readSnapshotRows } from '../../../src/duckdb/table-scan.ts';
import { bucketOf } from '../../../src/lake/key-identity.ts';
import {
  layoutConfiguration,
  layoutSchema,
  newTableLayout,
  PARTITION_COLUMNS,
  ROWS_PER_FILE_PROPERTY,
  SYSTEM_COLUMN,
  type TableLayout,
} from '../../../src/lake/table-layout.ts';
import type { LocalFolderStore } from '../../../src/storage/local-folder-store.ts';
import type { ObjectStore } from '../../../src/storage/object-store.ts';

/*
 * Lake tables (the layout apply writes: `_ddb_bucket` partitions, files sorted by `_ddb_key`) built
 * file by file, so a test can give a bucket exactly the small files and deleted rows it needs, as
 * merge-on-read batches leave them: each `appendRows` is one commit adding one key-sorted file per
 * bucket it touches; `mergeOnRead` is a batch as merge-on-read commits it: the old rows of its keys
 * marked in new deletion vectors of their files, the new versions appended as new files.
 */

/** Keys `{"pk":"k0001"}`…: one string attribute `pk` (the partition key) and a number `n`. */
export const BUILT_LAYOUT_KEYS = { partition: 'pk' } as const;

export interface BuiltTable {
  readonly store: LocalFolderStore;
  readonly layout: TableLayout;
  readonly buckets: number;
  readonly rowsPerFile: number;
}

/** The `_ddb_key` of key number `i`. */
export function builtKey(i: number): string {
  return JSON.stringify({ pk: `k${String(i).padStart(4, '0')}` });
}

/** The bucket of key number `i` in a table of `buckets` buckets. */
export function builtBucket(i: number, buckets: number): number {
  return bucketOf(builtKey(i), buckets);
}

/**
 * Creates an empty lake table at `store`: keys `pk`, attribute columns `pk` (string) and `n`
 * (bigint), hard deletes, `buckets` buckets, `rowsPerFile` recorded in `ddb_lake.rowsPerFile`.
 * `configuration` adds table properties (e.g. a checkpoint interval).
 */
export async function createBuiltTable(
  store: LocalFolderStore,
  options: {
    readonly buckets: number;
    readonly rowsPerFile: number;
    /** Reader 3 / writer 7 with the `deletionVectors` feature (merge-on-read); default false. */
    readonly deletionVectors?: boolean;
    readonly configuration?: Readonly<Record<string, string>>;
  },
): Promise<BuiltTable> {
  const base = newTableLayout({ keys: BUILT_LAYOUT_KEYS, exportTime: 0, buckets: options.buckets });
  const layout: TableLayout = {
    ...base,
    columns: new Map([
      ['pk', 'pk'],
      ['n', 'n'],
    ]),
    kinds: new Map([
      ['pk', 'S'],
      ['n', 'N'],
    ]),
  };
  const schema = layoutSchema(
    layout,
    new Map([
      ['pk', { type: 'primitive', name: 'string' }],
      ['n', { type: 'primitive', name: 'long' }],
    ]),
  );
  await createTable(store, {
    schema,
    partitionColumns: PARTITION_COLUMNS,
    configuration: {
      ...layoutConfiguration(layout),
      [ROWS_PER_FILE_PROPERTY]: String(options.rowsPerFile),
      ...options.configuration,
    },
    now: 0,
    deletionVectors: options.deletionVectors === true,
  });
  return { store, layout, buckets: options.buckets, rowsPerFile: options.rowsPerFile };
}

/** The key-sorted files (one per bucket) of the rows of key numbers `keys`; nothing committed. */
async function writeRows(
  session: DuckSession,
  table: BuiltTable,
  snapshot: Snapshot,
  keys: readonly number[],
  seq: number,
  factor: number,
): Promise<AddFile[]> {
  const staging = quoteIdentifier('__built_rows');
  const values = keys.map(
    (i) =>
      `(${quoteLiteral(builtKey(i))}, ${builtBucket(i, table.buckets)}, ${quoteLiteral(`k${String(i).padStart(4, '0')}`)}, ${i * factor}, ${quoteLiteral(String(seq).padStart(40, '0'))}, TIMESTAMPTZ '2026-01-01 00:00:00+00', 'stream')`,
  );
  await session.run(
    `CREATE OR REPLACE TEMP TABLE ${staging} AS SELECT * FROM (VALUES ${values.join(', ')}) AS v(${[SYSTEM_COLUMN.key, SYSTEM_COLUMN.bucket, 'pk', 'n', SYSTEM_COLUMN.seq, SYSTEM_COLUMN.ts, SYSTEM_COLUMN.source].map(quoteIdentifier).join(', ')})`,
  );
  const adds: AddFile[] = [];
  try {
    const buckets = [...new Set(keys.map((i) => builtBucket(i, table.buckets)))].sort((a, b) => a - b);
    for (const bucket of buckets) {
      adds.push(
        ...(await writeDataFiles(session, table.store, {
          source: `SELECT * FROM ${staging} WHERE ${quoteIdentifier(SYSTEM_COLUMN.bucket)} = ${bucket} ORDER BY ${quoteIdentifier(SYSTEM_COLUMN.key)}`,
          schema: snapshot.schema,
          partitionValues: { [SYSTEM_COLUMN.bucket]: String(bucket) },
        })),
      );
    }
  } finally {
    await session.run(`DROP TABLE IF EXISTS ${staging}`);
  }
  return adds;
}

/**
 * One commit adding the rows of key numbers `keys` (each with `n` = its number times `factor`),
 * one file per bucket sorted by `_ddb_key`, at `seq` (the `_ddb_seq` of every row). Keys already
 * in the table are not removed: give each key once (`mergeOnRead` replaces rows). Returns the
 * files added.
 */
export async function appendRows(
  session: DuckSession,
  table: BuiltTable,
  keys: readonly number[],
  options: { readonly seq?: number; readonly factor?: number } = {},
): Promise<AddFile[]> {
  const engine = duckdbEngine(session);
  const snapshot = await loadSnapshot(table.store, engine);
  const adds = await writeRows(session, table, snapshot, keys, options.seq ?? 1, options.factor ?? 1);
  await commit(table.store, engine, startTransaction(snapshot).addFiles(adds), { now: 0 });
  return adds;
}

/**
 * A merge-on-read batch in one commit: the rows of `upsert` and `remove` (key numbers) get marked in
 * new deletion vectors of the files that hold them (each vector holding its old rows too), and the
 * rows of `upsert` are appended anew with `n` = number × `factor` at `seq`. The table must have
 * deletion vectors. Returns how many rows each touched file's vector hides now, by path.
 */
export async function mergeOnRead(
  session: DuckSession,
  table: BuiltTable,
  batch: {
    readonly upsert?: readonly number[];
    readonly remove?: readonly number[];
    readonly seq: number;
    readonly factor?: number;
  },
): Promise<Map<string, number>> {
  const engine = duckdbEngine(session);
  const snapshot = await loadSnapshot(table.store, engine);
  const upsert = batch.upsert ?? [];
  const gone = new Set([...upsert, ...(batch.remove ?? [])].map(builtKey));
  const changes: DeletionVectorChange[] = [];
  const hidden = new Map<string, number>();
  for (const file of snapshot.files) {
    const local = path.join(table.store.rootDir, dataFileKey(file.path, snapshot.tableUrl));
    const reader = await session.all(
      `SELECT ${quoteIdentifier(SYSTEM_COLUMN.key)}, file_row_number FROM read_parquet(${quoteLiteral(local)}, file_row_number = true)`,
    );
    const old = new Set(
      file.deletionVector === undefined || file.deletionVector === null
        ? []
        : await readDeletionVector(table.store, snapshot.tableUrl, file.deletionVector),
    );
    const fresh = reader
      .getRows()
      .filter(([key, row]) => gone.has(String(key)) && !old.has(BigInt(row as bigint)))
      .map(([, row]) => BigInt(row as bigint));
    if (fresh.length === 0) continue;
    const rows = [...old, ...fresh].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    changes.push({ file, deletionVector: await writeDeletionVector(table.store, rows) });
    hidden.set(file.path, rows.length);
  }
  const adds =
    upsert.length === 0
      ? []
      : await writeRows(session, table, snapshot, upsert, batch.seq, batch.factor ?? 1);
  await commit(
    table.store,
    engine,
    startTransaction(snapshot, { operation: 'MERGE' }).updateDeletionVectors(changes).addFiles(adds),
    { now: 0 },
  );
  return hidden;
}

/** The table's rows as `_ddb_key` → [pk, n, seq], read through the deletion-vector-aware scan. */
export async function builtRows(session: DuckSession, store: ObjectStore): Promise<Map<string, unknown[]>> {
  const snapshot = await loadSnapshot(store, duckdbEngine(session));
  return rowsOf(session, store, snapshot);
}

/** The rows of `snapshot` as `builtRows` gives them. */
export async function rowsOf(
  session: DuckSession,
  store: ObjectStore,
  snapshot: Snapshot,
): Promise<Map<string, unknown[]>> {
  const rows = await readSnapshotRows(session, store, snapshot, { orderBy: [SYSTEM_COLUMN.key] });
  const result = new Map<string, unknown[]>();
  for (const row of rows) {
    const key = row[SYSTEM_COLUMN.key] as string;
    if (result.has(key)) throw new Error(`the key ${key} is in the table twice`);
    result.set(key, [row['pk'], row['n'], row[SYSTEM_COLUMN.seq], row[SYSTEM_COLUMN.bucket]]);
  }
  return result;
}
