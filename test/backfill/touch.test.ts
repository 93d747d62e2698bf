import {
  CreateTableCommand,
  DeleteItemCommand,
  DeleteTableCommand,
  GetItemCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import type { _Record as StreamRecord } from '@aws-sdk/client-dynamodb-streams';
import { describe, expect, it } from 'vitest';
import { readRun } from '../../src/backfill/backfill-run.ts';
import { TouchNeedsStreamError } from '../../src/backfill/scan-errors.ts';
import type { TouchEstimate } from '../../src/backfill/touch-estimate.ts';
import { type TouchEvent, TouchEventCode } from '../../src/backfill/touch-events.ts';
import { TOUCH_MARKER_ATTRIBUTE } from '../../src/backfill/touch-marker.ts';
import { touchTable } from '../../src/backfill/touch-table.ts';
import type { Item } from '../../src/dynamo/attribute-value.ts';
import { itemToPlainJson } from '../../src/dynamo/plain-json.ts';
import { fromSdkItem, type SdkItem } from '../../src/dynamo/sdk-interop.ts';
import { sampleOrders } from '../../src/local/sample-orders.ts';
import { readShards } from '../capture/support-stream.ts';
import { dynamoDbClient, uniqueTableName } from '../support/local-stack.ts';
import { faultyClient, keyOf, keysUnder, tableWith, tempLanding } from './scan-support.ts';

const COUNT = 150;

/** The stream's records after the first `skip` (the INSERTs of loading the table), in order. */
async function recordsAfter(streamArn: string, skip: number): Promise<StreamRecord[]> {
  const records = (await readShards(streamArn)).flatMap((shard) => shard.records);
  return records.slice(skip);
}

function imageOf(image: unknown): Item {
  return fromSdkItem(image as SdkItem);
}

function withoutMarker(item: Item): Item {
  const { [TOUCH_MARKER_ATTRIBUTE]: _marker, ...rest } = item;
  return rest;
}

/** Asserts one MODIFY per item, each adding exactly the marker to the item as it was. */
function expectOneModifyPerItem(
  records: readonly StreamRecord[],
  items: readonly Item[],
  marker: string,
): void {
  expect(records.every((record) => record.eventName === 'MODIFY')).toBe(true);
  const byKey = new Map<string, StreamRecord[]>();
  for (const record of records) {
    const key = keyOf(imageOf(record.dynamodb?.Keys));
    byKey.set(key, [...(byKey.get(key) ?? []), record]);
  }
  expect(byKey.size).toBe(items.length);
  for (const item of items) {
    const touched = byKey.get(keyOf(item));
    expect(touched?.length).toBe(1);
    const after = imageOf(touched?.[0]?.dynamodb?.NewImage);
    expect(after[TOUCH_MARKER_ATTRIBUTE]).toEqual({ S: marker });
    expect(itemToPlainJson(withoutMarker(after))).toBe(itemToPlainJson(item));
    expect(itemToPlainJson(imageOf(touched?.[0]?.dynamodb?.OldImage))).toBe(itemToPlainJson(item));
  }
}

describe('touch against DynamoDB Local', () => {
  it('writes the marker to every item after confirmation: one stream record per item, the item otherwise unchanged', async () => {
    const items = [...sampleOrders(COUNT, 11)];
    const table = await tableWith(items, 'touch');
    const { store } = await tempLanding();
    const estimates: TouchEstimate[] = [];
    const events: TouchEvent[] = [];
    const result = await touchTable({
      client: dynamoDbClient(),
      table: table.tableName,
      landing: store,
      segments: 2,
      pageLimit: 25,
      confirm: async (estimate) => {
        estimates.push(estimate);
        return true;
      },
      onEvent: (event) => events.push(event),
    });

    expect(estimates.length).toBe(1);
    expect(estimates[0]).toMatchObject({ items: COUNT, itemCountKnown: true, resuming: null });
    expect(estimates[0]?.writeUnits).toBe(COUNT * (estimates[0]?.writeUnitsPerItem ?? 0));
    expect(estimates[0]?.costUsd).toBeGreaterThan(0);
    if (result.outcome === 'declined') throw new Error('declined');
    expect(result).toMatchObject({ outcome: 'complete', touched: COUNT, skipped: 0, resumed: false });
    expect(Number.isNaN(Date.parse(result.marker))).toBe(false);
    expect(result.progress.writeUnits).toBeGreaterThanOrEqual(COUNT);
    expect(events[0]).toMatchObject({ code: TouchEventCode.started, marker: result.marker });
    expect(events.at(-1)).toMatchObject({ code: TouchEventCode.finished, touched: COUNT });
    expect((await readRun(store, 'touch', result.runId))?.finishedAt).not.toBeNull();

    expectOneModifyPerItem(await recordsAfter(table.streamArn, COUNT), items, result.marker);
  });

  it('skips an item deleted between the Scan and its write, without bringing it back', async () => {
    const items = [...sampleOrders(40, 12)];
    const table = await tableWith(items, 'touch-deleted');
    const { store } = await tempLanding();
    const victim = items[17] as Item;
    const deleting = faultyClient(async (command, _n, input) => {
      const key = input['Key'] as SdkItem | undefined;
      if (command === 'UpdateItemCommand' && key !== undefined && keyOf(fromSdkItem(key)) === keyOf(victim)) {
        await dynamoDbClient().send(new DeleteItemCommand({ TableName: table.tableName, Key: key }));
      }
      return undefined;
    });
    const events: TouchEvent[] = [];
    const result = await touchTable({
      client: deleting,
      table: table.tableName,
      landing: store,
      segments: 1,
      confirm: async () => true,
      onEvent: (event) => events.push(event),
    });
    expect(result).toMatchObject({ outcome: 'complete', touched: items.length - 1, skipped: 1 });
    expect(events.filter((event) => event.code === TouchEventCode.skipped)).toEqual([
      { code: TouchEventCode.skipped, level: 'info', key: keyOf(victim) },
    ]);
    const stillGone = await dynamoDbClient().send(
      new GetItemCommand({
        TableName: table.tableName,
        Key: { pk: victim['pk'] as { S: string }, sk: victim['sk'] as { S: string } },
        ConsistentRead: true,
      }),
    );
    expect(stillGone.Item).toBeUndefined();

    const records = await recordsAfter(table.streamArn, items.length);
    const removes = records.filter((record) => record.eventName === 'REMOVE');
    expect(removes.map((record) => keyOf(imageOf(record.dynamodb?.Keys)))).toEqual([keyOf(victim)]);
    const modifies = records.filter((record) => record.eventName === 'MODIFY');
    expectOneModifyPerItem(
      modifies,
      items.filter((item) => item !== victim),
      result.outcome === 'declined' ? '' : result.marker,
    );
  });

  it('writes nothing when the estimate is declined', async () => {
    const items = [...sampleOrders(20, 13)];
    const table = await tableWith(items, 'touch-declined');
    const { store } = await tempLanding();
    const result = await touchTable({
      client: dynamoDbClient(),
      table: table.tableName,
      landing: store,
      confirm: async () => false,
    });
    expect(result.outcome).toBe('declined');
    expect(await recordsAfter(table.streamArn, items.length)).toEqual([]);
    expect(await keysUnder(store, '')).toEqual([]);
  });

  it('resumes a run that failed midway from its checkpoints: every item touched, one stream record each', async () => {
    const items = [...sampleOrders(COUNT, 14)];
    const table = await tableWith(items, 'touch-resume');
    const { store } = await tempLanding();
    const failing = faultyClient((command, n) =>
      command === 'ScanCommand' && n === 5
        ? Object.assign(new Error('injected: internal server error'), { name: 'InternalServerError' })
        : undefined,
    );
    const options = {
      table: table.tableName,
      landing: store,
      segments: 2,
      pageLimit: 15,
      confirm: async () => true,
    };
    await expect(touchTable({ ...options, client: failing })).rejects.toMatchObject({
      name: 'InternalServerError',
    });
    const partly = await recordsAfter(table.streamArn, COUNT);
    expect(partly.length).toBeGreaterThan(0);
    expect(partly.length).toBeLessThan(COUNT);

    const estimates: TouchEstimate[] = [];
    const result = await touchTable({
      ...options,
      client: dynamoDbClient(),
      confirm: async (estimate) => {
        estimates.push(estimate);
        return true;
      },
    });
    if (result.outcome === 'declined') throw new Error('declined');
    expect(result).toMatchObject({ outcome: 'complete', resumed: true, touched: COUNT, skipped: 0 });
    expect(estimates[0]?.resuming).toEqual({ runId: result.runId, itemsDone: partly.length });
    expect(estimates[0]?.items).toBe(COUNT - partly.length);
    expectOneModifyPerItem(await recordsAfter(table.streamArn, COUNT), items, result.marker);
  });

  it('refuses a table without a stream before writing anything', async () => {
    const tableName = uniqueTableName('touch-no-stream');
    await dynamoDbClient().send(
      new CreateTableCommand({
        TableName: tableName,
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    try {
      await waitUntilTableExists({ client: dynamoDbClient(), maxWaitTime: 30 }, { TableName: tableName });
      const { store } = await tempLanding();
      let asked = false;
      const refused = touchTable({
        client: dynamoDbClient(),
        table: tableName,
        landing: store,
        confirm: async () => {
          asked = true;
          return true;
        },
      });
      await expect(refused).rejects.toBeInstanceOf(TouchNeedsStreamError);
      await expect(refused).rejects.toMatchObject({
        code: 'TOUCH_NEEDS_STREAM',
        message: expect.stringContaining('NEW_AND_OLD_IMAGES'),
      });
      expect(asked).toBe(false);
    } finally {
      await dynamoDbClient().send(new DeleteTableCommand({ TableName: tableName }));
    }
  });
});
