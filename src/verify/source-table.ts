import {
  BatchGetItemCommand,
  type BatchGetItemCommandOutput,
  type DynamoDBClient,
  type KeysAndAttributes,
} from '@aws-sdk/client-dynamodb';
import type { BackfillTable } from '../backfill/backfill-table.ts';
import type { CapacityLimiter, Clock } from '../backfill/capacity-limiter.ts';
import { itemFromScanPage } from '../backfill/scan-page-item.ts';
import { THROTTLE_RETRY, withThrottleRetry } from '../backfill/throttle-retry.ts';
import type { Item } from '../dynamo/attribute-value.ts';
import { base64ToBytes } from '../dynamo/base64.ts';
import type { SdkItem } from '../dynamo/sdk-interop.ts';
import type { TableKeys } from '../lake/key-identity.ts';
import { plainMembers } from './plain-members.ts';
import { VerifyError, VerifyErrorCode } from './verify-errors.ts';

/*
 * The DynamoDB side of the point reads verify makes: the table's key schema (to check it against
 * the lake's layout and to turn a `_ddb_key` text back into a key), and strongly consistent
 * BatchGetItem reads of keys, rate-limited by the run's read limiter.
 */

/** The key attributes of the DynamoDB table and their scalar types. */
export interface SourceKeySchema {
  readonly keys: TableKeys;
  readonly types: ReadonlyMap<string, 'S' | 'N' | 'B'>;
}

/** The key schema of a described table (one DescribeTable serves the Scan and the point reads). */
export function keySchemaOf(table: BackfillTable): SourceKeySchema {
  const keys: TableKeys =
    table.sortKey === null
      ? { partition: table.partitionKey }
      : { partition: table.partitionKey, sort: table.sortKey };
  return { keys, types: new Map(Object.entries(table.keyTypes)) };
}

function keysText(keys: TableKeys): string {
  return keys.sort === undefined ? `"${keys.partition}"` : `"${keys.partition}" and "${keys.sort}"`;
}

/**
 * Refuses a lake table whose key attributes are not the DynamoDB table's: its rows could not be
 * matched to the table's items.
 * @throws VerifyError (`VERIFY_KEY_MISMATCH`) naming both key schemas.
 */
export function assertSameKeys(
  source: SourceKeySchema,
  lake: TableKeys,
  table: string,
  deltaUrl: string,
): void {
  if (source.keys.partition === lake.partition && source.keys.sort === lake.sort) return;
  throw new VerifyError(
    VerifyErrorCode.keyMismatch,
    `The DynamoDB table ${table} is keyed by ${keysText(source.keys)}, but the Delta table at ${deltaUrl} is keyed by ${keysText(lake)} (its ddb_lake.keys property): they cannot hold the same items. Check --table and --delta.`,
  );
}

/**
 * The DynamoDB key (SDK shape) of a `_ddb_key` text (key-identity.ts), with each attribute typed by
 * the table's key schema: the reverse of `keyText`. Pure.
 * @throws VerifyError (`VERIFY_KEY_MISMATCH`) when the text lacks a key attribute or holds a value
 *   its type cannot take.
 */
export function keyOfKeyText(keyText: string, schema: SourceKeySchema): SdkItem {
  const members = plainMembers(keyText);
  const key: SdkItem = {};
  const names = [schema.keys.partition, ...(schema.keys.sort === undefined ? [] : [schema.keys.sort])];
  for (const name of names) {
    const text = members.get(name);
    const type = schema.types.get(name);
    const value: unknown = text === undefined ? undefined : type === 'N' ? text : JSON.parse(text);
    if (text === undefined || type === undefined || (type !== 'N' && typeof value !== 'string')) {
      throw new VerifyError(
        VerifyErrorCode.keyMismatch,
        `The lake key ${keyText} has no ${type ?? 'scalar'} value for the key attribute "${name}" of the DynamoDB table; the lake table does not follow this table.`,
      );
    }
    if (type === 'S') key[name] = { S: value as string };
    else if (type === 'N') key[name] = { N: text };
    else key[name] = { B: base64ToBytes(value as string) };
  }
  return key;
}

export interface ConsistentGetOptions {
  readonly client: DynamoDBClient;
  /** Table name or ARN. */
  readonly table: string;
  readonly limiter: CapacityLimiter;
  readonly clock: Clock;
  /** Expected read units of one strongly consistent read, until answers tell. */
  readonly readUnitsPerItem: number;
}

/** BatchGetItem takes at most this many keys. */
const BATCH_KEYS = 100;
/** Rounds of unprocessed keys before giving up. */
const UNPROCESSED_ROUNDS = 12;

/**
 * Reads `keys` with strongly consistent BatchGetItem requests (100 keys each), retrying unprocessed
 * keys with backoff and throttled requests as the Scan does, each request first taking its
 * expected cost from `limiter`. Returns the items that exist, validated (DynamoDB JSON shape), in
 * no particular order; a key with no item is simply absent from the result.
 * @throws VerifyError (`VERIFY_UNPROCESSED_KEYS`) when DynamoDB leaves keys unprocessed round after
 *   round; ThrottledError; SDK errors.
 */
export async function getItemsConsistently(
  options: ConsistentGetOptions,
  keys: readonly SdkItem[],
): Promise<Item[]> {
  const found: Item[] = [];
  for (let start = 0; start < keys.length; start += BATCH_KEYS) {
    let pending: SdkItem[] = keys.slice(start, start + BATCH_KEYS);
    for (let round = 0; pending.length > 0; round++) {
      if (round >= UNPROCESSED_ROUNDS) {
        throw new VerifyError(
          VerifyErrorCode.unprocessedKeys,
          `DynamoDB left ${pending.length} keys of a BatchGetItem on ${options.table} unprocessed ${UNPROCESSED_ROUNDS} times in a row (the table is short of read capacity). Run verify again with a lower --read-percent or --max-rcu.`,
        );
      }
      if (round > 0) await options.clock.sleep(Math.min(5_000, 50 * 2 ** round));
      const reserved = pending.length * options.readUnitsPerItem;
      await options.limiter.acquire(reserved);
      const request: KeysAndAttributes = { Keys: pending, ConsistentRead: true };
      const answer: BatchGetItemCommandOutput = await withThrottleRetry(
        () =>
          options.client.send(
            new BatchGetItemCommand({
              RequestItems: { [options.table]: request },
              ReturnConsumedCapacity: 'TOTAL',
            }),
          ),
        {
          limiter: options.limiter,
          policy: THROTTLE_RETRY,
          clock: options.clock,
          operation: `a consistent BatchGetItem of ${pending.length} keys of ${options.table}`,
          next: 'Run verify again with a lower --read-percent or --max-rcu, or once the table has more read capacity.',
        },
      );
      const consumed = (answer.ConsumedCapacity ?? []).reduce(
        (sum, entry) => sum + (entry.CapacityUnits ?? 0),
        0,
      );
      options.limiter.settle(reserved, consumed);
      for (const items of Object.values(answer.Responses ?? {})) {
        for (const item of items) found.push(itemFromScanPage(item as SdkItem));
      }
      pending = Object.values(answer.UnprocessedKeys ?? {}).flatMap(
        (entry) => (entry.Keys ?? []) as SdkItem[],
      );
    }
  }
  return found;
}
