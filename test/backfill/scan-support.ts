import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatchWriteItemCommand, type DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, expect } from 'vitest';
import type { Item } from '../../src/dynamo/attribute-value.ts';
import { itemToPlainJson } from '../../src/dynamo/plain-json.ts';
import { fromSdkItem, toSdkItem } from '../../src/dynamo/sdk-interop.ts';
import { openExport } from '../../src/formats/export-layout.ts';
import { readExportItems } from '../../src/formats/export-reader.ts';
import { LocalFolderStore } from '../../src/storage/local-folder-store.ts';
import type { ObjectStore } from '../../src/storage/object-store.ts';
import {
  createStreamTable,
  dynamoDbClient,
  newDynamoDbClient,
  type StreamTable,
} from '../support/local-stack.ts';

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  await Promise.all(cleanups.map((cleanup) => cleanup()));
});

/** A fresh landing folder, removed after the test file. */
export async function tempLanding(): Promise<{ folder: string; store: LocalFolderStore }> {
  const folder = await mkdtemp(join(tmpdir(), 'ddb-lake-scan-'));
  cleanups.push(() => rm(folder, { recursive: true, force: true }));
  return { folder, store: new LocalFolderStore(folder) };
}

/** A new table (keys `pk`, `sk`, with a stream) holding `items`, dropped after the test file. */
export async function tableWith(items: readonly Item[], prefix = 'scan'): Promise<StreamTable> {
  const table = await createStreamTable({ prefix, sortKey: { name: 'sk', type: 'S' } });
  cleanups.push(() => table.drop());
  await putItems(table.tableName, items);
  return table;
}

/** BatchWriteItem in batches of 25; fails the test on unprocessed items. */
export async function putItems(tableName: string, items: readonly Item[]): Promise<void> {
  for (let start = 0; start < items.length; start += 25) {
    const requests = items
      .slice(start, start + 25)
      .map((item) => ({ PutRequest: { Item: toSdkItem(item) } }));
    const answer = await dynamoDbClient().send(
      new BatchWriteItemCommand({ RequestItems: { [tableName]: requests } }),
    );
    expect(answer.UnprocessedItems?.[tableName] ?? []).toEqual([]);
  }
}

/** The key of an `orders` item as text. */
export function keyOf(item: Item): string {
  return itemToPlainJson({ pk: item['pk']!, sk: item['sk']! });
}

/** Every item of the table by a plain Scan, by key, as plain JSON (every value exact). */
export async function plainScan(tableName: string): Promise<Map<string, string>> {
  const scanned = new Map<string, string>();
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await dynamoDbClient().send(
      new ScanCommand({ TableName: tableName, ExclusiveStartKey: startKey as never }),
    );
    for (const sdkItem of page.Items ?? []) {
      const item = fromSdkItem(sdkItem);
      scanned.set(keyOf(item), itemToPlainJson(item));
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey !== undefined);
  return scanned;
}

/** Every item of a complete export as [key, plain JSON], in file order: duplicates stay visible. */
export async function exportedItems(store: ObjectStore, dir: string): Promise<[string, string][]> {
  const items: [string, string][] = [];
  for await (const { item } of readExportItems(store, await openExport(store, dir))) {
    items.push([keyOf(item), itemToPlainJson(item)]);
  }
  return items;
}

/** Every key under a prefix of the store, in listing order. */
export async function keysUnder(store: ObjectStore, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const object of store.list(prefix)) keys.push(object.key);
  return keys;
}

/**
 * A client of the run's DynamoDB Local whose requests fail on demand: `fault(command, n, input)`
 * sees each command's name, how many of that command were sent so far (1-based) and its input, and
 * returns (or resolves) an error to throw instead of sending it, or undefined to send it. The fault
 * sits before the SDK's retries, as an error DynamoDB returned after them would.
 */
export function faultyClient(
  fault: (
    command: string,
    n: number,
    input: Record<string, unknown>,
  ) => Error | undefined | Promise<Error | undefined>,
): DynamoDBClient {
  const client = newDynamoDbClient();
  const counts = new Map<string, number>();
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const command = context.commandName ?? '';
      const n = (counts.get(command) ?? 0) + 1;
      counts.set(command, n);
      const error = await fault(command, n, args.input as Record<string, unknown>);
      if (error !== undefined) throw error;
      return next(args);
    },
    { step: 'initialize', name: 'injectFault' },
  );
  cleanups.push(async () => client.destroy());
  return client;
}
