/*
 * String bounds of the per-file statistics (PROTOCOL.md, "Per-file Statistics": "String columns
 * are cut off at a fixed prefix length"), computed as delta-spark's StatisticsCollection does
 * (truncateMinStringAgg / truncateMaxStringAgg), so that our stats equal Spark's for the same file.
 * Lengths count UTF-16 code units, as Java strings do; a surrogate pair is never split.
 */

/** Spark's default `delta.dataSkippingStringPrefixLength`. */
export const STATS_STRING_PREFIX_LENGTH = 32;

/** U+10FFFF, the largest code point: the tie-breaker when the cut character is not ASCII. */
const UTF8_MAX_CHARACTER = '\uDBFF\uDFFF';
/** U+007F, the largest ASCII character: the tie-breaker when the cut character is below it. */
const ASCII_MAX_CHARACTER = '\u007F';

function isHighSurrogate(unit: number): boolean {
  return unit >= 0xd800 && unit <= 0xdbff;
}

function isLowSurrogate(unit: number): boolean {
  return unit >= 0xdc00 && unit <= 0xdfff;
}

/**
 * The lower bound to record for a column whose minimum is `min`: the string itself when it has at
 * most `prefixLength` code units, else its first `prefixLength` units (one more when the cut would
 * split a surrogate pair). Every value ≥ `min` is ≥ the result. Pure.
 */
export function truncateMinString(min: string, prefixLength = STATS_STRING_PREFIX_LENGTH): string {
  if (min.length <= prefixLength) return min;
  const splitsPair =
    isHighSurrogate(min.charCodeAt(prefixLength - 1)) && isLowSurrogate(min.charCodeAt(prefixLength));
  return min.slice(0, splitsPair ? prefixLength + 1 : prefixLength);
}

/**
 * The upper bound to record for a column whose maximum is `max`, or undefined when no bound within
 * `2 × prefixLength` code units exists (the max is then omitted from the stats). A string of at most
 * `prefixLength` units is kept; otherwise a prefix is extended past U+10FFFF characters and closed
 * with U+007F when the next unit is below it, else with U+10FFFF, so that the bound is ≥ `max` in
 * UTF-8 byte order (how Parquet and Spark compare strings). Pure.
 */
export function truncateMaxString(
  max: string,
  prefixLength = STATS_STRING_PREFIX_LENGTH,
): string | undefined {
  if (max.length <= prefixLength) return max;
  const limit = 2 * prefixLength;
  let length = truncateMinString(max, prefixLength).length;
  while (length <= limit) {
    if (length >= max.length) return max;
    if (length + 1 < max.length && max.slice(length, length + 2) === UTF8_MAX_CHARACTER) {
      length += 2;
    } else if (max.charCodeAt(length) < ASCII_MAX_CHARACTER.charCodeAt(0)) {
      return max.slice(0, length) + ASCII_MAX_CHARACTER;
    } else {
      return max.slice(0, length) + UTF8_MAX_CHARACTER;
    }
  }
  return undefined;
}
