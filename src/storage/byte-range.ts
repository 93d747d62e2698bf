import { StorageError } from './errors.ts';
import type { ByteRange } from './object-store.ts';

/**
 * Throws `StorageError` (code `INVALID_RANGE`) unless `range` is absent or has a non-negative
 * integer `start` and, when given, an integer `end >= start` (see `ByteRange`).
 */
export function checkRange(storeUrl: string, key: string, range: ByteRange | undefined): void {
  if (range === undefined) return;
  const { start, end } = range;
  const validStart = Number.isSafeInteger(start) && start >= 0;
  const validEnd = end === undefined || (Number.isSafeInteger(end) && end >= start);
  if (validStart && validEnd) return;
  throw new StorageError(
    'INVALID_RANGE',
    `Invalid byte range {start: ${start}, end: ${end}} for "${key}" in ${storeUrl}: start must be a ` +
      'non-negative integer and end (exclusive) an integer not below start.',
  );
}

/**
 * The HTTP `Range` header for a checked, non-empty range (`end > start` or no `end`):
 * `bytes=start-` or `bytes=start-(end-1)`, since HTTP ranges are inclusive.
 */
export function httpRange(range: ByteRange): string {
  return range.end === undefined ? `bytes=${range.start}-` : `bytes=${range.start}-${range.end - 1}`;
}

/**
 * Whether a `Content-Range` answer (`bytes first-last/total`) is exactly what `range` asked for,
 * after clamping `end` to the object's size. Guards against servers that ignore or misread ranges.
 */
export function contentRangeMatches(range: ByteRange, contentRange: string): boolean {
  const match = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(contentRange.trim());
  if (match === null) return false;
  const [first, last, total] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const expectedLast = Math.min(range.end ?? total, total) - 1;
  return first === range.start && last === expectedLast;
}
