/*
 * The serialized RoaringBitmap formats deletion vectors are made of (PROTOCOL.md, "Deletion Vector
 * Format"; RoaringFormatSpec, "General layout" and "Extention for 64-bit implementations"): read,
 * and written in the portable 64-bit form. All words little-endian.
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

/** The serialized size of a run container of `runs` runs (RoaringFormatSpec; Java's RunContainer). */
function runContainerBytes(runs: number): number {
  return 2 + 4 * runs;
}

/** One container to write: the low 16 bits of its values, ascending, and the form chosen. */
interface ContainerPlan {
  readonly key: number;
  readonly lows: Uint16Array;
  readonly runs: number;
  readonly form: 'array' | 'bitset' | 'run';
}

function countRuns(lows: Uint16Array): number {
  let runs = 0;
  for (let i = 0; i < lows.length; i++) if (i === 0 || lows[i] !== (lows[i - 1] as number) + 1) runs++;
  return runs;
}

/**
 * The form RoaringBitmap's `runOptimize` leaves a container in, which Delta applies before it
 * writes a deletion vector: a run container when it serializes strictly smaller than the array
 * (cardinality ≤ 4096, 2 bytes a value) or bitset (8192 bytes) the cardinality calls for.
 */
function planContainer(key: number, lows: Uint16Array): ContainerPlan {
  const runs = countRuns(lows);
  const plain = lows.length <= ARRAY_CONTAINER_MAX ? 2 * lows.length : BITSET_BYTES;
  if (runContainerBytes(runs) < plain) return { key, lows, runs, form: 'run' };
  return { key, lows, runs, form: lows.length <= ARRAY_CONTAINER_MAX ? 'array' : 'bitset' };
}

function containerBytes(plan: ContainerPlan): number {
  if (plan.form === 'run') return runContainerBytes(plan.runs);
  return plan.form === 'array' ? 2 * plan.lows.length : BITSET_BYTES;
}

/** The serialized size of a 32-bit bitmap of these containers, as `writeBitmap32` writes it. */
function bitmap32Bytes(plans: readonly ContainerPlan[]): number {
  const count = plans.length;
  const hasRun = plans.some((plan) => plan.form === 'run');
  const header = hasRun
    ? 4 + Math.ceil(count / 8) + 4 * count + (count >= NO_OFFSET_THRESHOLD ? 4 * count : 0)
    : 8 + 8 * count;
  return plans.reduce((sum, plan) => sum + containerBytes(plan), header);
}

/** Writes one 32-bit RoaringBitmap at `offset` of `view` (Java's `RoaringArray.serialize`); returns the end. */
function writeBitmap32(view: DataView, offset: number, plans: readonly ContainerPlan[]): number {
  const count = plans.length;
  const hasRun = plans.some((plan) => plan.form === 'run');
  let at = offset;
  let containerOffset: number;
  if (hasRun) {
    view.setUint32(at, SERIAL_COOKIE | ((count - 1) << 16), true);
    at += 4;
    for (let i = 0; i < count; i += 8) {
      let flags = 0;
      for (let j = 0; j < 8 && i + j < count; j++) if (plans[i + j]?.form === 'run') flags |= 1 << j;
      view.setUint8(at++, flags);
    }
    containerOffset = 4 + Math.ceil(count / 8) + (count < NO_OFFSET_THRESHOLD ? 4 : 8) * count;
  } else {
    view.setUint32(at, SERIAL_COOKIE_NO_RUNCONTAINER, true);
    view.setUint32(at + 4, count, true);
    at += 8;
    containerOffset = 8 + 8 * count;
  }
  for (const plan of plans) {
    view.setUint16(at, plan.key, true);
    view.setUint16(at + 2, plan.lows.length - 1, true);
    at += 4;
  }
  if (!hasRun || count >= NO_OFFSET_THRESHOLD) {
    // Offsets count from the start of this 32-bit bitmap.
    for (const plan of plans) {
      view.setUint32(at, containerOffset, true);
      at += 4;
      containerOffset += containerBytes(plan);
    }
  }
  for (const plan of plans) {
    const { lows } = plan;
    if (plan.form === 'run') {
      view.setUint16(at, plan.runs, true);
      at += 2;
      let start = 0;
      for (let i = 1; i <= lows.length; i++) {
        if (i === lows.length || lows[i] !== (lows[i - 1] as number) + 1) {
          view.setUint16(at, lows[start] as number, true);
          view.setUint16(at + 2, i - 1 - start, true);
          at += 4;
          start = i;
        }
      }
    } else if (plan.form === 'array') {
      for (const low of lows) {
        view.setUint16(at, low, true);
        at += 2;
      }
    } else {
      // 1024 little-endian 64-bit words: bit v of the container is bit v % 8 of byte v / 8.
      for (const low of lows)
        view.setUint8(at + (low >> 3), view.getUint8(at + (low >> 3)) | (1 << (low & 7)));
      at += BITSET_BYTES;
    }
  }
  return at;
}

/** The containers of one bucket: `lows` (the low 32 bits of its values, ascending) split by their high 16 bits. */
function planBucket(lows: readonly number[]): ContainerPlan[] {
  const plans: ContainerPlan[] = [];
  let start = 0;
  while (start < lows.length) {
    const key = Math.floor((lows[start] as number) / 65536);
    let end = start;
    while (end < lows.length && Math.floor((lows[end] as number) / 65536) === key) end++;
    const container = new Uint16Array(end - start);
    for (let i = start; i < end; i++) container[i - start] = (lows[i] as number) & 0xffff;
    plans.push(planContainer(key, container));
    start = end;
  }
  return plans;
}

const TWO_32 = 2 ** 32;
const MAX_U64 = 2n ** 64n - 1n;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * The portable 64-bit RoaringBitmap of `values` (RoaringFormatSpec, "Extention for 64-bit
 * implementations"): the number of non-empty buckets (64-bit), then per bucket, ascending, its
 * 32-bit key (the high 32 bits) and the 32-bit RoaringBitmap of the low 32 bits, each container in
 * the form `runOptimize` would leave it (array, bitset or run, whichever is smallest), without the
 * offset header only where the format allows. `values` must ascend strictly and lie in
 * [0, 2^64). Deterministic: equal sets give equal bytes. `decodePortableRoaring64` reads it back.
 * @throws RangeError naming the index of a value out of order or out of range.
 */
export function encodePortableRoaring64(values: readonly bigint[]): Uint8Array {
  const buckets: { readonly key: number; readonly plans: ContainerPlan[] }[] = [];
  let lows: number[] = [];
  let bucketKey = -1;
  let previous = -1n;
  const flush = () => {
    if (lows.length > 0) buckets.push({ key: bucketKey, plans: planBucket(lows) });
    lows = [];
  };
  for (let i = 0; i < values.length; i++) {
    const value = values[i] as bigint;
    if (value < 0n || value > MAX_U64) {
      throw new RangeError(`value ${value} at index ${i} is outside [0, 2^64)`);
    }
    if (value <= previous) {
      throw new RangeError(`value ${value} at index ${i} does not ascend strictly (after ${previous})`);
    }
    previous = value;
    let key: number;
    let low: number;
    if (value <= MAX_SAFE) {
      const n = Number(value);
      key = Math.floor(n / TWO_32);
      low = n - key * TWO_32;
    } else {
      key = Number(value >> 32n);
      low = Number(value & 0xffff_ffffn);
    }
    if (key !== bucketKey) {
      flush();
      bucketKey = key;
    }
    lows.push(low);
  }
  flush();
  const size = buckets.reduce((sum, bucket) => sum + 4 + bitmap32Bytes(bucket.plans), 8);
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  view.setBigUint64(0, BigInt(buckets.length), true);
  let at = 8;
  for (const bucket of buckets) {
    view.setUint32(at, bucket.key, true);
    at = writeBitmap32(view, at + 4, bucket.plans);
  }
  return bytes;
}
