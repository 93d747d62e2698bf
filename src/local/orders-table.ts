import {
  BatchWriteItemCommand,
  CreateTableCommand,
  type DynamoDBClient,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import type { Item } from '../dynamo/attribute-value.ts';
import { toSdkItem } from '../dynamo/sdk-interop.ts';

/** Items per BatchWriteItem request: DynamoDB's maximum. */
const WRITE_BATCH = 25;
const WRITES_IN_FLIGHT = 8;

/**
 * Creates an on-demand table keyed like the sample orders (`pk` hash, `sk` range, both S), with a
 * NEW_AND_OLD_IMAGES stream when `stream` is set, and waits until it is ACTIVE.
 */
export async function createOrdersTable(
  client: DynamoDBClient,
  table: string,
  options: { readonly stream?: boolean } = {},
): Promise<void> {
  await client.send(
    new CreateTableCommand({
      TableName: table,
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
      ...(options.stream
        ? { StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' } }
        : {}),
    }),
  );
  await waitUntilTableExists({ client, maxWaitTime: 60 }, { TableName: table });
}

/**
 * Puts every item with BatchWriteItem, 25 a request and a few requests in flight, retrying
 * unprocessed items with backoff until each is written. `onWritten` gets each batch once it is
 * fully written (batches finish in no particular order).
 */
export async function putItems(
  client: DynamoDBClient,
  table: string,
  items: Iterable<Item>,
  onWritten: (batch: readonly Item[]) => void = () => {},
): Promise<void> {
  const iterator = items[Symbol.iterator]();
  const nextBatch = (): Item[] => {
    const batch: Item[] = [];
    for (let next = iterator.next(); !next.done; next = iterator.next()) {
      batch.push(next.value);
      if (batch.length === WRITE_BATCH) break;
    }
    return batch;
  };
  const worker = async () => {
    for (let batch = nextBatch(); batch.length > 0; batch = nextBatch()) {
      let requests = batch.map((item) => ({ PutRequest: { Item: toSdkItem(item) } }));
      for (let attempt = 0; requests.length > 0; attempt++) {
        const answer = await client.send(new BatchWriteItemCommand({ RequestItems: { [table]: requests } }));
        requests = (answer.UnprocessedItems?.[table] ?? []) as typeof requests;
        if (requests.length > 0)
          await new Promise((done) => setTimeout(done, Math.min(1000, 20 * 2 ** attempt)));
      }
      onWritten(batch);
    }
  };
  await Promise.all(Array.from({ length: WRITES_IN_FLIGHT }, worker));
}
