/*
 * What a batch of changes costs apply on a large table, against DuckDB's own MERGE INTO, and what
 * the table looks like to a reader after many batches.
 *
 *   npm run bench:apply-merge [-- --items 1000000] [-- --batches 1000,10000,100000] [-- --buckets 16]
 *     [-- --rows-per-file 250000] [-- --base-items <items / 10>]
 *     [-- --history-batches 100] [-- --history-changes 1000] [-- --scan-rounds 3]
 *
 * Each table is a pair (apply-merge-pair.ts): the benchmark export (apply-export.ts: sample order
 * items) loaded with apply's first batch into a new Delta table (merge-on-read: apply creates its
 * tables with deletion vectors) and into a native DuckDB table with the same columns; a batch is a
 * set of change files (1,000 records a file: 80 % MODIFY and 10 % REMOVE of existing keys, 10 %
 * INSERT of new ones, fresh images of every type) applied (a) by applyBatch and (b) by DuckDB's
 * MERGE INTO on the native table, in the same process, one after the other. After each measured
 * batch both tables must hold the same keys at the same sequence numbers. The rows it reports:
 *
 * 1. batch of N changes vs MERGE INTO, for each of --batches on the --items table: (a) / (b), goal ≤ 3.
 * 2. bytes written by the first of --batches (1,000 at medium size) as a share of the table's
 *    bytes before it (data files and deletion vector files; bytesWritten counts both): goal ≤ 1 %.
 * 3. that same batch (same size, mix and images; keys sampled from each table) on the --items
 *    table against a table of --base-items (a tenth): the ratio of the seconds, goal ≤ 2. The base
 *    table gets one untimed batch of the same size first, so both timed batches run with warm code
 *    (the large table's first later batch follows the base table's two); the base table then has
 *    one batch's deletion vectors and files more than the large one, which if anything slows it.
 * 4. after --history-batches more batches of --history-changes changes on the --items table (with
 *    apply's automatic optimize, which runs inside applyBatch, so its time is the batch's; the
 *    batches it ran after and the log's OPTIMIZE commits are counted), a full scan of it
 *    (loadReadSnapshot, createSnapshotView, which applies the deletion vectors, and `count(*),
 *    sum(hash(every column))`) against the same scan of a freshly loaded table of the same rows:
 *    goal ≤ 1.5. The fresh table is apply's first batch into a new Delta table from the same
 *    landing area: the same export and every change file at once, folded before the load, so its
 *    files have no deletion vectors and hold the final rows in order. This is cheaper than writing
 *    the final rows as a new export, and it is apply's own notion of a freshly loaded table. Both
 *    tables must hold the same rows (the same count and checksum of every column), and the
 *    long-lived one the native table's keys. The scans run --scan-rounds times, alternating between
 *    the tables; the median counts, which a slow first (cold) round does not move.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AppliedBatch } from '../src/apply/apply-batch.ts';
import { DuckSession } from '../src/duckdb/session.ts';
import { LocalFolderStore } from '../src/storage/local-folder-store.ts';
import { BENCH_KEYS, benchExport, numberOption, RssSampler } from './apply-export.ts';
import {
  type FullRowScan,
  fullRowScan,
  MergePair,
  optimizeCommits,
  snapshotOf,
  type TableFacts,
  type TimedBatch,
  tableFacts,
  timedApply,
} from './apply-merge-pair.ts';
import { type BenchFigure, recordBenchResults } from './results.ts';

/** The warm-up batch of the base table uses its own round, so its keys and images are not the timed batch's. */
const WARM_UP_ROUND = 900;
/** History batches are rounds 1000, 1001, …, after the measured batches' 1, 2, 3. */
const HISTORY_FIRST_ROUND = 1000;

interface BatchFigures {
  readonly changes: number;
  readonly applySeconds: number;
  readonly bytesWritten: number;
  readonly filesWritten: number;
  readonly filesMarked: number;
  readonly rowsMarked: number;
  readonly bytesRewritten: number;
  readonly bucketsRewritten: number;
  /** What apply's automatic optimize did after the batch (its time is in applySeconds). */
  readonly optimize: string;
  /** The table before the batch. */
  readonly before: TableFacts;
  readonly mergeSeconds: number;
  readonly applyPeakRssMb: number;
  /** RSS when the batch started (the native table lives in the same process). */
  readonly startRssMb: number;
}

interface ScaleFigures {
  readonly baseItems: number;
  readonly changes: number;
  readonly baseSeconds: number;
  readonly baseMergeSeconds: number;
}

interface HistoryFigures {
  readonly batches: number;
  readonly changes: number;
  readonly applySeconds: number;
  readonly mergeSeconds: number;
  readonly optimizeCommits: number;
  /** Batches after which apply's automatic optimize rewrote files, and the rows it purged. */
  readonly optimizedBatches: number;
  readonly purgedRows: number;
  readonly lived: TableFacts;
  readonly fresh: TableFacts;
  readonly freshLoadSeconds: number;
  readonly livedScanSeconds: number;
  readonly freshScanSeconds: number;
  readonly rows: string;
}

const seconds = (started: number) => (performance.now() - started) / 1000;
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? 0)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
};

function describeOptimize(report: AppliedBatch['optimize']): string {
  if (report === null) return 'not run';
  if (report.outcome === 'failed') return `failed: ${report.message}`;
  if (report.outcome === 'nothing-to-do') return 'nothing to do';
  return (
    `${report.buckets} buckets, ${report.filesRemoved} files into ${report.filesAdded}, ` +
    `${report.deletedRowsPurged} deleted rows purged`
  );
}

function describeTable(facts: TableFacts): string {
  return (
    `${facts.files} files, ${mb(facts.bytes)}, ${facts.filesWithDeletionVectors} with deletion vectors ` +
    `(${facts.deletedRows.toLocaleString('en-US')} rows marked deleted)`
  );
}

function describeLoad(label: string, loaded: TimedBatch, facts: TableFacts): string {
  return (
    `${label}: ${loaded.result.rowsWritten.toLocaleString('en-US')} rows, ${describeTable(facts)}, ` +
    `${facts.mergeOnRead ? 'merge-on-read (deletion vectors)' : 'copy-on-write (no deletion vectors)'}, ` +
    `loaded by apply in ${loaded.seconds.toFixed(1)} s`
  );
}

/**
 * Row 3's base side: a table of `baseItems`, one untimed batch of `changes` to warm the code, then
 * the timed batch of the same shape as the large table's first (round 1).
 */
async function measureBase(
  session: DuckSession,
  baseItems: number,
  changes: number,
  layout: { readonly buckets: number; readonly rowsPerFile?: number },
): Promise<ScaleFigures> {
  const source = await benchExport(baseItems, console.log);
  const pair = await MergePair.create(source, `native_orders_${baseItems}`);
  try {
    const loaded = await pair.loadDelta(layout);
    console.log(describeLoad(`base table`, loaded, tableFacts(await pair.snapshot(session))));
    await pair.loadNative(session);
    const warmUp = await pair.writeChanges(session, changes, WARM_UP_ROUND);
    const warm = await pair.applyDelta();
    await pair.mergeNative(session, warmUp);
    const files = await pair.writeChanges(session, changes, 1);
    const timed = await pair.applyDelta();
    const baseMergeSeconds = await pair.mergeNative(session, files);
    await pair.assertSameKeys(session, `after ${changes} changes on the base table`);
    console.log(
      `base table: warm-up batch of ${changes} changes ${warm.seconds.toFixed(2)} s, ` +
        `timed batch ${timed.seconds.toFixed(2)} s (MERGE ${baseMergeSeconds.toFixed(2)} s)`,
    );
    return { baseItems, changes, baseSeconds: timed.seconds, baseMergeSeconds };
  } finally {
    await pair.dispose(session);
  }
}

/**
 * Row 4: `batches` more batches of `changes` on the pair's tables, then a fresh table of the same
 * rows, both scanned. Throws when the tables' rows differ.
 */
async function measureHistory(
  session: DuckSession,
  pair: MergePair,
  options: {
    readonly batches: number;
    readonly changes: number;
    readonly scanRounds: number;
    readonly buckets: number;
    readonly rowsPerFile?: number;
  },
): Promise<HistoryFigures> {
  let applySeconds = 0;
  let mergeSeconds = 0;
  let optimizedBatches = 0;
  let purgedRows = 0;
  const started = performance.now();
  for (let batch = 1; batch <= options.batches; batch++) {
    const files = await pair.writeChanges(session, options.changes, HISTORY_FIRST_ROUND + batch);
    const applied = await pair.applyDelta();
    applySeconds += applied.seconds;
    const optimize = applied.result.optimize;
    if (optimize?.outcome === 'failed') {
      console.log(`history batch ${batch}: apply's automatic optimize failed: ${optimize.message}`);
    } else if (optimize?.outcome === 'optimized') {
      optimizedBatches++;
      purgedRows += optimize.deletedRowsPurged;
    }
    mergeSeconds += await pair.mergeNative(session, files);
    if (batch % 10 === 0 || batch === options.batches) {
      console.log(
        `history: ${batch} of ${options.batches} batches of ${options.changes} changes after ${seconds(started).toFixed(0)} s ` +
          `(apply ${applySeconds.toFixed(1)} s, MERGE ${mergeSeconds.toFixed(1)} s); ` +
          `table ${describeTable(tableFacts(await pair.snapshot(session)))}; ` +
          `${await optimizeCommits(pair.deltaFolder)} OPTIMIZE commits (${optimizedBatches} after these batches)`,
      );
    }
  }
  await pair.assertSameKeys(session, `after ${options.batches} batches of ${options.changes} changes`);
  const lived = tableFacts(await pair.snapshot(session));

  const freshFolder = await mkdtemp(path.join(tmpdir(), 'ddb-lake-bench-merge-fresh-'));
  const freshDelta = new LocalFolderStore(freshFolder);
  try {
    const loaded = await timedApply(pair.landing, freshDelta, {
      snapshot: pair.source.exportId,
      keys: BENCH_KEYS,
      buckets: options.buckets,
      ...(options.rowsPerFile === undefined ? {} : { rowsPerFile: options.rowsPerFile }),
    });
    const fresh = tableFacts(await snapshotOf(session, freshDelta));
    console.log(describeLoad('fresh table (export and every change file in one first batch)', loaded, fresh));

    const scan = (delta: LocalFolderStore) => fullRowScan(session, delta, 'scanned_rows');
    const livedScans: FullRowScan[] = [];
    const freshScans: FullRowScan[] = [];
    for (let round = 0; round < options.scanRounds; round++) {
      livedScans.push(await scan(pair.delta));
      freshScans.push(await scan(freshDelta));
    }
    const [livedScan, freshScan] = [livedScans[0], freshScans[0]];
    if (livedScan === undefined || freshScan === undefined)
      throw new Error('--scan-rounds must be at least 1');
    if (livedScan.columns.join(',') !== freshScan.columns.join(',')) {
      throw new Error(
        `the table after ${options.batches} batches has the columns ${livedScan.columns.join(', ')}; ` +
          `the fresh table of the same rows ${freshScan.columns.join(', ')}`,
      );
    }
    for (const scanned of [...livedScans, ...freshScans]) {
      if (scanned.print === livedScan.print) continue;
      throw new Error(
        `the table after ${options.batches} batches (${livedScans.map((s) => s.print).join(', ')}) and the ` +
          `fresh table of the same export and change files (${freshScans.map((s) => s.print).join(', ')}) ` +
          `differ (count / checksum of every column, per scan); tables in ${pair.deltaFolder} and ${freshFolder}`,
      );
    }
    const shown = (scans: readonly FullRowScan[]) =>
      scans
        .map(
          (s) =>
            `${s.seconds.toFixed(3)} (log ${s.logSeconds.toFixed(3)}, view ${s.viewSeconds.toFixed(3)}, query ${s.querySeconds.toFixed(3)})`,
        )
        .join(', ');
    console.log(`full scans after the batches (s): ${shown(livedScans)}`);
    console.log(`full scans of the fresh table (s): ${shown(freshScans)}`);
    console.log(`both tables hold ${livedScan.print} (count / checksum of every column)`);
    return {
      batches: options.batches,
      changes: options.changes,
      applySeconds,
      mergeSeconds,
      optimizeCommits: await optimizeCommits(pair.deltaFolder),
      optimizedBatches,
      purgedRows,
      lived,
      fresh,
      freshLoadSeconds: loaded.seconds,
      livedScanSeconds: median(livedScans.map((s) => s.seconds)),
      freshScanSeconds: median(freshScans.map((s) => s.seconds)),
      rows: livedScan.print,
    };
  } finally {
    await freshDelta.close();
    await rm(freshFolder, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const items = numberOption(args, '--items', 1_000_000);
  const baseItems = numberOption(args, '--base-items', Math.round(items / 10));
  const buckets = numberOption(args, '--buckets', 16);
  // Rows per data file of the table (fixed at its creation): fewer make a batch rewrite less.
  const rowsPerFile = args.includes('--rows-per-file') ? numberOption(args, '--rows-per-file', 0) : undefined;
  const historyBatches = numberOption(args, '--history-batches', 100);
  const historyChanges = numberOption(args, '--history-changes', 1000);
  const scanRounds = numberOption(args, '--scan-rounds', 3);
  const at = args.indexOf('--batches');
  const sizes = (at >= 0 ? String(args[at + 1]) : '1000,10000,100000').split(',').map(Number);
  if (sizes.some((size) => !Number.isInteger(size) || size <= 0)) {
    throw new Error(`--batches needs positive whole numbers separated by commas, got ${args[at + 1]}`);
  }
  const firstSize = sizes[0] ?? 1000;
  const layout = { buckets, ...(rowsPerFile === undefined ? {} : { rowsPerFile }) };

  const session = await DuckSession.open();
  const rss = new RssSampler();
  let pair: MergePair | undefined;
  try {
    const scale = await measureBase(session, baseItems, firstSize, layout);

    const source = await benchExport(items, console.log);
    pair = await MergePair.create(source, 'native_orders');
    const loaded = await pair.loadDelta(layout);
    console.log(describeLoad('Delta table', loaded, tableFacts(await pair.snapshot(session))));
    console.log(`native DuckDB table loaded in ${(await pair.loadNative(session)).toFixed(1)} s`);

    const figures: BatchFigures[] = [];
    for (const [index, changes] of sizes.entries()) {
      const files = await pair.writeChanges(session, changes, index + 1);
      const before = tableFacts(await pair.snapshot(session));
      const startRssMb = rss.reset();
      const { seconds: applySeconds, result } = await pair.applyDelta();
      const applyPeakRssMb = rss.peakMb();
      const mergeSeconds = await pair.mergeNative(session, files);
      await pair.assertSameKeys(session, `after ${changes} changes`);
      figures.push({
        changes,
        applySeconds,
        bytesWritten: result.bytesWritten,
        filesWritten: result.filesWritten,
        filesMarked: result.filesMarked,
        rowsMarked: result.rowsMarked,
        bytesRewritten: result.bytesRewritten,
        bucketsRewritten: result.bucketsRewritten,
        optimize: describeOptimize(result.optimize),
        before,
        mergeSeconds,
        applyPeakRssMb,
        startRssMb,
      });
    }

    const history = await measureHistory(session, pair, {
      batches: historyBatches,
      changes: historyChanges,
      scanRounds,
      ...layout,
    });

    console.log(
      `${'changes'.padStart(9)}  ${'(a) apply'.padStart(10)}  ${'written'.padStart(9)}  ${'of table'.padStart(8)}  ` +
        `${'marked'.padStart(13)}  ${'rewritten'.padStart(9)}  ${'RSS peak'.padStart(8)}  ${'(b) MERGE'.padStart(10)}  ${'(a)/(b)'.padStart(7)}  optimize`,
    );
    for (const f of figures) {
      console.log(
        `${f.changes.toLocaleString('en-US').padStart(9)}  ${`${f.applySeconds.toFixed(2)} s`.padStart(10)}  ` +
          `${mb(f.bytesWritten).padStart(9)}  ${`${((100 * f.bytesWritten) / f.before.bytes).toFixed(2)} %`.padStart(8)}  ` +
          `${`${f.rowsMarked} in ${f.filesMarked}`.padStart(13)}  ${mb(f.bytesRewritten).padStart(9)}  ` +
          `${`+${(f.applyPeakRssMb - f.startRssMb).toFixed(0)} MB`.padStart(8)}  ` +
          `${`${f.mergeSeconds.toFixed(2)} s`.padStart(10)}  ${(f.applySeconds / f.mergeSeconds).toFixed(2).padStart(7)}  ${f.optimize}`,
      );
    }
    console.log(
      'written: data and deletion vector files the batch added; marked: rows newly deleted in files; ' +
        'rewritten: files removed whole; RSS peak: the growth of the process during (a) (the native table among what it held); ' +
        "optimize: what apply's automatic optimize did after the batch, its time inside (a)",
    );
    const first = figures[0];
    if (first === undefined) throw new Error('no batch was measured');
    console.log(
      `${first.changes} changes: ${first.applySeconds.toFixed(2)} s on ${items.toLocaleString('en-US')} items, ` +
        `${scale.baseSeconds.toFixed(2)} s on ${baseItems.toLocaleString('en-US')}: ${(first.applySeconds / scale.baseSeconds).toFixed(2)}×`,
    );
    console.log(
      `after ${history.batches} batches of ${history.changes} changes (apply ${history.applySeconds.toFixed(1)} s in all, ` +
        `MERGE ${history.mergeSeconds.toFixed(1)} s; ${history.optimizeCommits} OPTIMIZE commits in the table's log, ` +
        `${history.optimizedBatches} of them after these batches, ${history.purgedRows.toLocaleString('en-US')} deleted rows purged): ` +
        `full scan ${history.livedScanSeconds.toFixed(3)} s (${describeTable(history.lived)}), ` +
        `fresh table ${history.freshScanSeconds.toFixed(3)} s (${describeTable(history.fresh)})`,
    );
    console.log(
      'goals: (a)/(b) ≤ 3.00 for every batch; the first batch writes ≤ 1 % of the table; ' +
        'on a 10× table ≤ 2×; the full scan after the batches ≤ 1.5× the fresh table',
    );

    const batchRows: BenchFigure[] = figures.map((f) => ({
      metric: `batch of ${f.changes} changes vs MERGE INTO`,
      unit: 's',
      ours: f.applySeconds,
      baseline: f.mergeSeconds,
      better: 'lower',
      goal: { on: 'ratio', value: 3 },
      peakRssMb: f.applyPeakRssMb,
      notes:
        `${mb(f.bytesWritten)} written in ${f.filesWritten} files, ${f.rowsMarked} rows marked deleted in ` +
        `${f.filesMarked} files, ${mb(f.bytesRewritten)} in ${f.bucketsRewritten} buckets rewritten; optimize: ${f.optimize}`,
    }));
    recordBenchResults(
      'apply-merge',
      {
        items,
        baseItems,
        buckets,
        batches: sizes.join(','),
        historyBatches,
        historyChanges,
        ...(rowsPerFile === undefined ? {} : { rowsPerFile }),
      },
      [
        ...batchRows,
        {
          metric: `batch of ${first.changes} changes: bytes written / table bytes`,
          unit: 'MB',
          ours: first.bytesWritten / 1e6,
          baseline: first.before.bytes / 1e6,
          better: 'lower',
          goal: { on: 'ratio', value: 0.01 },
          notes: `${first.filesWritten} files written, ${first.rowsMarked} rows marked deleted in ${first.filesMarked} files`,
        },
        {
          metric: `batch of ${first.changes} changes: ${items}-item table / ${baseItems}-item table`,
          unit: 's',
          ours: first.applySeconds,
          baseline: scale.baseSeconds,
          better: 'lower',
          goal: { on: 'ratio', value: 2 },
          notes: `MERGE INTO: ${first.mergeSeconds.toFixed(2)} s / ${scale.baseMergeSeconds.toFixed(2)} s`,
        },
        {
          metric: `full scan after ${history.batches} batches of ${history.changes} vs fresh load`,
          unit: 's',
          ours: history.livedScanSeconds,
          baseline: history.freshScanSeconds,
          better: 'lower',
          goal: { on: 'ratio', value: 1.5 },
          notes:
            `${history.optimizeCommits} OPTIMIZE commits (${history.optimizedBatches} in these batches); ` +
            `after: ${describeTable(history.lived)}; ` +
            `fresh: ${describeTable(history.fresh)}; rows ${history.rows} (count / checksum)`,
        },
      ],
    );
  } finally {
    rss.stop();
    await pair?.dispose(session);
    await session.close();
  }
}

await main();
