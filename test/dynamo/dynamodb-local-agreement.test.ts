import {
  BatchWriteItemCommand,
  GetItemCommand,
  PutItemCommand,
  ScanCommand,
  type AttributeValue as SdkAttributeValue,
} from '@aws-sdk/client-dynamodb';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkNumber, normalizeNumber } from '../../src/dynamo/number.ts';
import { parseItem } from '../../src/dynamo/parse.ts';
import { itemToPlainJson } from '../../src/dynamo/plain-json.ts';
import { fromSdkItem } from '../../src/dynamo/sdk-interop.ts';
import { LOCAL_DYNAMODB_CREDENTIALS, LOCAL_REGION } from '../../src/local/dynamodb-local.ts';
import {
  createStreamTable,
  dynamoDbClient,
  dynamodbEndpoint,
  type StreamTable,
} from '../support/local-stack.ts';
import { itemModel, numberModel } from './arbitraries.ts';
import { mapToDynamoJson, toSdk } from './reference.ts';

/*
 * The value model against the real thing: DynamoDB Local (started once for the run by
 * test/support/global-setup.ts) stores what we accept, refuses what we refuse, and answers with
 * the canonical text we compute.
 */

let table: StreamTable;

beforeAll(async () => {
  table = await createStreamTable({ prefix: 'dynamo-values' });
});

afterAll(async () => {
  await table?.drop();
});

/** Puts `attributes` under key `pk`; resolves to the error name DynamoDB answered with, or 'ok'. */
async function put(pk: string, attributes: Record<string, SdkAttributeValue>): Promise<string> {
  try {
    await dynamoDbClient().send(
      new PutItemCommand({ TableName: table.tableName, Item: { pk: { S: pk }, ...attributes } }),
    );
    return 'ok';
  } catch (error) {
    return (error as { name: string }).name;
  }
}

async function get(pk: string): Promise<Record<string, SdkAttributeValue>> {
  const answer = await dynamoDbClient().send(
    new GetItemCommand({ TableName: table.tableName, Key: { pk: { S: pk } }, ConsistentRead: true }),
  );
  if (answer.Item === undefined) throw new Error(`item ${pk} not found`);
  return answer.Item;
}

describe('agreement with DynamoDB Local', () => {
  it('stores every generated number and answers with our canonical text', async () => {
    const numbers = fc.sample(numberModel, { numRuns: 300, seed: 20261123 });
    for (let start = 0; start < numbers.length; start += 25) {
      const chunk = numbers.slice(start, start + 25);
      await dynamoDbClient().send(
        new BatchWriteItemCommand({
          RequestItems: {
            [table.tableName]: chunk.map((n, i) => ({
              PutRequest: { Item: { pk: { S: `number-${start + i}` }, v: { N: n.text } } },
            })),
          },
        }),
      );
    }
    const answered = new Map<string, string>();
    let exclusiveStartKey: Record<string, SdkAttributeValue> | undefined;
    do {
      const page = await dynamoDbClient().send(
        new ScanCommand({ TableName: table.tableName, ExclusiveStartKey: exclusiveStartKey }),
      );
      for (const item of page.Items ?? []) {
        const pk = item.pk?.S ?? '';
        if (pk.startsWith('number-')) answered.set(pk, item.v?.N ?? '');
      }
      exclusiveStartKey = page.LastEvaluatedKey;
    } while (exclusiveStartKey !== undefined);
    expect(answered.size).toBe(numbers.length);
    numbers.forEach((n, i) => {
      expect(answered.get(`number-${i}`), n.text).toBe(normalizeNumber(n.text));
    });
  });

  it('refuses exactly the numbers we refuse', async () => {
    const texts = [
      '1E-130',
      '1E-131',
      '9.9999999999999999999999999999999999999E+125',
      '1E126',
      '12345678901234567890123456789012345678',
      '123456789012345678901234567890123456789',
      `1${'0'.repeat(40)}`,
      '0e2147483647',
      '0e99999999999',
      '0.0e-2147483647',
      '+.5',
      '1.',
      '.',
      '1e',
      ' 1',
      'NaN',
      '0x10',
    ];
    for (const [index, text] of texts.entries()) {
      const ours = typeof checkNumber(text) === 'string' ? 'ok' : 'ValidationException';
      expect(await put(`refuse-${index}`, { v: { N: text } }), text).toBe(ours);
    }
  });

  it('refuses duplicates in sets by value and by bytes, as parseItem does', async () => {
    const cases: Record<string, SdkAttributeValue>[] = [
      { v: { NS: ['1', '1.0'] } },
      { v: { NS: ['100', '1e2'] } },
      { v: { SS: ['a', 'a'] } },
      { v: { BS: [Uint8Array.of(0), Uint8Array.of(0)] } },
      { v: { NS: ['1', '10'] } },
      { v: { SS: ['a', 'A'] } },
    ];
    for (const [index, attributes] of cases.entries()) {
      const json = { v: toDynamoJsonOfSdk(attributes.v as SdkAttributeValue) };
      const ours = refuses(() => parseItem(json)) ? 'ValidationException' : 'ok';
      expect(await put(`set-${index}`, attributes), JSON.stringify(json)).toBe(ours);
    }
  });

  it('clears stray base64 bits the way parseItem does', async () => {
    // Sent as raw DynamoDB JSON over HTTP: the SDK would encode the bytes itself and never send 'AB=='.
    const item = { pk: { S: 'stray-bits' }, v: { B: 'AB==' }, s: { BS: ['AAF=', '/x=='] } };
    const response = await fetch(dynamodbEndpoint(), {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': 'DynamoDB_20120810.PutItem',
        authorization: `AWS4-HMAC-SHA256 Credential=${LOCAL_DYNAMODB_CREDENTIALS.accessKeyId}/20260101/${LOCAL_REGION}/dynamodb/aws4_request, SignedHeaders=host, Signature=0`,
      },
      body: JSON.stringify({ TableName: table.tableName, Item: item }),
    });
    expect(response.status, await response.text()).toBe(200);
    const stored = fromSdkItem(await get('stray-bits'));
    // DynamoDB Local answers sets in its own order: compare the canonical plain form.
    expect(itemToPlainJson(stored)).toBe(itemToPlainJson(parseItem(item)));
    expect(stored.v).toEqual({ B: 'AA==' });
  });

  it('draws the nesting limit where parseItem draws it', async () => {
    const nest = (levels: number): SdkAttributeValue => {
      let value: SdkAttributeValue = { L: [] };
      for (let i = 1; i < levels; i++) value = { M: { a: value } };
      return value;
    };
    for (const levels of [31, 32]) {
      const attributes = { v: nest(levels) };
      const ours = refuses(() => fromSdkItem(attributes)) ? 'ValidationException' : 'ok';
      expect(await put(`nest-${levels}`, attributes), `${levels} nested containers`).toBe(ours);
    }
    expect(await put('nest-check', { v: nest(31) })).toBe('ok');
  });

  it('gives back every generated item with the plain JSON we compute for what was sent', async () => {
    const items = fc.sample(itemModel, { numRuns: 60, seed: 7 });
    for (const [index, entries] of items.entries()) {
      const attributes = Object.fromEntries(
        entries.filter(([name]) => name !== 'pk').map(([n, v]) => [n, toSdk(v)]),
      );
      const pk = `item-${index}`;
      expect(await put(pk, attributes)).toBe('ok');
      const sent = parseItem({
        pk: { S: pk },
        ...mapToDynamoJson(entries.filter(([name]) => name !== 'pk')),
      });
      expect(itemToPlainJson(fromSdkItem(await get(pk)))).toBe(itemToPlainJson(sent));
    }
  });
});

function refuses(run: () => unknown): boolean {
  try {
    run();
    return false;
  } catch {
    return true;
  }
}

/** DynamoDB JSON of a flat SDK value (B and BS to base64), for parseItem. */
function toDynamoJsonOfSdk(value: SdkAttributeValue): unknown {
  if (value.BS !== undefined) return { BS: value.BS.map((b) => Buffer.from(b).toString('base64')) };
  if (value.B !== undefined) return { B: Buffer.from(value.B).toString('base64') };
  return value;
}
