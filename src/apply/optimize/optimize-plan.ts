import type { AddFile } from '../../delta/actions.ts';
import type { ReadSnapshot } from '../../delta/snapshot.ts';
import { fileBucket, ROWS_PER_FILE_PROPERTY } from '../../lake/table-layout.ts';
import { DEFAULT_ROWS_PER_FILE, fileRows } from '../bucket-files.ts';

/*
 * What `table optimize` rewrites (DESIGN.md rule 6), decided from the log alone, never from a data
 * file. Merge-on-read batches leave two costs for readers: rows a deletion vector hides are still
 * read and skipped, and every batch appends a small key-sorted file per bucket it touched. Per
 * bucket (`_ddb_bucket`):
 *   - a file whose deleted share (its deletion vector's cardinality / its stats' numRecords) is at
 *     least `deletedShare` (default 20 %) is rewritten without those rows;
 *   - a file is small when its live rows (numRecords − deleted) are fewer than `smallFileRows`
 *     (default half of the table's rows per file); a bucket with more than `maxSmallFiles` (default
 *     4) small files has them merged;
 *   - a bucket rewritten anyway (for a damaged file or its small files) takes along every file
 *     whose deleted share is above `alongDeletedShare` (default 5 %, Delta's own OPTIMIZE default,
 *     `optimize.maxDeletedRowsRatio`): without it, a bucket whose appended files are merged every
 *     few batches keeps up to a fifth of its rows deleted, which readers pay for, while each such
 *     rewrite purges at least a twentieth of what it rewrites;
 *   - a bucket rewritten for a damaged or worn file takes all its small files along (they are read
 *     anyway and cost little), so what it writes is as few files as its rows need; one rewritten
 *     for its small files alone merges them tiered (mergedSmallFiles), leaving its largest file be
 *     while the others hold less than a quarter of its rows.
 * Full files without deleted rows are never rewritten: a bucket's cost stays bounded by its small
 * and damaged files, not by its size. A file without stats (numRecords) is never chosen: its share
 * and size are unknown (ddb-lake writes stats on every file).
 */

/** When a file or bucket is due a rewrite. */
export interface OptimizeThresholds {
  /** A file whose deleted rows are at least this share (0 to 1) of its rows is rewritten. */
  readonly deletedShare: number;
  /** A bucket rewritten anyway takes along every file whose deleted rows are more than this share (0 to 1). */
  readonly alongDeletedShare: number;
  /** A bucket with more than this many small files has its small files merged. */
  readonly maxSmallFiles: number;
  /** A file with fewer live rows than this is small. */
  readonly smallFileRows: number;
}

export const DEFAULT_DELETED_SHARE = 0.2;
/** Delta's OPTIMIZE rewrites files past this share (spark.databricks.delta.optimize.maxDeletedRowsRatio). */
export const DEFAULT_ALONG_DELETED_SHARE = 0.05;
export const DEFAULT_MAX_SMALL_FILES = 4;

/** The table's rows per data file: its `ddb_lake.rowsPerFile` property, else apply's default. */
export function tableRowsPerFile(table: ReadSnapshot): number {
  const recorded = table.metadata.configuration[ROWS_PER_FILE_PROPERTY];
  if (recorded !== undefined && /^[1-9][0-9]{0,9}$/.test(recorded)) return Number(recorded);
  return DEFAULT_ROWS_PER_FILE;
}

/**
 * The thresholds for `table`: the defaults (20 % deleted share, 5 % taken along, more than 4 small
 * files, small below half the table's rows per file) with `given` on top; the share taken along is
 * never above the deleted share. Pure.
 * @throws RangeError for a share outside 0 to 1, or a negative or fractional count.
 */
export function optimizeThresholds(
  table: ReadSnapshot,
  given: Partial<OptimizeThresholds> = {},
): OptimizeThresholds {
  const deletedShare = given.deletedShare ?? DEFAULT_DELETED_SHARE;
  const thresholds: OptimizeThresholds = {
    deletedShare,
    alongDeletedShare: given.alongDeletedShare ?? Math.min(DEFAULT_ALONG_DELETED_SHARE, deletedShare),
    maxSmallFiles: given.maxSmallFiles ?? DEFAULT_MAX_SMALL_FILES,
    smallFileRows: given.smallFileRows ?? Math.ceil(tableRowsPerFile(table) / 2),
  };
  if (!(thresholds.deletedShare >= 0 && thresholds.deletedShare <= 1)) {
    throw new RangeError(`the deleted share must be a number from 0 to 1, got ${thresholds.deletedShare}`);
  }
  if (!(thresholds.alongDeletedShare >= 0 && thresholds.alongDeletedShare <= 1)) {
    throw new RangeError(
      `the deleted share taken along must be a number from 0 to 1, got ${thresholds.alongDeletedShare}`,
    );
  }
  for (const name of ['maxSmallFiles', 'smallFileRows'] as const) {
    const value = thresholds[name];
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new RangeError(`${name} must be a whole number of at least 0, got ${value}`);
    }
  }
  return thresholds;
}

/** The rows a file's deletion vector hides (0 without one). */
export function fileDeletedRows(file: AddFile): number {
  return file.deletionVector?.cardinality ?? 0;
}

/**
 * Why a file is rewritten: its deleted share reached the threshold; it is small; or its deleted
 * share is above the one taken along, in a bucket rewritten anyway.
 */
export type RewriteReason = 'deleted-share' | 'small-file' | 'deleted-along';

/** One file the rewrite of a bucket removes. */
export interface PlannedFile {
  readonly file: AddFile;
  readonly reason: RewriteReason;
  /** Rows in the data file (stats' numRecords), deleted ones included. */
  readonly records: number;
  /** Rows its deletion vector hides. */
  readonly deletedRows: number;
}

/** The rewrite of one bucket. */
export interface BucketPlan {
  readonly bucket: number;
  /** Ascending by path. */
  readonly files: readonly PlannedFile[];
  /** Live rows of the files: what the rewrite writes. */
  readonly rows: number;
  /** Rows the files' deletion vectors hide: what the rewrite purges. */
  readonly deletedRows: number;
  readonly bytes: number;
  /** Files of the bucket before the rewrite, and small ones among them. */
  readonly bucketFiles: number;
  readonly smallFiles: number;
}

function plannedOf(file: AddFile, records: number, reason: RewriteReason): PlannedFile {
  return { file, reason, records, deletedRows: fileDeletedRows(file) };
}

/**
 * Which small files a bucket's rewrite takes. Along with a damaged file, all of them. Otherwise
 * tiered, so that merging a bucket's appended files does not rewrite its large file every few
 * batches (which would cost, spread over the batches, what copy-on-write costs): when the others
 * together hold less than a quarter of the live rows of the largest, they are merged among
 * themselves and the largest stays; it is taken along once they have grown to a quarter of it.
 */
function mergedSmallFiles(small: readonly PlannedFile[], withDamaged: boolean): readonly PlannedFile[] {
  if (withDamaged || small.length < 2) return small;
  const live = (planned: PlannedFile) => planned.records - planned.deletedRows;
  const largest = small.reduce((best, planned) => (live(planned) > live(best) ? planned : best));
  const others = small.filter((planned) => planned !== largest);
  const othersRows = others.reduce((sum, planned) => sum + live(planned), 0);
  return othersRows * 4 < live(largest) ? others : small;
}

/**
 * The buckets of `table` that pass `thresholds`, ascending, each with the files to rewrite (see the
 * top of this file); with `only`, just those buckets are considered (apply after a batch: the
 * buckets it touched). A bucket whose rewrite would write back the one file it removes (one clean
 * small file) is never planned, so a table just optimized plans nothing. Files without a bucket
 * partition value or without stats are left alone. Pure.
 */
export function bucketsToOptimize(
  table: ReadSnapshot,
  thresholds: OptimizeThresholds,
  only?: Iterable<number>,
): BucketPlan[] {
  const wanted = only === undefined ? undefined : new Set(only);
  const byBucket = new Map<number, { file: AddFile; records: number }[]>();
  for (const file of table.files) {
    const bucket = fileBucket(file);
    const records = fileRows(file);
    if (bucket === undefined || records === undefined) continue;
    if (wanted !== undefined && !wanted.has(bucket)) continue;
    let list = byBucket.get(bucket);
    if (list === undefined) {
      list = [];
      byBucket.set(bucket, list);
    }
    list.push({ file, records });
  }
  const plans: BucketPlan[] = [];
  for (const [bucket, files] of [...byBucket].sort(([a], [b]) => a - b)) {
    const damaged: PlannedFile[] = [];
    const worn: PlannedFile[] = [];
    const small: PlannedFile[] = [];
    for (const { file, records } of files) {
      const deleted = fileDeletedRows(file);
      if (deleted > 0 && deleted >= thresholds.deletedShare * records) {
        damaged.push(plannedOf(file, records, 'deleted-share'));
        continue;
      }
      const isSmall = records - deleted < thresholds.smallFileRows;
      if (deleted > 0 && deleted > thresholds.alongDeletedShare * records) {
        worn.push(plannedOf(file, records, 'deleted-along'));
      } else if (isSmall) {
        small.push(plannedOf(file, records, 'small-file'));
      }
    }
    // A worn file that is small still counts toward the bucket's small files.
    const smallCount =
      small.length + worn.filter((p) => p.records - p.deletedRows < thresholds.smallFileRows).length;
    const smallDue = smallCount > thresholds.maxSmallFiles;
    if (damaged.length === 0 && !smallDue) continue;
    const rewritten = [...damaged, ...worn];
    const chosen = [...rewritten, ...mergedSmallFiles(small, rewritten.length > 0)].sort((a, b) =>
      a.file.path < b.file.path ? -1 : a.file.path > b.file.path ? 1 : 0,
    );
    if (chosen.length === 1 && chosen[0]?.deletedRows === 0) continue;
    plans.push({
      bucket,
      files: chosen,
      rows: chosen.reduce((sum, p) => sum + p.records - p.deletedRows, 0),
      deletedRows: chosen.reduce((sum, p) => sum + p.deletedRows, 0),
      bytes: chosen.reduce((sum, p) => sum + p.file.size, 0),
      bucketFiles: files.length,
      smallFiles:
        smallCount + damaged.filter((p) => p.records - p.deletedRows < thresholds.smallFileRows).length,
    });
  }
  return plans;
}
