import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { pollStream } from '../../src/capture/stream-poller.ts';
import { streamsApiOf } from '../../src/capture/stream-poller-api.ts';
import { tableStream } from '../../src/capture/stream-poller-table.ts';
import { changeFilesPrefix } from '../../src/formats/change-file-key.ts';
import { readChangeFile } from '../../src/formats/change-file-reader.ts';
import { createStreamTable, dynamoDbClient } from '../support/local-stack.ts';
import { keysUnder, streamsClient, tempLanding } from './support-stream.ts';

describe('the poller against DynamoDB Local, whose stream writes an empty map as {} without its M tag', () => {
  it('quarantines that record with its reason and captures the records around it', async () => {
    const { tableName } = await createStreamTable({ prefix: 'empty-map' });
    const client = dynamoDbClient();
    const put = (pk: string, extra: Record<string, unknown>) =>
      client.send(new PutItemCommand({ TableName: tableName, Item: { pk: { S: pk }, ...extra } as never }));
    await put('before', { n: { N: '1' } });
    await put('empty', { settings: { M: {} } });
    await put('after', { n: { N: '2' } });

    const { store } = await tempLanding();
    const stream = await tableStream(client, tableName);
    await pollStream({ streams: streamsApiOf(streamsClient()), stream, store, untilIdle: true });

    const captured: string[] = [];
    for (const key of await keysUnder(store, changeFilesPrefix(tableName))) {
      for await (const { record } of readChangeFile(store, key)) captured.push(JSON.stringify(record.keys));
    }
    const quarantined = await keysUnder(store, `_ddb_lake/quarantine/capture/${tableName}/`);
    const reasons = await Promise.all(
      quarantined.map(async (key) => JSON.parse(new TextDecoder().decode(await store.getBytes(key)))),
    );
    // Real DynamoDB streams send {"M":{}}, which is captured; DynamoDB Local's {} cannot be read as any type.
    expect(captured).toEqual(['before', 'after'].map((pk) => JSON.stringify({ pk: { S: pk } })));
    expect(reasons).toHaveLength(1);
    expect(reasons[0]).toMatchObject({
      path: 'dynamodb.NewImage.settings',
      reason: expect.stringMatching(/no type tag/),
    });
  });
});
