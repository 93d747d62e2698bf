/*
 * Writes a benchmark export: the sample order items (every DynamoDB type), in the native
 * export layout, with the project's ExportWriter, until the JSON lines reach a target size
 * (default 100 MB, uncompressed).
 *
 *   node bench/generate-export.ts [folder] [--mb 100]
 *
 * The folder defaults to <tmp>/ddb-lake-bench-export. Items are pseudo-random from a fixed seed,
 * so every run writes the same items.
 */
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseItem } from '../src/dynamo/parse.ts';
import type { FullExportSummary } from '../src/formats/export-manifest.ts';
import { ExportWriter } from '../src/formats/export-writer.ts';
import { sampleOrders } from '../src/local/sample-orders.ts';
import { LocalFolderStore } from '../src/storage/local-folder-store.ts';

export const DEFAULT_BENCH_FOLDER = path.join(tmpdir(), 'ddb-lake-bench-export');
export const DEFAULT_BENCH_MEGABYTES = 100;

/**
 * Writes the benchmark export into `folder` with `ExportWriter` until the JSON lines reach
 * `megabytes` (10^6 bytes each) and returns its summary and folder in the store.
 */
export async function generateBenchExport(
  folder: string,
  megabytes: number = DEFAULT_BENCH_MEGABYTES,
): Promise<{ summary: FullExportSummary; dir: string }> {
  await mkdir(folder, { recursive: true });
  const store = new LocalFolderStore(path.resolve(folder));
  const writer = await ExportWriter.start(store, {
    tableArn: 'arn:aws:dynamodb:us-east-1:111122223333:table/bench-orders',
    exportTime: new Date(),
    maxFileBytes: 16 * 1024 * 1024,
  });
  const target = megabytes * 1e6;
  let bytes = 0;
  for (const item of sampleOrders(Number.POSITIVE_INFINITY, 20261123)) {
    if (bytes >= target) break;
    // Measured as written: the writer normalizes numbers (1E+125 becomes 126 digits).
    const normalized = parseItem(item);
    bytes += Buffer.byteLength(JSON.stringify({ Item: normalized })) + 1;
    await writer.write(normalized);
  }
  const summary = await writer.finish();
  await store.close();
  return { summary, dir: writer.dir };
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const mbFlag = args.indexOf('--mb');
  const megabytes = mbFlag >= 0 ? Number(args.splice(mbFlag, 2)[1]) : DEFAULT_BENCH_MEGABYTES;
  const folder = args[0] ?? DEFAULT_BENCH_FOLDER;
  const started = performance.now();
  const { summary, dir } = await generateBenchExport(folder, megabytes);
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `wrote ${summary.itemCount} items, ${(summary.billedSizeBytes / 1e6).toFixed(1)} MB of JSON lines, ` +
      `to ${path.join(folder, dir)} in ${seconds.toFixed(1)} s`,
  );
}
