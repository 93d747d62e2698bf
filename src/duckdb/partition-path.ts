import type { PartitionValues } from '../delta/actions.ts';

/*
 * The folder a partitioned data file goes in, as Spark and Hive name it: `col=value/…` with
 * Hive's path escaping (ExternalCatalogUtils.escapePathName) and `__HIVE_DEFAULT_PARTITION__` for
 * null. Delta readers take partition values from the log, never from the path; the layout only
 * keeps the table familiar to people and tools that list it.
 *
 * One departure from Spark: a column whose name starts with `_` or `.` (apply's `_ddb_bucket`)
 * names its folder without those characters (`ddb_bucket=3/`). PROTOCOL.md ("Data Files") puts
 * data files in the table root or in non-hidden subdirectories, whose names do not start with `_`,
 * and Hadoop's listing, Spark's file index and tools that copy or sync a table skip such folders as
 * hidden. The folder name is for people only, so nothing is lost: the column keeps its name and its
 * values come from the log's `partitionValues`. Files written before under `_ddb_bucket=N/` keep
 * their paths, which the log names.
 */

/** Hive's name of the null partition. */
export const HIVE_DEFAULT_PARTITION = '__HIVE_DEFAULT_PARTITION__';

const ESCAPED = new Set(['"', '#', '%', "'", '*', '/', ':', '=', '?', '\\', '\u007f', '{', '[', ']', '^']);

/** `value` with Hive's escaping: the characters above and control characters as `%XX`. Pure. */
export function escapePartitionPathName(value: string): string {
  let escaped = '';
  for (const char of value) {
    const code = char.charCodeAt(0);
    if (char.length === 1 && (code < 0x20 || ESCAPED.has(char))) {
      escaped += `%${code.toString(16).toUpperCase().padStart(2, '0')}`;
    } else {
      escaped += char;
    }
  }
  return escaped;
}

/**
 * The folder name of a partition column: the escaped name without leading `_` and `.`, so that the
 * folder is never hidden (see the top of this file); `partition` when nothing else is left. Pure.
 */
export function partitionFolderName(column: string): string {
  const visible = escapePartitionPathName(column).replace(/^[_.]+/, '');
  return visible === '' ? 'partition' : visible;
}

/**
 * The folder (no trailing slash) of a file in the partition `values`, columns in `columns` order:
 * `region=eu/day=2026-11-23`, `_ddb_bucket` as `ddb_bucket=3` (never a hidden folder); `''` for an
 * unpartitioned table. Pure.
 */
export function partitionFolder(columns: readonly string[], values: PartitionValues): string {
  return columns
    .map((column) => {
      const value = values[column];
      const text =
        value === null || value === undefined || value === ''
          ? HIVE_DEFAULT_PARTITION
          : escapePartitionPathName(value);
      return `${partitionFolderName(column)}=${text}`;
    })
    .join('/');
}
