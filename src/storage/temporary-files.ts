import type { ObjectInfo, ObjectStore } from './object-store.ts';

/*
 * Temporary files of interrupted writes. The local folder store writes each object to a temporary
 * file beside its target (named with `TEMP_FILE_MARKER`) and renames or hard-links it into place;
 * a process killed between the two leaves the temporary file behind. They are no object: listings
 * skip them and keys may not name them, so whoever cleans up (`table vacuum`) reaches them through
 * this small interface instead. S3 writes leave no such files (a PutObject is whole or absent).
 */

/** A store that can hold temporary files of interrupted writes, and can list and remove them. */
export interface TemporaryFileStore {
  /**
   * Every temporary file below the store's root, hidden folders included, ascending by key. Each
   * `key` is the file's `/`-separated path below the root; it is valid only for
   * `deleteTemporaryFile` (the other methods refuse it). `lastModified` is when its write last
   * wrote to it: a write in progress keeps it recent.
   */
  listTemporaryFiles(): AsyncIterable<ObjectInfo>;
  /**
   * Removes one temporary file named by `listTemporaryFiles`; a file already gone is not an error.
   * @throws InvalidKeyError for a key whose last segment is not a temporary file's name.
   */
  deleteTemporaryFile(key: string): Promise<void>;
}

/** True when `store` can hold temporary files of interrupted writes (the local folder store). */
export function holdsTemporaryFiles(store: ObjectStore): store is ObjectStore & TemporaryFileStore {
  const candidate = store as Partial<TemporaryFileStore>;
  return (
    typeof candidate.listTemporaryFiles === 'function' && typeof candidate.deleteTemporaryFile === 'function'
  );
}
