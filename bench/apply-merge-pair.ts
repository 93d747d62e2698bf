/*
 * The two tables bench/apply-merge.ts compares: a Delta table kept by apply and a native DuckDB
 * table kept by DuckDB's own MERGE INTO, loaded from the same benchmark export and fed the same
 * change files. Not a benchmark itself.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type AppliedBatch, type ApplyOptions, applyBatch } from '../src/apply/apply-batch.ts';
import { loadReadSnapshot } from '../src/delta/load-snapshot.ts';
import type { ReadSnapshot } from '../src/delta/snapshot.ts';
import { duckdbEngine } from '../src/duckdb/duckdb-engine.ts';
import { type DuckSession, quoteIdentifier } from '../src/duckdb/session.ts';
import { createSnapshotView } from '../src/duckdb/table-scan.ts';
import type { AttributeValue, Item } from '../src/dynamo/attribute-value.ts';
import { parseItem } from '../src/dynamo/parse.ts';
import { writeChangeFile } from '../src/formats/change-file-writer.ts';
import type { ChangeRecord } from '../src/formats/change-record.ts';
import { sampleOrders } from '../src/local/sample-orders.ts';
import { LocalFolderStore } from '../src/storage/local-folder-store.ts';
import {
  BENCH_KEYS,
  BENCH_SHARD,
  BENCH_TABLE,
  type BenchExport,
  itemStructSql,
  KEYS_STRUCT_SQL,
  keysJsonSql,
  lakeColumnsSql,
  linkedLanding,
  readJsonSql,
} from './apply-export.ts';

const RECORDS_PER_FILE = 1000;

/** What apply's batch took, timed around the call. */
export interface TimedBatch {
  readonly seconds: number;
  readonly result: AppliedBatch;
}

/** The table's data files and deletion vectors, as its snapshot lists them. */
export interface TableFacts {
  readonly files: number;
  /** Bytes of the data files and of the deletion vectors stored outside the log. */
  readonly bytes: number;
  readonly filesWithDeletionVectors: number;
  /** Rows the deletion vectors mark deleted. */
  readonly deletedRows: number;
  /** Whether the table's protocol has the deletionVectors reader feature (merge-on-read). */
  readonly mergeOnRead: boolean;
}

/** The files, bytes and deletion vectors of a snapshot. Pure. */
export function tableFacts(snapshot: ReadSnapshot): TableFacts {
  let bytes = 0;
  let filesWithDeletionVectors = 0;
  let deletedRows = 0;
  for (const add of snapshot.files) {
    bytes += add.size;
    const vector = add.deletionVector;
    if (vector === undefined || vector === null) continue;
    filesWithDeletionVectors++;
    deletedRows += vector.cardinality;
    // Inline vectors (`i`) live in the log, not in a file of the table.
    if (vector.storageType !== 'i') bytes += vector.sizeInBytes;
  }
  return {
    files: snapshot.files.length,
    bytes,
    filesWithDeletionVectors,
    deletedRows,
    mergeOnRead: snapshot.protocol.readerFeatures?.includes('deletionVectors') ?? false,
  };
}

/** The latest snapshot of the Delta table in `delta`. */
export async function snapshotOf(session: DuckSession, delta: LocalFolderStore): Promise<ReadSnapshot> {
  return await loadReadSnapshot(delta, duckdbEngine(session));
}

/** Row count and a checksum of (key, sequence number) of a query's rows. */
export async function keyFingerprint(session: DuckSession, from: string): Promise<string> {
  const result = await session.all(`SELECT count(*), sum(hash(_ddb_key || '|' || _ddb_seq)) FROM ${from}`);
  return (result.getRows()[0] ?? []).map(String).join(' / ');
}

/** A full scan's result and where its time went, in seconds. */
export interface FullRowScan {
  /** `count / checksum` of every column. */
  readonly print: string;
  /** The table's columns, sorted by name. */
  readonly columns: readonly string[];
  /** loadReadSnapshot: the log replay (without tombstones, as a reader needs it). */
  readonly logSeconds: number;
  /** createSnapshotView: the view and the table of deleted rows from the deletion vectors. */
  readonly viewSeconds: number;
  /** The query over the view. */
  readonly querySeconds: number;
  readonly seconds: number;
}

/**
 * Count and checksum of every column of the Delta table at `delta` (through createSnapshotView,
 * which leaves out the rows its deletion vectors mark), columns hashed in the order of their names
 * so that two tables whose schemas evolved in another order compare equal; timed from the log
 * replay to the query's last row.
 */
export async function fullRowScan(
  session: DuckSession,
  delta: LocalFolderStore,
  view: string,
): Promise<FullRowScan> {
  const started = performance.now();
  const snapshot = await snapshotOf(session, delta);
  const loaded = performance.now();
  await createSnapshotView(session, delta, snapshot, view);
  const viewed = performance.now();
  try {
    const described = await session.all(`DESCRIBE ${quoteIdentifier(view)}`);
    const columns = described
      .getRows()
      .map(([name]) => String(name))
      .sort();
    const queried = performance.now();
    const result = await session.all(
      `SELECT count(*), sum(hash(${columns.map(quoteIdentifier).join(', ')})) FROM ${quoteIdentifier(view)}`,
    );
    const ended = performance.now();
    return {
      print: (result.getRows()[0] ?? []).map(String).join(' / '),
      columns,
      logSeconds: (loaded - started) / 1000,
      viewSeconds: (viewed - loaded) / 1000,
      querySeconds: (ended - queried) / 1000,
      seconds: (ended - started) / 1000,
    };
  } finally {
    await session.run(`DROP VIEW ${quoteIdentifier(view)}`);
  }
}

/** The commits of the Delta table in `folder` whose commitInfo operation is OPTIMIZE. */
export async function optimizeCommits(folder: string): Promise<number> {
  const log = path.join(folder, '_delta_log');
  let count = 0;
  for (const name of await readdir(log)) {
    if (!/^\d{20}\.json$/.test(name)) continue;
    const lines = (await readFile(path.join(log, name), 'utf8')).split('\n').filter((line) => line !== '');
    const optimized = lines.some(
      (line) =>
        (JSON.parse(line) as { commitInfo?: { operation?: string } }).commitInfo?.operation === 'OPTIMIZE',
    );
    if (optimized) count++;
  }
  return count;
}

/**
 * A Delta table and a native DuckDB table of the same export, each in its own temporary folder
 * (the landing folder holds the export as hard links and the change files this pair writes).
 * Sequence numbers of the changes grow from one pair-wide counter, so every batch is newer than
 * the last. Call `dispose` at the end: it deletes the folders.
 */
export class MergePair {
  #seq = 200_000_000_000_000_000_000n;

  readonly source: BenchExport;
  /** The native table's name in the session. */
  readonly native: string;
  readonly landingFolder: string;
  readonly deltaFolder: string;
  readonly landing: LocalFolderStore;
  readonly delta: LocalFolderStore;

  private constructor(source: BenchExport, native: string, landingFolder: string, deltaFolder: string) {
    this.source = source;
    this.native = native;
    this.landingFolder = landingFolder;
    this.deltaFolder = deltaFolder;
    this.landing = new LocalFolderStore(landingFolder);
    this.delta = new LocalFolderStore(deltaFolder);
  }

  /** Folders for a pair of `source`, its landing area linked from the export's folder. */
  static async create(source: BenchExport, native: string): Promise<MergePair> {
    const landingFolder = await mkdtemp(path.join(tmpdir(), 'ddb-lake-bench-merge-landing-'));
    const deltaFolder = await mkdtemp(path.join(tmpdir(), 'ddb-lake-bench-merge-delta-'));
    await linkedLanding(source.folder, landingFolder);
    return new MergePair(source, native, landingFolder, deltaFolder);
  }

  /** apply's first batch: the export into a new Delta table (merge-on-read unless apply's default says otherwise). */
  async loadDelta(options: { readonly buckets: number; readonly rowsPerFile?: number }): Promise<TimedBatch> {
    return await timedApply(this.landing, this.delta, {
      snapshot: this.source.exportId,
      keys: BENCH_KEYS,
      buckets: options.buckets,
      ...(options.rowsPerFile === undefined ? {} : { rowsPerFile: options.rowsPerFile }),
    });
  }

  /** The native table: the export's items with the lake's columns, as DuckDB stores a table. */
  async loadNative(session: DuckSession): Promise<number> {
    const started = performance.now();
    const source = this.source;
    await session.run(`CREATE TABLE ${quoteIdentifier(this.native)} AS SELECT ${lakeColumnsSql(
      'Item',
      source.columns,
      {
        keysJson: keysJsonSql('Item'),
        seq: `'${'0'.repeat(40)}'`,
        ts: `CAST(epoch_ms(${source.exportTime}) AS TIMESTAMPTZ)`,
        source: `'export'`,
      },
    )}
FROM ${readJsonSql(source.dataFiles, { Item: itemStructSql(source.columns) })}`);
    return (performance.now() - started) / 1000;
  }

  /**
   * Writes `count` changes as change files (1,000 records a file) into the landing folder and
   * returns their paths: 80 % MODIFY and 10 % REMOVE of existing keys sampled from the native
   * table (which holds the Delta table's keys), 10 % INSERT of new keys, fresh images of every
   * type. `round` seeds the sample and the images and names the new keys: give each batch of a
   * pair its own, and two pairs the same one for batches of the same shape.
   */
  async writeChanges(session: DuckSession, count: number, round: number): Promise<string[]> {
    const removes = Math.round(count * 0.1);
    const inserts = Math.round(count * 0.1);
    const existing = count - inserts;
    const sampled = await session.all(
      `SELECT pk, sk FROM ${quoteIdentifier(this.native)} USING SAMPLE reservoir(${existing} ROWS) REPEATABLE (${round})`,
    );
    const keys: Item[] = sampled
      .getRows()
      .map(([pk, sk]) => ({ pk: { S: String(pk) }, sk: { S: String(sk) } }));
    for (let i = 0; i < inserts; i++) {
      keys.push({ pk: { S: `customer#new-${round}-${i % 997}` }, sk: { S: `order#new-${round}-${i}` } });
    }
    const images = sampleOrders(count, 7000 + round);
    const ts = Date.now();
    const records: ChangeRecord[] = keys.map((key, index) => {
      const image = images.next().value as Item;
      const isRemove = index < removes;
      const isInsert = index >= existing;
      const item = parseItem({ ...image, pk: key['pk'] as AttributeValue, sk: key['sk'] as AttributeValue });
      this.#seq += 1n;
      return {
        op: isRemove ? 'REMOVE' : isInsert ? 'INSERT' : 'MODIFY',
        keys: key,
        new: isRemove ? null : item,
        old: null,
        seq: this.#seq.toString(),
        shard: BENCH_SHARD,
        ts,
        ttl: false,
        eventId: `bench-${round}-${index}`,
      };
    });
    const files: string[] = [];
    for (let at = 0; at < records.length; at += RECORDS_PER_FILE) {
      const written = await writeChangeFile(
        this.landing,
        BENCH_TABLE,
        records.slice(at, at + RECORDS_PER_FILE),
      );
      files.push(path.join(this.landingFolder, written.key));
    }
    return files;
  }

  /** apply's next batch (the change files not yet taken), timed; throws unless it was applied. */
  async applyDelta(): Promise<TimedBatch> {
    return await timedApply(this.landing, this.delta, {});
  }

  /**
   * DuckDB's MERGE INTO of the change files into the native table, by the rules apply follows
   * (the last change per key, only when newer than the row, REMOVE deletes); its seconds.
   */
  async mergeNative(session: DuckSession, files: readonly string[]): Promise<number> {
    const source = this.source;
    const item = itemStructSql(source.columns);
    const columns = [
      ...source.columns.map((column) => column.name),
      '_ddb_key',
      '_ddb_bucket',
      '_ddb_seq',
      '_ddb_ts',
      '_ddb_source',
    ].map(quoteIdentifier);
    const changes = `SELECT op, ${lakeColumnsSql('new', source.columns, {
      keysJson: keysJsonSql('keys'),
      seq: `lpad(seq, 40, '0')`,
      ts: 'CAST(epoch_ms(ts) AS TIMESTAMPTZ)',
      source: `'stream'`,
    })}
FROM ${readJsonSql(files, { op: 'VARCHAR', keys: KEYS_STRUCT_SQL, new: item, seq: 'VARCHAR', ts: 'BIGINT' })}
QUALIFY row_number() OVER (PARTITION BY _ddb_key ORDER BY _ddb_seq DESC) = 1`;
    const started = performance.now();
    await session.run(`MERGE INTO ${quoteIdentifier(this.native)} AS t
USING (${changes}) AS s
ON t._ddb_key = s._ddb_key
WHEN MATCHED AND s._ddb_seq > t._ddb_seq AND s.op = 'REMOVE' THEN DELETE
WHEN MATCHED AND s._ddb_seq > t._ddb_seq THEN UPDATE SET ${columns.map((c) => `${c} = s.${c}`).join(', ')}
WHEN NOT MATCHED AND s.op <> 'REMOVE' THEN INSERT (${columns.join(', ')}) VALUES (${columns.map((c) => `s.${c}`).join(', ')})`);
    return (performance.now() - started) / 1000;
  }

  /** The Delta table's snapshot now. */
  async snapshot(session: DuckSession): Promise<ReadSnapshot> {
    return await snapshotOf(session, this.delta);
  }

  /**
   * Throws unless the Delta table (read through its deletion vectors) and the native table hold
   * the same keys at the same sequence numbers; `when` says at which point, for the message.
   */
  async assertSameKeys(session: DuckSession, when: string): Promise<void> {
    const snapshot = await this.snapshot(session);
    await createSnapshotView(session, this.delta, snapshot, 'delta_rows');
    const ours = await keyFingerprint(session, 'delta_rows');
    await session.run('DROP VIEW delta_rows');
    const theirs = await keyFingerprint(session, quoteIdentifier(this.native));
    if (ours !== theirs) {
      throw new Error(
        `${when}, the Delta table in ${this.deltaFolder} (${ours}) and the native table (${theirs}) ` +
          'differ in their keys or sequence numbers (count / checksum)',
      );
    }
  }

  async dispose(session: DuckSession | undefined): Promise<void> {
    await session?.run(`DROP TABLE IF EXISTS ${quoteIdentifier(this.native)}`).catch(() => {});
    await this.landing.close();
    await this.delta.close();
    await rm(this.landingFolder, { recursive: true, force: true });
    await rm(this.deltaFolder, { recursive: true, force: true });
  }
}

/** One applyBatch call, timed; throws unless its outcome is `applied`. */
export async function timedApply(
  landing: LocalFolderStore,
  delta: LocalFolderStore,
  options: Omit<ApplyOptions, 'landing' | 'delta' | 'table' | 'engine' | 'dryRun'>,
): Promise<TimedBatch> {
  const started = performance.now();
  const result = await applyBatch({ landing, delta, table: BENCH_TABLE, ...options });
  const seconds = (performance.now() - started) / 1000;
  if (result.outcome !== 'applied') {
    throw new Error(`apply into ${delta.url} did not apply a batch: its outcome was ${result.outcome}`);
  }
  return { seconds, result };
}
