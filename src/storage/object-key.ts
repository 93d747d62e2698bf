import { InvalidKeyError } from './errors.ts';

/**
 * Names starting with this are the local folder store's temporary files. Keys may not use it as a
 * segment, so a listing can skip such files without ever hiding a real object.
 */
export const TEMP_FILE_MARKER = '.ddb-lake-tmp-';

const LONE_SURROGATE = /\p{Cs}/u;

/**
 * Orders two keys by the bytes of their UTF-8 encoding, the order in which S3 lists keys. This is
 * Unicode code point order, which differs from JavaScript's `<` (UTF-16 code units) for characters
 * beyond U+FFFF, and which puts `a-b` before `a/b` before `a0`.
 */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Why `key` cannot name an object, or `undefined` when it can. */
function keyProblem(key: string): string | undefined {
  if (key.length === 0) return 'it is empty';
  if (key.endsWith('/')) return 'it ends with "/" (an empty last segment)';
  const problem = prefixProblem(key);
  if (problem !== undefined) return problem;
  const last = key.slice(key.lastIndexOf('/') + 1);
  return last === '.' || last === '..' ? `it has a "${last}" segment` : undefined;
}

/** Why `prefix` cannot start a listing, or `undefined` when it can (the empty prefix can). */
function prefixProblem(prefix: string): string | undefined {
  if (prefix.includes('\0')) return 'it contains a NUL character';
  if (LONE_SURROGATE.test(prefix)) return 'it contains a lone UTF-16 surrogate, which has no UTF-8 encoding';
  if (prefix.startsWith('/')) return 'it starts with "/"';
  const segments = prefix.split('/');
  // The last segment of a prefix may be partial ("changes/or", "changes/."), so only the complete
  // segments before it must be proper names.
  for (const segment of segments.slice(0, -1)) {
    if (segment === '') return 'it has an empty segment ("//")';
    if (segment === '.' || segment === '..') return `it has a "${segment}" segment`;
    if (segment.startsWith(TEMP_FILE_MARKER))
      return `the segment "${segment}" is reserved for temporary files`;
  }
  const last = segments.at(-1) ?? '';
  if (last.startsWith(TEMP_FILE_MARKER)) return `the segment "${last}" is reserved for temporary files`;
  return undefined;
}

/**
 * Throws `InvalidKeyError` unless `key` is a relative, `/`-separated key whose segments are all
 * non-empty and none is `.` or `..`, with no NUL and no lone surrogate.
 */
export function assertValidKey(storeUrl: string, key: string): void {
  const problem = keyProblem(key);
  if (problem !== undefined) throw new InvalidKeyError(storeUrl, key, problem);
}

/**
 * Throws `InvalidKeyError` unless `prefix` can start a listing: empty, or a key-like path whose
 * last segment may be partial or empty (`changes/` and `changes/or` are both fine).
 */
export function assertValidPrefix(storeUrl: string, prefix: string): void {
  const problem = prefixProblem(prefix);
  if (problem !== undefined) throw new InvalidKeyError(storeUrl, prefix, problem);
}
