import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AttributeValue, Item } from '../../src/dynamo/attribute-value.ts';
import { compareUtf8 } from '../../src/dynamo/plain-json.ts';
import type { BadLine } from '../../src/formats/bad-line.ts';
import {
  changeRecordLine,
  encodeChangeFile,
  encodeParsedChangeRecords,
} from '../../src/formats/change-file-encoder.ts';
import { changeFileKey, parseChangeFileKey, tableNameOf } from '../../src/formats/change-file-key.ts';
import { type ChangeFileRecord, readChangeFile } from '../../src/formats/change-file-reader.ts';
import { writeChangeFile } from '../../src/formats/change-file-writer.ts';
import type { ChangeRecord } from '../../src/formats/change-record.ts';
import { BadInputError } from '../../src/formats/errors.ts';
import { parseChangeRecord } from '../../src/formats/parse-change-record.ts';
import { LocalFolderStore } from '../../src/storage/local-folder-store.ts';
import { attributeName, valueModel } from '../dynamo/arbitraries.ts';
import { mapToDynamoJson } from '../dynamo/reference.ts';
import { changeRecord, tempDir, writeGzipLines } from './support.ts';

const TABLE_ARN = 'arn:aws:dynamodb:us-east-1:111122223333:table/orders';
const STREAM_ARN = `${TABLE_ARN}/stream/2026-11-23T00:00:00.000`;

async function newStore(): Promise<LocalFolderStore> {
  return new LocalFolderStore(await tempDir());
}

async function readAll(
  store: LocalFolderStore,
  key: string,
  collect?: BadLine[],
): Promise<ChangeFileRecord[]> {
  const records: ChangeFileRecord[] = [];
  const options = collect === undefined ? {} : { onBadLine: (bad: BadLine) => void collect.push(bad) };
  for await (const record of readChangeFile(store, key, options)) records.push(record);
  return records;
}

/** The same record with every object's keys in reverse order: equal data, different JSON text. */
function reversedKeys<T>(value: T): T {
  if (Array.isArray(value)) return value.map(reversedKeys) as T;
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value)
      .reverse()
      .map(([k, v]) => [k, reversedKeys(v)]),
  ) as T;
}

describe('change file key', () => {
  it('is changes/<table>/dt=<UTC date of the first ts>/<shard>/<firstSeq>-<lastSeq>.jsonl.gz', () => {
    const parts = {
      table: 'orders',
      shard: 'shardId-00000001795392000000-0a1b2c3d',
      firstSeq: '300000000000000000001',
      lastSeq: '300000000000000000009',
      firstTs: Date.UTC(2026, 10, 23, 23, 59, 59, 999),
    };
    const key = changeFileKey(parts);
    expect(key).toBe(
      'changes/orders/dt=2026-11-23/shardId-00000001795392000000-0a1b2c3d/300000000000000000001-300000000000000000009.jsonl.gz',
    );
    expect(changeFileKey({ ...parts, firstTs: parts.firstTs + 1 })).toContain('/dt=2026-11-24/');
    expect(parseChangeFileKey(key)).toEqual({
      table: 'orders',
      date: '2026-11-23',
      shard: parts.shard,
      firstSeq: parts.firstSeq,
      lastSeq: parts.lastSeq,
    });
  });

  it('accepts a table name, a table ARN or a stream ARN for the same table', () => {
    expect(tableNameOf('orders')).toBe('orders');
    expect(tableNameOf(TABLE_ARN)).toBe('orders');
    expect(tableNameOf(STREAM_ARN)).toBe('orders');
    expect(tableNameOf('arn:aws-cn:dynamodb:cn-north-1:111122223333:table/my.table_1')).toBe('my.table_1');
  });

  it('refuses table names, shards and sequence numbers that would break the layout', () => {
    const good = { table: 'orders', shard: 'shardId-1', firstSeq: '1', lastSeq: '2', firstTs: 0 };
    expect(() => changeFileKey({ ...good, table: 'a/b' })).toThrow(BadInputError);
    expect(() => changeFileKey({ ...good, table: 'arn:aws:s3:::bucket' })).toThrow(BadInputError);
    expect(() => changeFileKey({ ...good, shard: '../x' })).toThrow(BadInputError);
    expect(() => changeFileKey({ ...good, lastSeq: '1'.repeat(41) })).toThrow(BadInputError);
    expect(() => changeFileKey({ ...good, firstTs: 1.5 })).toThrow(BadInputError);
  });

  it('does not recognise keys outside the layout', () => {
    expect(parseChangeFileKey('changes/orders/dt=2026-11-23/shard/1-2.jsonl')).toBeUndefined();
    expect(parseChangeFileKey('changes/orders/shard/1-2.jsonl.gz')).toBeUndefined();
  });
});

describe('change files', () => {
  it('round-trip through the writer and the reader, record for record, at the specified key', async () => {
    const store = await newStore();
    const records = [
      changeRecord({ op: 'INSERT', ts: Date.UTC(2026, 10, 23, 23, 59, 59) }),
      changeRecord({ op: 'MODIFY', ts: Date.UTC(2026, 10, 24, 0, 0, 1) }),
      changeRecord({ op: 'REMOVE', ttl: true }),
      changeRecord({
        op: 'MODIFY',
        keys: { pk: { N: '42' } },
        new: {
          pk: { N: '42' },
          every: {
            M: {
              s: { S: 'é𝄞' },
              n: { N: '-1E-130' },
              b: { B: '3q2+7w==' },
              t: { BOOL: true },
              z: { NULL: true },
              ss: { SS: ['a', 'b'] },
              ns: { NS: ['1', '12345678901234567890123456789012345678'] },
              bs: { BS: ['AAE=', '/w=='] },
              l: { L: [{ S: 'x' }, { L: [] }, { M: {} }] },
            },
          },
        },
        old: null,
      }),
    ];
    const written = await writeChangeFile(store, STREAM_ARN, records);
    const first = records[0] as ChangeRecord;
    const last = records[3] as ChangeRecord;
    expect(written.key).toBe(`changes/orders/dt=2026-11-23/${first.shard}/${first.seq}-${last.seq}.jsonl.gz`);
    expect(written.records).toBe(4);

    const read = await readAll(store, written.key);
    expect(read.map((r) => r.line)).toEqual([1, 2, 3, 4]);
    expect(read.every((r) => r.file === written.key)).toBe(true);
    expect(read.map((r) => r.record)).toEqual(records.map((record) => parseChangeRecord(record)));
    expect(read[3]?.record.new?.['every']).toEqual(parseChangeRecord(records[3]).new?.['every']);
  });

  it('rewrites a retried batch as identical bytes at the same key, whatever the key order of the input', async () => {
    const store = await newStore();
    const records = [changeRecord(), changeRecord({ op: 'REMOVE' }), changeRecord({ op: 'INSERT' })];
    const first = await writeChangeFile(store, 'orders', records);
    const bytes = await readFile(path.join(store.rootDir, first.key));
    const retry = await writeChangeFile(store, TABLE_ARN, records.map(reversedKeys));
    expect(retry.key).toBe(first.key);
    expect(await readFile(path.join(store.rootDir, retry.key))).toEqual(bytes);
    expect(encodeChangeFile(records)).toEqual(bytes);
  });

  it('writes one JSON line per record with the fields in the documented order', async () => {
    const store = await newStore();
    const record = changeRecord({ op: 'INSERT' });
    const { key } = await writeChangeFile(store, 'orders', [record]);
    const text = gunzipSync(await readFile(path.join(store.rootDir, key))).toString('utf8');
    expect(text.endsWith('\n')).toBe(true);
    const line = JSON.parse(text.trim()) as Record<string, unknown>;
    expect(Object.keys(line)).toEqual(['op', 'keys', 'new', 'old', 'seq', 'shard', 'ts', 'ttl', 'eventId']);
    expect(line['old']).toBeNull();
    expect(line['seq']).toBe(record.seq);
  });

  it('refuses an empty batch, mixed shards and sequence numbers that do not increase, writing nothing', async () => {
    const store = await newStore();
    const a = changeRecord();
    const b = changeRecord();
    await expect(writeChangeFile(store, 'orders', [])).rejects.toBeInstanceOf(BadInputError);
    await expect(
      writeChangeFile(store, 'orders', [a, { ...b, shard: 'shardId-other' }]),
    ).rejects.toMatchObject({
      path: '[1].shard',
    });
    await expect(writeChangeFile(store, 'orders', [b, a])).rejects.toMatchObject({ path: '[1].seq' });
    await expect(writeChangeFile(store, 'orders', [a, { ...b, seq: `0${a.seq}` }])).rejects.toMatchObject({
      path: '[1].seq',
    });
    const listed = [];
    for await (const object of store.list('')) listed.push(object.key);
    expect(listed).toEqual([]);
  });

  it('compares sequence numbers as integers, not as text', async () => {
    const store = await newStore();
    const short = changeRecord({ seq: '9'.repeat(21) });
    const long = changeRecord({ seq: `1${'0'.repeat(21)}` });
    const { key } = await writeChangeFile(store, 'orders', [short, long]);
    expect(key).toContain(`/${short.seq}-${long.seq}.jsonl.gz`);
  });
});

describe('change file validation', () => {
  const base = changeRecord();
  const cases: [string, unknown, string][] = [
    ['an unknown op', { ...base, op: 'UPSERT' }, 'op'],
    ['a REMOVE that carries a new image', { ...base, op: 'REMOVE' }, 'new'],
    ['an INSERT without a new image', { ...base, op: 'INSERT', new: null, old: null }, 'new'],
    ['an INSERT with an old image', { ...base, op: 'INSERT' }, 'old'],
    ['a missing old field', { ...base, old: undefined }, 'old'],
    ['a sequence number of 41 digits', { ...base, seq: '1'.repeat(41) }, 'seq'],
    ['a sequence number given as a JSON number', { ...base, seq: 12345 }, 'seq'],
    ['a fractional ts', { ...base, ts: 1.5 }, 'ts'],
    ['a ts given as text', { ...base, ts: '1795392000000' }, 'ts'],
    ['a ttl that is not a boolean', { ...base, ttl: 'yes' }, 'ttl'],
    ['a TTL flag on a MODIFY', { ...base, ttl: true }, 'ttl'],
    ['an empty eventId', { ...base, eventId: '' }, 'eventId'],
    ['a shard id with a slash', { ...base, shard: 'a/b' }, 'shard'],
    ['an unknown field', { ...base, extra: 1 }, 'extra'],
    ['three key attributes', { ...base, keys: { ...base.keys, x: { S: '1' } } }, 'keys'],
    ['a BOOL key attribute', { ...base, keys: { pk: { BOOL: true } } }, 'keys.pk'],
    ['a new image without a key attribute', { ...base, new: { pk: base.keys['pk'] } }, 'new.sk'],
    ['a new image with another key value', { ...base, new: { ...base.new, sk: { S: 'other' } } }, 'new.sk'],
    ['an invalid number', { ...base, new: { ...base.new, total: { N: '12abc' } } }, 'new.total'],
    ['an unknown type tag', { ...base, old: { ...base.old, total: { D: '1' } } }, 'old.total'],
    ['invalid base64', { ...base, new: { ...base.new, sig: { B: 'not base64!' } } }, 'new.sig'],
  ];

  it.each(cases)('refuses %s, naming the file, the line and the path', async (_name, bad, expectedPath) => {
    const root = await tempDir();
    const lines = [JSON.stringify(changeRecord()), JSON.stringify(bad), JSON.stringify(changeRecord())];
    await writeGzipLines(path.join(root, 'c.jsonl.gz'), lines);
    const store = new LocalFolderStore(root);
    const error = await readAll(store, 'c.jsonl.gz').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BadInputError);
    expect(error).toMatchObject({
      code: 'BAD_INPUT',
      file: 'c.jsonl.gz',
      line: 2,
      path: expectedPath,
      text: lines[1],
    });
    expect((error as Error).message).toContain('c.jsonl.gz, line 2');

    const collected: BadLine[] = [];
    const good = await readAll(store, 'c.jsonl.gz', collected);
    expect(good.map((r) => r.line)).toEqual([1, 3]);
    expect(collected).toEqual([
      { file: 'c.jsonl.gz', line: 2, path: expectedPath, reason: expect.any(String), text: lines[1] },
    ]);
  });

  it('collects bad lines with everything needed to replay them once repaired', async () => {
    const root = await tempDir();
    const good = changeRecord();
    const broken = changeRecord({ op: 'INSERT' });
    const brokenText = JSON.stringify(broken).replace('"139.95"', '"139,95"');
    await writeGzipLines(path.join(root, 'c.jsonl.gz'), [JSON.stringify(good), brokenText]);
    const store = new LocalFolderStore(root);

    const quarantine: BadLine[] = [];
    const read = await readAll(store, 'c.jsonl.gz', quarantine);
    expect(read.map((r) => r.record)).toEqual([parseChangeRecord(good)]);
    expect(quarantine).toHaveLength(1);
    const bad = quarantine[0] as BadLine;
    expect(bad).toMatchObject({ file: 'c.jsonl.gz', line: 2, path: 'new.total' });

    // The quarantined facts locate the very line in the file, and its text replays once repaired.
    const fileLines = gunzipSync(await readFile(path.join(root, bad.file)))
      .toString('utf8')
      .split('\n');
    expect(fileLines[bad.line - 1]).toBe(bad.text);
    const replayed = parseChangeRecord(JSON.parse(bad.text.replace('"139,95"', '"139.95"')));
    expect(replayed).toEqual(parseChangeRecord(broken));
    await writeFile(path.join(root, 'replay.jsonl.gz'), encodeChangeFile([replayed]));
    expect((await readAll(store, 'replay.jsonl.gz')).map((r) => r.record)).toEqual([replayed]);
  });
});

describe('change file line text', () => {
  /** The line written attribute by attribute, with names sorted by UTF-8 bytes: the specification. */
  function lineByParts(record: ChangeRecord): string {
    const item = (value: Item): string =>
      `{${Object.keys(value)
        .sort(compareUtf8)
        .map((name) => `${JSON.stringify(name)}:${attribute(value[name] as AttributeValue)}`)
        .join(',')}}`;
    const attribute = (value: AttributeValue): string => {
      if ('M' in value) return `{"M":${item(value.M)}}`;
      if ('L' in value) return `{"L":[${value.L.map(attribute).join(',')}]}`;
      return JSON.stringify(value);
    };
    return (
      `{"op":${JSON.stringify(record.op)},"keys":${item(record.keys)},` +
      `"new":${record.new === null ? 'null' : item(record.new)},"old":${record.old === null ? 'null' : item(record.old)},` +
      `"seq":${JSON.stringify(record.seq)},"shard":${JSON.stringify(record.shard)},"ts":${record.ts},` +
      `"ttl":${record.ttl},"eventId":${JSON.stringify(record.eventId)}}`
    );
  }

  it('is the attribute-by-attribute text for any item, integer-like and __proto__ names included', () => {
    const awkwardName = fc.constantFrom('7', '10', '4294967295', '01', '__proto__', 'a', 'Z', 'é', '😀');
    // The image's key attributes must agree with the record's keys, so the entries never rename them.
    const nonKeyName = fc.oneof(attributeName, awkwardName).filter((name) => name !== 'pk' && name !== 'sk');
    const entries = fc.uniqueArray(fc.tuple(nonKeyName, valueModel), {
      maxLength: 6,
      selector: ([name]) => name,
    });
    fc.assert(
      fc.property(entries, entries, (newEntries, oldEntries) => {
        const record = parseChangeRecord({
          ...changeRecord(),
          new: { pk: { S: 'customer#1' }, sk: { S: 'order#0001' }, ...mapToDynamoJson(newEntries) },
          old: { pk: { S: 'customer#1' }, sk: { S: 'order#0001' }, ...mapToDynamoJson(oldEntries) },
        });
        expect(changeRecordLine(record)).toBe(lineByParts(record));
      }),
      { numRuns: 300 },
    );
  });

  it('encodes records from parseChangeRecord to the same bytes as encodeChangeFile', () => {
    const records = [changeRecord(), changeRecord({ op: 'REMOVE' }), changeRecord({ op: 'INSERT' })];
    expect(encodeParsedChangeRecords(records.map(parseChangeRecord))).toEqual(encodeChangeFile(records));
  });
});
