import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatchWriteItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scanExport } from '../../src/backfill/scan-export.ts';
import type { Item } from '../../src/dynamo/attribute-value.ts';
import { itemToPlainJson } from '../../src/dynamo/plain-json.ts';
import { fromSdkItem, toSdkItem } from '../../src/dynamo/sdk-interop.ts';
import { listExports, openExport } from '../../src/formats/export-layout.ts';
import { readExportItems } from '../../src/formats/export-reader.ts';
import { sampleOrders } from '../../src/local/sample-orders.ts';
import { LocalFolderStore } from '../../src/storage/local-folder-store.ts';
import { createStreamTable, dynamoDbClient, type StreamTable } from '../support/local-stack.ts';

describe('parallel Scan export against DynamoDB Local', () => {
  let table: StreamTable;
  let folder: string;
  const items = [...sampleOrders(600, 7)];

  beforeAll(async () => {
    table = await createStreamTable({ prefix: 'scan-export', sortKey: { name: 'sk', type: 'S' } });
    folder = await mkdtemp(join(tmpdir(), 'ddb-lake-scan-export-'));
    for (let start = 0; start < items.length; start += 25) {
      const requests = items
        .slice(start, start + 25)
        .map((item) => ({ PutRequest: { Item: toSdkItem(item) } }));
      const answer = await dynamoDbClient().send(
        new BatchWriteItemCommand({ RequestItems: { [table.tableName]: requests } }),
      );
      expect(answer.UnprocessedItems?.[table.tableName] ?? []).toEqual([]);
    }
  });
  afterAll(async () => {
    await table.drop();
    await rm(folder, { recursive: true, force: true });
  });

  it('writes the native layout whose items equal a plain Scan of the table, item for item', async () => {
    const landing = new LocalFolderStore(folder);
    const before = Date.now();
    const result = await scanExport({
      client: dynamoDbClient(),
      table: table.tableName,
      landing,
      segments: 3,
    });
    const after = Date.now();

    const [listing] = await listExports(landing);
    expect(listing?.exportId).toBe(result.exportId);
    expect(result.summary.itemCount).toBe(items.length);
    expect(result.summary.tableArn).toBe(table.tableArn);
    const exportTime = Date.parse(result.summary.exportTime);
    expect(exportTime).toBeGreaterThanOrEqual(before);
    expect(exportTime).toBeLessThanOrEqual(after);

    const exported = new Map<string, string>();
    for await (const { item } of readExportItems(landing, await openExport(landing, listing!.dir))) {
      exported.set(keyOf(item), itemToPlainJson(item));
    }
    const scanned = new Map<string, string>();
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await dynamoDbClient().send(
        new ScanCommand({ TableName: table.tableName, ExclusiveStartKey: startKey as never }),
      );
      for (const sdkItem of page.Items ?? []) {
        const item = fromSdkItem(sdkItem);
        scanned.set(keyOf(item), itemToPlainJson(item));
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);

    expect(scanned.size).toBe(items.length);
    expect(exported).toEqual(scanned);
    // And both equal what was written: DynamoDB Local kept every value exactly.
    expect(exported).toEqual(new Map(items.map((item) => [keyOf(item), itemToPlainJson(item)])));
  });
});

function keyOf(item: Item): string {
  return itemToPlainJson({ pk: item['pk']!, sk: item['sk']! });
}
