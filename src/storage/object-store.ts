import type { Readable } from 'node:stream';

/** What a listing or `head` tells about one object. */
export interface ObjectInfo {
  /** The key relative to the store's root (never starts with `/`). */
  readonly key: string;
  readonly size: number;
  readonly lastModified: Date;
}

/** A body for `put`: bytes, text (UTF-8), or a stream of bytes. */
export type PutBody = Uint8Array | string | Readable;

/**
 * A byte range of an object: bytes `start` (inclusive) to `end` (exclusive), both non-negative
 * integers with `end >= start`. An `end` past the object's size is clamped to it; a range that
 * starts at or past the end of the object selects no bytes.
 */
export interface ByteRange {
  readonly start: number;
  readonly end?: number;
}

/** The outcome of `putIfAbsent`: a value, not an exception, so callers loop over it. */
export type PutIfAbsentOutcome = { readonly outcome: 'created' } | { readonly outcome: 'exists' };

/**
 * One object store over a local folder or S3. Keys are `/`-separated and relative to the store's
 * root (the folder, or `bucket/prefix`).
 *
 * Promises every implementation keeps (tested by one contract suite, test/storage/):
 * - Keys are validated before any I/O: an empty key, a leading `/`, an empty, `.` or `..` segment,
 *   a NUL or a lone surrogate throws `InvalidKeyError`, so a key names the same object everywhere.
 * - `list` yields every object under a prefix exactly once, in ascending key order (byte order of
 *   UTF-8, as S3 lists: `a-b` < `a/b` < `a0`), paginating internally; an empty or missing prefix
 *   yields nothing. The prefix is a plain string prefix (`changes/t1` also matches `changes/t10/…`).
 * - `get` and `getBytes` of a missing key throw `ObjectNotFoundError` (code `OBJECT_NOT_FOUND`).
 * - `put` replaces the whole object atomically: a reader sees the old bytes or the new, never part.
 * - `putIfAbsent` creates the object only if no object has that key, atomically, and says which.
 * - `delete` is idempotent: deleting a missing key succeeds.
 * Other failures throw `StorageError` subclasses whose message names the store URL and the key.
 */
export interface ObjectStore {
  /** The URL this store was opened from (`s3://bucket/prefix` or `file:///abs/path`). */
  readonly url: string;

  /**
   * Every object whose key starts with `prefix` and, when given, sorts strictly after
   * `startAfter`, ascending by key (UTF-8 byte order). Lazy: objects are fetched page by page as
   * the caller iterates.
   */
  list(prefix: string, options?: { readonly startAfter?: string }): AsyncIterable<ObjectInfo>;

  /** The object's metadata, or `undefined` when it does not exist. */
  head(key: string): Promise<ObjectInfo | undefined>;

  /**
   * A stream of the object's bytes, optionally a byte range (`end` exclusive, see `ByteRange`).
   * Throws `ObjectNotFoundError` (before any byte is streamed) when the key is free, and
   * `StorageError` with code `INVALID_RANGE` for a negative, fractional or inverted range.
   */
  get(key: string, range?: { readonly start: number; readonly end?: number }): Promise<Readable>;

  /** The whole object as bytes (for small objects: manifests, commits, checkpoints). */
  getBytes(key: string): Promise<Uint8Array>;

  /** Writes the whole object, replacing any existing one. Large streams upload in parts. */
  put(key: string, body: PutBody): Promise<void>;

  /**
   * Writes the object only if the key is free. Atomic against concurrent writers: of many racing
   * calls for one key exactly one sees `created`, and the object holds that caller's bytes.
   * On S3, a request retried after a lost response can see `exists` for an object that its own
   * first attempt created; callers that must tell these apart compare the stored bytes.
   */
  putIfAbsent(key: string, body: Uint8Array | string): Promise<PutIfAbsentOutcome>;

  /** Removes the object; a missing key is not an error. */
  delete(key: string): Promise<void>;

  /** Releases clients and sockets. The store is unusable afterwards. */
  close(): Promise<void>;
}
