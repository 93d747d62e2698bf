import { DeleteItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { pollStream } from '../../src/capture/stream-poller.ts';
import { streamsApiOf } from '../../src/capture/stream-poller-api.ts';
import { tableStream } from '../../src/capture/stream-poller-table.ts';
import type { AttributeValue, Item } from '../../src/dynamo/attribute-value.ts';
import { toSdkItem } from '../../src/dynamo/sdk-interop.ts';
import { changeFilesPrefix } from '../../src/formats/change-file-key.ts';
import { readChangeFile } from '../../src/formats/change-file-reader.ts';
import type { ChangeRecord } from '../../src/formats/change-record.ts';
import { createStreamTable, dynamoDbClient } from '../support/local-stack.ts';
import { keysUnder, streamsClient, tempLanding } from './support-stream.ts';

// DynamoDB sends an empty map in a stream image as {"M": {}}; DynamoDB Local 3.x sends a bare {},
// which capture refuses (docs/DESIGN.md, pitfalls; the refusal itself is tested with a scripted
// stream in poller-scripted-stream.test.ts). The embedded stack runs a build that sends the tags:
// this test fails, naming the refused attributes, if the emulator is ever bumped to one that drops them.

const M = (members: Record<string, AttributeValue> = {}): AttributeValue => ({ M: members });
const L = (...values: AttributeValue[]): AttributeValue => ({ L: values });

describe('the poller against DynamoDB Local, with empty maps and lists in the stream images', () => {
  it('captures them with their M and L tags: new and old images, nested, after an UpdateItem that SETs one or REMOVEs the last member of a map', async () => {
    const { tableName } = await createStreamTable({ prefix: 'empty-containers' });
    const client = dynamoDbClient();
    const empties: Item = {
      pk: { S: 'empties' },
      m: M(),
      l: L(),
      nested: L(M(), L(), M({ x: L(), y: M() })),
      doc: M({ e: M(), f: L() }),
    };
    await client.send(new PutItemCommand({ TableName: tableName, Item: toSdkItem(empties) }));
    await client.send(
      new PutItemCommand({
        TableName: tableName,
        Item: toSdkItem({ pk: { S: 'one' }, prefs: M({ theme: { S: 'dark' } }) }),
      }),
    );
    await client.send(
      new UpdateItemCommand({
        TableName: tableName,
        Key: { pk: { S: 'one' } },
        UpdateExpression: 'REMOVE prefs.theme',
      }),
    );
    await client.send(
      new UpdateItemCommand({
        TableName: tableName,
        Key: { pk: { S: 'one' } },
        UpdateExpression: 'SET more = :m, entries = :l',
        ExpressionAttributeValues: toSdkItem({ ':m': M(), ':l': L() }),
      }),
    );
    await client.send(new DeleteItemCommand({ TableName: tableName, Key: { pk: { S: 'empties' } } }));

    const { store } = await tempLanding();
    const stream = await tableStream(client, tableName);
    const summary = await pollStream({
      streams: streamsApiOf(streamsClient()),
      stream,
      store,
      untilIdle: true,
    });

    const quarantined = await keysUnder(store, `_ddb_lake/quarantine/capture/${tableName}/`);
    const reasons = await Promise.all(
      quarantined.map(async (key) => JSON.parse(new TextDecoder().decode(await store.getBytes(key)))),
    );
    expect(reasons, 'capture refused records: the emulator sent a value without its type tag').toEqual([]);
    const records: ChangeRecord[] = [];
    for (const key of await keysUnder(store, changeFilesPrefix(tableName))) {
      for await (const { record } of readChangeFile(store, key)) records.push(record);
    }
    expect(summary.records).toBe(5);
    expect(records.map(({ op, new: image, old }) => ({ op, new: image, old }))).toEqual([
      { op: 'INSERT', new: empties, old: null },
      { op: 'INSERT', new: { pk: { S: 'one' }, prefs: M({ theme: { S: 'dark' } }) }, old: null },
      {
        op: 'MODIFY',
        new: { pk: { S: 'one' }, prefs: M() },
        old: { pk: { S: 'one' }, prefs: M({ theme: { S: 'dark' } }) },
      },
      {
        op: 'MODIFY',
        new: { pk: { S: 'one' }, prefs: M(), more: M(), entries: L() },
        old: { pk: { S: 'one' }, prefs: M() },
      },
      { op: 'REMOVE', new: null, old: empties },
    ]);
  });
});
