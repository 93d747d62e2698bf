import { crc32 } from 'node:zlib';
import { ObjectNotFoundError } from '../storage/errors.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import type { DeletionVectorDescriptor } from './actions.ts';
import { dataFileKey } from './data-path.ts';
import { DeltaLogCorruptError } from './errors.ts';
import { decodeNativeRoaringArray, decodePortableRoaring64 } from './roaring-bitmap.ts';
import { decodeZ85 } from './z85.ts';

/*
 * Deletion vectors (PROTOCOL.md, "Deletion Vectors", "Deletion Vector Format", "Deletion Vector
 * File Storage Format"): the row indexes (0-based positions in the data file) that a logical file
 * no longer holds. A descriptor stores them inline (`i`: Z85 of the bitmap), in a file named by a
 * UUID below the table root (`u`: optional random prefix, then the Z85 of the 16 UUID bytes), or at
 * an absolute path (`p`). The bitmap is the magic number 1681511377 (little-endian) followed by a
 * portable 64-bit RoaringBitmap (or Delta's older native bitmap array); in a file it sits at `offset` behind a big-endian 32-bit size and
 * is followed by the big-endian CRC-32 of the bitmap bytes; the file starts with version byte 1.
 */

const MAGIC_NUMBER = 1681511377;
/** Delta's older native bitmap array (PROTOCOL.md's inline Example 3 is in it, big-endian). */
const NATIVE_MAGIC_NUMBER = 1681511376;
const FILE_FORMAT_VERSION = 1;
/** Z85 characters of a 16-byte UUID. */
const UUID_CHARS = 20;

function corrupt(tableUrl: string, where: string, what: string, cause?: unknown): DeltaLogCorruptError {
  return new DeltaLogCorruptError(
    `The deletion vector ${where} of the table at ${tableUrl} ${what}. Without it the deleted rows of its data file cannot be told apart; the table must be repaired (restore the file, or read the table with Spark or Databricks to check it).`,
    { file: where, cause },
  );
}

/** `8-4-4-4-12` lowercase hex of 16 bytes. */
function uuidText(bytes: Uint8Array): string {
  const hex = Buffer.from(bytes).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * The store key of the file holding an on-disk deletion vector (storage type `u` or `p`), relative
 * to the table root: `<prefix>/deletion_vector_<uuid>.bin` for `u` (PROTOCOL.md, "Derived Fields").
 * @throws DeltaLogCorruptError for an inline descriptor, an unknown storage type or a bad UUID.
 */
export function deletionVectorFileKey(descriptor: DeletionVectorDescriptor, tableUrl: string): string {
  const text = descriptor.pathOrInlineDv;
  if (descriptor.storageType === 'p') return dataFileKey(text, tableUrl);
  if (descriptor.storageType !== 'u') {
    throw corrupt(tableUrl, `"${text}"`, `has storage type "${descriptor.storageType}", which names no file`);
  }
  if (text.length < UUID_CHARS)
    throw corrupt(tableUrl, `"${text}"`, `is shorter than a Z85 UUID (${UUID_CHARS} characters)`);
  const prefix = text.slice(0, text.length - UUID_CHARS);
  let uuid: string;
  try {
    uuid = uuidText(decodeZ85(text.slice(-UUID_CHARS)));
  } catch (error) {
    throw corrupt(tableUrl, `"${text}"`, `does not end in a Z85 UUID (${(error as Error).message})`, error);
  }
  const name = `deletion_vector_${uuid}.bin`;
  return prefix === '' ? name : `${prefix}/${name}`;
}

/**
 * The sorted row indexes of a serialized deletion vector: the magic number 1681511377
 * (little-endian) and a portable 64-bit RoaringBitmap, as PROTOCOL.md specifies, or the magic
 * number 1681511376 and Delta's native bitmap array in either byte order (the spec's own inline
 * example uses it). `where` names its origin for messages.
 * @throws DeltaLogCorruptError for an unknown magic number or a malformed bitmap.
 */
export function decodeDeletionVectorBitmap(bytes: Uint8Array, tableUrl: string, where: string): bigint[] {
  if (bytes.length < 4)
    throw corrupt(tableUrl, where, `is ${bytes.length} bytes long, too short for the magic number`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const little = view.getUint32(0, true);
  const big = view.getUint32(0, false);
  try {
    if (little === MAGIC_NUMBER) return decodePortableRoaring64(bytes, 4);
    if (little === NATIVE_MAGIC_NUMBER) return decodeNativeRoaringArray(bytes, 4, true);
    if (big === NATIVE_MAGIC_NUMBER) return decodeNativeRoaringArray(bytes, 4, false);
  } catch (error) {
    throw corrupt(tableUrl, where, `is not a valid RoaringBitmap (${(error as Error).message})`, error);
  }
  throw corrupt(
    tableUrl,
    where,
    `starts with ${little}, not the magic number ${MAGIC_NUMBER} of the portable RoaringBitmap format`,
  );
}

async function readRange(store: ObjectStore, key: string, start: number, end: number): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of await store.get(key, { start, end }))
    chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

/**
 * Vectors at most this far into their file are read with the file's version byte in one range:
 * ours sit at offset 1, Spark's share files at growing offsets, where the bytes between are waste.
 */
const ONE_READ_MAX_OFFSET = 64 * 1024;

/** The bitmap bytes of an on-disk deletion vector, checked against its size, CRC-32 and file version. */
async function readStoredBitmap(
  store: ObjectStore,
  tableUrl: string,
  key: string,
  descriptor: DeletionVectorDescriptor,
): Promise<Uint8Array> {
  const offset = descriptor.offset ?? 0;
  const size = descriptor.sizeInBytes;
  let head: Uint8Array;
  let body: Uint8Array;
  try {
    if (offset <= ONE_READ_MAX_OFFSET) {
      // The version byte and the vector in one request (one per vector on S3, not two).
      const bytes = await readRange(store, key, 0, offset + 4 + size + 4);
      head = bytes.subarray(0, 1);
      body = bytes.subarray(Math.min(offset, bytes.length));
    } else {
      [head, body] = await Promise.all([
        readRange(store, key, 0, 1),
        readRange(store, key, offset, offset + 4 + size + 4),
      ]);
    }
  } catch (error) {
    if (error instanceof ObjectNotFoundError) throw corrupt(tableUrl, key, 'is missing', error);
    throw error;
  }
  if (head[0] !== FILE_FORMAT_VERSION) {
    throw corrupt(tableUrl, key, `has format version ${head[0]}, not ${FILE_FORMAT_VERSION}`);
  }
  if (body.length !== 4 + size + 4) {
    throw corrupt(
      tableUrl,
      key,
      `ends before byte ${offset + 8 + size} (offset ${offset}, sizeInBytes ${size})`,
    );
  }
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const stored = view.getUint32(0, false);
  if (stored !== size)
    throw corrupt(tableUrl, key, `holds ${stored} bytes at offset ${offset}, the log says ${size}`);
  const bitmap = body.subarray(4, 4 + size);
  const checksum = view.getUint32(4 + size, false);
  if (crc32(bitmap) !== checksum) throw corrupt(tableUrl, key, `fails its CRC-32 check at offset ${offset}`);
  return bitmap;
}

/**
 * The row indexes a deletion vector removes from its data file, ascending, read from the log
 * (inline), or from its file in `store` (the table's store; `tableUrl` resolves absolute paths).
 * Checks everything the format allows: the file version, the size, the CRC-32, the magic number,
 * and that the count equals `descriptor.cardinality`. Read-only.
 * @throws DeltaLogCorruptError naming the deletion vector (its file or its inline text) when it is
 *   missing, damaged or disagrees with its descriptor.
 */
export async function readDeletionVector(
  store: ObjectStore,
  tableUrl: string,
  descriptor: DeletionVectorDescriptor,
): Promise<readonly bigint[]> {
  let rows: bigint[];
  let where: string;
  if (descriptor.storageType === 'i') {
    where = `"${descriptor.pathOrInlineDv}" (inline)`;
    let bytes: Uint8Array;
    try {
      bytes = decodeZ85(descriptor.pathOrInlineDv);
    } catch (error) {
      throw corrupt(tableUrl, where, `is not Z85 (${(error as Error).message})`, error);
    }
    if (bytes.length < descriptor.sizeInBytes) {
      throw corrupt(
        tableUrl,
        where,
        `decodes to ${bytes.length} bytes, the log says ${descriptor.sizeInBytes}`,
      );
    }
    rows = decodeDeletionVectorBitmap(bytes.subarray(0, descriptor.sizeInBytes), tableUrl, where);
  } else {
    where = deletionVectorFileKey(descriptor, tableUrl);
    const bitmap = await readStoredBitmap(store, tableUrl, where, descriptor);
    rows = decodeDeletionVectorBitmap(bitmap, tableUrl, where);
  }
  if (rows.length !== descriptor.cardinality) {
    throw corrupt(
      tableUrl,
      where,
      `holds ${rows.length} row indexes, the log says ${descriptor.cardinality}`,
    );
  }
  return rows;
}
