/*
 * What the Delta log costs on top of writing the Parquet itself.
 *
 *   npm run bench:delta-write [-- --rows 1000000] [-- --rounds 5]
 *
 * Generates the rows once in DuckDB (the columns of a ddb-lake table: keys, a status string, a
 * decimal(38,2) total, a bigint, a boolean, an array of strings, a binary, `_ddb_seq`, `_ddb_ts`,
 * `_ddb_source`), then, alternating in the same process so that both see the same machine load:
 *   (a) a new Delta table in a fresh folder: createTable, writeDataFiles (zstd Parquet with the
 *       per-file stats), and the commit of the `add`;
 *   (b) the baseline: DuckDB's COPY of the same rows to one plain zstd Parquet file;
 * and prints rows/s of the best round of each and the ratio. The goal is (a) ≥ 0.9 × (b).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { commit } from '../src/delta/commit.ts';
import { createTable } from '../src/delta/create-table.ts';
import type { StructType } from '../src/delta/schema.ts';
import { startTransaction } from '../src/delta/transaction.ts';
import { writeDataFiles } from '../src/duckdb/data-file-writer.ts';
import { duckdbEngine } from '../src/duckdb/duckdb-engine.ts';
import { DuckSession, quoteLiteral } from '../src/duckdb/session.ts';
import { LocalFolderStore } from '../src/storage/local-folder-store.ts';
import { recordBenchResults } from './results.ts';

const field = (name: string, type: StructType['fields'][number]['type']) => ({
  name,
  type,
  nullable: true,
  metadata: {},
});

const SCHEMA: StructType = {
  type: 'struct',
  fields: [
    field('pk', { type: 'primitive', name: 'string' }),
    field('sk', { type: 'primitive', name: 'string' }),
    field('status', { type: 'primitive', name: 'string' }),
    field('total', { type: 'decimal', precision: 38, scale: 2 }),
    field('quantity', { type: 'primitive', name: 'long' }),
    field('paid', { type: 'primitive', name: 'boolean' }),
    field('tags', { type: 'array', elementType: { type: 'primitive', name: 'string' }, containsNull: true }),
    field('receipt', { type: 'primitive', name: 'binary' }),
    field('_ddb_seq', { type: 'primitive', name: 'string' }),
    field('_ddb_ts', { type: 'primitive', name: 'timestamp' }),
    field('_ddb_source', { type: 'primitive', name: 'string' }),
  ],
};

interface Round {
  readonly rows: number;
  readonly seconds: number;
}

async function generateRows(session: DuckSession, rows: number): Promise<void> {
  await session.run(`
    CREATE TABLE bench_rows AS
    SELECT
      'customer#' || lpad(CAST(i // 10 AS VARCHAR), 8, '0') AS pk,
      'order#' || lpad(CAST(i % 10 AS VARCHAR), 4, '0') AS sk,
      (['PENDING', 'PAID', 'SHIPPED', 'CANCELLED'])[1 + i % 4] AS status,
      CAST((i * 7919) % 100000000 AS DECIMAL(38, 0)) * CAST(0.01 AS DECIMAL(3, 2)) AS total,
      CAST(i % 1000 AS BIGINT) AS quantity,
      i % 3 = 0 AS paid,
      CASE WHEN i % 5 = 0 THEN NULL ELSE ['gift', 'express'][1:1 + i % 2] END AS tags,
      CASE WHEN i % 7 = 0 THEN NULL ELSE CAST(sha256(CAST(i AS VARCHAR)) AS BLOB) END AS receipt,
      lpad(CAST(100000000000000000000 + i AS VARCHAR), 40, '0') AS _ddb_seq,
      TIMESTAMPTZ '2026-11-23 00:00:00+00' + to_microseconds(i) AS _ddb_ts,
      CASE WHEN i % 2 = 0 THEN 'export' ELSE 'stream' END AS _ddb_source
    FROM range(${rows}) AS t(i)`);
}

/** (a) A new Delta table holding the rows, as apply writes one. */
async function withDelta(session: DuckSession): Promise<Round> {
  const folder = await mkdtemp(path.join(tmpdir(), 'ddb-lake-bench-delta-'));
  try {
    const store = new LocalFolderStore(folder);
    const started = performance.now();
    const created = await createTable(store, { schema: SCHEMA });
    const adds = await writeDataFiles(session, store, { source: 'bench_rows', schema: SCHEMA });
    const outcome = await commit(store, duckdbEngine(session), startTransaction(created).addFiles(adds));
    const seconds = (performance.now() - started) / 1000;
    if (outcome.outcome !== 'committed')
      throw new Error(`the bench commit was not committed: ${outcome.outcome}`);
    const written = adds.reduce((sum, add) => sum + Number(JSON.parse(add.stats ?? '{}').numRecords), 0);
    return { rows: written, seconds };
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}

/** (b) The floor: DuckDB writing the same rows to one plain Parquet file. */
async function withPlainParquet(session: DuckSession, rows: number): Promise<Round> {
  const folder = await mkdtemp(path.join(tmpdir(), 'ddb-lake-bench-parquet-'));
  try {
    const file = path.join(folder, 'plain.zstd.parquet');
    const started = performance.now();
    await session.run(
      `COPY bench_rows TO ${quoteLiteral(file)} (FORMAT parquet, COMPRESSION zstd, PARQUET_VERSION V1)`,
    );
    const seconds = (performance.now() - started) / 1000;
    const counted = await session.all(`SELECT count(*) FROM read_parquet(${quoteLiteral(file)})`);
    const written = Number(counted.getRows()[0]?.[0]);
    if (written !== rows) throw new Error(`the plain Parquet file holds ${written} rows, expected ${rows}`);
    return { rows: written, seconds };
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}

function line(name: string, best: Round): string {
  const perSecond = Math.round(best.rows / best.seconds).toLocaleString('en-US');
  return `${name.padEnd(52)} ${best.rows.toLocaleString('en-US').padStart(10)} rows  ${best.seconds.toFixed(2).padStart(6)} s  ${perSecond.padStart(10)} rows/s`;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const option = (name: string, fallback: number): number => {
    const at = args.indexOf(name);
    return at >= 0 ? Number(args[at + 1]) : fallback;
  };
  const rows = option('--rows', 1_000_000);
  const rounds = option('--rounds', 5);
  const session = await DuckSession.open();
  try {
    const started = performance.now();
    await generateRows(session, rows);
    console.log(
      `${rows.toLocaleString('en-US')} rows generated in DuckDB in ${((performance.now() - started) / 1000).toFixed(1)} s; ` +
        `best of ${rounds} rounds (after one warm-up round of each)`,
    );
    await withPlainParquet(session, rows);
    await withDelta(session);
    const delta: Round[] = [];
    const plain: Round[] = [];
    for (let round = 0; round < rounds; round++) {
      delta.push(await withDelta(session));
      plain.push(await withPlainParquet(session, rows));
    }
    const best = (results: Round[]): Round => results.reduce((a, b) => (b.seconds < a.seconds ? b : a));
    const a = best(delta);
    const b = best(plain);
    if (a.rows !== rows) throw new Error(`the Delta table holds ${a.rows} rows, expected ${rows}`);
    console.log(line('(a) Delta table: create, data file + stats, commit', a));
    console.log(line('(b) DuckDB COPY to plain Parquet', b));
    console.log(
      `ratio (a)/(b) rows/s: ${(a.rows / a.seconds / (b.rows / b.seconds)).toFixed(2)} (goal ≥ 0.90)`,
    );
    recordBenchResults('delta-write', { rows, rounds }, [
      {
        metric: 'new Delta table vs DuckDB COPY to Parquet',
        unit: 'rows/s',
        ours: a.rows / a.seconds,
        baseline: b.rows / b.seconds,
        better: 'higher',
        goal: { on: 'ratio', value: 0.9 },
      },
    ]);
  } finally {
    await session.close();
  }
}

await main();
