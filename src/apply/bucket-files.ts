import type { AddFile } from '../delta/actions.ts';
import type { StructType } from '../delta/schema.ts';
import { writeDataFiles, writePartitionedDataFiles } from '../duckdb/data-file-writer.ts';
import { type DuckSession, quoteIdentifier } from '../duckdb/session.ts';
import { compareUtf8 } from '../dynamo/plain-json.ts';
import { fileBucket, SYSTEM_COLUMN } from '../lake/table-layout.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { type ApplyEvent, ApplyEventCode } from './apply-events.ts';

/*
 * The table's files as the copy-on-write merge sees them. Each bucket (`_ddb_bucket`, the
 * partition column) is written as files sorted by `_ddb_key` of at most `rowsPerFile` rows, so a
 * file's `_ddb_key` bounds in its stats (minValues / maxValues, truncated to a prefix that still
 * bounds: stats-string-bounds.ts) say which keys it can hold. A batch rewrites only the files that
 * can hold one of its keys (and, for keys no file holds, the file whose range is nearest), not
 * whole buckets and never the table.
 */

/** Rows per data file: small enough that a batch rewrites a small share of a big bucket. */
export const DEFAULT_ROWS_PER_FILE = 250_000;

interface KeyBounds {
  readonly file: AddFile;
  /** Undefined when the stats do not bound the keys from below / above. */
  readonly min: string | undefined;
  readonly max: string | undefined;
}

function boundsOf(file: AddFile): KeyBounds {
  let min: string | undefined;
  let max: string | undefined;
  if (typeof file.stats === 'string') {
    try {
      const stats = JSON.parse(file.stats) as {
        minValues?: Record<string, unknown>;
        maxValues?: Record<string, unknown>;
      };
      const low = stats.minValues?.[SYSTEM_COLUMN.key];
      const high = stats.maxValues?.[SYSTEM_COLUMN.key];
      if (typeof low === 'string') min = low;
      if (typeof high === 'string') max = high;
    } catch {
      // Unreadable stats bound nothing: the file can hold any key.
    }
  }
  return { file, min, max };
}

function mayHold(bounds: KeyBounds, key: string): boolean {
  return (
    (bounds.min === undefined || compareUtf8(bounds.min, key) <= 0) &&
    (bounds.max === undefined || compareUtf8(key, bounds.max) <= 0)
  );
}

/**
 * Which of the table's files a batch must rewrite to change `keysByBucket` (bucket → keys): per
 * bucket, every file whose `_ddb_key` bounds may hold one of the keys; a key that no file may hold
 * (a new key) joins the file whose lower bound is the greatest at or below it (else the bucket's
 * first), so new keys do not make a new small file per batch. Returns, per key, the files that
 * may hold it (at most one for a new key; none when its bucket has no file yet), and the union.
 * With `nearestForNewKeys: false` a key no file may hold gets no file (merge-on-read appends it).
 * Files in `files` without a bucket partition value are never chosen. Pure.
 */
export function filesForKeys(
  files: readonly AddFile[],
  keysByBucket: ReadonlyMap<number, readonly string[]>,
  options: { readonly nearestForNewKeys?: boolean } = {},
): { readonly byKey: ReadonlyMap<string, readonly AddFile[]>; readonly files: readonly AddFile[] } {
  const inBucket = new Map<number, KeyBounds[]>();
  for (const file of files) {
    const bucket = fileBucket(file);
    if (bucket === undefined || !keysByBucket.has(bucket)) continue;
    let list = inBucket.get(bucket);
    if (list === undefined) {
      list = [];
      inBucket.set(bucket, list);
    }
    list.push(boundsOf(file));
  }
  const byKey = new Map<string, AddFile[]>();
  const chosen = new Set<AddFile>();
  for (const [bucket, keys] of keysByBucket) {
    const candidates = (inBucket.get(bucket) ?? []).sort(
      (a, b) =>
        (a.min === undefined ? -1 : b.min === undefined ? 1 : compareUtf8(a.min, b.min)) ||
        (a.file.path < b.file.path ? -1 : a.file.path > b.file.path ? 1 : 0),
    );
    for (const key of keys) {
      let holding = candidates.filter((bounds) => mayHold(bounds, key)).map((bounds) => bounds.file);
      if (holding.length === 0 && candidates.length > 0 && options.nearestForNewKeys !== false) {
        let nearest = candidates[0] as KeyBounds;
        for (const bounds of candidates) {
          if (bounds.min !== undefined && compareUtf8(bounds.min, key) <= 0) nearest = bounds;
        }
        holding = [nearest.file];
      }
      byKey.set(key, holding);
      for (const file of holding) chosen.add(file);
    }
  }
  const list = files.filter((file) => chosen.has(file));
  return { byKey, files: list };
}

/** What writing the buckets produced. */
export interface WrittenBuckets {
  readonly adds: readonly AddFile[];
  readonly rows: number;
  readonly bytes: number;
}

/** The rows a file holds by its stats (`numRecords`), or undefined without stats. */
export function fileRows(file: AddFile): number | undefined {
  if (typeof file.stats !== 'string') return undefined;
  try {
    const rows = (JSON.parse(file.stats) as { numRecords?: unknown }).numRecords;
    return typeof rows === 'number' && Number.isSafeInteger(rows) ? rows : undefined;
  } catch {
    return undefined;
  }
}

const BUCKET_STAGING = '__ddb_lake_apply_bucket';

/** Rows per bucket of a DuckDB table with a `_ddb_bucket` column. */
async function bucketRowCounts(session: DuckSession, table: string): Promise<Map<number, number>> {
  const bucketColumn = quoteIdentifier(SYSTEM_COLUMN.bucket);
  const counts = new Map<number, number>();
  for (const row of (
    await session.all(
      `SELECT ${bucketColumn}, count(*) FROM ${quoteIdentifier(table)} GROUP BY ${bucketColumn}`,
    )
  ).getRows()) {
    counts.set(Number(row[0]), Number(row[1]));
  }
  return counts;
}

/**
 * Writes the rows of the DuckDB table `source` bucket by bucket, for each bucket of `buckets`
 * (ascending), sorted by `_ddb_key`: the rows are staged once sorted by bucket and key, then
 * written as `writeBucketTable` writes.
 * @throws as writeDataFiles.
 */
export async function writeBuckets(
  session: DuckSession,
  store: ObjectStore,
  source: string,
  schema: StructType,
  buckets: Iterable<number>,
  rowsPerFile: number,
  emit: (event: ApplyEvent) => void,
): Promise<WrittenBuckets> {
  const staging = quoteIdentifier(BUCKET_STAGING);
  await session.run(
    `CREATE OR REPLACE TEMP TABLE ${staging} AS SELECT * FROM ${quoteIdentifier(source)} ORDER BY ${quoteIdentifier(SYSTEM_COLUMN.bucket)}, ${quoteIdentifier(SYSTEM_COLUMN.key)}`,
  );
  try {
    return await writeBucketTable(
      session,
      store,
      BUCKET_STAGING,
      schema,
      [...new Set(buckets)],
      rowsPerFile,
      emit,
    );
  } finally {
    await session.run(`DROP TABLE IF EXISTS ${staging}`);
  }
}

/**
 * Writes the rows of the DuckDB table `table` for each bucket of `buckets` (ascending) under
 * `ddb_bucket=<b>/` (partition-path.ts), in the table's order, as files of at most `rowsPerFile` rows; a bucket
 * without rows writes nothing. The table must hold every column of `schema` in its DuckDB type
 * and have been filled sorted by `_ddb_bucket`, then `_ddb_key` (CREATE TABLE … AS … ORDER BY), so
 * each file is sorted by key; unlike `writeBucketQueries` no bucket is sorted again.
 * Returns the `add` actions in bucket order; progress events count from `progress.done` of
 * `progress.total` buckets (a caller writing its buckets in several parts).
 * @throws as writeDataFiles.
 */
export async function writeBucketTable(
  session: DuckSession,
  store: ObjectStore,
  table: string,
  schema: StructType,
  buckets: readonly number[],
  rowsPerFile: number,
  emit: (event: ApplyEvent) => void,
  progress: { readonly done: number; readonly total: number } = { done: 0, total: buckets.length },
): Promise<WrittenBuckets> {
  const source = quoteIdentifier(table);
  const bucketColumn = quoteIdentifier(SYSTEM_COLUMN.bucket);
  const counts = await bucketRowCounts(session, table);
  return writeEachBucket(
    session,
    store,
    schema,
    buckets,
    (bucket) => {
      const bucketRows = counts.get(bucket) ?? 0;
      if (bucketRows === 0) return undefined;
      return {
        // No ORDER BY: a filtered scan of one table keeps its insertion order (DuckDB's order
        // preservation), and a sort per bucket cost about a quarter of the bucket's write (measured).
        source: `SELECT * FROM ${source} WHERE ${bucketColumn} = ${bucket}`,
        split: bucketRows > rowsPerFile,
      };
    },
    rowsPerFile,
    emit,
    progress,
  );
}

/**
 * Writes, for each bucket of `buckets` (ascending), the rows of the query `sourceOf(bucket)` under
 * `ddb_bucket=<b>/` (partition-path.ts) as files of at most `rowsPerFile` rows, in the query's order (the query sorts
 * by `_ddb_key`). `atMost` bounds a bucket's rows from above (a bucket above `rowsPerFile` is
 * split; one at or below it is written in one statement without a staging copy); a bucket whose
 * query has no rows writes nothing. Returns the `add` actions in bucket order; progress events as
 * `writeBucketTable`'s.
 * @throws as writeDataFiles.
 */
export async function writeBucketQueries(
  session: DuckSession,
  store: ObjectStore,
  schema: StructType,
  buckets: readonly number[],
  sourceOf: (bucket: number) => string,
  atMost: ReadonlyMap<number, number>,
  rowsPerFile: number,
  emit: (event: ApplyEvent) => void,
): Promise<WrittenBuckets> {
  return writeEachBucket(
    session,
    store,
    schema,
    buckets,
    (bucket) => ({
      source: sourceOf(bucket),
      split: (atMost.get(bucket) ?? Number.POSITIVE_INFINITY) > rowsPerFile,
    }),
    rowsPerFile,
    emit,
  );
}

/**
 * Writes the rows of `source` (a query over every bucket's rows, with `_ddb_bucket`) as one file
 * per bucket, sorted by `_ddb_key`, in one partitioned COPY (writePartitionedDataFiles): a
 * statement per bucket cost most of a small batch (16 buckets: about 15 ms each), and the single
 * COPY about half the CPU of a rewrite bucket by bucket. Each bucket's rows must fit one file (at
 * most the table's rows per file): the caller checks. Returns the `add` actions in bucket order,
 * and a `bucketWritten` event per file. `cheapSource`: the source is a query over a small table in
 * memory, cheap to run twice (see `countNullsInSource`).
 * @throws as writePartitionedDataFiles.
 */
export async function writeBucketsAtOnce(
  session: DuckSession,
  store: ObjectStore,
  schema: StructType,
  source: string,
  emit: (event: ApplyEvent) => void,
  options: { readonly cheapSource?: boolean } = {},
): Promise<WrittenBuckets> {
  const adds = await writePartitionedDataFiles(session, store, {
    source,
    schema,
    partitionColumn: SYSTEM_COLUMN.bucket,
    orderBy: SYSTEM_COLUMN.key,
    countNullsInSource: options.cheapSource === true,
  });
  let rows = 0;
  let bytes = 0;
  for (const [index, add] of adds.entries()) {
    const count = fileRows(add) ?? 0;
    rows += count;
    bytes += add.size;
    emit({
      code: ApplyEventCode.bucketWritten,
      bucket: Number(add.partitionValues[SYSTEM_COLUMN.bucket]),
      rows: count,
      files: 1,
      bytes: add.size,
      bucketsDone: index + 1,
      buckets: adds.length,
    });
  }
  return { adds, rows, bytes };
}

/** A bucket's rows as `writeEachBucket` writes them: a query, split at rowsPerFile when `split`. */
export type BucketSource = { readonly source: string; readonly split: boolean } | undefined;

/**
 * The loop every bucket writer shares (the merges', the optimize's, the bulk load's spool): each
 * bucket of `buckets` (distinct, ascending) whose `plan` is not undefined is written from its query,
 * split into files of `rowsPerFile` rows when `split`, and reported (`bucketWritten`);
 * `afterBucket` runs once its files are written.
 */
export async function writeEachBucket(
  session: DuckSession,
  store: ObjectStore,
  schema: StructType,
  buckets: readonly number[],
  plan: (bucket: number) => BucketSource | Promise<BucketSource>,
  rowsPerFile: number,
  emit: (event: ApplyEvent) => void,
  progress?: { readonly done: number; readonly total: number },
  afterBucket?: (bucket: number) => Promise<void>,
): Promise<WrittenBuckets> {
  const adds: AddFile[] = [];
  let rows = 0;
  let bytes = 0;
  const order = [...new Set(buckets)].sort((a, b) => a - b);
  for (const [index, bucket] of order.entries()) {
    const planned = await plan(bucket);
    if (planned === undefined) continue;
    const written = await writeDataFiles(session, store, {
      source: planned.source,
      schema,
      partitionValues: { [SYSTEM_COLUMN.bucket]: String(bucket) },
      ...(planned.split ? { maxRowsPerFile: rowsPerFile } : {}),
    });
    const count = written.reduce((sum, add) => sum + (fileRows(add) ?? 0), 0);
    const size = written.reduce((sum, add) => sum + add.size, 0);
    adds.push(...written);
    rows += count;
    bytes += size;
    emit({
      code: ApplyEventCode.bucketWritten,
      bucket,
      rows: count,
      files: written.length,
      bytes: size,
      bucketsDone: (progress?.done ?? 0) + index + 1,
      buckets: progress?.total ?? order.length,
    });
    await afterBucket?.(bucket);
  }
  return { adds, rows, bytes };
}
