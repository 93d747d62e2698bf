import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { mapLimited } from '../map-limited.ts';
import { LocalFolderStore } from '../storage/local-folder-store.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { DataFileReadError } from './errors.ts';
import type { DuckSession } from './session.ts';

/*
 * Data files where DuckDB can open them. DuckDB here reads local files only (no httpfs extension
 * may be downloaded), so files of a LocalFolderStore are read in place and files of any other
 * store are downloaded into the session's scratch folder first.
 */

/** Local paths of a list of store keys, and how to release what was downloaded for them. */
export interface LocalDataFiles {
  /** One local path per key, in the order of the keys. */
  readonly paths: readonly string[];
  /** Removes the downloaded copies (nothing for files read in place). Idempotent. */
  release(): Promise<void>;
}

const DOWNLOADS_IN_FLIGHT = 8;

/**
 * Local paths for the objects `keys` of `store`: `<rootDir>/<key>` on a LocalFolderStore (each
 * checked to exist), else downloads (at most 8 at a time) into a fresh folder of
 * `session.scratchDir`, removed by `release()` or when the session closes.
 * @throws DataFileReadError naming the key and the store when an object is missing or unreadable;
 * nothing downloaded stays behind then.
 */
export async function localDataFiles(
  session: DuckSession,
  store: ObjectStore,
  keys: readonly string[],
): Promise<LocalDataFiles> {
  if (store instanceof LocalFolderStore) {
    const paths = keys.map((key) => path.join(store.rootDir, ...key.split('/')));
    await mapLimited(paths, 32, async (local, index) => {
      try {
        await stat(local);
      } catch (error) {
        throw new DataFileReadError(
          keys[index] as string,
          `The data file ${keys[index]} of the table at ${store.url} is missing (${(error as Error).message}). The table's log lists it as active; restore the file, or the table cannot be read.`,
          { cause: error },
        );
      }
    });
    return { paths, release: async () => {} };
  }
  const folder = path.join(session.scratchDir, `scan-${randomUUID()}`);
  await mkdir(folder, { recursive: true });
  const release = async (): Promise<void> => {
    await rm(folder, { recursive: true, force: true });
  };
  try {
    const paths = await mapLimited(keys, DOWNLOADS_IN_FLIGHT, async (key, index) => {
      const local = path.join(folder, `${index}.parquet`);
      try {
        await pipeline(await store.get(key), createWriteStream(local));
      } catch (error) {
        throw new DataFileReadError(
          key,
          `Could not download the data file ${key} of the table at ${store.url}: ${(error as Error).message}. The table's log lists it as active; check access to the store, or restore the file.`,
          { cause: error },
        );
      }
      return local;
    });
    return { paths, release };
  } catch (error) {
    await release();
    throw error;
  }
}
