/*
 * Writes a benchmark export: realistic order items holding every DynamoDB type, in the native
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
import type { AttributeValue, Item } from '../src/dynamo/attribute-value.ts';
import type { FullExportSummary } from '../src/formats/export-manifest.ts';
import { ExportWriter } from '../src/formats/export-writer.ts';
import { LocalFolderStore } from '../src/storage/local-folder-store.ts';

export const DEFAULT_BENCH_FOLDER = path.join(tmpdir(), 'ddb-lake-bench-export');
export const DEFAULT_BENCH_MEGABYTES = 100;

/** A small, fast, seeded generator (mulberry32): the same seed gives the same items. */
function randomSource(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = [
  'alpha',
  'bravo',
  'delta',
  'échelle',
  'grüße',
  'kilo',
  'lima',
  'oscar',
  'québec',
  'tango',
  '東京',
  'zulu',
];
const STATUSES = ['PENDING', 'PAID', 'SHIPPED', 'DELIVERED', 'CANCELLED'];

/** Item `i` of the benchmark table: an order with lines, tags, scores, blobs and nested maps. */
export function benchItem(i: number, random: () => number): Item {
  const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)] as T;
  const words = (n: number): string => Array.from({ length: n }, () => pick(WORDS)).join(' ');
  const cents = (max: number): string => (Math.floor(random() * max * 100) / 100).toFixed(2);
  const lineCount = 1 + Math.floor(random() * 4);
  const lines: AttributeValue[] = Array.from({ length: lineCount }, (_, n) => ({
    M: {
      sku: { S: `SKU-${Math.floor(random() * 1e6)}` },
      qty: { N: String(1 + Math.floor(random() * 9)) },
      price: { N: cents(500) },
      gift: { BOOL: random() < 0.1 },
      note: n === 0 && random() < 0.3 ? { S: words(6) } : { NULL: true },
    },
  }));
  const item: Record<string, AttributeValue> = {
    pk: { S: `customer#${Math.floor(i / 7)}` },
    sk: { S: `order#${String(i).padStart(10, '0')}` },
    status: { S: pick(STATUSES) },
    createdAt: { S: new Date(1_700_000_000_000 + i * 61_000).toISOString() },
    total: { N: cents(2000) },
    quantity: { N: String(lineCount) },
    ledger: { N: `${Math.floor(random() * 1e9)}${String(i).padStart(29, '0')}` },
    ratio: { N: `0.${String(Math.floor(random() * 1e12)).padStart(12, '0')}` },
    paid: { BOOL: random() < 0.7 },
    description: { S: words(4 + Math.floor(random() * 12)) },
    signature: {
      B: Buffer.from(
        Array.from({ length: 16 + Math.floor(random() * 32) }, () => Math.floor(random() * 256)),
      ).toString('base64'),
    },
    tags: {
      SS: Array.from(new Set(Array.from({ length: 1 + Math.floor(random() * 4) }, () => pick(WORDS)))),
    },
    scores: {
      NS: Array.from(
        new Set(
          Array.from({ length: 1 + Math.floor(random() * 5) }, () =>
            String(Math.floor(random() * 1000) / 10),
          ),
        ),
      ),
    },
    lines: { L: lines },
    shipping: {
      M: {
        address: {
          M: {
            street: { S: words(3) },
            city: { S: pick(WORDS) },
            zip: { S: String(10000 + Math.floor(random() * 89999)) },
          },
        },
        method: { S: random() < 0.5 ? 'express' : 'standard' },
        history: { L: [{ S: 'created' }, { N: String(i) }, { BOOL: true }, { NULL: true }] },
      },
    },
  };
  if (random() < 0.3) {
    item['attachments'] = {
      BS: Array.from(
        new Set(
          Array.from({ length: 1 + Math.floor(random() * 3) }, () =>
            Buffer.from(String(random())).toString('base64'),
          ),
        ),
      ),
    };
  }
  if (random() < 0.2) item['refund'] = { NULL: true };
  if (random() < 0.05) item['huge'] = { N: '1E+125' };
  return item;
}

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
  const random = randomSource(20261123);
  const target = megabytes * 1e6;
  let bytes = 0;
  for (let i = 0; bytes < target; i++) {
    const item = benchItem(i, random);
    bytes += Buffer.byteLength(JSON.stringify({ Item: item })) + 1;
    await writer.write(item);
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
