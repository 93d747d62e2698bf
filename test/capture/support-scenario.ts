import {
  DeleteItemCommand,
  PutItemCommand,
  type StreamViewType,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { toLambdaEvent } from '../../src/capture/lambda-event.ts';
import type { AttributeValue, Item } from '../../src/dynamo/attribute-value.ts';
import { compareNumbers } from '../../src/dynamo/number.ts';
import { parseItem } from '../../src/dynamo/parse.ts';
import { compareUtf8 } from '../../src/dynamo/plain-json.ts';
import { toSdkItem } from '../../src/dynamo/sdk-interop.ts';
import type { ChangeOp } from '../../src/formats/change-record.ts';
import { sampleOrders } from '../../src/local/sample-orders.ts';
import { createStreamTable, dynamoDbClient, type StreamTable } from '../support/local-stack.ts';
import { readOnlyShard, type ShardRecords } from './support-stream.ts';

/** A change the scenario made, as the stream should report it (images per the view type). */
export interface ExpectedChange {
  readonly op: ChangeOp;
  readonly keys: Item;
  readonly new: Item | null;
  readonly old: Item | null;
}

/** A table, the changes made to it, and its stream's records, from the SDK and as a Lambda event. */
export interface Scenario {
  readonly table: StreamTable;
  readonly expected: readonly ExpectedChange[];
  readonly shard: ShardRecords;
  readonly event: DynamoDBStreamEvent;
}

/** 38 significant digits: what a JS number would round. */
export const UPDATED_TOTAL = '12345678901234567890.123456789012345678';

/**
 * Creates a table (`pk`, `sk`) with a stream of the given view type and makes every kind of change
 * through DynamoDB Local: 8 sample orders put (every DynamoDB type, 38-digit and extreme numbers,
 * binary, sets, nested maps), 3 of them updated in place, one replaced by a put, two deleted. Then
 * reads the stream back with GetRecords and builds the Lambda event from its records.
 */
export async function runScenario(viewType: StreamViewType = 'NEW_AND_OLD_IMAGES'): Promise<Scenario> {
  const table = await createStreamTable({
    prefix: 'capture',
    viewType,
    sortKey: { name: 'sk', type: 'S' },
  });
  const client = dynamoDbClient();
  const state = new Map<string, Item>();
  const changes: { op: ChangeOp; keys: Item; new: Item | null; old: Item | null }[] = [];
  const keysOf = (item: Item): Item => ({
    pk: item['pk'] as AttributeValue,
    sk: item['sk'] as AttributeValue,
  });
  const id = (keys: Item): string => JSON.stringify([keys['pk'], keys['sk']]);

  const items = [...sampleOrders(8, 11)];
  for (const item of items) {
    await client.send(new PutItemCommand({ TableName: table.tableName, Item: toSdkItem(item) }));
    changes.push({ op: 'INSERT', keys: keysOf(item), new: item, old: null });
    state.set(id(keysOf(item)), item);
  }
  for (const item of items.slice(0, 3)) {
    const keys = keysOf(item);
    await client.send(
      new UpdateItemCommand({
        TableName: table.tableName,
        Key: toSdkItem(keys),
        UpdateExpression: 'SET #status = :status, #total = :total REMOVE #note',
        ExpressionAttributeNames: { '#status': 'status', '#total': 'total', '#note': 'note' },
        ExpressionAttributeValues: toSdkItem({ ':status': { S: 'shipped' }, ':total': { N: UPDATED_TOTAL } }),
      }),
    );
    const before = state.get(id(keys)) as Item;
    const { note: _removed, ...kept } = before;
    const after: Item = { ...kept, status: { S: 'shipped' }, total: { N: UPDATED_TOTAL } };
    changes.push({ op: 'MODIFY', keys, new: after, old: before });
    state.set(id(keys), after);
  }
  {
    const replaced = items[3] as Item;
    const keys = keysOf(replaced);
    const replacement: Item = { ...keys, status: { S: 'returned' }, flags: { SS: ['b', 'a'] } };
    await client.send(new PutItemCommand({ TableName: table.tableName, Item: toSdkItem(replacement) }));
    changes.push({ op: 'MODIFY', keys, new: replacement, old: state.get(id(keys)) as Item });
    state.set(id(keys), replacement);
  }
  for (const item of items.slice(5, 7)) {
    const keys = keysOf(item);
    await client.send(new DeleteItemCommand({ TableName: table.tableName, Key: toSdkItem(keys) }));
    changes.push({ op: 'REMOVE', keys, new: null, old: state.get(id(keys)) as Item });
    state.delete(id(keys));
  }

  const withNew = viewType === 'NEW_AND_OLD_IMAGES' || viewType === 'NEW_IMAGE';
  const withOld = viewType === 'NEW_AND_OLD_IMAGES' || viewType === 'OLD_IMAGE';
  const expected = changes.map((change) => ({
    op: change.op,
    keys: change.keys,
    new: withNew ? change.new : null,
    old: withOld ? change.old : null,
  }));
  const shard = await readOnlyShard(table.streamArn);
  return { table, expected, shard, event: toLambdaEvent(shard.records, table.streamArn) };
}

/**
 * An item as canonical text that keeps every type tag: numbers and base64 normalized by the value
 * model, map attributes sorted by name, set elements sorted (DynamoDB does not promise their
 * order). Equal text means the same DynamoDB item, exactly.
 */
export function typedItemText(item: Item | null): string {
  return item === null ? 'null' : valueText({ M: parseItem(item) });
}

function valueText(value: AttributeValue): string {
  if ('M' in value) {
    const names = Object.keys(value.M).sort(compareUtf8);
    return `{"M":{${names.map((name) => `${JSON.stringify(name)}:${valueText(value.M[name] as AttributeValue)}`).join(',')}}}`;
  }
  if ('L' in value) return `{"L":[${value.L.map(valueText).join(',')}]}`;
  if ('SS' in value) return JSON.stringify({ SS: value.SS.slice().sort(compareUtf8) });
  if ('NS' in value) return JSON.stringify({ NS: value.NS.slice().sort(compareNumbers) });
  if ('BS' in value) return JSON.stringify({ BS: value.BS.slice().sort() });
  return JSON.stringify(value);
}
