import { randomBytes } from 'node:crypto';
import type { Dirent } from 'node:fs';
import {
  type FileHandle,
  link,
  lstat,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  stat,
  unlink,
} from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { checkRange } from './byte-range.ts';
import { InvalidKeyError, ObjectNotFoundError, StorageError } from './errors.ts';
import { assertValidKey, assertValidPrefix, compareKeys, TEMP_FILE_MARKER } from './object-key.ts';
import type { ByteRange, ObjectInfo, ObjectStore, PutBody, PutIfAbsentOutcome } from './object-store.ts';
import type { TemporaryFileStore } from './temporary-files.ts';

/**
 * An object store over a folder of the local file system: key `a/b/c` is the file `<root>/a/b/c`.
 *
 * Writes go to a temporary file beside the target (named with `TEMP_FILE_MARKER`, never listed),
 * which is flushed to disk and then renamed over the target (`put`) or hard-linked to it
 * (`putIfAbsent`, which is what makes the create exclusive). A key cannot be both an object and a
 * folder of other objects (`a` and `a/b`), which S3 allows; such a write fails with `KEY_CONFLICT`.
 * Folders emptied by `delete` are left in place. A process killed mid-write leaves its temporary
 * file behind; `listTemporaryFiles` and `deleteTemporaryFile` (temporary-files.ts) reach them.
 */
export class LocalFolderStore implements ObjectStore, TemporaryFileStore {
  readonly url: string;
  readonly rootDir: string;
  #closed = false;

  /** `rootDir` must be absolute; it and the folders below it are created as objects are written. */
  constructor(rootDir: string) {
    if (!path.isAbsolute(rootDir)) {
      throw new StorageError(
        'INVALID_STORE_ROOT',
        `The local store root "${rootDir}" is not an absolute path. Resolve it first (openStore does so against the current folder).`,
      );
    }
    this.rootDir = path.resolve(rootDir);
    this.url = pathToFileURL(this.rootDir).href;
  }

  /**
   * Every object whose key starts with `prefix` and sorts after `startAfter`, in UTF-8 byte order of
   * the keys across nested folders. Reads one folder at a time, so memory stays bounded by the
   * widest folder, not the whole tree.
   */
  async *list(prefix: string, options?: { readonly startAfter?: string }): AsyncIterable<ObjectInfo> {
    this.#assertOpen();
    assertValidPrefix(this.url, prefix);
    const startAfter = options?.startAfter;
    const slash = prefix.lastIndexOf('/');
    const folderKey = slash < 0 ? '' : prefix.slice(0, slash + 1);
    for await (const info of this.#walk(folderKey, prefix, startAfter)) yield info;
  }

  async #readFolder(folderKey: string): Promise<Dirent[]> {
    try {
      return await readdir(this.#pathOf(folderKey), { withFileTypes: true });
    } catch (error) {
      if (isCode(error, 'ENOENT') || isCode(error, 'ENOTDIR')) return [];
      throw this.#ioError('list', folderKey, error);
    }
  }

  /** Yields the objects under the folder `folderKey` (`''` or ending in `/`), in key order. */
  async *#walk(
    folderKey: string,
    prefix: string,
    startAfter: string | undefined,
  ): AsyncGenerator<ObjectInfo> {
    const entries: { name: string; sortKey: string; isFolder: boolean }[] = [];
    for (const entry of await this.#readFolder(folderKey)) {
      if (entry.name.startsWith(TEMP_FILE_MARKER)) continue;
      let isFolder = entry.isDirectory();
      if (entry.isSymbolicLink()) {
        const target = await stat(path.join(entry.parentPath, entry.name)).catch(() => undefined);
        if (target === undefined) continue;
        isFolder = target.isDirectory();
      } else if (!isFolder && !entry.isFile()) {
        continue;
      }
      // Every key below folder `n` starts with `n/`, so sorting a folder's entries by `name` for
      // files and `name/` for folders merges the levels into one byte order of whole keys.
      const sortKey = folderKey + entry.name + (isFolder ? '/' : '');
      if (!isFolder && !sortKey.startsWith(prefix)) continue;
      if (isFolder && !sortKey.startsWith(prefix) && !prefix.startsWith(sortKey)) continue;
      if (startAfter !== undefined && compareKeys(sortKey, startAfter) <= 0) {
        // A folder sorting before `startAfter` can still hold later keys when it is a prefix of it.
        if (!isFolder || !startAfter.startsWith(sortKey)) continue;
      }
      entries.push({ name: entry.name, sortKey, isFolder });
    }
    entries.sort((a, b) => compareKeys(a.sortKey, b.sortKey));
    for (const entry of entries) {
      if (entry.isFolder) {
        yield* this.#walk(entry.sortKey, prefix, startAfter);
        continue;
      }
      const info = await this.head(entry.sortKey);
      // A file deleted since the folder was read is simply no longer part of the listing.
      if (info !== undefined) yield info;
    }
  }

  /** The object's size and modification time, or `undefined` when no file holds that key. */
  async head(key: string): Promise<ObjectInfo | undefined> {
    this.#assertOpen();
    assertValidKey(this.url, key);
    try {
      const stats = await stat(this.#pathOf(key));
      if (!stats.isFile()) return undefined;
      return { key, size: stats.size, lastModified: stats.mtime };
    } catch (error) {
      if (isCode(error, 'ENOENT') || isCode(error, 'ENOTDIR')) return undefined;
      throw this.#ioError('head', key, error);
    }
  }

  /**
   * A stream of the object's bytes, or of bytes `[start, min(end, size))`; a range starting at or
   * past the end yields no bytes. Throws `ObjectNotFoundError` before returning when the key is free.
   */
  async get(key: string, range?: ByteRange): Promise<Readable> {
    this.#assertOpen();
    assertValidKey(this.url, key);
    checkRange(this.url, key, range);
    const handle = await this.#openForReading(key);
    try {
      const start = range?.start ?? 0;
      const end = range?.end;
      if (end !== undefined && end <= start) {
        await handle.close();
        return Readable.from([]);
      }
      return handle.createReadStream({
        start,
        ...(end === undefined ? {} : { end: end - 1 }),
        autoClose: true,
      });
    } catch (error) {
      await handle.close();
      throw this.#ioError('get', key, error);
    }
  }

  /** The whole object as bytes. Throws `ObjectNotFoundError` when the key is free. */
  async getBytes(key: string): Promise<Uint8Array> {
    this.#assertOpen();
    assertValidKey(this.url, key);
    const handle = await this.#openForReading(key);
    try {
      const bytes = await readFile(handle);
      return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    } catch (error) {
      throw this.#ioError('getBytes', key, error);
    } finally {
      await handle.close();
    }
  }

  async #openForReading(key: string): Promise<FileHandle> {
    let handle: FileHandle;
    try {
      handle = await open(this.#pathOf(key), 'r');
    } catch (error) {
      if (isCode(error, 'ENOENT') || isCode(error, 'ENOTDIR') || isCode(error, 'EISDIR')) {
        throw new ObjectNotFoundError(this.url, key, { cause: error });
      }
      throw this.#ioError('get', key, error);
    }
    // Opening a folder succeeds on some systems; a folder is not an object.
    if (!(await handle.stat()).isFile()) {
      await handle.close();
      throw new ObjectNotFoundError(this.url, key);
    }
    return handle;
  }

  /** Replaces the object atomically: readers see the old file or the new one, never a part. */
  async put(key: string, body: PutBody): Promise<void> {
    this.#assertOpen();
    assertValidKey(this.url, key);
    const target = this.#pathOf(key);
    const temp = await this.#writeTemp(key, body);
    try {
      await rename(temp, target);
    } catch (error) {
      await removeQuietly(temp);
      throw this.#writeError('put', key, error);
    }
    await this.#syncFolder(path.dirname(target));
  }

  /**
   * Creates the object only if no file holds the key: the content is written to a temporary file
   * and hard-linked to the target, which the file system does atomically and refuses with EEXIST
   * when the target exists. The temporary file is always removed.
   */
  async putIfAbsent(key: string, body: Uint8Array | string): Promise<PutIfAbsentOutcome> {
    this.#assertOpen();
    assertValidKey(this.url, key);
    const target = this.#pathOf(key);
    const temp = await this.#writeTemp(key, body);
    try {
      await link(temp, target);
    } catch (error) {
      if (isCode(error, 'EEXIST')) {
        const existing = await lstat(target).catch(() => undefined);
        if (existing?.isDirectory()) throw this.#keyConflict(key, error);
        return { outcome: 'exists' };
      }
      if (isCode(error, 'EPERM') || isCode(error, 'ENOTSUP') || isCode(error, 'EOPNOTSUPP')) {
        throw new StorageError(
          'HARD_LINKS_UNSUPPORTED',
          `Could not create "${key}" in ${this.url} exclusively: the file system refused a hard link (${codeOf(error)}). ` +
            'Put-if-absent needs hard links; use a local file system such as ext4, APFS or NTFS for this store.',
          { cause: error },
        );
      }
      throw this.#writeError('putIfAbsent', key, error);
    } finally {
      await removeQuietly(temp);
    }
    await this.#syncFolder(path.dirname(target));
    return { outcome: 'created' };
  }

  /** Removes the object; a key that holds no file is not an error. */
  async delete(key: string): Promise<void> {
    this.#assertOpen();
    assertValidKey(this.url, key);
    try {
      await unlink(this.#pathOf(key));
    } catch (error) {
      // A folder at the key means no object has that key, as does a missing file.
      if (isCode(error, 'ENOENT') || isCode(error, 'ENOTDIR') || isCode(error, 'EISDIR')) return;
      if (isCode(error, 'EPERM') && (await lstat(this.#pathOf(key)).catch(() => undefined))?.isDirectory())
        return;
      throw this.#ioError('delete', key, error);
    }
  }

  /**
   * Every temporary file of an interrupted write below the root (hidden folders included),
   * ascending by key; see `TemporaryFileStore`. Reads one folder at a time.
   */
  async *listTemporaryFiles(): AsyncIterable<ObjectInfo> {
    this.#assertOpen();
    yield* this.#walkTemporary('');
  }

  async *#walkTemporary(folderKey: string): AsyncGenerator<ObjectInfo> {
    const entries = (await this.#readFolder(folderKey))
      .filter((entry) => entry.isDirectory() || (entry.isFile() && entry.name.startsWith(TEMP_FILE_MARKER)))
      .map((entry) => ({ sortKey: folderKey + entry.name + (entry.isDirectory() ? '/' : ''), entry }))
      .sort((a, b) => compareKeys(a.sortKey, b.sortKey));
    for (const { sortKey, entry } of entries) {
      if (entry.isDirectory()) {
        yield* this.#walkTemporary(sortKey);
        continue;
      }
      const stats = await stat(this.#pathOf(sortKey)).catch(() => undefined);
      if (stats?.isFile()) yield { key: sortKey, size: stats.size, lastModified: stats.mtime };
    }
  }

  /** Removes a temporary file that `listTemporaryFiles` named; see `TemporaryFileStore`. */
  async deleteTemporaryFile(key: string): Promise<void> {
    this.#assertOpen();
    const segments = key.split('/');
    const name = segments.at(-1) ?? '';
    if (!name.startsWith(TEMP_FILE_MARKER) || segments.some((s) => s === '' || s === '.' || s === '..')) {
      throw new InvalidKeyError(
        this.url,
        key,
        `it is not the key of a temporary file (${TEMP_FILE_MARKER}…)`,
      );
    }
    try {
      await unlink(this.#pathOf(key));
    } catch (error) {
      if (isCode(error, 'ENOENT') || isCode(error, 'ENOTDIR')) return;
      throw this.#ioError('delete', key, error);
    }
  }

  /** Marks the store closed; it holds no open resources between calls. */
  async close(): Promise<void> {
    this.#closed = true;
  }

  /** Writes `body` to a fresh temporary file beside the key's file, flushed to disk. */
  async #writeTemp(key: string, body: PutBody): Promise<string> {
    const target = this.#pathOf(key);
    const folder = path.dirname(target);
    try {
      await mkdir(folder, { recursive: true });
    } catch (error) {
      throw this.#writeError('put', key, error);
    }
    const temp = path.join(
      folder,
      `${TEMP_FILE_MARKER}${path.basename(target)}-${randomBytes(8).toString('hex')}`,
    );
    let handle: FileHandle | undefined;
    try {
      handle = await open(temp, 'wx');
      if (typeof body === 'string' || body instanceof Uint8Array) {
        await handle.writeFile(body);
      } else {
        // Awaiting each write keeps memory bounded by one chunk and leaves the handle ours to sync.
        for await (const chunk of body as AsyncIterable<Uint8Array | string>) {
          await (typeof chunk === 'string' ? handle.write(chunk, null, 'utf8') : handle.write(chunk));
        }
      }
      await handle.sync();
      await handle.close();
      handle = undefined;
      return temp;
    } catch (error) {
      await handle?.close().catch(() => undefined);
      await removeQuietly(temp);
      throw this.#writeError('put', key, error);
    }
  }

  /** Makes a rename or link durable; not every platform can open a folder, so failures are ignored. */
  async #syncFolder(folder: string): Promise<void> {
    if (process.platform === 'win32') return;
    const handle = await open(folder, 'r').catch(() => undefined);
    if (handle === undefined) return;
    try {
      await handle.sync();
    } catch {
      // Some file systems refuse fsync on a folder; the data itself is already synced.
    } finally {
      await handle.close();
    }
  }

  #pathOf(key: string): string {
    return key === '' ? this.rootDir : path.join(this.rootDir, ...key.split('/'));
  }

  #assertOpen(): void {
    if (this.#closed)
      throw new StorageError('STORE_CLOSED', `The store ${this.url} was closed; open a new one.`);
  }

  #keyConflict(key: string, cause: unknown): StorageError {
    return new StorageError(
      'KEY_CONFLICT',
      `Cannot write "${key}" in ${this.url}: a local folder store cannot hold an object at a key that is also ` +
        'a folder of other objects (or below a key that is an object). Choose keys that are not prefixes of one another up to a "/".',
      { cause },
    );
  }

  #writeError(operation: string, key: string, error: unknown): StorageError {
    if (error instanceof StorageError) return error;
    if (isCode(error, 'ENOTDIR') || isCode(error, 'EISDIR') || isCode(error, 'EEXIST')) {
      return this.#keyConflict(key, error);
    }
    return this.#ioError(operation, key, error);
  }

  #ioError(operation: string, key: string, error: unknown): StorageError {
    if (error instanceof StorageError) return error;
    const reason = error instanceof Error ? error.message : String(error);
    return new StorageError(
      'STORAGE_IO',
      `${operation} of "${key}" in ${this.url} failed: ${reason}. Check that the folder exists, is writable and has free space.`,
      { cause: error },
    );
  }
}

function codeOf(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : undefined;
}

function isCode(error: unknown, code: string): boolean {
  return codeOf(error) === code;
}

async function removeQuietly(file: string): Promise<void> {
  await unlink(file).catch(() => undefined);
}
