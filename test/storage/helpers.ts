import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { ObjectStore } from '../../src/storage/object-store.ts';

/** The keys a listing yields, in the order it yields them. */
export async function listKeys(store: ObjectStore, prefix: string, startAfter?: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const info of store.list(prefix, startAfter === undefined ? undefined : { startAfter }))
    keys.push(info.key);
  return keys;
}

/** Every byte of a stream. */
export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

/**
 * A stream of `size` pseudo-random bytes (xorshift32 from `seed`, 64 KiB chunks), and a promise of
 * their SHA-256, known once the stream has been read to its end. Nothing is held in memory.
 */
export function patternedStream(size: number, seed: number): { stream: Readable; sha256: Promise<string> } {
  const hash = createHash('sha256');
  let resolveDigest: (digest: string) => void = () => {};
  const sha256 = new Promise<string>((resolve) => (resolveDigest = resolve));
  async function* chunks(): AsyncGenerator<Buffer> {
    let state = seed >>> 0 || 1;
    for (let offset = 0; offset < size; offset += 65_536) {
      const chunk = Buffer.alloc(Math.min(65_536, size - offset));
      for (let i = 0; i < chunk.length; i++) {
        state ^= state << 13;
        state >>>= 0;
        state ^= state >>> 17;
        state ^= state << 5;
        state >>>= 0;
        chunk[i] = state & 0xff;
      }
      hash.update(chunk);
      yield chunk;
    }
    resolveDigest(hash.digest('hex'));
  }
  return { stream: Readable.from(chunks()), sha256 };
}

/** SHA-256 and byte count of a stream, read to its end. */
export async function digestOf(stream: Readable): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of stream) {
    const bytes = chunk as Buffer;
    hash.update(bytes);
    size += bytes.length;
  }
  return { sha256: hash.digest('hex'), size };
}

/** Every file below `root`, as paths relative to it (folders themselves are not listed). */
export async function filesBelow(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(root, path.join(entry.parentPath, entry.name)))
    .sort();
}

/** Temporary folders for one test file, removed together. */
export class TempFolders {
  readonly #made: string[] = [];

  async make(label: string): Promise<string> {
    const folder = await mkdtemp(path.join(os.tmpdir(), `ddb-lake-${label}-`));
    this.#made.push(folder);
    return folder;
  }

  async removeAll(): Promise<void> {
    await Promise.all(this.#made.splice(0).map((folder) => rm(folder, { recursive: true, force: true })));
  }
}

/** Runs `tasks` with at most `limit` in flight. */
export async function inBatches<T>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await task(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * The clock that file modification times come from: the modification time of a file written now.
 * It is the kernel's, which the process clock may not be (under `faketime` it is not), so a test
 * that compares a stored object's time with "now" takes now from here.
 */
export async function fileSystemNow(): Promise<number> {
  const folder = await mkdtemp(path.join(os.tmpdir(), 'ddb-lake-clock-'));
  try {
    const probe = path.join(folder, 'probe');
    await writeFile(probe, '');
    return (await stat(probe)).mtimeMs;
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}
