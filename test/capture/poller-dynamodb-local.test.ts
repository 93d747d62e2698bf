import {
  CreateTableCommand,
  DeleteItemCommand,
  DeleteTableCommand,
  PutItemCommand,
  UpdateItemCommand,
  UpdateTableCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import { afterAll, describe, expect, it } from 'vitest';
import { readCheckpoints } from '../../src/capture/checkpoint.ts';
import { pollStream, type StreamPollerOptions } from '../../src/capture/stream-poller.ts';
import { streamsApiOf } from '../../src/capture/stream-poller-api.ts';
import { type CaptureEvent, CaptureEventCode } from '../../src/capture/stream-poller-events.ts';
import { tableStream } from '../../src/capture/stream-poller-table.ts';
import type { AttributeValue, Item } from '../../src/dynamo/attribute-value.ts';
import { itemToPlainJson } from '../../src/dynamo/plain-json.ts';
import { fromSdkItem, toSdkItem } from '../../src/dynamo/sdk-interop.ts';
import { changeFilesPrefix, parseChangeFileKey } from '../../src/formats/change-file-key.ts';
import { readChangeFile } from '../../src/formats/change-file-reader.ts';
import type { ChangeOp, ChangeRecord } from '../../src/formats/change-record.ts';
import { sampleOrders } from '../../src/local/sample-orders.ts';
import type { ObjectStore } from '../../src/storage/object-store.ts';
import {
  createStreamTable,
  dynamoDbClient,
  type StreamTable,
  uniqueTableName,
} from '../support/local-stack.ts';
import { typedItemText } from './support-scenario.ts';
import { streamsClient, tempLanding } from './support-stream.ts';

interface ExpectedChange {
  readonly op: ChangeOp;
  readonly keys: Item;
  readonly new: Item | null;
  readonly old: Item | null;
}

/** Writes to a table (`pk`, `sk`) and remembers each change as its stream record must show it. */
class Writer {
  readonly expected: ExpectedChange[] = [];
  readonly #state = new Map<string, Item>();
  readonly #table: string;

  constructor(table: string) {
    this.#table = table;
  }

  async put(item: Item): Promise<void> {
    const keys = keysOf(item);
    await dynamoDbClient().send(new PutItemCommand({ TableName: this.#table, Item: toSdkItem(item) }));
    const old = this.#state.get(keyText(keys)) ?? null;
    this.expected.push({ op: old === null ? 'INSERT' : 'MODIFY', keys, new: item, old });
    this.#state.set(keyText(keys), item);
  }

  /** Raises `qty` by one and sets `note`, in place; the new image is what DynamoDB returns. */
  async update(keys: Item, note: string): Promise<void> {
    const answer = await dynamoDbClient().send(
      new UpdateItemCommand({
        TableName: this.#table,
        Key: toSdkItem(keys),
        UpdateExpression: 'SET #qty = #qty + :one, #note = :note',
        ExpressionAttributeNames: { '#qty': 'qty', '#note': 'note' },
        ExpressionAttributeValues: toSdkItem({ ':one': { N: '1' }, ':note': { S: note } }),
        ReturnValues: 'ALL_NEW',
      }),
    );
    const after = fromSdkItem(answer.Attributes ?? {});
    this.expected.push({ op: 'MODIFY', keys, new: after, old: this.#state.get(keyText(keys)) ?? null });
    this.#state.set(keyText(keys), after);
  }

  async delete(keys: Item): Promise<void> {
    await dynamoDbClient().send(new DeleteItemCommand({ TableName: this.#table, Key: toSdkItem(keys) }));
    this.expected.push({ op: 'REMOVE', keys, new: null, old: this.#state.get(keyText(keys)) ?? null });
    this.#state.delete(keyText(keys));
  }
}

function keysOf(item: Item): Item {
  return { pk: item['pk'] as AttributeValue, sk: item['sk'] as AttributeValue };
}

function keyText(keys: Item): string {
  return itemToPlainJson(keys);
}

/** Every record of every change file of the table. */
async function changeRecords(store: ObjectStore, table: string): Promise<ChangeRecord[]> {
  const records: ChangeRecord[] = [];
  for await (const object of store.list(changeFilesPrefix(table))) {
    if (parseChangeFileKey(object.key) === undefined) continue;
    for await (const { record } of readChangeFile(store, object.key)) records.push(record);
  }
  return records;
}

/** Per key, the changes in sequence-number order (as integers), as comparable text. */
function historyByKey(records: readonly ChangeRecord[]): Map<string, string[]> {
  const sorted = [...records].sort((a, b) => {
    const x = BigInt(a.seq);
    const y = BigInt(b.seq);
    return x < y ? -1 : x > y ? 1 : 0;
  });
  return groupByKey(sorted.map((record) => record));
}

function groupByKey(changes: readonly ExpectedChange[]): Map<string, string[]> {
  const byKey = new Map<string, string[]>();
  for (const change of changes) {
    const text = `${change.op} new=${typedItemText(change.new)} old=${typedItemText(change.old)}`;
    const key = keyText(change.keys);
    byKey.set(key, [...(byKey.get(key) ?? []), text]);
  }
  return byKey;
}

function poll(
  table: StreamTable,
  store: ObjectStore,
  events: CaptureEvent[],
  options: Partial<StreamPollerOptions> = {},
) {
  return pollStream({
    stream: { table: table.tableName, streamArn: table.streamArn },
    streams: streamsApiOf(streamsClient()),
    store,
    untilIdle: true,
    pollIntervalMs: 100,
    onEvent: (event) => events.push(event),
    ...options,
  });
}

const tables: StreamTable[] = [];
afterAll(async () => {
  await Promise.all(tables.map((table) => table.drop()));
});

async function streamTable(prefix: string): Promise<StreamTable> {
  const table = await createStreamTable({ prefix, sortKey: { name: 'sk', type: 'S' } });
  tables.push(table);
  return table;
}

describe('stream poller against DynamoDB Local', () => {
  it('captures puts, updates and deletes once each, in sequence order per key, with exact images', async () => {
    const table = await streamTable('poller-changes');
    const writer = new Writer(table.tableName);
    const items = [...sampleOrders(30, 5)];
    for (const item of items) await writer.put(item);
    for (const item of items.slice(0, 10)) await writer.update(keysOf(item), 'updated ✓');
    for (const [index, item] of items.slice(5, 12).entries()) {
      await writer.put({ ...(items[20 + index] as Item), ...keysOf(item) });
    }
    for (const item of items.slice(8, 16)) await writer.delete(keysOf(item));
    for (const item of items.slice(8, 11)) await writer.put(item);
    const { store } = await tempLanding();
    const events: CaptureEvent[] = [];

    const summary = await poll(table, store, events, { batchSize: 7 });

    const records = await changeRecords(store, table.tableName);
    expect(records).toHaveLength(writer.expected.length);
    expect(new Set(records.map((record) => record.seq)).size).toBe(records.length);
    expect(historyByKey(records)).toEqual(groupByKey(writer.expected));
    expect(summary).toMatchObject({
      records: writer.expected.length,
      batches: Math.ceil(writer.expected.length / 7),
      stoppedBecause: 'idle',
      gaps: [],
    });
    expect(summary.files).toBe(summary.batches);
    // The checkpoint names the last record of the shard.
    const checkpoints = [...(await readCheckpoints(store, table.tableName)).values()];
    expect(checkpoints).toHaveLength(1);
    const last = records.reduce((a, b) => (BigInt(a.seq) > BigInt(b.seq) ? a : b));
    expect(checkpoints[0]).toMatchObject({
      lastSequenceNumber: last.seq,
      finished: false,
      parentShardId: null,
    });
  });

  it('resumes after the checkpoint of a run stopped cleanly: every record once, none twice', async () => {
    const table = await streamTable('poller-resume');
    const writer = new Writer(table.tableName);
    const items = [...sampleOrders(40, 9)];
    for (const item of items.slice(0, 25)) await writer.put(item);
    const { store } = await tempLanding();
    const stop = new AbortController();
    let batches = 0;
    const firstRun = await poll(table, store, [], {
      untilIdle: false,
      batchSize: 5,
      signal: stop.signal,
      onEvent: (event) => {
        if (event.code === CaptureEventCode.batchCaptured && ++batches === 2) stop.abort();
      },
    });
    expect(firstRun).toMatchObject({ stoppedBecause: 'signal', records: 10 });
    const [checkpoint] = (await readCheckpoints(store, table.tableName)).values();
    for (const item of items.slice(25)) await writer.put(item);
    const events: CaptureEvent[] = [];

    const secondRun = await poll(table, store, events, { batchSize: 5 });

    expect(events.find((event) => event.code === CaptureEventCode.shardStarted)).toMatchObject({
      from: 'AFTER_SEQUENCE_NUMBER',
      afterSequenceNumber: checkpoint?.lastSequenceNumber,
    });
    expect(secondRun.records).toBe(30);
    const records = await changeRecords(store, table.tableName);
    expect(records).toHaveLength(40);
    expect(new Set(records.map((record) => record.seq)).size).toBe(40);
    expect(historyByKey(records)).toEqual(groupByKey(writer.expected));
  });

  it('reads the closed shard of a disabled stream to its end, marks it finished, and a restart skips it', async () => {
    const table = await streamTable('poller-disabled');
    const writer = new Writer(table.tableName);
    for (const item of sampleOrders(6, 3)) await writer.put(item);
    // Disabling the stream closes its shard: GetRecords then ends it with no NextShardIterator.
    await dynamoDbClient().send(
      new UpdateTableCommand({ TableName: table.tableName, StreamSpecification: { StreamEnabled: false } }),
    );
    const { store } = await tempLanding();
    const events: CaptureEvent[] = [];

    // Continuous mode: a disabled stream read to its end stops the poller, as nothing more can come.
    const first = await poll(table, store, events, { untilIdle: false });

    expect(first).toMatchObject({ stoppedBecause: 'stream-disabled', records: 6, shardsFinished: 1 });
    expect(events.some((event) => event.code === CaptureEventCode.shardFinished)).toBe(true);
    const [checkpoint] = (await readCheckpoints(store, table.tableName)).values();
    expect(checkpoint?.finished).toBe(true);
    expect(historyByKey(await changeRecords(store, table.tableName))).toEqual(groupByKey(writer.expected));

    const again: CaptureEvent[] = [];
    const second = await poll(table, store, again);
    expect(second).toMatchObject({ stoppedBecause: 'stream-disabled', records: 0, shards: [] });
    expect(again.filter((event) => event.code === CaptureEventCode.shardStarted)).toEqual([]);
  });

  it('finds the latest stream of a table by name, and refuses a table without a stream or a missing table', async () => {
    const table = await streamTable('poller-resolve');
    expect(await tableStream(dynamoDbClient(), table.tableName)).toEqual({
      table: table.tableName,
      streamArn: table.streamArn,
    });
    expect(await tableStream(dynamoDbClient(), table.streamArn)).toEqual({
      table: table.tableName,
      streamArn: table.streamArn,
    });

    const plain = uniqueTableName('poller-no-stream');
    await dynamoDbClient().send(
      new CreateTableCommand({
        TableName: plain,
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    try {
      await waitUntilTableExists({ client: dynamoDbClient(), maxWaitTime: 30 }, { TableName: plain });
      await expect(tableStream(dynamoDbClient(), plain)).rejects.toMatchObject({
        code: 'CAPTURE_NO_STREAM',
        message: expect.stringContaining('StreamViewType=NEW_AND_OLD_IMAGES'),
      });
    } finally {
      await dynamoDbClient().send(new DeleteTableCommand({ TableName: plain }));
    }
    await expect(tableStream(dynamoDbClient(), uniqueTableName('poller-missing'))).rejects.toMatchObject({
      code: 'CAPTURE_NO_STREAM',
      message: expect.stringContaining('no table of that name'),
    });
  });
});
