/*
 * A serializer written from the RoaringFormatSpec ("General layout", "Extention for 64-bit
 * implementations") and PROTOCOL.md ("Deletion Vector Format", "Deletion Vector File Storage
 * Format"), independent of src/delta: it picks run containers for every container when asked,
 * bitset containers above 4096 values, array containers otherwise. Tests check the reader and the
 * writer against it.
 */
export class Bytes {
  readonly parts: Buffer[] = [];
  u8(v: number): void {
    this.parts.push(Buffer.from([v]));
  }
  u16(v: number): void {
    const b = Buffer.alloc(2);
    b.writeUInt16LE(v);
    this.parts.push(b);
  }
  u32(v: number, bigEndian = false): void {
    const b = Buffer.alloc(4);
    if (bigEndian) b.writeUInt32BE(v);
    else b.writeUInt32LE(v);
    this.parts.push(b);
  }
  u64(v: bigint): void {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(v);
    this.parts.push(b);
  }
  raw(b: Uint8Array): void {
    this.parts.push(Buffer.from(b));
  }
  get bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
}

function runsOf(lows: number[]): [number, number][] {
  const runs: [number, number][] = [];
  for (const v of lows) {
    const last = runs.at(-1);
    if (last !== undefined && last[0] + last[1] + 1 === v) last[1]++;
    else runs.push([v, 0]);
  }
  return runs;
}

function containerBytes(lows: number[], run: boolean): Buffer {
  const out = new Bytes();
  if (run) {
    const runs = runsOf(lows);
    out.u16(runs.length);
    for (const [start, extra] of runs) {
      out.u16(start);
      out.u16(extra);
    }
  } else if (lows.length > 4096) {
    const words = Buffer.alloc(8192);
    for (const v of lows) words[v >> 3] = (words[v >> 3] as number) | (1 << (v & 7));
    out.raw(words);
  } else {
    for (const v of lows) out.u16(v);
  }
  return out.bytes;
}

function roaring32(values: number[], useRuns: boolean): Buffer {
  const containers = new Map<number, number[]>();
  for (const v of values) {
    const list = containers.get(v >>> 16) ?? [];
    list.push(v & 0xffff);
    containers.set(v >>> 16, list);
  }
  const keys = [...containers.keys()].sort((a, b) => a - b);
  const bodies = keys.map((key) => containerBytes(containers.get(key) as number[], useRuns));
  const out = new Bytes();
  const n = keys.length;
  if (useRuns && n > 0) {
    out.u32(12347 | ((n - 1) << 16));
    // Every container is a run; the bits past the last container stay 0, as Java RoaringBitmap writes them.
    const flags = Buffer.alloc(Math.ceil(n / 8));
    for (let i = 0; i < n; i++) flags[i >> 3] = (flags[i >> 3] as number) | (1 << (i & 7));
    out.raw(flags);
  } else {
    out.u32(12346);
    out.u32(n);
  }
  for (const key of keys) {
    out.u16(key);
    out.u16((containers.get(key) as number[]).length - 1);
  }
  if (!(useRuns && n > 0) || n >= 4) {
    let offset = out.bytes.length + 4 * n;
    for (const body of bodies) {
      out.u32(offset);
      offset += body.length;
    }
  }
  for (const body of bodies) out.raw(body);
  return out.bytes;
}

/** Magic number, then the portable 64-bit format. */
export function serializeDeletionVector(rows: bigint[], useRuns: boolean): Buffer {
  const buckets = new Map<number, number[]>();
  for (const row of rows) {
    const high = Number(row >> 32n);
    const list = buckets.get(high) ?? [];
    list.push(Number(row & 0xffffffffn));
    buckets.set(high, list);
  }
  const out = new Bytes();
  out.u32(1681511377);
  out.u64(BigInt(buckets.size));
  for (const high of [...buckets.keys()].sort((a, b) => a - b)) {
    out.u32(high);
    out.raw(roaring32(buckets.get(high) as number[], useRuns));
  }
  return out.bytes;
}

/** Sorted, distinct row indexes: scattered values and dense ranges, some past 2^32. */
