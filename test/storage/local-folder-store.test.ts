import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, test } from 'vitest';
import { ObjectNotFoundError, StorageError } from '../../src/storage/errors.ts';
import { LocalFolderStore } from '../../src/storage/local-folder-store.ts';
import { TEMP_FILE_MARKER } from '../../src/storage/object-key.ts';
import { filesBelow, listKeys, TempFolders } from './helpers.ts';

const folders = new TempFolders();
afterAll(() => folders.removeAll());

async function freshStore(): Promise<{ store: LocalFolderStore; root: string }> {
  const root = await folders.make('folder-store');
  return { store: new LocalFolderStore(root), root };
}

describe('LocalFolderStore', () => {
  test('lists the temporary files of interrupted writes (in hidden folders too) in key order, and deletes only those', async () => {
    const { store, root } = await freshStore();
    await store.put('data/a.parquet', 'a');
    const leftovers = [
      `_delta_log/${TEMP_FILE_MARKER}00000000000000000001.json-0011223344556677`,
      `data/${TEMP_FILE_MARKER}b.parquet-8899aabbccddeeff`,
    ];
    for (const key of leftovers) {
      await mkdir(path.join(root, path.dirname(key)), { recursive: true });
      await writeFile(path.join(root, ...key.split('/')), 'cut off');
    }
    const listed = [];
    for await (const info of store.listTemporaryFiles()) listed.push(info);
    expect(listed.map((info) => [info.key, info.size])).toEqual(leftovers.map((key) => [key, 7]));
    expect(await listKeys(store, '')).toEqual(['data/a.parquet']);

    await expect(store.deleteTemporaryFile('data/a.parquet')).rejects.toThrow(
      /not the key of a temporary file/,
    );
    for (const key of leftovers) await store.deleteTemporaryFile(key);
    await store.deleteTemporaryFile(leftovers[0] as string);
    expect(await filesBelow(root)).toEqual([path.join('data', 'a.parquet')]);
  });

  test('of 64 concurrent putIfAbsent calls with different bodies exactly one is created, its bytes are stored, and no temporary file is left', async () => {
    const { store, root } = await freshStore();
    const bodies = Array.from({ length: 64 }, (_, i) => Buffer.alloc(4096 + i * 512, `writer-${i};`));
    const outcomes = await Promise.all(
      bodies.map((body) => store.putIfAbsent('_delta_log/00000000000000000007.json', body)),
    );

    const winners = outcomes.flatMap((outcome, i) => (outcome.outcome === 'created' ? [i] : []));
    expect(winners).toHaveLength(1);
    const winner = bodies[winners[0] as number] as Buffer;
    expect(Buffer.from(await store.getBytes('_delta_log/00000000000000000007.json')).equals(winner)).toBe(
      true,
    );
    expect(await filesBelow(root)).toEqual([path.join('_delta_log', '00000000000000000007.json')]);
  });

  test('objects live at their key as plain files below the root, and the url is the root as a file URL', async () => {
    const { store, root } = await freshStore();
    await store.put('changes/orders/dt=2024-01-31/a.jsonl.gz', 'x');
    expect(await filesBelow(root)).toEqual([path.join('changes', 'orders', 'dt=2024-01-31', 'a.jsonl.gz')]);
    expect(store.url).toBe(pathToFileURL(root).href);
  });

  test('a temporary file left by a crashed write is never listed', async () => {
    const { store, root } = await freshStore();
    await store.put('dir/real', 'x');
    await writeFile(path.join(root, 'dir', `${TEMP_FILE_MARKER}real-0123456789abcdef`), 'half a write');
    await writeFile(path.join(root, `${TEMP_FILE_MARKER}top-0123456789abcdef`), 'half a write');
    expect(await listKeys(store, '')).toEqual(['dir/real']);
    expect(await listKeys(store, 'dir/')).toEqual(['dir/real']);
  });

  test('put is atomic: readers racing 20 replacements only ever see one complete body', async () => {
    const { store } = await freshStore();
    const small = Buffer.alloc(256 * 1024, 'a');
    const large = Buffer.alloc(3 * 1024 * 1024, 'b');
    await store.put('state.json', small);
    let writing = true;
    const writer = (async () => {
      for (let i = 0; i < 20; i++) await store.put('state.json', i % 2 === 0 ? large : small);
      writing = false;
    })();
    const seen = new Set<string>();
    const readers = Array.from({ length: 4 }, async () => {
      while (writing) {
        const bytes = Buffer.from(await store.getBytes('state.json'));
        seen.add(
          bytes.equals(small) ? 'small' : bytes.equals(large) ? 'large' : `torn (${bytes.length} bytes)`,
        );
      }
    });
    await Promise.all([writer, ...readers]);
    expect([...seen].filter((kind) => kind.startsWith('torn'))).toEqual([]);
    expect(seen.size).toBeGreaterThan(0);
  });

  test('a stream that fails midway leaves the previous object intact and no temporary file', async () => {
    const { store, root } = await freshStore();
    await store.put('k', 'previous');
    async function* failing(): AsyncGenerator<Buffer> {
      yield Buffer.alloc(100_000, 'n');
      throw new Error('source broke');
    }
    const error = await store.put('k', Readable.from(failing())).then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(StorageError);
    expect((error as StorageError).message).toContain('source broke');
    expect(Buffer.from(await store.getBytes('k')).toString()).toBe('previous');
    expect(await filesBelow(root)).toEqual(['k']);
  });

  test('a key that is also a folder of other objects is refused with KEY_CONFLICT and reads as absent', async () => {
    const { store } = await freshStore();
    await store.put('a/b', 'x');
    const attempts = [
      () => store.put('a', 'y'),
      () => store.putIfAbsent('a', 'y'),
      () => store.put('a/b/c', 'z'),
    ];
    for (const attempt of attempts) {
      const error = await attempt().then(
        () => undefined,
        (reason: unknown) => reason,
      );
      expect(error).toBeInstanceOf(StorageError);
      expect((error as StorageError).code).toBe('KEY_CONFLICT');
    }
    expect(await store.head('a')).toBeUndefined();
    await expect(store.getBytes('a')).rejects.toBeInstanceOf(ObjectNotFoundError);
    await store.delete('a');
    expect(await listKeys(store, '')).toEqual(['a/b']);
  });

  test('listing a prefix whose folder is missing, or whose folder part is a file, yields nothing', async () => {
    const { store, root } = await freshStore();
    await mkdir(path.join(root, 'empty-folder'));
    await store.put('file', 'x');
    expect(await listKeys(store, 'missing/folder/')).toEqual([]);
    expect(await listKeys(store, 'empty-folder/')).toEqual([]);
    expect(await listKeys(store, 'file/')).toEqual([]);
  });

  test('a store on a folder that does not exist yet lists nothing and creates it on the first put', async () => {
    const root = path.join(await folders.make('folder-store'), 'not', 'yet');
    const store = new LocalFolderStore(root);
    expect(await listKeys(store, '')).toEqual([]);
    await store.put('x/y', 'z');
    expect(await filesBelow(root)).toEqual([path.join('x', 'y')]);
  });

  test('a relative root is refused with INVALID_STORE_ROOT', () => {
    expect(() => new LocalFolderStore('relative/folder')).toThrow(
      expect.objectContaining({ code: 'INVALID_STORE_ROOT' }),
    );
  });
});
