/*
 * What a batch of changes costs apply on a large table, against DuckDB's own MERGE INTO.
 *
 *   npm run bench:apply-merge [-- --items 1000000] [-- --batches 1000,10000,100000] [-- --buckets 16]
 *     [-- --rows-per-file 250000]
 *
 * Loads the benchmark export (apply-export.ts: 1,000,000 sample order items) twice: with apply's
 * first batch into a new Delta table, and into a native DuckDB table with the same columns. Then,
 * for each batch size, writes that many changes as change files (writeChangeFile, 1,000 records a
 * file: 80 % MODIFY and 10 % REMOVE of existing keys, 10 % INSERT of new ones, fresh images of every
 * type) and applies them, in the same process, one after the other:
 *   (a) applyBatch: reads the change files, orders them per key, consults the tombstones, rewrites
 *       the buckets the changed keys fall in (copy-on-write), commits;
 *   (b) DuckDB's MERGE INTO on the native table, from the same change files (read_json into the
 *       same column types, the last change per key, only when newer than the row, REMOVE deletes);
 * checks that both tables then hold the same keys at the same sequence numbers, and prints seconds
 * per batch and bytes rewritten next to the native MERGE. Goals: the batch cost grows with the
 * batch, not the table; (a) within 3 × (b).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { applyBatch } from '../src/apply/apply-batch.ts';
import { loadSnapshot } from '../src/delta/load-snapshot.ts';
import { duckdbEngine } from '../src/duckdb/duckdb-engine.ts';
import { DuckSession, quoteIdentifier } from '../src/duckdb/session.ts';
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
  benchExport,
  itemStructSql,
  KEYS_STRUCT_SQL,
  keysJsonSql,
  lakeColumnsSql,
  linkedLanding,
  numberOption,
  RssSampler,
  readJsonSql,
} from './apply-export.ts';
import { recordBenchResults } from './results.ts';

const RECORDS_PER_FILE = 1000;
const NATIVE = 'native_orders';

interface BatchFigures {
  readonly changes: number;
  readonly applySeconds: number;
  readonly bytesRewritten: number;
  readonly filesRewritten: number;
  readonly bucketsRewritten: number;
  readonly tableBytes: number;
  readonly mergeSeconds: number;
  readonly applyPeakRssMb: number;
  /** RSS when the batch started (the native table lives in the same process). */
  readonly startRssMb: number;
}

/** The native table: the export's items with the lake's columns, as DuckDB stores a table. */
async function loadNative(session: DuckSession, source: BenchExport): Promise<void> {
  await session.run(`CREATE TABLE ${NATIVE} AS SELECT ${lakeColumnsSql('Item', source.columns, {
    keysJson: keysJsonSql('Item'),
    seq: `'${'0'.repeat(40)}'`,
    ts: `CAST(epoch_ms(${source.exportTime}) AS TIMESTAMPTZ)`,
    source: `'export'`,
  })}
FROM ${readJsonSql(source.dataFiles, { Item: itemStructSql(source.columns) })}`);
}

/**
 * Writes `count` changes as change files into the landing folder and returns their paths. Keys to
 * change are sampled from the native table (which holds the same keys as the Delta table).
 */
async function writeChanges(
  session: DuckSession,
  landing: LocalFolderStore,
  folder: string,
  count: number,
  batch: number,
  firstSeq: bigint,
): Promise<{ readonly files: string[]; readonly nextSeq: bigint }> {
  const removes = Math.round(count * 0.1);
  const inserts = Math.round(count * 0.1);
  const existing = count - inserts;
  const sampled = await session.all(
    `SELECT pk, sk FROM ${NATIVE} USING SAMPLE reservoir(${existing} ROWS) REPEATABLE (${batch})`,
  );
  const keys: Item[] = sampled
    .getRows()
    .map(([pk, sk]) => ({ pk: { S: String(pk) }, sk: { S: String(sk) } }));
  for (let i = 0; i < inserts; i++) {
    keys.push({ pk: { S: `customer#new-${batch}-${i % 997}` }, sk: { S: `order#new-${batch}-${i}` } });
  }
  const images = sampleOrders(count, 7000 + batch);
  const ts = Date.now();
  let seq = firstSeq;
  const records: ChangeRecord[] = keys.map((key, index) => {
    const image = images.next().value as Item;
    const isRemove = index < removes;
    const isInsert = index >= existing;
    const item = parseItem({ ...image, pk: key['pk'] as AttributeValue, sk: key['sk'] as AttributeValue });
    seq += 1n;
    return {
      op: isRemove ? 'REMOVE' : isInsert ? 'INSERT' : 'MODIFY',
      keys: key,
      new: isRemove ? null : item,
      old: null,
      seq: seq.toString(),
      shard: BENCH_SHARD,
      ts,
      ttl: false,
      eventId: `bench-${batch}-${index}`,
    };
  });
  const files: string[] = [];
  for (let at = 0; at < records.length; at += RECORDS_PER_FILE) {
    const written = await writeChangeFile(landing, BENCH_TABLE, records.slice(at, at + RECORDS_PER_FILE));
    files.push(path.join(folder, written.key));
  }
  return { files, nextSeq: seq };
}

/** (b) DuckDB's MERGE INTO of the change files into the native table, the rules apply follows. */
async function nativeMerge(
  session: DuckSession,
  source: BenchExport,
  files: readonly string[],
): Promise<number> {
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
  await session.run(`MERGE INTO ${NATIVE} AS t
USING (${changes}) AS s
ON t._ddb_key = s._ddb_key
WHEN MATCHED AND s._ddb_seq > t._ddb_seq AND s.op = 'REMOVE' THEN DELETE
WHEN MATCHED AND s._ddb_seq > t._ddb_seq THEN UPDATE SET ${columns.map((c) => `${c} = s.${c}`).join(', ')}
WHEN NOT MATCHED AND s.op <> 'REMOVE' THEN INSERT (${columns.join(', ')}) VALUES (${columns.map((c) => `s.${c}`).join(', ')})`);
  return (performance.now() - started) / 1000;
}

/** Row count and a checksum of (key, sequence number) of a query's rows. */
async function fingerprint(session: DuckSession, from: string): Promise<string> {
  const result = await session.all(`SELECT count(*), sum(hash(_ddb_key || '|' || _ddb_seq)) FROM ${from}`);
  return (result.getRows()[0] ?? []).map(String).join(' / ');
}

async function deltaFingerprint(
  session: DuckSession,
  delta: LocalFolderStore,
): Promise<{ print: string; bytes: number }> {
  const snapshot = await loadSnapshot(delta, duckdbEngine(session));
  await createSnapshotView(session, delta, snapshot, 'delta_rows');
  const print = await fingerprint(session, 'delta_rows');
  await session.run('DROP VIEW delta_rows');
  return { print, bytes: snapshot.files.reduce((sum, add) => sum + add.size, 0) };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const items = numberOption(args, '--items', 1_000_000);
  const buckets = numberOption(args, '--buckets', 16);
  // Rows per data file of the table (fixed at its creation): fewer make a batch rewrite less.
  const rowsPerFile = args.includes('--rows-per-file') ? numberOption(args, '--rows-per-file', 0) : undefined;
  const at = args.indexOf('--batches');
  const sizes = (at >= 0 ? String(args[at + 1]) : '1000,10000,100000').split(',').map(Number);
  // The native side alone: the change files and DuckDB's MERGE, without apply.
  const baselineOnly = args.includes('--baseline-only');
  const source = await benchExport(items, console.log);
  const landingFolder = await mkdtemp(path.join(tmpdir(), 'ddb-lake-bench-merge-landing-'));
  const deltaFolder = await mkdtemp(path.join(tmpdir(), 'ddb-lake-bench-merge-delta-'));
  const landing = new LocalFolderStore(landingFolder);
  const delta = new LocalFolderStore(deltaFolder);
  const session = await DuckSession.open();
  const rss = new RssSampler();
  try {
    await linkedLanding(source.folder, landingFolder);
    let started = performance.now();
    const loaded = baselineOnly
      ? undefined
      : await applyBatch({
          landing,
          delta,
          table: BENCH_TABLE,
          snapshot: source.exportId,
          keys: BENCH_KEYS,
          buckets,
          ...(rowsPerFile === undefined ? {} : { rowsPerFile }),
        });
    if (loaded !== undefined && loaded.outcome !== 'applied')
      throw new Error(`the snapshot was not applied: ${loaded.outcome}`);
    if (loaded !== undefined)
      console.log(
        `Delta table: ${loaded.inserted.toLocaleString('en-US')} rows in ${buckets} buckets, ${loaded.filesWritten} files, ` +
          `${(loaded.bytesWritten / 1e6).toFixed(0)} MB, loaded by apply in ${((performance.now() - started) / 1000).toFixed(1)} s`,
      );
    started = performance.now();
    await loadNative(session, source);
    console.log(`native DuckDB table loaded in ${((performance.now() - started) / 1000).toFixed(1)} s`);

    const figures: BatchFigures[] = [];
    let seq = 200_000_000_000_000_000_000n;
    for (const [index, changes] of sizes.entries()) {
      const written = await writeChanges(session, landing, landingFolder, changes, index + 1, seq);
      seq = written.nextSeq;
      if (baselineOnly) {
        const mergeSeconds = await nativeMerge(session, source, written.files);
        console.log(
          `${changes} changes: MERGE ${mergeSeconds.toFixed(2)} s, native table ${await fingerprint(session, NATIVE)}`,
        );
        continue;
      }
      const before = await deltaFingerprint(session, delta);
      const startRssMb = rss.reset();
      started = performance.now();
      const result = await applyBatch({ landing, delta, table: BENCH_TABLE });
      const applySeconds = (performance.now() - started) / 1000;
      const applyPeakRssMb = rss.peakMb();
      if (result.outcome !== 'applied')
        throw new Error(`batch ${index + 2} was not applied: ${result.outcome}`);
      const mergeSeconds = await nativeMerge(session, source, written.files);
      const [ours, theirs] = [
        (await deltaFingerprint(session, delta)).print,
        await fingerprint(session, NATIVE),
      ];
      if (ours !== theirs) {
        throw new Error(
          `after ${changes} changes the Delta table (${ours}) and the native table (${theirs}) differ`,
        );
      }
      figures.push({
        changes,
        applySeconds,
        bytesRewritten: result.bytesRewritten,
        filesRewritten: result.filesRewritten,
        bucketsRewritten: result.bucketsRewritten,
        tableBytes: before.bytes,
        mergeSeconds,
        applyPeakRssMb,
        startRssMb,
      });
    }

    console.log(
      `${'changes'.padStart(9)}  ${'(a) apply'.padStart(10)}  ${'rewritten'.padStart(10)}  ${'of table'.padStart(8)}  ` +
        `${'buckets'.padStart(7)}  ${'RSS peak'.padStart(8)}  ${'(b) MERGE'.padStart(10)}  ${'(a)/(b)'.padStart(7)}`,
    );
    for (const f of figures) {
      console.log(
        `${f.changes.toLocaleString('en-US').padStart(9)}  ${`${f.applySeconds.toFixed(2)} s`.padStart(10)}  ` +
          `${`${(f.bytesRewritten / 1e6).toFixed(1)} MB`.padStart(10)}  ${`${((100 * f.bytesRewritten) / f.tableBytes).toFixed(0)} %`.padStart(8)}  ` +
          `${String(f.bucketsRewritten).padStart(7)}  ${`+${(f.applyPeakRssMb - f.startRssMb).toFixed(0)} MB`.padStart(8)}  ` +
          `${`${f.mergeSeconds.toFixed(2)} s`.padStart(10)}  ${(f.applySeconds / f.mergeSeconds).toFixed(2).padStart(7)}`,
      );
    }
    console.log(
      'RSS peak: the growth of the process during (a), over what it held before (the native table among it)',
    );
    console.log('goals: (a)/(b) ≤ 3.00 for every batch; (a) grows with the batch size, not with the table');
    recordBenchResults(
      'apply-merge',
      { items, buckets, batches: sizes.join(','), ...(rowsPerFile === undefined ? {} : { rowsPerFile }) },
      figures.map((f) => ({
        metric: `batch of ${f.changes} changes vs MERGE INTO`,
        unit: 's',
        ours: f.applySeconds,
        baseline: f.mergeSeconds,
        better: 'lower' as const,
        goal: { on: 'ratio' as const, value: 3 },
        peakRssMb: f.applyPeakRssMb,
        notes: `${(f.bytesRewritten / 1e6).toFixed(1)} MB in ${f.bucketsRewritten} buckets rewritten`,
      })),
    );
  } finally {
    rss.stop();
    await session.close();
    await landing.close();
    await delta.close();
    await rm(landingFolder, { recursive: true, force: true });
    await rm(deltaFolder, { recursive: true, force: true });
  }
}

await main();
