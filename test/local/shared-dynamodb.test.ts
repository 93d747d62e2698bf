import {
  DeleteItemCommand,
  DescribeTableCommand,
  GetItemCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { readStreamRecords } from '../support/dynamodb-streams.ts';
import { createStreamTable, dynamoDbClient, dynamodbEndpoint } from '../support/local-stack.ts';

describe('the DynamoDB Local shared by the test run', () => {
  it('is provided by the global setup on a loopback endpoint', () => {
    expect(dynamodbEndpoint()).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('creates an ACTIVE table with a stream of the requested view type and key schema', async () => {
    const table = await createStreamTable({
      viewType: 'KEYS_ONLY',
      partitionKey: { name: 'id', type: 'N' },
      sortKey: { name: 'at', type: 'S' },
    });
    const { Table } = await dynamoDbClient().send(new DescribeTableCommand({ TableName: table.tableName }));
    expect(Table?.TableStatus).toBe('ACTIVE');
    expect(Table?.StreamSpecification).toEqual({ StreamEnabled: true, StreamViewType: 'KEYS_ONLY' });
    expect(Table?.LatestStreamArn).toBe(table.streamArn);
    expect(Table?.KeySchema).toEqual([
      { AttributeName: 'id', KeyType: 'HASH' },
      { AttributeName: 'at', KeyType: 'RANGE' },
    ]);
    await table.drop();
    await table.drop();
  });

  it('records an insert, a modify and a remove with old and new images, in sequence order', async () => {
    const table = await createStreamTable({ viewType: 'NEW_AND_OLD_IMAGES' });
    const client = dynamoDbClient();
    const key = { pk: { S: 'order#1' } };
    const first = { ...key, total: { N: '10.5' }, tags: { SS: ['a', 'b'] } };
    const second = { ...key, total: { N: '99999999999999999999999999999999999999' } };
    await client.send(new PutItemCommand({ TableName: table.tableName, Item: first }));
    await client.send(new PutItemCommand({ TableName: table.tableName, Item: second }));
    const read = await client.send(
      new GetItemCommand({ TableName: table.tableName, Key: key, ConsistentRead: true }),
    );
    expect(read.Item).toEqual(second);
    await client.send(new DeleteItemCommand({ TableName: table.tableName, Key: key }));

    const records = await readStreamRecords(dynamodbEndpoint(), table.streamArn);
    expect(records.map((record) => record.eventName)).toEqual(['INSERT', 'MODIFY', 'REMOVE']);
    const [insert, modify, remove] = records;
    expect(insert?.dynamodb?.NewImage).toEqual(first);
    expect(insert?.dynamodb?.OldImage).toBeUndefined();
    expect(modify?.dynamodb?.OldImage).toEqual(first);
    expect(modify?.dynamodb?.NewImage).toEqual(second);
    expect(remove?.dynamodb?.OldImage).toEqual(second);
    expect(remove?.dynamodb?.Keys).toEqual(key);
    const sequence = records.map((record) => BigInt(record.dynamodb?.SequenceNumber ?? -1));
    expect(sequence).toEqual([...sequence].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    expect(new Set(sequence).size).toBe(3);
    await table.drop();
  });
});
