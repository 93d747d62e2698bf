import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BatchWriteItemCommand, DeleteItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll } from 'vitest';
import { applyBatch, type LocalBatchResult } from '../../../src/apply/apply-batch.ts';
import { scanExport } from '../../../src/backfill/scan-export.ts';
import type { Item } from '../../../src/dynamo/attribute-value.ts';
import { toSdkItem } from '../../../src/dynamo/sdk-interop.ts';
import { writeChangeFile } from '../../../src/formats/change-file-writer.ts';
import type { ChangeRecord } from '../../../src/formats/change-record.ts';
import { LocalFolderStore } from '../../../src/storage/local-folder-store.ts';
import { createStreamTable, dynamoDbClient, type StreamTable } from '../../support/local-stack.ts';

/*
 * A DynamoDB table and the Delta table the real pipeline builds from it: items written to
 * DynamoDB Local, a Scan export, and apply's first batch with a 60-second margin. Capture is not
 * run: the handoff is proven by one change file written with the real writer, holding a record
 * stamped 20 minutes before the Scan (apply skips it as already in the snapshot), as the apply run
 * tests do. Later changes reach the lake as change files and further batches.
 */

export const MARGIN_MS = 60_000;
const SHARD = 'shardId-00000001795390000000-0000aaaa';

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  await Promise.allSettled(cleanups.map((cleanup) => cleanup()));
});

async function tempStore(prefix: string): Promise<LocalFolderStore> {
  const folder = await mkdtemp(path.join(tmpdir(), prefix));
  const store = new LocalFolderStore(folder);
  cleanups.push(async () => {
    await store.close();
    await rm(folder, { recursive: true, force: true });
  });
  return store;
}

/** An order item of the pair's table (key pk S, sk N) with a value of every attribute type. */
export function order(n: number): Item {
  return {
    pk: { S: `customer#${n % 7}` },
    sk: { N: String(n) },
    status: { S: n % 2 === 0 ? 'open' : 'shipped' },
    total: { N: n === 1 ? '1234567890123456789012345678901234567.8' : `${n}.25` },
    paid: { BOOL: n % 3 === 0 },
    note: { NULL: true },
    token: { B: Buffer.from(`token-${n}`).toString('base64') },
    tags: { SS: ['a', 'b', `tag-${n}`] },
    weights: { NS: ['1.5', '2', String(n * 10)] },
    blobs: { BS: [Buffer.from([n % 256]).toString('base64'), 'AAE='] },
    address: { M: { city: { S: 'Lyon' }, zip: { N: '69001' } } },
    lines: { L: [{ S: 'sku-1' }, { N: '3' }] },
  };
}

export class LakePair {
  readonly table: StreamTable;
  readonly landing: LocalFolderStore;
  readonly delta: LocalFolderStore;
  #seq = 200_000_000_000_000_000_000n;

  private constructor(table: StreamTable, landing: LocalFolderStore, delta: LocalFolderStore) {
    this.table = table;
    this.landing = landing;
    this.delta = delta;
  }

  /** Writes `items` to a new table and builds its lake table (batch 1). */
  static async build(prefix: string, items: readonly Item[]): Promise<LakePair> {
    const table = await createStreamTable({
      prefix,
      partitionKey: { name: 'pk', type: 'S' },
      sortKey: { name: 'sk', type: 'N' },
    });
    cleanups.push(() => table.drop());
    const pair = new LakePair(
      table,
      await tempStore('ddb-lake-verify-landing-'),
      await tempStore('ddb-lake-verify-delta-'),
    );
    for (let start = 0; start < items.length; start += 25) {
      await dynamoDbClient().send(
        new BatchWriteItemCommand({
          RequestItems: {
            [table.tableName]: items
              .slice(start, start + 25)
              .map((item) => ({ PutRequest: { Item: toSdkItem(item) } })),
          },
        }),
      );
    }
    const first = items[0] as Item;
    await pair.captured([{ item: first, ts: Date.now() - 20 * 60_000 }]);
    const exported = await scanExport({
      client: dynamoDbClient(),
      table: table.tableName,
      landing: pair.landing,
      resume: 'none',
    });
    const result = await applyBatch({
      landing: pair.landing,
      delta: pair.delta,
      table: table.tableName,
      snapshot: exported.exportId,
      keys: { partition: 'pk', sort: 'sk' },
      marginMs: MARGIN_MS,
    });
    if (result.outcome !== 'applied')
      throw new Error(`the first batch was not applied: ${JSON.stringify(result)}`);
    return pair;
  }

  /** Writes change records (a put of `item`, or a REMOVE of `removed`) as capture would, one change file. */
  async captured(
    changes: readonly (
      | { readonly item: Item; readonly ts?: number }
      | { readonly removed: Item; readonly ts?: number }
    )[],
  ): Promise<void> {
    const records: ChangeRecord[] = changes.map((change) => {
      this.#seq += 100n;
      const image = 'item' in change ? change.item : change.removed;
      const keys = { pk: image['pk'], sk: image['sk'] } as Item;
      return {
        op: 'item' in change ? 'MODIFY' : 'REMOVE',
        keys,
        new: 'item' in change ? change.item : null,
        old: null,
        seq: this.#seq.toString(),
        shard: SHARD,
        ts: change.ts ?? Date.now(),
        ttl: false,
        eventId: `event-${this.#seq}`,
      };
    });
    await writeChangeFile(this.landing, this.table.tableName, records);
  }

  /** Applies the change files not yet applied, as one batch. */
  async apply(): Promise<LocalBatchResult> {
    return applyBatch({ landing: this.landing, delta: this.delta, table: this.table.tableName });
  }

  /** Puts `item` in DynamoDB directly (no change file: the lake does not learn of it). */
  async put(item: Item): Promise<void> {
    await dynamoDbClient().send(
      new PutItemCommand({ TableName: this.table.tableName, Item: toSdkItem(item) }),
    );
  }

  /** Deletes the item of `item`'s key in DynamoDB directly. */
  async delete(item: Item): Promise<void> {
    await dynamoDbClient().send(
      new DeleteItemCommand({
        TableName: this.table.tableName,
        Key: toSdkItem({ pk: item['pk'], sk: item['sk'] } as Item),
      }),
    );
  }
}

/** `_ddb_key` of an order: the key attributes as canonical plain JSON. */
export function orderKey(n: number): string {
  return `{"pk":"customer#${n % 7}","sk":${n}}`;
}

export type { LocalBatchResult };
