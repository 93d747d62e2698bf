/*
 * How fast the export reader goes, against the floor of any reader of the same files.
 *
 *   npm run bench:export-read [-- folder] [-- --rounds 3] [-- --mb 100]
 *
 * Uses the complete export in the folder (default <tmp>/ddb-lake-bench-export), writing one with
 * bench/generate-export.ts first if there is none. Then, in the same process and alternating so
 * that both see the same machine load, reads every data file
 *   (a) with readExportItems: gunzip, split, JSON.parse, validate every value, MD5 and item count;
 *   (b) with the baseline: gunzip, split lines, plain JSON.parse of each line, nothing else,
 * and prints rows/s and MB/s (uncompressed JSON lines, 10^6 bytes) of the best round of each and
 * the ratio of their times.
 */
import path from 'node:path';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { listExports, openExport } from '../src/formats/export-layout.ts';
import { readExportItems } from '../src/formats/export-reader.ts';
import { LocalFolderStore } from '../src/storage/local-folder-store.ts';
import type { ObjectStore } from '../src/storage/object-store.ts';
import { DEFAULT_BENCH_FOLDER, DEFAULT_BENCH_MEGABYTES, generateBenchExport } from './generate-export.ts';
import { recordBenchResults } from './results.ts';

interface Round {
  readonly rows: number;
  readonly seconds: number;
}

/** (a) The project's reader, as the backfill consumes it: one item at a time. */
async function readWithOurReader(store: ObjectStore, dir: string): Promise<Round> {
  const started = performance.now();
  const opened = await openExport(store, dir);
  let rows = 0;
  for await (const _ of readExportItems(store, opened)) rows++;
  return { rows, seconds: (performance.now() - started) / 1000 };
}

/** (b) The floor: gunzip, split on newlines, JSON.parse; no validation, no checksum. */
async function readWithBaseline(store: ObjectStore, keys: readonly string[]): Promise<Round> {
  const started = performance.now();
  let rows = 0;
  for (const key of keys) {
    const source: Readable = await store.get(key);
    const lines = source.pipe(createGunzip({ chunkSize: 256 * 1024 }));
    let carry = '';
    for await (const chunk of lines as AsyncIterable<Buffer>) {
      const text = carry + chunk.toString('utf8');
      let start = 0;
      for (let end = text.indexOf('\n'); end >= 0; end = text.indexOf('\n', start)) {
        JSON.parse(text.slice(start, end));
        rows++;
        start = end + 1;
      }
      carry = text.slice(start);
    }
    if (carry !== '') {
      JSON.parse(carry);
      rows++;
    }
  }
  return { rows, seconds: (performance.now() - started) / 1000 };
}

function row(name: string, best: Round, megabytes: number): string {
  const rowsPerSecond = Math.round(best.rows / best.seconds).toLocaleString('en-US');
  return `${name.padEnd(44)} ${best.rows.toLocaleString('en-US').padStart(9)} rows  ${best.seconds.toFixed(2).padStart(6)} s  ${rowsPerSecond.padStart(9)} rows/s  ${(megabytes / best.seconds).toFixed(1).padStart(6)} MB/s`;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const option = (name: string, fallback: number): number => {
    const at = args.indexOf(name);
    return at >= 0 ? Number(args.splice(at, 2)[1]) : fallback;
  };
  const rounds = option('--rounds', 3);
  const megabytes = option('--mb', DEFAULT_BENCH_MEGABYTES);
  const folder = path.resolve(args[0] ?? DEFAULT_BENCH_FOLDER);

  const store = new LocalFolderStore(folder);
  let [listing] = await listExports(store);
  if (listing === undefined) {
    console.log(`no export in ${folder}: generating ${megabytes} MB…`);
    const started = performance.now();
    await generateBenchExport(folder, megabytes);
    console.log(`generated in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    [listing] = await listExports(store);
    if (listing === undefined) throw new Error(`the generated export in ${folder} is not listed`);
  }
  const opened = await openExport(store, listing.dir);
  const uncompressed = listing.summary.billedSizeBytes / 1e6;
  console.log(
    `export ${listing.dir} in ${folder}: ${listing.summary.itemCount.toLocaleString('en-US')} items, ` +
      `${opened.files.length} data files, ${uncompressed.toFixed(1)} MB of JSON lines; best of ${rounds} rounds`,
  );

  const ours: Round[] = [];
  const baseline: Round[] = [];
  for (let round = 0; round < rounds; round++) {
    ours.push(await readWithOurReader(store, listing.dir));
    baseline.push(
      await readWithBaseline(
        store,
        opened.files.map((file) => file.key),
      ),
    );
  }
  const best = (results: Round[]): Round => results.reduce((a, b) => (b.seconds < a.seconds ? b : a));
  const a = best(ours);
  const b = best(baseline);
  if (a.rows !== b.rows) throw new Error(`the readers disagree: ${a.rows} rows against ${b.rows}`);
  console.log(row('(a) readExportItems (validate + MD5 + count)', a, uncompressed));
  console.log(row('(b) baseline (gunzip + split + JSON.parse)', b, uncompressed));
  console.log(`ratio (a)/(b) time: ${(a.seconds / b.seconds).toFixed(2)}`);
  await store.close();
  recordBenchResults('export-read', { rows: a.rows, megabytes: Number(uncompressed.toFixed(1)), rounds }, [
    {
      metric: 'read the export (validate, MD5) vs gunzip + JSON.parse',
      unit: 's',
      ours: a.seconds,
      baseline: b.seconds,
      better: 'lower',
      notes: `${Math.round(a.rows / a.seconds)} against ${Math.round(b.rows / b.seconds)} rows/s`,
    },
  ]);
}

await main();
