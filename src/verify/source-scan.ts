import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DuckDBAppender } from '@duckdb/node-api';
import type { CapacityLimiter, Clock } from '../backfill/capacity-limiter.ts';
import { itemFromScanPage } from '../backfill/scan-page-item.ts';
import { type ScanThrottle, scanSegments } from '../backfill/segment-scan.ts';
import type { Item } from '../dynamo/attribute-value.ts';
import { itemToPlainJson } from '../dynamo/plain-json.ts';
import { keyText, type TableKeys } from '../lake/key-identity.ts';
import { itemHash } from './item-hash.ts';

/*
 * The DynamoDB side of verify: a parallel Scan of some or all segments, rate-limited and retried as
 * the Scan export's (segment-scan.ts), each item reduced on arrival to (`_ddb_key`, canonical hash)
 * and appended to the comparison's DuckDB table, so memory holds a page per segment at most.
 */

export interface SourceScanOptions {
  readonly client: DynamoDBClient;
  /** Table name or ARN. */
  readonly table: string;
  readonly keys: TableKeys;
  readonly totalSegments: number;
  /** The segments to read (all of them, or a sample). */
  readonly segments: readonly number[];
  readonly concurrency: number;
  readonly consistentRead: boolean;
  readonly limiter: CapacityLimiter;
  readonly readUnitsPerItem: number;
  readonly pageLimit?: number | undefined;
  readonly clock: Clock;
  readonly onProgress?: (items: number, segmentsDone: number) => void;
  readonly onThrottle?: (throttle: ScanThrottle) => void;
}

/** (`_ddb_key`, canonical hash) of a DynamoDB item, as the lake side computes them for its row. */
export function itemKeyAndHash(item: Item, keys: TableKeys): [key: string, hash: string] {
  return [keyText(item, keys), itemHash(itemToPlainJson(item))];
}

/**
 * Scans `segments` of the table and appends one (`_ddb_key`, hash) row per item to `appender` (two
 * VARCHAR columns), flushed at the end. Returns the number of items.
 * @throws KeyAttributeError for an item without its key attributes; InvalidAttributeValueError for
 *   an item the value model refuses; ThrottledError; SDK errors.
 */
export async function appendTableHashes(
  options: SourceScanOptions,
  appender: DuckDBAppender,
): Promise<number> {
  let items = 0;
  let segmentsDone = 0;
  await scanSegments({
    client: options.client,
    table: options.table,
    totalSegments: options.totalSegments,
    segments: options.segments.map((segment) => ({ segment, exclusiveStartKey: undefined })),
    concurrency: options.concurrency,
    consistentRead: options.consistentRead,
    limiter: options.limiter,
    readUnitsPerItem: options.readUnitsPerItem,
    pageLimit: options.pageLimit,
    clock: options.clock,
    throttledNext:
      'Nothing was compared: run verify again with a lower --read-percent or --max-rcu, or once the table has more read capacity.',
    onThrottle: options.onThrottle,
    onPage: async (page) => {
      for (const sdkItem of page.items) {
        const [key, hash] = itemKeyAndHash(itemFromScanPage(sdkItem), options.keys);
        appender.appendVarchar(key);
        appender.appendVarchar(hash);
        appender.endRow();
      }
      items += page.items.length;
      options.onProgress?.(items, segmentsDone);
    },
    onSegmentEnd: async () => {
      segmentsDone++;
      options.onProgress?.(items, segmentsDone);
    },
  });
  appender.flushSync();
  return items;
}
