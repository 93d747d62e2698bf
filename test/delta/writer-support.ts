import { cp, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { AddFile } from '../../src/delta/actions.ts';
import { createTable } from '../../src/delta/create-table.ts';
import type { DeltaEngine } from '../../src/delta/engine.ts';
import type { StructType } from '../../src/delta/schema.ts';
import type { Snapshot } from '../../src/delta/snapshot.ts';
import { writeDataFiles } from '../../src/duckdb/data-file-writer.ts';
import { duckdbEngine } from '../../src/duckdb/duckdb-engine.ts';
import { DuckSession, quoteLiteral } from '../../src/duckdb/session.ts';
import { readSnapshotRows } from '../../src/duckdb/table-scan.ts';
import { LocalFolderStore } from '../../src/storage/local-folder-store.ts';
import type { ObjectInfo, ObjectStore, PutBody, PutIfAbsentOutcome } from '../../src/storage/object-store.ts';

/** The Spark and delta-rs tables of test/fixtures/delta (read-only: copy before writing). */
export const DELTA_FIXTURES = path.resolve(import.meta.dirname, '../fixtures/delta');

/** A schema of the lake types: a string key, a 38-digit decimal, a long, a nullable string. */
export const ORDERS_SCHEMA: StructType = {
  type: 'struct',
  fields: [
    { name: 'pk', type: { type: 'primitive', name: 'string' }, nullable: true, metadata: {} },
    { name: 'amount', type: { type: 'decimal', precision: 38, scale: 10 }, nullable: true, metadata: {} },
    { name: 'qty', type: { type: 'primitive', name: 'long' }, nullable: true, metadata: {} },
    { name: 'note', type: { type: 'primitive', name: 'string' }, nullable: true, metadata: {} },
  ],
};

/** Temporary folders and one DuckDB session for a test file; `close` removes and closes all. */
export class WriterWorkspace {
  readonly #folders: string[] = [];
  #session: DuckSession | undefined;

  async folder(label = 'delta'): Promise<string> {
    const folder = await mkdtemp(path.join(os.tmpdir(), `ddb-lake-${label}-`));
    this.#folders.push(folder);
    return folder;
  }

  /** A store over a fresh empty folder. */
  async store(label = 'delta'): Promise<LocalFolderStore> {
    return new LocalFolderStore(await this.folder(label));
  }

  /** A store over a copy of a fixture table. */
  async fixtureCopy(name: string): Promise<LocalFolderStore> {
    const folder = await this.folder(name);
    await cp(path.join(DELTA_FIXTURES, name), folder, { recursive: true });
    return new LocalFolderStore(folder);
  }

  async session(): Promise<DuckSession> {
    this.#session ??= await DuckSession.open({ threads: 2 });
    return this.#session;
  }

  async engine(): Promise<DeltaEngine> {
    return duckdbEngine(await this.session());
  }

  async close(): Promise<void> {
    await this.#session?.close();
    await Promise.all(this.#folders.splice(0).map((folder) => rm(folder, { recursive: true, force: true })));
  }
}

/** An `ORDERS_SCHEMA` row as SQL values: `pk`, `amount` (decimal text), `qty`, `note`. */
export interface OrderRow {
  readonly pk: string;
  readonly amount: string;
  /** A whole number, as SQL text when it is past 2^53. */
  readonly qty: number | string;
  readonly note?: string | null;
}

/** Writes `rows` as one data file of `schema`'s data columns through the data plane; returns its add. */
export async function writeOrders(
  workspace: WriterWorkspace,
  store: ObjectStore,
  rows: readonly OrderRow[],
  schema: StructType = ORDERS_SCHEMA,
): Promise<AddFile[]> {
  const values = rows
    .map(
      (row) =>
        `(${quoteLiteral(row.pk)}, ${quoteLiteral(row.amount)}, ${String(row.qty)}::BIGINT, ${row.note === undefined || row.note === null ? 'NULL' : quoteLiteral(row.note)})`,
    )
    .join(', ');
  const extra = schema.fields.slice(4).map((field) => `NULL AS "${field.name}"`);
  const source = `SELECT pk, amount, qty, note${extra.length === 0 ? '' : `, ${extra.join(', ')}`} FROM (VALUES ${values}) AS t(pk, amount, qty, note)`;
  return writeDataFiles(await workspace.session(), store, { source, schema });
}

/** A new table of `ORDERS_SCHEMA` (or `schema`) in a fresh folder. */
export async function newTable(
  workspace: WriterWorkspace,
  options: { schema?: StructType; configuration?: Record<string, string> } = {},
): Promise<{ store: LocalFolderStore; snapshot: Snapshot }> {
  const store = await workspace.store();
  const snapshot = await createTable(store, {
    schema: options.schema ?? ORDERS_SCHEMA,
    ...(options.configuration === undefined ? {} : { configuration: options.configuration }),
  });
  return { store, snapshot };
}

/**
 * Every row of the snapshot, read through the data plane (readSnapshotRows), ordered by `pk`, with
 * longs as their decimal text so that rows compare as plain values.
 */
export async function rowsOf(
  workspace: WriterWorkspace,
  store: ObjectStore,
  snapshot: Snapshot,
): Promise<Record<string, unknown>[]> {
  const rows = await readSnapshotRows(await workspace.session(), store, snapshot, { orderBy: ['pk'] });
  return rows.map((row) =>
    Object.fromEntries(
      Object.entries(row).map(([key, value]) => [key, typeof value === 'bigint' ? String(value) : value]),
    ),
  );
}

/** The bytes of every file under `_delta_log/`, by name: to show a refused write changed nothing. */
export async function logBytes(store: LocalFolderStore): Promise<Map<string, string>> {
  const folder = path.join(store.rootDir, '_delta_log');
  const names = (await readdir(folder)).sort();
  const bytes = new Map<string, string>();
  for (const name of names) bytes.set(name, (await readFile(path.join(folder, name))).toString('base64'));
  return bytes;
}

/** The lines of one commit file as JSON objects. */
export async function commitLines(
  store: LocalFolderStore,
  version: number,
): Promise<Record<string, unknown>[]> {
  const name = `${String(version).padStart(20, '0')}.json`;
  const text = await readFile(path.join(store.rootDir, '_delta_log', name), 'utf8');
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** A store that passes every call to another: the base of the fault-injecting stores below. */
export class StoreWrapper implements ObjectStore {
  readonly url: string;
  protected readonly inner: ObjectStore;

  constructor(inner: ObjectStore) {
    this.inner = inner;
    this.url = inner.url;
  }

  list(prefix: string, options?: { readonly startAfter?: string }): AsyncIterable<ObjectInfo> {
    return this.inner.list(prefix, options);
  }
  head(key: string): Promise<ObjectInfo | undefined> {
    return this.inner.head(key);
  }
  get(key: string, range?: { readonly start: number; readonly end?: number }) {
    return this.inner.get(key, range);
  }
  getBytes(key: string): Promise<Uint8Array> {
    return this.inner.getBytes(key);
  }
  put(key: string, body: PutBody): Promise<void> {
    return this.inner.put(key, body);
  }
  putIfAbsent(key: string, body: Uint8Array | string): Promise<PutIfAbsentOutcome> {
    return this.inner.putIfAbsent(key, body);
  }
  delete(key: string): Promise<void> {
    return this.inner.delete(key);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/**
 * A store whose first `putIfAbsent` of each key creates the object and then answers `exists`, as an
 * S3 request does when its response is lost and the SDK retries it: the caller must recognize its
 * own bytes.
 */
export class LostResponseStore extends StoreWrapper {
  readonly lostResponses: string[] = [];

  override async putIfAbsent(key: string, body: Uint8Array | string): Promise<PutIfAbsentOutcome> {
    const outcome = await this.inner.putIfAbsent(key, body);
    if (outcome.outcome === 'created' && !this.lostResponses.includes(key)) {
      this.lostResponses.push(key);
      return { outcome: 'exists' };
    }
    return outcome;
  }
}

/** A store whose `put` of any key matching `failing` throws, as a full disk or a dropped connection would. */
export class FailingPutStore extends StoreWrapper {
  readonly failures: string[] = [];
  readonly #failing: RegExp;

  constructor(inner: ObjectStore, failing: RegExp) {
    super(inner);
    this.#failing = failing;
  }

  override async put(key: string, body: PutBody): Promise<void> {
    if (this.#failing.test(key)) {
      this.failures.push(key);
      throw new Error(`injected failure writing ${key}`);
    }
    return this.inner.put(key, body);
  }
}
