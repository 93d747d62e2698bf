import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DeletionVectorDescriptor } from '../../src/delta/actions.ts';
import { deletionVectorFileKey, readDeletionVector } from '../../src/delta/deletion-vector.ts';
import { DeltaLogCorruptError, DeltaUnsupportedFeatureError } from '../../src/delta/errors.ts';
import { loadSnapshot } from '../../src/delta/load-snapshot.ts';
import { encodeZ85 } from '../../src/delta/z85.ts';
import { quoteLiteral } from '../../src/duckdb/session.ts';
import {
  copyFixture,
  DELTA_FIXTURES,
  fixtureStore,
  openReaderEngine,
  type ReaderEngine,
  type TableCopy,
} from './reader-helpers.ts';
import { Bytes, serializeDeletionVector } from './roaring-test-serializer.ts';

/*
 * Deletion vectors (PROTOCOL.md, "Deletion Vectors", "Deletion Vector Format"): the one Databricks
 * wrote in table-with-dv-small, the spec's own inline example, files damaged on purpose, and random
 * row sets serialized here by a small encoder written from the RoaringFormatSpec.
 */

const DV_TABLE = 'table-with-dv-small';
const DV_FILE = 'deletion_vector_61d16c75-6994-46b7-a15b-8b538852e50e.bin';
/** From 00000000000000000001.json of table-with-dv-small. */
const FIXTURE_DV: DeletionVectorDescriptor = {
  storageType: 'u',
  pathOrInlineDv: 'vBn[lx{q8@P<9BNH/isA',
  offset: 1,
  sizeInBytes: 36,
  cardinality: 2,
};

let reader: ReaderEngine;
const copies: TableCopy[] = [];
beforeAll(async () => {
  reader = await openReaderEngine();
});
afterAll(async () => {
  await reader.session.close();
});
afterEach(async () => {
  for (const copy of copies.splice(0)) await copy.remove();
});

describe('the deletion vector Databricks wrote (table-with-dv-small)', () => {
  it('names rows 0 and 9, which hold the values the DELETE removed', async () => {
    const snapshot = await loadSnapshot(fixtureStore(DV_TABLE), reader.engine);
    const file = snapshot.files[0];
    expect(file?.deletionVector).toEqual(FIXTURE_DV);
    const rows = await readDeletionVector(fixtureStore(DV_TABLE), snapshot.tableUrl, FIXTURE_DV);
    expect(rows).toEqual([0n, 9n]);
    // The commit deleted `value IN (0, 9)` (numDeletedRows 2): the data file must hold exactly those
    // values at those positions, so Spark shows the other eight rows, values 1 to 8.
    const parquet = quoteLiteral(path.join(DELTA_FIXTURES, DV_TABLE, file?.path ?? ''));
    const result = await reader.session.all(
      `SELECT file_row_number::INTEGER AS row, value FROM read_parquet(${parquet}, file_row_number = true) ORDER BY row`,
    );
    const values = result.getRowObjectsJson() as { row: number; value: number }[];
    const deleted = new Set(rows.map(Number));
    expect(values.filter((r) => deleted.has(r.row)).map((r) => r.value)).toEqual([0, 9]);
    expect(values.filter((r) => !deleted.has(r.row)).map((r) => r.value)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('is stored at deletion_vector_<uuid>.bin below the table root', () => {
    expect(deletionVectorFileKey(FIXTURE_DV, fixtureStore(DV_TABLE).url)).toBe(DV_FILE);
  });
});

describe('the examples of PROTOCOL.md', () => {
  it('Example 1: a random prefix becomes a folder, the last 20 characters the UUID', () => {
    const dv = {
      storageType: 'u',
      pathOrInlineDv: 'ab^-aqEH.-t@S}K{vb[*k^',
      offset: 4,
      sizeInBytes: 40,
      cardinality: 6,
    };
    expect(deletionVectorFileKey(dv, 's3://mytable')).toBe(
      'ab/deletion_vector_d2c639aa-8816-431a-aaf6-d3fe2512ff61.bin',
    );
  });

  it('Example 2: an absolute path inside the table becomes its key, one outside is refused', () => {
    const dv = {
      storageType: 'p',
      pathOrInlineDv: 's3://mytable/deletion_vector_d2c639aa-8816-431a-aaf6-d3fe2512ff61.bin',
      offset: 4,
      sizeInBytes: 40,
      cardinality: 6,
    };
    expect(deletionVectorFileKey(dv, 's3://mytable')).toBe(
      'deletion_vector_d2c639aa-8816-431a-aaf6-d3fe2512ff61.bin',
    );
    expect(() => deletionVectorFileKey(dv, 's3://othertable')).toThrow(DeltaUnsupportedFeatureError);
  });

  it('Example 3: the inline vector holds rows 3, 4, 7, 11, 18, 29', async () => {
    const dv = {
      storageType: 'i',
      pathOrInlineDv: 'wi5b=000010000siXQKl0rr91000f55c8Xg0@@D72lkbi5=-{L',
      sizeInBytes: 40,
      cardinality: 6,
    };
    expect(await readDeletionVector(fixtureStore(DV_TABLE), 's3://mytable', dv)).toEqual([
      3n,
      4n,
      7n,
      11n,
      18n,
      29n,
    ]);
  });
});

describe('a damaged deletion vector is refused, never ignored', () => {
  async function damaged(change: (bytes: Buffer) => Buffer): Promise<TableCopy> {
    const table = await copyFixture(DV_TABLE);
    copies.push(table);
    const file = path.join(table.dir, DV_FILE);
    await writeFile(file, change(Buffer.from(await readFile(file))));
    return table;
  }

  async function refusal(table: TableCopy, dv = FIXTURE_DV): Promise<DeltaLogCorruptError> {
    const error = await readDeletionVector(table.store, table.store.url, dv).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeltaLogCorruptError);
    expect((error as DeltaLogCorruptError).file).toBe(DV_FILE);
    return error as DeltaLogCorruptError;
  }

  it('a flipped bit fails the CRC-32', async () => {
    const table = await damaged((b) => {
      b[30] = (b[30] as number) ^ 1;
      return b;
    });
    expect((await refusal(table)).message).toContain('CRC-32');
  });

  it('another format version is refused', async () => {
    const table = await damaged((b) => {
      b[0] = 2;
      return b;
    });
    expect((await refusal(table)).message).toContain('format version 2');
  });

  it('a file cut short is refused', async () => {
    const table = await damaged((b) => b.subarray(0, 30));
    expect((await refusal(table)).message).toContain('ends before');
  });

  it('a missing file is refused naming it', async () => {
    const missing = { ...FIXTURE_DV, pathOrInlineDv: encodeZ85(new Uint8Array(16)) };
    const error = await readDeletionVector(fixtureStore(DV_TABLE), 'file:///t', missing).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DeltaLogCorruptError);
    expect((error as DeltaLogCorruptError).file).toBe(
      'deletion_vector_00000000-0000-0000-0000-000000000000.bin',
    );
    expect((error as Error).message).toContain('is missing');
  });

  it('a size or a cardinality that disagrees with the log is refused', async () => {
    const table = await damaged((b) => b);
    expect((await refusal(table, { ...FIXTURE_DV, sizeInBytes: 35 })).message).toContain('the log says 35');
    expect((await refusal(table, { ...FIXTURE_DV, cardinality: 3 })).message).toContain(
      'holds 2 row indexes',
    );
  });
});

const rowSets = fc
  .tuple(
    fc.array(fc.bigInt({ min: 0n, max: 2n ** 34n }), { maxLength: 40 }),
    fc.array(
      fc.record({ start: fc.bigInt({ min: 0n, max: 2n ** 33n }), length: fc.integer({ min: 1, max: 6000 }) }),
      {
        maxLength: 3,
      },
    ),
  )
  .map(([scattered, ranges]) => {
    const all = new Set(scattered);
    for (const { start, length } of ranges) for (let i = 0n; i < BigInt(length); i++) all.add(start + i);
    return [...all].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  });

describe('row sets serialized here', () => {
  it('reads back every inline row set, with array, bitset and run containers', async () => {
    const store = fixtureStore(DV_TABLE);
    await fc.assert(
      fc.asyncProperty(rowSets, fc.boolean(), async (rows, useRuns) => {
        const bytes = serializeDeletionVector(rows, useRuns);
        const padded = Buffer.concat([bytes, Buffer.alloc((4 - (bytes.length % 4)) % 4)]);
        const dv = {
          storageType: 'i',
          pathOrInlineDv: encodeZ85(padded),
          sizeInBytes: bytes.length,
          cardinality: rows.length,
        };
        expect(await readDeletionVector(store, store.url, dv)).toEqual(rows);
      }),
      { numRuns: 60 },
    );
  });

  it('reads vectors stored in one file under a random prefix, each at its offset, near the start or far in', async () => {
    const table = await copyFixture(DV_TABLE);
    copies.push(table);
    const first = serializeDeletionVector([1n, 2n, 3n, 70_000n], false);
    const second = serializeDeletionVector([5n, 2n ** 33n], true);
    // Past the offset up to which the version byte and the vector are read in one range.
    const far = serializeDeletionVector([7n, 8n, 9n], false);
    const farOffset = 100_000;
    const file = new Bytes();
    file.u8(1);
    for (const dv of [first, second]) {
      file.u32(dv.length, true);
      file.raw(dv);
      file.u32(crc32(dv), true);
    }
    file.raw(new Uint8Array(farOffset - file.bytes.length));
    file.u32(far.length, true);
    file.raw(far);
    file.u32(crc32(far), true);
    const uuid = Buffer.from('d2c639aa8816431aaaf6d3fe2512ff61', 'hex');
    await mkdir(path.join(table.dir, 'ab'));
    await writeFile(
      path.join(table.dir, 'ab', 'deletion_vector_d2c639aa-8816-431a-aaf6-d3fe2512ff61.bin'),
      file.bytes,
    );
    const pathOrInlineDv = `ab${encodeZ85(uuid)}`;
    const read = (offset: number, size: number, cardinality: number) =>
      readDeletionVector(table.store, table.store.url, {
        storageType: 'u',
        pathOrInlineDv,
        offset,
        sizeInBytes: size,
        cardinality,
      });
    expect(await read(1, first.length, 4)).toEqual([1n, 2n, 3n, 70_000n]);
    expect(await read(1 + 4 + first.length + 4, second.length, 2)).toEqual([5n, 2n ** 33n]);
    expect(await read(farOffset, far.length, 3)).toEqual([7n, 8n, 9n]);
    await expect(read(farOffset + 1, far.length, 3)).rejects.toThrow(DeltaLogCorruptError);
  });
});
