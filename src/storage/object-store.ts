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

/** The outcome of `putIfAbsent`: a value, not an exception, so callers loop over it. */
export type PutIfAbsentOutcome = { readonly outcome: 'created' } | { readonly outcome: 'exists' };

/**
 * One object store over a local folder or S3. Keys are `/`-separated and relative to the store's
 * root (the folder, or `bucket/prefix`).
 *
 * Promises every implementation keeps (tested by one contract suite):
 * - `list` yields every object under a prefix exactly once, in ascending key order (byte order of
 *   UTF-8), paginating internally; an empty or missing prefix yields nothing.
 * - `get` of a missing key throws `ObjectNotFoundError`.
 * - `put` replaces the whole object atomically: a reader sees the old bytes or the new, never part.
 * - `putIfAbsent` creates the object only if no object has that key, atomically, and says which.
 * - `delete` is idempotent: deleting a missing key succeeds.
 */
export interface ObjectStore {
  /** The URL this store was opened from (`s3://bucket/prefix` or `file:///abs/path`). */
  readonly url: string;

  /** Every object whose key starts with `prefix`, ascending by key. */
  list(prefix: string, options?: { readonly startAfter?: string }): AsyncIterable<ObjectInfo>;

  /** The object's metadata, or `undefined` when it does not exist. */
  head(key: string): Promise<ObjectInfo | undefined>;

  /** A stream of the object's bytes, optionally a byte range (`end` exclusive). */
  get(key: string, range?: { readonly start: number; readonly end?: number }): Promise<Readable>;

  /** The whole object as bytes (for small objects: manifests, commits, checkpoints). */
  getBytes(key: string): Promise<Uint8Array>;

  /** Writes the whole object, replacing any existing one. Large streams upload in parts. */
  put(key: string, body: PutBody): Promise<void>;

  /** Writes the object only if the key is free. Atomic against concurrent writers. */
  putIfAbsent(key: string, body: Uint8Array | string): Promise<PutIfAbsentOutcome>;

  /** Removes the object; a missing key is not an error. */
  delete(key: string): Promise<void>;

  /** Releases clients and sockets. The store is unusable afterwards. */
  close(): Promise<void>;
}
