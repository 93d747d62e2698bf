import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import {
  S3_SERVER_CREDENTIALS,
  S3_SERVER_REGION,
  type S3Server,
  startS3Server,
} from '../../src/local/s3-server.ts';
import { InvalidKeyError, ObjectNotFoundError, StorageError } from '../../src/storage/errors.ts';
import { LocalFolderStore } from '../../src/storage/local-folder-store.ts';
import type { ObjectStore } from '../../src/storage/object-store.ts';
import { S3Store } from '../../src/storage/s3-store.ts';
import {
  digestOf,
  fileSystemNow,
  inBatches,
  listKeys,
  patternedStream,
  readAll,
  TempFolders,
} from './helpers.ts';

/** One back end of the contract: started once per file, and a fresh, empty store per test. */
interface Backend {
  readonly name: string;
  start(): Promise<void>;
  open(): Promise<ObjectStore>;
  stop(): Promise<void>;
}

const folders = new TempFolders();
const localFolder: Backend = {
  name: 'LocalFolderStore',
  async start() {},
  async open() {
    return new LocalFolderStore(await folders.make('contract'));
  },
  async stop() {
    await folders.removeAll();
  },
};

let server: S3Server | undefined;
let bucketCount = 0;
const s3: Backend = {
  name: 'S3Store',
  async start() {
    server = await startS3Server();
  },
  async open() {
    if (server === undefined) throw new Error('the S3 server did not start');
    const bucket = `contract-${++bucketCount}`;
    await server.createBucket(bucket);
    // A root prefix, so every case also checks that keys are relative to it.
    return new S3Store({
      bucket,
      prefix: 'lake/root',
      endpointUrl: server.endpoint,
      region: S3_SERVER_REGION,
      credentials: S3_SERVER_CREDENTIALS,
    });
  },
  async stop() {
    await server?.stop();
  },
};

async function expectRejection<T extends Error>(
  promise: Promise<unknown>,
  type: new (...args: never[]) => T,
): Promise<T> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(type);
  return error as T;
}

describe.each([localFolder, s3])('ObjectStore contract: $name', (backend) => {
  let store: ObjectStore;

  beforeAll(() => backend.start());
  afterAll(() => backend.stop());
  beforeEach(async () => {
    store = await backend.open();
  });
  afterEach(() => store.close());

  test('lists every key once in UTF-8 byte order across folders (a-b < a/b < a0) and beyond U+FFFF', async () => {
    const keys = ['z', 'a0', 'a/b', 'é', 'a-b', '😀', 'a.b', 'a/c/d', '\uFFFD', 'a b', 'A', '日本/語', 'ab'];
    for (const key of keys) await store.put(key, `body of ${key}`);

    const listed = await listKeys(store, '');

    // Written out by hand from the UTF-8 bytes: 41 < 61 20 < 61 2D < 61 2E < 61 2F 62 < 61 2F 63 <
    // 61 30 < 61 62 < 7A < C3 A9 < E6 97 A5 < EF BF BD < F0 9F 98 80.
    const expected = [
      'A',
      'a b',
      'a-b',
      'a.b',
      'a/b',
      'a/c/d',
      'a0',
      'ab',
      'z',
      'é',
      '日本/語',
      '\uFFFD',
      '😀',
    ];
    expect(listed).toEqual(expected);
    // JavaScript's default sort (UTF-16) puts the emoji before U+FFFD, so the case tells them apart.
    expect([...keys].sort()).not.toEqual(expected);
    for await (const info of store.list('')) {
      expect(info.size).toBe(Buffer.byteLength(`body of ${info.key}`));
    }
  });

  test('lists more than 1,000 objects (several ListObjectsV2 pages on S3) in order, each exactly once', async () => {
    // For one number the three keys sort "-" (2D) < "." (2E) < "/" (2F); numbers are zero-padded.
    const expected: string[] = [];
    for (let i = 0; i < 402; i++) {
      const n = String(i).padStart(5, '0');
      expected.push(`n/${n}-x`, `n/${n}.y`, `n/${n}/z`);
    }
    const shuffled = [...expected].sort((a, b) =>
      a.split('').reverse().join('') < b.split('').reverse().join('') ? -1 : 1,
    );
    await inBatches(shuffled, 24, (key) => store.put(key, key));

    const listed = await listKeys(store, 'n/');
    expect(listed).toHaveLength(1206);
    expect(listed).toEqual(expected);

    // Resuming after a key deep in the second page continues with the next key.
    const after = expected[1100] as string;
    expect(await listKeys(store, 'n/', after)).toEqual(expected.slice(1101));
  });

  test('lists only keys that start with the prefix, which is a string prefix rather than a folder', async () => {
    for (const key of ['changes/t1/a', 'changes/t10/b', 'changes/t2/c', 'changes-old/y', 'other/x']) {
      await store.put(key, key);
    }
    expect(await listKeys(store, 'changes/t1')).toEqual(['changes/t1/a', 'changes/t10/b']);
    expect(await listKeys(store, 'changes/t1/')).toEqual(['changes/t1/a']);
    expect(await listKeys(store, 'changes/')).toEqual(['changes/t1/a', 'changes/t10/b', 'changes/t2/c']);
    expect(await listKeys(store, 'nothing/here/')).toEqual([]);
    expect(await listKeys(store, '')).toEqual([
      'changes-old/y',
      'changes/t1/a',
      'changes/t10/b',
      'changes/t2/c',
      'other/x',
    ]);
  });

  test('startAfter skips every key up to and including it, whether or not it is a key', async () => {
    for (const key of ['a-b', 'a/b', 'a/c', 'b']) await store.put(key, key);
    expect(await listKeys(store, '', 'a-b')).toEqual(['a/b', 'a/c', 'b']);
    expect(await listKeys(store, '', 'a/')).toEqual(['a/b', 'a/c', 'b']);
    expect(await listKeys(store, '', 'a/b')).toEqual(['a/c', 'b']);
    expect(await listKeys(store, '', 'a/zz')).toEqual(['b']);
    expect(await listKeys(store, '', 'zzz')).toEqual([]);
    expect(await listKeys(store, 'a/', '0')).toEqual(['a/b', 'a/c']);
  });

  test('an empty store lists nothing', async () => {
    expect(await listKeys(store, '')).toEqual([]);
  });

  test('get returns exactly the requested byte range, end exclusive and clamped to the object', async () => {
    const body = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    await store.put('bytes.bin', body);
    const range = async (start: number, end?: number) =>
      readAll(await store.get('bytes.bin', end === undefined ? { start } : { start, end }));

    expect(await range(0, 1)).toEqual(body.subarray(0, 1));
    expect(await range(10, 20)).toEqual(body.subarray(10, 20));
    expect(await range(250)).toEqual(body.subarray(250));
    expect(await range(250, 1000)).toEqual(body.subarray(250));
    expect(await range(255, 256)).toEqual(body.subarray(255));
    expect(await range(256)).toEqual(Buffer.alloc(0));
    expect(await range(300, 400)).toEqual(Buffer.alloc(0));
    expect(await range(5, 5)).toEqual(Buffer.alloc(0));
    expect(await readAll(await store.get('bytes.bin'))).toEqual(body);
  });

  test('a negative, fractional or inverted range is refused with INVALID_RANGE', async () => {
    await store.put('k', '0123456789');
    for (const range of [
      { start: -1 },
      { start: 1.5 },
      { start: 5, end: 4 },
      { start: 0, end: Number.NaN },
    ]) {
      const error = await expectRejection(store.get('k', range), StorageError);
      expect(error.code).toBe('INVALID_RANGE');
    }
  });

  test('getBytes returns the exact bytes of binary, text and empty objects', async () => {
    const binary = new Uint8Array([0, 255, 0xc3, 0x28, 10, 13, 0]);
    await store.put('binary', binary);
    await store.put('text.json', '{"n":"12345678901234567890.123"} — ü');
    await store.put('empty', new Uint8Array(0));

    expect(await store.getBytes('binary')).toEqual(binary);
    expect(Buffer.from(await store.getBytes('text.json')).toString('utf8')).toBe(
      '{"n":"12345678901234567890.123"} — ü',
    );
    expect(await store.getBytes('empty')).toHaveLength(0);
    expect(await readAll(await store.get('empty'))).toHaveLength(0);
    expect(await readAll(await store.get('empty', { start: 0, end: 10 }))).toHaveLength(0);
  });

  test('head reports size and modification time, and undefined for a missing key', async () => {
    // Object times come from the store's clock: the file system's for a folder and the local S3 server.
    const before = await fileSystemNow();
    await store.put('dir/file', 'twelve bytes');
    const info = await store.head('dir/file');
    expect(info?.key).toBe('dir/file');
    expect(info?.size).toBe(12);
    expect(Math.abs((info?.lastModified.getTime() ?? 0) - before)).toBeLessThan(60_000);
    expect(await store.head('dir/missing')).toBeUndefined();
    expect(await store.head('dir')).toBeUndefined();
  });

  test('put replaces the whole object, and a shorter body leaves no trailing bytes', async () => {
    await store.put('k', 'a long first version of the object');
    await store.put('k', 'short');
    expect(Buffer.from(await store.getBytes('k')).toString()).toBe('short');
    const listed = [];
    for await (const info of store.list('')) listed.push([info.key, info.size]);
    expect(listed).toEqual([['k', 5]]);
  });

  test('put of a 17 MiB stream stores every byte (a multipart upload on S3)', async () => {
    const size = 17 * 1024 * 1024 + 12_345;
    const { stream, sha256 } = patternedStream(size, 20240131);
    await store.put('big/stream.bin', stream);

    expect((await store.head('big/stream.bin'))?.size).toBe(size);
    const stored = await digestOf(await store.get('big/stream.bin'));
    expect(stored).toEqual({ sha256: await sha256, size });
    // A range across the boundary of the first 8 MiB part holds the same bytes as the source.
    const { stream: again } = patternedStream(size, 20240131);
    const source = (await readAll(again)).subarray(8 * 1024 * 1024 - 3, 8 * 1024 * 1024 + 5);
    expect(
      await readAll(
        await store.get('big/stream.bin', { start: 8 * 1024 * 1024 - 3, end: 8 * 1024 * 1024 + 5 }),
      ),
    ).toEqual(source);
  });

  test('put of a small stream stores its bytes', async () => {
    const { stream, sha256 } = patternedStream(1000, 7);
    await store.put('small', stream);
    expect(await digestOf(await store.get('small'))).toEqual({ sha256: await sha256, size: 1000 });
  });

  test('get and getBytes of a missing key throw ObjectNotFoundError naming the key and the store', async () => {
    const attempts = [
      () => store.getBytes('no/such/key'),
      () => store.get('no/such/key'),
      () => store.get('no/such/key', { start: 2 }),
    ];
    for (const attempt of attempts) {
      const error = await expectRejection(attempt(), ObjectNotFoundError);
      expect(error.code).toBe('OBJECT_NOT_FOUND');
      expect(error.key).toBe('no/such/key');
      expect(error.storeUrl).toBe(store.url);
      expect(error.message).toContain('no/such/key');
      expect(error.message).toContain(store.url);
    }
    const empty = await expectRejection(store.get('no/such/key', { start: 3, end: 3 }), ObjectNotFoundError);
    expect(empty.key).toBe('no/such/key');
  });

  test('delete removes the object and is idempotent', async () => {
    await store.put('gone/soon', 'x');
    await store.put('stays', 'y');
    await store.delete('gone/soon');
    expect(await store.head('gone/soon')).toBeUndefined();
    expect(await listKeys(store, '')).toEqual(['stays']);
    await expectRejection(store.getBytes('gone/soon'), ObjectNotFoundError);
    await store.delete('gone/soon');
    await store.delete('never/existed');
    expect(await listKeys(store, '')).toEqual(['stays']);
  });

  test('invalid keys are refused with InvalidKeyError before anything is written', async () => {
    const invalid = [
      '',
      '/a',
      'a//b',
      'a/../b',
      '..',
      './a',
      'a/.',
      'a/',
      'a\u0000b',
      'x\uD800',
      '.ddb-lake-tmp-x',
    ];
    for (const key of invalid) {
      const attempts = [
        () => store.put(key, 'x'),
        () => store.putIfAbsent(key, 'x'),
        () => store.get(key),
        () => store.getBytes(key),
        () => store.head(key),
        () => store.delete(key),
      ];
      for (const attempt of attempts) {
        const error = await expectRejection(attempt(), InvalidKeyError);
        expect(error.code).toBe('INVALID_KEY');
        expect(error.key).toBe(key);
      }
    }
    for (const prefix of ['/a', 'a//', '../', 'a\u0000']) {
      await expectRejection(listKeys(store, prefix), InvalidKeyError);
    }
    expect(await listKeys(store, '')).toEqual([]);
  });

  test('putIfAbsent creates once, then reports exists and keeps the first bytes', async () => {
    expect(await store.putIfAbsent('_delta_log/00000000000000000000.json', 'first')).toEqual({
      outcome: 'created',
    });
    expect(await store.putIfAbsent('_delta_log/00000000000000000000.json', 'second')).toEqual({
      outcome: 'exists',
    });
    expect(Buffer.from(await store.getBytes('_delta_log/00000000000000000000.json')).toString()).toBe(
      'first',
    );
    await store.put('plain', 'x');
    expect(await store.putIfAbsent('plain', 'y')).toEqual({ outcome: 'exists' });
  });

  test('of 16 concurrent putIfAbsent calls for one key exactly one is created, and its bytes are stored', async () => {
    const bodies = Array.from({ length: 16 }, (_, i) => `writer ${i} `.repeat(1000 + i));
    const outcomes = await Promise.all(bodies.map((body) => store.putIfAbsent('race/commit.json', body)));
    const winners = outcomes.flatMap((outcome, i) => (outcome.outcome === 'created' ? [i] : []));
    expect(winners).toHaveLength(1);
    const stored = Buffer.from(await store.getBytes('race/commit.json')).toString();
    expect(stored).toBe(bodies[winners[0] as number]);
    expect(await listKeys(store, '')).toEqual(['race/commit.json']);
  });

  test('a closed store refuses further calls', async () => {
    await store.close();
    const error = await expectRejection(store.head('k'), StorageError);
    expect(error.code).toBe('STORE_CLOSED');
  });
});
