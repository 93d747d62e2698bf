import type { PartitionValues } from '../delta/actions.ts';

/*
 * The folder a partitioned data file goes in, as Spark and Hive name it: `col=value/…` with
 * Hive's path escaping (ExternalCatalogUtils.escapePathName) and `__HIVE_DEFAULT_PARTITION__` for
 * null. Delta readers take partition values from the log, never from the path; the layout only
 * keeps the table familiar to people and tools that list it.
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
 * The folder (no trailing slash) of a file in the partition `values`, columns in `columns` order:
 * `region=eu/day=2026-11-23`; `''` for an unpartitioned table. Pure.
 */
export function partitionFolder(columns: readonly string[], values: PartitionValues): string {
  return columns
    .map((column) => {
      const value = values[column];
      const text =
        value === null || value === undefined || value === ''
          ? HIVE_DEFAULT_PARTITION
          : escapePartitionPathName(value);
      return `${escapePartitionPathName(column)}=${text}`;
    })
    .join('/');
}
