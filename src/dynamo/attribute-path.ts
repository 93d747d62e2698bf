/*
 * Attribute paths in error messages, in the document-path style of DynamoDB: `lines[1].price`,
 * `meta.nested.deep[0]`. A name that is not a plain identifier is quoted as a JSON string in
 * brackets (`meta["unit price"]`, `["pk#1"]`), so any path reads back unambiguously.
 */

/** One step of a path: an attribute or map-key name, or a list index. */
export type PathSegment = string | number;

function isPlainName(name: string): boolean {
  if (name.length === 0) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    const letter = (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
    if (!letter && (i === 0 || c < 48 || c > 57)) return false;
  }
  return true;
}

/**
 * Appends one segment to a path: `appendPath('lines', 1)` is `lines[1]`, `appendPath('lines[1]',
 * 'price')` is `lines[1].price`, `appendPath('', 'a b')` is `["a b"]`. Pure.
 */
export function appendPath(path: string, segment: PathSegment): string {
  if (typeof segment === 'number') return `${path}[${segment}]`;
  if (!isPlainName(segment)) return `${path}[${JSON.stringify(segment)}]`;
  return path === '' ? segment : `${path}.${segment}`;
}

/** Appends segments in order (outermost first). Pure. */
export function joinPath(path: string, segments: readonly PathSegment[]): string {
  let result = path;
  for (const segment of segments) result = appendPath(result, segment);
  return result;
}
