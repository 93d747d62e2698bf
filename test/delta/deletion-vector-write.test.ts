import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { DeletionVectorDescriptor } from '../../src/delta/actions.ts';
import {
  decodeDeletionVectorBitmap,
  deletionVectorFileKey,
  readDeletionVector,
} from '../../src/delta/deletion-vector.ts';
import {
  DEFAULT_INLINE_MAX_BYTES,
  deletionVectorFileBytes,
  encodeDeletionVectorBitmap,
  writeDeletionVector,
} from '../../src/delta/deletion-vector-write.ts';
import { DeltaInvalidWriteError } from '../../src/delta/errors.ts';
import { decodeZ85 } from '../../src/delta/z85.ts';
import type { LocalFolderStore } from '../../src/storage/local-folder-store.ts';
import type { PutIfAbsentOutcome } from '../../src/storage/object-store.ts';
import { DELTA_FIXTURES } from './reader-helpers.ts';
import { serializeDeletionVector } from './roaring-test-serializer.ts';
import { StoreWrapper, WriterWorkspace } from './writer-support.ts';

/*
 * Writing deletion vectors (PROTOCOL.md, "Deletion Vector Format", "Deletion Vector File Storage
 * Format", "Deletion Vector Descriptor Schema"): the bytes Spark wrote in table-with-dv-small, the
 * independent serializer of the reader tests, and random row sets read back through the reader.
 */

const FIXTURE_DV_FILE = path.join(
  DELTA_FIXTURES,
  'table-with-dv-small',
  'deletion_vector_61d16c75-6994-46b7-a15b-8b538852e50e.bin',
);

const workspace = new WriterWorkspace();
afterAll(async () => {
  await workspace.close();
});

function ascending(values: Iterable<bigint>): bigint[] {
  return [...new Set(values)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The deletion vector files below a store's root (any folder), relative to it. */
async function dvFiles(store: LocalFolderStore): Promise<string[]> {
  const entries = await readdir(store.rootDir, { recursive: true });
  return entries.filter((name) => path.basename(name).startsWith('deletion_vector_')).sort();
}

describe('the deletion vector Spark wrote (table-with-dv-small)', () => {
  it('re-encodes to the same bitmap bytes and, framed, to the same file bytes', async () => {
    const file = new Uint8Array(await readFile(FIXTURE_DV_FILE));
    const size = new DataView(file.buffer, file.byteOffset).getUint32(1, false);
    const bitmap = file.subarray(5, 5 + size);
    const rows = decodeDeletionVectorBitmap(bitmap, 'file:///fixture', 'fixture');
    expect(rows).toEqual([0n, 9n]);
    expect(Buffer.from(encodeDeletionVectorBitmap(rows))).toEqual(Buffer.from(bitmap));
    // One vector per file at offset 1: the whole file is comparable, only its name (a UUID) differs.
    expect(Buffer.from(deletionVectorFileBytes(encodeDeletionVectorBitmap(rows)))).toEqual(Buffer.from(file));
  });

  it('a vector of the same rows written as a file has the fixture descriptor but for the UUID', async () => {
    const store = await workspace.store('dv');
    const descriptor = await writeDeletionVector(store, [0n, 9n], { inlineMaxBytes: 0 });
    expect(descriptor).toEqual({
      storageType: 'u',
      pathOrInlineDv: expect.stringMatching(/^.{20}$/),
      offset: 1,
      sizeInBytes: 36,
      cardinality: 2,
    });
    const [name] = await dvFiles(store);
    expect(name).toBe(deletionVectorFileKey(descriptor, store.url));
    expect(name).toMatch(
      /^deletion_vector_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\.bin$/,
    );
    expect(await readFile(path.join(store.rootDir, name as string))).toEqual(await readFile(FIXTURE_DV_FILE));
  });
});

/** 32-bit bitmaps CRoaring serialized after runOptimize (test/fixtures/roaring/README.md). */
interface CRoaringCase {
  readonly name: string;
  readonly runs: readonly [number, number, number][];
  readonly size: number;
  readonly portable: string;
}

describe('the bytes CRoaring writes (test/fixtures/roaring)', () => {
  it('every case encodes to the bitmap CRoaring serialized, behind one bucket of key 0', async () => {
    const fixture = JSON.parse(
      await readFile(path.resolve(import.meta.dirname, '../fixtures/roaring/croaring-portable.json'), 'utf8'),
    ) as { cases: CRoaringCase[] };
    expect(fixture.cases.length).toBeGreaterThan(10);
    for (const { name, runs, size, portable } of fixture.cases) {
      const values = new Set<bigint>();
      for (const [start, count, step] of runs) {
        for (let i = 0; i < count; i++) values.add(BigInt(start + i * step));
      }
      const rows = ascending(values);
      expect(rows.length, name).toBe(size);
      const bitmap = encodeDeletionVectorBitmap(rows);
      // magic (4), bucket count 1 (8), key 0 (4), then the 32-bit bitmap.
      expect(Buffer.from(bitmap.subarray(0, 16)).toString('hex'), name).toBe(
        'd1d339640100000000000000' + '00000000',
      );
      expect(Buffer.from(bitmap.subarray(16)).toString('base64'), name).toBe(portable);
    }
  });
});

describe('container forms, as RoaringBitmap runOptimize leaves them', () => {
  it('scattered rows use array containers, the bytes of the independent serializer without runs', () => {
    const rows = [3n, 4n, 7n, 11n, 18n, 29n, 70_000n, 2n ** 32n + 5n];
    expect(Buffer.from(encodeDeletionVectorBitmap(rows))).toEqual(serializeDeletionVector(rows, false));
  });

  it('dense ranges use run containers, the bytes of the independent serializer with runs', () => {
    const rows: bigint[] = [];
    for (let i = 0n; i < 10_000n; i++) rows.push(i);
    for (let i = 65_536n; i < 65_540n; i++) rows.push(i);
    for (let i = 2n ** 32n; i < 2n ** 32n + 200_000n; i++) rows.push(i);
    const bytes = encodeDeletionVectorBitmap(rows);
    expect(Buffer.from(bytes)).toEqual(serializeDeletionVector(rows, true));
    expect(decodeDeletionVectorBitmap(bytes, 'file:///t', 'test')).toEqual(rows);
  });

  it('more than 4096 scattered rows of one block use a bitset container of 8192 bytes', () => {
    const rows: bigint[] = [];
    for (let i = 0n; i < 10_000n; i += 2n) rows.push(i);
    const bytes = encodeDeletionVectorBitmap(rows);
    expect(Buffer.from(bytes)).toEqual(serializeDeletionVector(rows, false));
    // magic, bucket count, key, cookie, container count, one header, one offset, the bitset.
    expect(bytes.length).toBe(4 + 8 + 4 + 4 + 4 + 4 + 4 + 8192);
  });

  it('an empty vector is the magic number and zero buckets', () => {
    expect(Buffer.from(encodeDeletionVectorBitmap([])).toString('hex')).toBe('d1d339640000000000000000');
  });
});

/** Ascending, distinct row sets: scattered rows, dense runs, rows around 65,536 and 2^32. */
const rowSets = fc
  .tuple(
    fc.array(fc.bigInt({ min: 0n, max: 2n ** 34n }), { maxLength: 60 }),
    fc.array(
      fc.record({
        start: fc.oneof(
          fc.bigInt({ min: 0n, max: 2n ** 33n }),
          fc.constantFrom(65_530n, 2n ** 32n - 3000n, 2n ** 32n - 70_000n, 2n ** 33n - 1n),
        ),
        length: fc.integer({ min: 1, max: 9000 }),
        step: fc.constantFrom(1n, 1n, 2n, 3n),
      }),
      { maxLength: 3 },
    ),
  )
  .map(([scattered, ranges]) => {
    const all = new Set(scattered);
    for (const { start, length, step } of ranges) {
      for (let i = 0n; i < BigInt(length); i++) all.add(start + i * step);
    }
    return ascending(all);
  });

describe('random row sets', () => {
  it('every bitmap decodes to its rows', () => {
    fc.assert(
      fc.property(rowSets, (rows) => {
        const bytes = encodeDeletionVectorBitmap(rows);
        expect(decodeDeletionVectorBitmap(bytes, 'file:///t', 'test')).toEqual(rows);
      }),
      { numRuns: 150 },
    );
  });

  it('every vector written to a store, inline or as a file, reads back through readDeletionVector', async () => {
    const store = await workspace.store('dv');
    await fc.assert(
      fc.asyncProperty(
        rowSets,
        fc.constantFrom(0, DEFAULT_INLINE_MAX_BYTES, 1 << 20),
        fc.constantFrom(0, 2),
        async (rows, inlineMaxBytes, randomPrefixLength) => {
          const descriptor = await writeDeletionVector(store, rows, { inlineMaxBytes, randomPrefixLength });
          expect(descriptor.cardinality).toBe(rows.length);
          const bitmap = encodeDeletionVectorBitmap(rows);
          expect(descriptor.sizeInBytes).toBe(bitmap.length);
          if (bitmap.length <= inlineMaxBytes) {
            expect(descriptor.storageType).toBe('i');
            expect(descriptor.offset).toBeUndefined();
            expect(Buffer.from(decodeZ85(descriptor.pathOrInlineDv).subarray(0, bitmap.length))).toEqual(
              Buffer.from(bitmap),
            );
          } else {
            expect(descriptor.storageType).toBe('u');
            expect(descriptor.pathOrInlineDv).toHaveLength(20 + randomPrefixLength);
            expect(descriptor.offset).toBe(1);
          }
          expect(await readDeletionVector(store, store.url, descriptor)).toEqual(rows);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('a single row, the first and the last row Delta allows read back', async () => {
    const store = await workspace.store('dv');
    for (const rows of [[0n], [65_535n, 65_536n], [2n ** 32n - 1n, 2n ** 32n], [2n ** 63n - 1n]]) {
      for (const inlineMaxBytes of [0, 1000]) {
        const descriptor = await writeDeletionVector(store, rows, { inlineMaxBytes });
        expect(await readDeletionVector(store, store.url, descriptor)).toEqual(rows);
      }
    }
  });
});

describe('descriptors and files', () => {
  it('small vectors go inline by default and write no file', async () => {
    const store = await workspace.store('dv');
    const descriptor = await writeDeletionVector(store, [1n, 5n, 9n]);
    expect(descriptor.storageType).toBe('i');
    expect(descriptor).not.toHaveProperty('offset');
    expect(await dvFiles(store)).toEqual([]);
    expect(await readDeletionVector(store, store.url, descriptor)).toEqual([1n, 5n, 9n]);
  });

  it('a random prefix becomes a folder of that many alphanumeric characters', async () => {
    const store = await workspace.store('dv');
    const descriptor = await writeDeletionVector(store, [1n, 2n], {
      inlineMaxBytes: 0,
      randomPrefixLength: 3,
    });
    const prefix = descriptor.pathOrInlineDv.slice(0, 3);
    expect(prefix).toMatch(/^[A-Za-z0-9]{3}$/);
    expect(await dvFiles(store)).toEqual([deletionVectorFileKey(descriptor, store.url)]);
    expect(deletionVectorFileKey(descriptor, store.url).startsWith(`${prefix}/deletion_vector_`)).toBe(true);
  });

  it('each vector gets a file of its own; an existing name is never overwritten', async () => {
    const inner = await workspace.store('dv');
    const existing: DeletionVectorDescriptor = await writeDeletionVector(inner, [7n], { inlineMaxBytes: 0 });
    const existingKey = deletionVectorFileKey(existing, inner.url);
    const before = await readFile(path.join(inner.rootDir, existingKey));
    /** Claims the first name it is asked for is taken, as a store does after a lost response. */
    class FirstNameTaken extends StoreWrapper {
      taken = 0;
      override async putIfAbsent(key: string, body: Uint8Array | string): Promise<PutIfAbsentOutcome> {
        if (this.taken++ === 0) return { outcome: 'exists' };
        return super.putIfAbsent(key, body);
      }
    }
    const store = new FirstNameTaken(inner);
    const descriptor = await writeDeletionVector(store, [1n, 2n, 3n], { inlineMaxBytes: 0 });
    expect(store.taken).toBe(2);
    expect(await dvFiles(inner)).toHaveLength(2);
    expect(await readFile(path.join(inner.rootDir, existingKey))).toEqual(before);
    expect(await readDeletionVector(inner, inner.url, descriptor)).toEqual([1n, 2n, 3n]);
  });

  it('rows out of order, repeated, negative or from 2^63 on are refused before anything is written', async () => {
    const store = await workspace.store('dv');
    for (const rows of [[2n, 1n], [1n, 1n], [-1n, 3n], [2n ** 63n]]) {
      await expect(writeDeletionVector(store, rows, { inlineMaxBytes: 0 })).rejects.toThrow(
        DeltaInvalidWriteError,
      );
    }
    expect(await dvFiles(store)).toEqual([]);
  });
});
