import { randomInt, randomUUID } from 'node:crypto';
import { crc32 } from 'node:zlib';
import type { ObjectStore } from '../storage/object-store.ts';
import type { AddFile, DeletionVectorDescriptor } from './actions.ts';
import { numRecordsOf } from './commit-info.ts';
import { deletionVectorFileKey, readDeletionVector } from './deletion-vector.ts';
import { DeltaInvalidWriteError } from './errors.ts';
import { encodePortableRoaring64 } from './roaring-bitmap.ts';
import { encodeZ85 } from './z85.ts';

/*
 * Writing deletion vectors (PROTOCOL.md, "Deletion Vectors", "Deletion Vector Descriptor Schema",
 * "Deletion Vector Format", "Deletion Vector File Storage Format", "Derived Fields"): the bitmap is
 * the magic number 1681511377 (little-endian) and the portable 64-bit RoaringBitmap of the row
 * indexes; it goes inline into the log (`i`, Z85) when small, or into a file of its own below the
 * table root (`u`): version byte 1, then the big-endian size, the bitmap and its big-endian CRC-32,
 * named `<random prefix>/deletion_vector_<uuid>.bin`, the descriptor holding the prefix and the Z85
 * of the UUID's 16 bytes. One vector per file, so every file is written once and never changed.
 */

const MAGIC_NUMBER = 1681511377;
const FILE_FORMAT_VERSION = 1;
/** Where the first (here: only) vector of a file starts: right after the version byte. */
const FIRST_VECTOR_OFFSET = 1;
/** Delta requires every bucket key's top bit to be 0 (Java reads keys signed): rows below 2^63. */
const ROW_LIMIT = 2n ** 63n;
/**
 * Bitmaps up to this size go inline. Spark's DML always writes files, and reads inline vectors
 * like any other; a vector of a few rows (a single row takes 34 bytes, each further row in the same
 * 64Ki block 2 more) inline saves an object per touched file and costs the log at most 80 Z85
 * characters, while anything larger keeps the log and its checkpoints small.
 */
export const DEFAULT_INLINE_MAX_BYTES = 64;
/**
 * Spark prefixes deletion vector files with a random folder only when `delta.randomizeFilePrefixes`
 * is set (then `delta.randomPrefixLength`, default 2, characters); by default the files sit in the
 * table root, as in the table-with-dv-small fixture.
 */
export const DEFAULT_RANDOM_PREFIX_LENGTH = 0;
/** Spark's random prefixes are alphanumeric (`Random.alphanumeric`). */
const PREFIX_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
/** Fresh UUIDs tried before giving up; a clash of random UUIDs means something else is wrong. */
const MAX_NAME_ATTEMPTS = 3;

/**
 * The serialized deletion vector of `rows` (PROTOCOL.md, "Deletion Vector Format"): the magic
 * number 1681511377 (little-endian), then the portable 64-bit RoaringBitmap of the rows, each
 * 64Ki block in the smallest of array, bitset and run form (as Spark's `runOptimize` leaves it).
 * `rows` must be ascending, distinct, and in [0, 2^63). Pure and deterministic;
 * `decodeDeletionVectorBitmap` reads it back.
 * @throws DeltaInvalidWriteError naming the first row out of order or out of range.
 */
export function encodeDeletionVectorBitmap(rows: readonly bigint[]): Uint8Array {
  const last = rows.at(-1);
  if (last !== undefined && last >= ROW_LIMIT) {
    throw new DeltaInvalidWriteError(
      `A deletion vector cannot hold the row index ${last}: Delta keeps row indexes below 2^63. No deletion vector was written.`,
    );
  }
  let bitmap: Uint8Array;
  try {
    bitmap = encodePortableRoaring64(rows);
  } catch (error) {
    throw new DeltaInvalidWriteError(
      `The rows of a deletion vector must be ascending, distinct row indexes from 0: ${(error as Error).message}. No deletion vector was written.`,
    );
  }
  const bytes = new Uint8Array(4 + bitmap.length);
  new DataView(bytes.buffer).setUint32(0, MAGIC_NUMBER, true);
  bytes.set(bitmap, 4);
  return bytes;
}

export interface WriteDeletionVectorOptions {
  /**
   * Bitmaps of at most this many bytes go inline (storageType 'i', Z85 in the log); default
   * `DEFAULT_INLINE_MAX_BYTES` (64), 0 = never inline.
   */
  readonly inlineMaxBytes?: number;
  /**
   * Length of the random folder prefix of 'u' vectors (as Delta's `randomPrefixLength`); default
   * `DEFAULT_RANDOM_PREFIX_LENGTH` (0, the table root, as Spark without `delta.randomizeFilePrefixes`).
   */
  readonly randomPrefixLength?: number;
}

/**
 * A deletion vector file holding one vector (PROTOCOL.md, "Deletion Vector File Storage Format"):
 * version byte 1, the big-endian size of `bitmap`, `bitmap`, its big-endian CRC-32. The vector
 * starts at offset 1. Pure.
 */
export function deletionVectorFileBytes(bitmap: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(1 + 4 + bitmap.length + 4);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, FILE_FORMAT_VERSION);
  view.setUint32(1, bitmap.length, false);
  bytes.set(bitmap, 5);
  view.setUint32(5 + bitmap.length, crc32(bitmap), false);
  return bytes;
}

function randomPrefix(length: number): string {
  let prefix = '';
  for (let i = 0; i < length; i++) prefix += PREFIX_ALPHABET[randomInt(PREFIX_ALPHABET.length)];
  return prefix;
}

function uuidBytes(uuid: string): Uint8Array {
  return Buffer.from(uuid.replaceAll('-', ''), 'hex');
}

function checkOptions(options: WriteDeletionVectorOptions): { inlineMaxBytes: number; prefixLength: number } {
  const inlineMaxBytes = options.inlineMaxBytes ?? DEFAULT_INLINE_MAX_BYTES;
  const prefixLength = options.randomPrefixLength ?? DEFAULT_RANDOM_PREFIX_LENGTH;
  if (!Number.isSafeInteger(inlineMaxBytes) || inlineMaxBytes < 0) {
    throw new DeltaInvalidWriteError(
      `inlineMaxBytes must be a whole number of bytes, 0 or more, got ${inlineMaxBytes}.`,
    );
  }
  if (!Number.isSafeInteger(prefixLength) || prefixLength < 0 || prefixLength > 64) {
    throw new DeltaInvalidWriteError(
      `randomPrefixLength must be a whole number from 0 to 64, got ${prefixLength}.`,
    );
  }
  return { inlineMaxBytes, prefixLength };
}

/**
 * Writes a new deletion vector for `rows` (ascending, distinct row indexes of one data file) and
 * returns its descriptor, with `cardinality` = the number of rows and `sizeInBytes` = the bitmap's
 * size:
 * - inline (`storageType` 'i', the Z85 of the bitmap zero-padded to a multiple of 4 bytes, no
 *   offset) when the bitmap is at most `inlineMaxBytes`; nothing is written to the store;
 * - else a new file `<prefix>/deletion_vector_<uuid>.bin` below the table root (`storageType`
 *   'u', `pathOrInlineDv` = the random prefix + the Z85 of the UUID's 16 bytes, `offset` 1),
 *   written with put-if-absent under a fresh random UUID, so no existing file is ever replaced.
 * The file is garbage until a commit references it; `vacuum` deletes it once it is older than the
 * retention and unreferenced. `readDeletionVector` reads back exactly `rows`.
 * @throws DeltaInvalidWriteError for rows out of order or range, or bad options; StorageError when
 *   the put fails.
 */
export async function writeDeletionVector(
  store: ObjectStore,
  rows: readonly bigint[],
  options: WriteDeletionVectorOptions = {},
): Promise<DeletionVectorDescriptor> {
  const { inlineMaxBytes, prefixLength } = checkOptions(options);
  const bitmap = encodeDeletionVectorBitmap(rows);
  if (bitmap.length <= inlineMaxBytes) {
    const padded = new Uint8Array(Math.ceil(bitmap.length / 4) * 4);
    padded.set(bitmap);
    return {
      storageType: 'i',
      pathOrInlineDv: encodeZ85(padded),
      sizeInBytes: bitmap.length,
      cardinality: rows.length,
    };
  }
  const body = deletionVectorFileBytes(bitmap);
  for (let attempt = 1; attempt <= MAX_NAME_ATTEMPTS; attempt++) {
    const descriptor: DeletionVectorDescriptor = {
      storageType: 'u',
      pathOrInlineDv: randomPrefix(prefixLength) + encodeZ85(uuidBytes(randomUUID())),
      offset: FIRST_VECTOR_OFFSET,
      sizeInBytes: bitmap.length,
      cardinality: rows.length,
    };
    const key = deletionVectorFileKey(descriptor, store.url);
    const put = await store.putIfAbsent(key, body);
    if (put.outcome === 'created') return descriptor;
    // `exists`: an earlier attempt whose response was lost, or (never in practice) a clash of
    // random UUIDs; either way a fresh name is safe, and the orphan goes with the next vacuum.
  }
  throw new DeltaInvalidWriteError(
    `Could not write a deletion vector below ${store.url}: ${MAX_NAME_ATTEMPTS} fresh random file names were all taken, which points at a store that reports every object as existing. Nothing was committed; check the store.`,
  );
}

/**
 * The ascending union of two ascending, distinct lists of row indexes (duplicates across the two
 * kept once). Pure; O(a + b).
 */
export function unionRowIndexes(a: readonly bigint[], b: readonly bigint[]): bigint[] {
  const out: bigint[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const x = a[i];
    const y = b[j];
    if (y === undefined || (x !== undefined && x < y)) {
      out.push(x as bigint);
      i++;
    } else if (x === undefined || y < x) {
      out.push(y);
      j++;
    } else {
      out.push(x);
      i++;
      j++;
    }
  }
  return out;
}

/**
 * Writes the deletion vector `file` (an active `add` of the table in `store`) must get so that
 * `rows` (ascending, distinct row indexes of its data file) are deleted too: its current vector's
 * rows (read and checked with `readDeletionVector`) united with `rows`, written by
 * `writeDeletionVector`. Returns the new descriptor, or `file.deletionVector` itself when `rows`
 * adds nothing (nothing is written then, and the file needs no new vector). Give the result to
 * `Transaction.updateDeletionVectors`.
 * @throws DeltaInvalidWriteError for rows out of order, or at or past the file's `numRecords`;
 *   DeltaLogCorruptError when the current vector cannot be read; StorageError when the put fails.
 */
export async function extendDeletionVector(
  store: ObjectStore,
  file: AddFile,
  rows: readonly bigint[],
  options: WriteDeletionVectorOptions = {},
): Promise<DeletionVectorDescriptor> {
  const numRecords = numRecordsOf(file.stats);
  const last = rows.at(-1);
  if (numRecords !== undefined && last !== undefined && last >= BigInt(numRecords)) {
    throw new DeltaInvalidWriteError(
      `The data file ${file.path} holds ${numRecords} rows, so it has no row ${last} to delete. No deletion vector was written.`,
    );
  }
  const current = file.deletionVector ?? undefined;
  const old = current === undefined ? [] : await readDeletionVector(store, store.url, current);
  const union = unionRowIndexes(old, rows);
  if (current !== undefined && union.length === old.length) return current;
  return writeDeletionVector(store, union, options);
}
