import { DeltaUnsupportedFeatureError } from './errors.ts';

/*
 * `add.path` / `remove.path` are URIs (RFC 2396), relative to the table root or absolute
 * (PROTOCOL.md, "Add File and Remove File"). The object store speaks keys relative to the root.
 */

const SCHEME = /^[a-zA-Z][a-zA-Z0-9+.-]*:/;

function withoutTrailingSlash(url: string): string {
  return url.replace(/\/+$/, '');
}

/** `file:/x`, `file:///x` → `file:///x`, so Spark's and Node's spellings compare equal. */
function normalizeFileUrl(url: string): string {
  return url.replace(/^file:\/+/, 'file:///');
}

/**
 * The store key of a data file named by `path` in the log of the table at `tableUrl`: the path
 * URI-decoded, or, for an absolute path inside the table, the part below the table's root.
 * @throws DeltaUnsupportedFeatureError for an absolute path outside the table (shallow clones).
 */
export function dataFileKey(path: string, tableUrl: string): string {
  if (SCHEME.test(path)) {
    const root = `${withoutTrailingSlash(normalizeFileUrl(tableUrl))}/`;
    const absolute = normalizeFileUrl(path);
    if (!absolute.startsWith(root)) {
      throw new DeltaUnsupportedFeatureError(
        'read',
        'absolutePath',
        `The log of ${tableUrl} names a data file outside the table (${path}); ddb-lake reads only files below the table's root.`,
      );
    }
    return decodeURIComponent(absolute.slice(root.length));
  }
  return decodeURIComponent(path);
}

/** The `path` to record for a file written at `key` below the table root: URI-encoded per segment. */
export function dataFilePath(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}
