/*
 * How fast apply bulk-loads a snapshot into a new Delta table, against DuckDB converting the same
 * export to Parquet by itself.
 *
 *   npm run bench:apply-load [-- --items 1000000] [-- --rounds 2]
 *
 * Writes (once, then reuses: see apply-export.ts) a native-layout export of the sample order items
 * (every DynamoDB type, 38-digit and extreme numbers, a drifting attribute), then, alternating in
 * the same process so that both see the same machine load:
 *   (a) applyBatch, first run: handoff check, schema inference over the snapshot, exact conversion
 *       of every item (numbers as decimals or exact text, M and L as canonical plain JSON), key
 *       hash buckets, zstd Parquet data files with stats, the Delta commit; into a fresh folder;
 *   (b) the baseline: DuckDB's COPY (SELECT … FROM read_json(…)) TO '….parquet' of the same data
 *       files with the same column types (each attribute extracted from the DynamoDB JSON and cast
 *       to its lake type, the system columns computed), one plain zstd Parquet file;
 * and prints rows/s of the best round of each, their ratio (goal: (a) ≥ 1.5 × (b)) and the peak
 * resident set size during each.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { applyBatch } from '../src/apply/apply-batch.ts';
import { DuckSession, quoteLiteral } from '../src/duckdb/session.ts';
import { LocalFolderStore } from '../src/storage/local-folder-store.ts';
import {
  BENCH_KEYS,
  BENCH_TABLE,
  type BenchExport,
  benchExport,
  itemStructSql,
  keysJsonSql,
  lakeColumnsSql,
  numberOption,
  RssSampler,
  readJsonSql,
} from './apply-export.ts';
import { recordBenchResults } from './results.ts';

interface Round {
  readonly rows: number;
  readonly seconds: number;
  readonly peakRssMb: number;
  readonly detail: string;
}

/** (a) apply's first batch: the export bulk-loaded into a new Delta table. */
async function withApply(source: BenchExport, rss: RssSampler): Promise<Round> {
  const folder = await mkdtemp(path.join(tmpdir(), 'ddb-lake-bench-apply-delta-'));
  const landing = new LocalFolderStore(source.folder);
  const delta = new LocalFolderStore(folder);
  try {
    rss.reset();
    const started = performance.now();
    const result = await applyBatch({
      landing,
      delta,
      table: BENCH_TABLE,
      snapshot: source.exportId,
      keys: BENCH_KEYS,
    });
    const seconds = (performance.now() - started) / 1000;
    if (result.outcome !== 'applied') throw new Error(`apply did not apply the snapshot: ${result.outcome}`);
    if (result.inserted !== source.items) {
      throw new Error(`apply inserted ${result.inserted} rows, the export holds ${source.items}`);
    }
    return {
      rows: result.inserted,
      seconds,
      peakRssMb: rss.peakMb(),
      detail: `${result.filesWritten} files, ${(result.bytesWritten / 1e6).toFixed(0)} MB`,
    };
  } finally {
    await landing.close();
    await delta.close();
    await rm(folder, { recursive: true, force: true });
  }
}

/** (b) The baseline: DuckDB reads the same data files and writes the same columns to one Parquet file. */
async function withDuckDbCopy(source: BenchExport, rss: RssSampler): Promise<Round> {
  const folder = await mkdtemp(path.join(tmpdir(), 'ddb-lake-bench-apply-copy-'));
  const session = await DuckSession.open();
  try {
    const file = path.join(folder, 'baseline.zstd.parquet');
    const select = `SELECT ${lakeColumnsSql('Item', source.columns, {
      keysJson: keysJsonSql('Item'),
      seq: `'${'0'.repeat(40)}'`,
      ts: `CAST(epoch_ms(${source.exportTime}) AS TIMESTAMPTZ)`,
      source: `'export'`,
    })}
FROM ${readJsonSql(source.dataFiles, { Item: itemStructSql(source.columns) })}`;
    rss.reset();
    const started = performance.now();
    await session.run(
      `COPY (${select}) TO ${quoteLiteral(file)} (FORMAT parquet, COMPRESSION zstd, PARQUET_VERSION V1)`,
    );
    const seconds = (performance.now() - started) / 1000;
    const peakRssMb = rss.peakMb();
    const counted = await session.all(`SELECT count(*) FROM read_parquet(${quoteLiteral(file)})`);
    const rows = Number(counted.getRows()[0]?.[0]);
    if (rows !== source.items)
      throw new Error(`the baseline Parquet file holds ${rows} rows, expected ${source.items}`);
    return { rows, seconds, peakRssMb, detail: '1 file' };
  } finally {
    await session.close();
    await rm(folder, { recursive: true, force: true });
  }
}

function line(name: string, best: Round): string {
  const perSecond = Math.round(best.rows / best.seconds).toLocaleString('en-US');
  return (
    `${name.padEnd(44)} ${best.rows.toLocaleString('en-US').padStart(10)} rows  ${best.seconds.toFixed(2).padStart(7)} s  ` +
    `${perSecond.padStart(9)} rows/s  peak RSS ${best.peakRssMb.toFixed(0).padStart(5)} MB  (${best.detail})`
  );
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const items = numberOption(args, '--items', 1_000_000);
  const rounds = numberOption(args, '--rounds', 2);
  const baselineOnly = args.includes('--baseline-only');
  const source = await benchExport(items, console.log);
  console.log(
    `${source.dataFiles.length} data files, ${(source.gzipBytes / 1e6).toFixed(0)} MB gzip, ` +
      `${source.columns.length} attributes; ${availableParallelism()} cores; best of ${rounds} round(s), alternating`,
  );
  const rss = new RssSampler();
  try {
    const ours: Round[] = [];
    const baseline: Round[] = [];
    for (let round = 0; round < rounds; round++) {
      if (!baselineOnly) ours.push(await withApply(source, rss));
      baseline.push(await withDuckDbCopy(source, rss));
    }
    const best = (results: Round[]): Round => results.reduce((a, b) => (b.seconds < a.seconds ? b : a));
    const b = best(baseline);
    if (ours.length > 0) console.log(line('(a) applyBatch: snapshot into a new Delta table', best(ours)));
    console.log(line('(b) DuckDB COPY (SELECT … FROM read_json) TO parquet', b));
    if (ours.length > 0) {
      const a = best(ours);
      console.log(
        `ratio (a)/(b) rows/s: ${(a.rows / a.seconds / (b.rows / b.seconds)).toFixed(2)} (goal ≥ 1.50)`,
      );
    }
    console.log(`peak RSS of the process: ${((process.resourceUsage().maxRSS * 1024) / 1e6).toFixed(0)} MB`);
    const fastest = ours.length > 0 ? best(ours) : undefined;
    if (fastest !== undefined) {
      recordBenchResults('apply-load', { items, rounds }, [
        {
          metric: 'bulk load into a new Delta table vs DuckDB COPY from read_json',
          unit: 'rows/s',
          ours: fastest.rows / fastest.seconds,
          baseline: b.rows / b.seconds,
          better: 'higher',
          goal: { on: 'ratio', value: 1.5 },
          peakRssMb: fastest.peakRssMb,
          notes: `peak RSS during the baseline ${b.peakRssMb.toFixed(0)} MB`,
        },
      ]);
    }
  } finally {
    rss.stop();
  }
}

await main();
