import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { readChangeFile } from '../../src/formats/change-file-reader.ts';
import { writeChangeFile } from '../../src/formats/change-file-writer.ts';
import { BadInputError, CorruptGzipError } from '../../src/formats/errors.ts';
import { FIRST_RECORD_READ_BYTES, readFirstChangeRecord } from '../../src/plan/change-file-first-record.ts';
import type { ObjectStore } from '../../src/storage/object-store.ts';
import { HOUR, shardRecords, tempLanding } from './support.ts';

const T = Date.UTC(2026, 5, 10, 12, 0, 0);

async function firstByFullRead(store: ObjectStore, key: string) {
  for await (const { record } of readChangeFile(store, key)) return record;
  return undefined;
}

/** Counts the bytes a store hands out, to see how much of an object was read. */
function countingReads(store: ObjectStore): { store: ObjectStore; bytesRead: () => number } {
  let bytes = 0;
  const counted: ObjectStore = Object.create(store);
  counted.get = async (key, range) => {
    const stream = await store.get(key, range);
    stream.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
    });
    return stream;
  };
  return { store: counted, bytesRead: () => bytes };
}

describe('reading the first record of a change file', () => {
  it('reads only the first 64 KiB of a large file', async () => {
    const { store } = await tempLanding();
    const records = shardRecords(
      'shardId-a',
      Array.from({ length: 4000 }, (_, i) => T - HOUR + i),
    );
    for (const record of records)
      (record.new as Record<string, unknown>)['noise'] = { S: randomBytes(96).toString('base64') };
    const { key, bytes } = await writeChangeFile(store, 'orders', records);
    expect(bytes).toBeGreaterThan(4 * FIRST_RECORD_READ_BYTES);
    const counting = countingReads(store);
    const first = await readFirstChangeRecord(counting.store, key);
    expect(first).toEqual(await firstByFullRead(store, key));
    expect(first?.ts).toBe(T - HOUR);
    expect(counting.bytesRead()).toBeLessThanOrEqual(FIRST_RECORD_READ_BYTES);
  });

  it('reads on when the first line does not fit in the first range', async () => {
    const { store } = await tempLanding();
    const records = shardRecords('shardId-a', [T - HOUR, T - HOUR + 1]);
    // Incompressible: the first line alone is several times the first range, compressed.
    (records[0]?.new as Record<string, unknown>)['blob'] = { B: randomBytes(300 * 1024).toString('base64') };
    const { key } = await writeChangeFile(store, 'orders', records);
    const first = await readFirstChangeRecord(store, key);
    expect(first).toEqual(await firstByFullRead(store, key));
  });

  it('refuses a first line that is not a change record, naming the file and line 1', async () => {
    const { folder, store } = await tempLanding();
    const key = 'changes/orders/dt=2026-06-10/shardId-a/1-2.jsonl.gz';
    await store.put(key, gzipSync('{"op":"UPSERT"}\n'));
    const error = await readFirstChangeRecord(store, key).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BadInputError);
    expect((error as BadInputError).file).toBe(key);
    expect((error as BadInputError).line).toBe(1);
    await writeFile(path.join(folder, key), Buffer.from('not gzip at all'));
    await expect(readFirstChangeRecord(store, key)).rejects.toBeInstanceOf(CorruptGzipError);
  });
});
