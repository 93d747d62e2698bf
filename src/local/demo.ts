import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { type ExportInspection, inspectExport } from '../backfill/inspect-export.ts';
import { ScanEventCode } from '../backfill/scan-events.ts';
import { scanExport } from '../backfill/scan-export.ts';
import type { Item } from '../dynamo/attribute-value.ts';
import { itemToPlainJson } from '../dynamo/plain-json.ts';
import { openExport } from '../formats/export-layout.ts';
import { readExportItems } from '../formats/export-reader.ts';
import { LocalFolderStore } from '../storage/local-folder-store.ts';
import { createOrdersTable, putItems } from './orders-table.ts';
import { sampleOrders } from './sample-orders.ts';
import { startLocalStack } from './stack.ts';

export interface DemoOptions {
  /** Items to write (default 50,000). */
  readonly items?: number;
  /** Where the landing area goes (default `./demo-output`); the demo replaces what it wrote before. */
  readonly outputDir?: string;
  readonly onEvent?: (event: DemoEvent) => void;
}

/** What the demo reports as it goes; the CLI renders these. */
export type DemoEvent =
  | { readonly type: 'stack-started'; readonly dynamodbEndpoint: string; readonly ms: number }
  | { readonly type: 'table-created'; readonly table: string; readonly ms: number }
  | { readonly type: 'write-progress'; readonly items: number; readonly of: number }
  | { readonly type: 'items-written'; readonly items: number; readonly ms: number }
  | { readonly type: 'export-progress'; readonly items: number }
  | { readonly type: 'exported'; readonly exportId: string; readonly items: number; readonly ms: number }
  | { readonly type: 'inspected'; readonly inspection: ExportInspection }
  | { readonly type: 'compared'; readonly compared: number; readonly mismatches: readonly string[] }
  | { readonly type: 'stack-stopped' };

export interface DemoResult {
  readonly landing: string;
  readonly exportDir: string;
  readonly inspection: ExportInspection;
  /** Keys whose exported item differs from the item written, or that are missing on one side. */
  readonly mismatches: readonly string[];
}

const TABLE = 'orders';

/**
 * The pipeline on the embedded default, as far as it is built: starts DynamoDB Local, creates an
 * `orders` table with a NEW_AND_OLD_IMAGES stream, writes `items` items of every DynamoDB type,
 * takes a parallel Scan export into a local landing folder in the native export layout, reads it
 * back (manifests, checksums, every value validated, lake schema inferred) and compares every
 * exported item with the item written, exactly. Stops every process it started, also on failure.
 */
export async function runDemo(options: DemoOptions = {}): Promise<DemoResult> {
  const itemCount = options.items ?? 50_000;
  const outputDir = resolve(options.outputDir ?? 'demo-output');
  const landingDir = join(outputDir, 'landing');
  const emit = options.onEvent ?? (() => {});
  await rm(landingDir, { recursive: true, force: true });

  let started = performance.now();
  const stack = await startLocalStack({ s3: false });
  try {
    emit({ type: 'stack-started', dynamodbEndpoint: stack.dynamodb!.endpoint, ms: elapsed(started) });
    const client = stack.dynamoDbClient();

    started = performance.now();
    await createOrdersTable(client, TABLE, { stream: true });
    emit({ type: 'table-created', table: TABLE, ms: elapsed(started) });

    started = performance.now();
    const written = new Map<string, string>();
    await putItems(client, TABLE, sampleOrders(itemCount), (batch) => {
      for (const item of batch) written.set(keyOf(item), itemToPlainJson(item));
      emit({ type: 'write-progress', items: written.size, of: itemCount });
    });
    emit({ type: 'items-written', items: written.size, ms: elapsed(started) });

    started = performance.now();
    const landing = new LocalFolderStore(landingDir);
    const exported = await scanExport({
      client,
      table: TABLE,
      landing,
      segments: 4,
      onEvent: (event) => {
        if (event.code === ScanEventCode.progress)
          emit({ type: 'export-progress', items: event.progress.items });
      },
    });
    emit({
      type: 'exported',
      exportId: exported.exportId,
      items: exported.summary.itemCount,
      ms: elapsed(started),
    });

    const exportDir = `AWSDynamoDB/${exported.exportId}/`;
    const inspection = await inspectExport(landing, exportDir);
    emit({ type: 'inspected', inspection });

    const mismatches = await compareWithWritten(landing, exportDir, written);
    emit({ type: 'compared', compared: written.size, mismatches });
    await landing.close();
    return { landing: landingDir, exportDir: join(landingDir, exportDir), inspection, mismatches };
  } finally {
    await stack.stop();
    emit({ type: 'stack-stopped' });
  }
}

/** Every exported item must equal, value for value, the item written under its key. */
async function compareWithWritten(
  landing: LocalFolderStore,
  exportDir: string,
  written: ReadonlyMap<string, string>,
): Promise<string[]> {
  const mismatches: string[] = [];
  const seen = new Set<string>();
  for await (const { item } of readExportItems(landing, await openExport(landing, exportDir))) {
    const key = keyOf(item);
    seen.add(key);
    const expected = written.get(key);
    if (expected === undefined) mismatches.push(`${key}: exported but never written`);
    else if (expected !== itemToPlainJson(item)) mismatches.push(`${key}: differs from the item written`);
  }
  for (const key of written.keys()) if (!seen.has(key)) mismatches.push(`${key}: written but not exported`);
  return mismatches;
}

function keyOf(item: Item): string {
  const pk = item['pk'];
  const sk = item['sk'];
  return `${pk && 'S' in pk ? pk.S : '?'}/${sk && 'S' in sk ? sk.S : '?'}`;
}

function elapsed(since: number): number {
  return performance.now() - since;
}
