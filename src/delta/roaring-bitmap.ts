/*
 * The serialized RoaringBitmap formats deletion vectors are made of (PROTOCOL.md, "Deletion Vector
 * Format"; RoaringFormatSpec, "General layout" and "Extention for 64-bit implementations"), read
 * only. All words little-endian.
 *
 * 32-bit bitmap: a cookie (12346 then a 32-bit container count, or 12347 in the low 16 bits with
 * count − 1 in the high 16 and a bitset marking run containers), a descriptive header of
 * (key, cardinality − 1) 16-bit pairs, an offset header (always with 12346; with 12347 only from 4
 * containers on), then each container: run (count, then (start, length − 1) pairs), array
 * (cardinality ≤ 4096 sorted 16-bit values) or bitset (1024 64-bit words).
 * 64-bit portable bitmap: a 64-bit bucket count, then per bucket, ascending, a 32-bit key (the high
 * 32 bits) and a 32-bit bitmap of the low 32 bits.
 * Delta's older "native" bitmap array: a 32-bit bitmap count, then per bitmap (its index is the high
 * 32 bits) a 32-bit byte size and the bitmap; the spec's inline example (Example 3) is in this form
 * with big-endian counts, and the reference implementation reads it little-endian.
 */

const SERIAL_COOKIE_NO_RUNCONTAINER = 12346;
const SERIAL_COOKIE = 12347;
const NO_OFFSET_THRESHOLD = 4;
const ARRAY_CONTAINER_MAX = 4096;
const BITSET_BYTES = 8192;

/** A cursor over little-endian words; throws RangeError (the caller names the file) past the end. */
class Reader {
  readonly #view: DataView;
  offset: number;

  constructor(bytes: Uint8Array, offset = 0) {
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.offset = offset;
  }

  get remaining(): number {
    return this.#view.byteLength - this.offset;
  }

  #need(size: number, what: string): void {
    if (this.remaining < size) {
      throw new RangeError(
        `the bitmap ends at byte ${this.#view.byteLength}, inside ${what} at byte ${this.offset}`,
      );
    }
  }

  u16(what: string): number {
    this.#need(2, what);
    const value = this.#view.getUint16(this.offset, true);
    this.offset += 2;
    return value;
  }

  u32(what: string, littleEndian = true): number {
    this.#need(4, what);
    const value = this.#view.getUint32(this.offset, littleEndian);
    this.offset += 4;
    return value;
  }

  u64(what: string): bigint {
    this.#need(8, what);
    const value = this.#view.getBigUint64(this.offset, true);
    this.offset += 8;
    return value;
  }

  byte(what: string): number {
    this.#need(1, what);
    return this.#view.getUint8(this.offset++);
  }

  skip(size: number, what: string): void {
    this.#need(size, what);
    this.offset += size;
  }
}

interface ContainerHeader {
  readonly key: number;
  readonly cardinality: number;
  readonly run: boolean;
}

function readHeaders(reader: Reader): ContainerHeader[] {
  const cookie = reader.u32('the cookie');
  let count: number;
  let runFlags: Uint8Array | undefined;
  if (cookie === SERIAL_COOKIE_NO_RUNCONTAINER) {
    count = reader.u32('the container count');
  } else if ((cookie & 0xffff) === SERIAL_COOKIE) {
    count = (cookie >>> 16) + 1;
    runFlags = new Uint8Array(Math.ceil(count / 8));
    for (let i = 0; i < runFlags.length; i++) runFlags[i] = reader.byte('the run container bitset');
  } else {
    throw new RangeError(
      `the cookie ${cookie} is neither ${SERIAL_COOKIE_NO_RUNCONTAINER} nor ${SERIAL_COOKIE}`,
    );
  }
  if (count > 65536)
    throw new RangeError(`a 32-bit bitmap has at most 65536 containers, this one claims ${count}`);
  const headers: ContainerHeader[] = [];
  for (let i = 0; i < count; i++) {
    const key = reader.u16('the descriptive header');
    const cardinality = reader.u16('the descriptive header') + 1;
    const run = runFlags !== undefined && ((runFlags[i >> 3] as number) & (1 << (i & 7))) !== 0;
    headers.push({ key, cardinality, run });
  }
  if (runFlags === undefined || count >= NO_OFFSET_THRESHOLD) reader.skip(4 * count, 'the offset header');
  return headers;
}

/** Appends `high + (key << 16 | low)` for each low value of one container, ascending. */
function readContainer(reader: Reader, header: ContainerHeader, high: bigint, out: bigint[]): void {
  const base = high | BigInt(header.key * 65536);
  if (header.run) {
    const runs = reader.u16('a run container');
    for (let r = 0; r < runs; r++) {
      const start = reader.u16('a run container');
      const length = reader.u16('a run container') + 1;
      if (start + length > 65536)
        throw new RangeError(`a run from ${start} of ${length} values passes 65535`);
      for (let v = start; v < start + length; v++) out.push(base | BigInt(v));
    }
  } else if (header.cardinality <= ARRAY_CONTAINER_MAX) {
    for (let i = 0; i < header.cardinality; i++) out.push(base | BigInt(reader.u16('an array container')));
  } else {
    // 1024 little-endian 64-bit words are 2048 little-endian 32-bit words in the same bit order.
    for (let word = 0; word < BITSET_BYTES / 4; word++) {
      let bits = reader.u32('a bitset container');
      while (bits !== 0) {
        const lowest = bits & -bits;
        out.push(base | BigInt(word * 32 + 31 - Math.clz32(lowest)));
        bits ^= lowest;
      }
    }
  }
}

/**
 * The values of a 32-bit RoaringBitmap serialized at `reader`'s position, each added to `high`,
 * appended to `out` in ascending order; the reader ends after the bitmap.
 * @throws RangeError for a bad cookie or a bitmap cut short.
 */
function readBitmap32(reader: Reader, high: bigint, out: bigint[]): void {
  for (const header of readHeaders(reader)) readContainer(reader, header, high, out);
}

/**
 * The values of a 64-bit RoaringBitmap in the portable format, starting at byte `offset` of
 * `bytes` and running to its end, ascending.
 * @throws RangeError for a bad cookie, keys or values out of order, a bitmap cut short or bytes
 *   left over.
 */
export function decodePortableRoaring64(bytes: Uint8Array, offset = 0): bigint[] {
  const reader = new Reader(bytes, offset);
  const buckets = reader.u64('the bucket count');
  const values: bigint[] = [];
  let previousKey = -1;
  for (let b = 0n; b < buckets; b++) {
    const key = reader.u32('a bucket key');
    if (key <= previousKey) throw new RangeError(`bucket keys must ascend, got ${key} after ${previousKey}`);
    previousKey = key;
    readBitmap32(reader, BigInt(key) << 32n, values);
  }
  if (reader.remaining !== 0) throw new RangeError(`${reader.remaining} bytes follow the last bucket`);
  for (let i = 1; i < values.length; i++) {
    if ((values[i] as bigint) <= (values[i - 1] as bigint)) {
      throw new RangeError(`values must ascend, got ${values[i]} after ${values[i - 1]}`);
    }
  }
  return values;
}

/**
 * The values of Delta's native bitmap array (count, then size-prefixed 32-bit bitmaps whose index is
 * the high 32 bits), starting at byte `offset` of `bytes` and running to its end, ascending. The
 * count and sizes are read in the given byte order; the bitmaps are always little-endian.
 * @throws RangeError for a bad cookie, a size that disagrees with its bitmap, a bitmap cut short or
 *   bytes left over.
 */
export function decodeNativeRoaringArray(bytes: Uint8Array, offset: number, littleEndian: boolean): bigint[] {
  const reader = new Reader(bytes, offset);
  const count = reader.u32('the bitmap count', littleEndian);
  const values: bigint[] = [];
  for (let index = 0; index < count; index++) {
    const size = reader.u32('a bitmap size', littleEndian);
    const start = reader.offset;
    readBitmap32(reader, BigInt(index) << 32n, values);
    if (reader.offset - start !== size) {
      throw new RangeError(`bitmap ${index} takes ${reader.offset - start} bytes, its size says ${size}`);
    }
  }
  if (reader.remaining !== 0) throw new RangeError(`${reader.remaining} bytes follow the last bitmap`);
  return values;
}
