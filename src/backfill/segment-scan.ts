import { type DynamoDBClient, ScanCommand, type ScanCommandOutput } from '@aws-sdk/client-dynamodb';
import { fromSdkItem, type SdkItem } from '../dynamo/sdk-interop.ts';
import { type CapacityLimiter, type Clock, SYSTEM_CLOCK } from './capacity-limiter.ts';
import { itemSize, pageReadUnits, READ_UNIT_BYTES } from './item-size.ts';
import { THROTTLE_RETRY, type ThrottleRetryPolicy, withThrottleRetry } from './throttle-retry.ts';

/** One page of one segment, as DynamoDB returned it. */
export interface ScanPage {
  readonly segment: number;
  readonly items: readonly SdkItem[];
  /** Where the segment's next page starts; `undefined` when this was its last page. */
  readonly lastEvaluatedKey: SdkItem | undefined;
  /** Read units the page consumed (DynamoDB's `ConsumedCapacity`, or computed from item sizes). */
  readonly readUnits: number;
}

/** A segment to scan, from its beginning or from where an earlier run stopped. */
export interface SegmentStart {
  readonly segment: number;
  readonly exclusiveStartKey: SdkItem | undefined;
}

/** Told of a throttled Scan before its retry. */
export interface ScanThrottle {
  readonly segment: number;
  readonly attempt: number;
  readonly delayMs: number;
  /** The limiter's rate after lowering it. */
  readonly unitsPerSecond: number;
  /** `name: message` of DynamoDB's error. */
  readonly error: string;
}

export interface SegmentScanOptions {
  readonly client: DynamoDBClient;
  /** Table name or ARN. */
  readonly table: string;
  /** The Scan's `TotalSegments`. */
  readonly totalSegments: number;
  /** The segments to scan now (finished ones left out), started in this order. */
  readonly segments: readonly SegmentStart[];
  /** How many segments are scanned at once. */
  readonly concurrency: number;
  readonly consistentRead: boolean;
  /** Only these attributes are returned (placeholders are used, so any name works). */
  readonly projection?: readonly string[] | undefined;
  /** Shared by every segment: read units per second. */
  readonly limiter: CapacityLimiter;
  /** What one item is expected to cost, in read units, until pages tell better. */
  readonly readUnitsPerItem: number;
  /** At most this many items per page (the Scan's `Limit`); default: as many as the rate affords. */
  readonly pageLimit?: number | undefined;
  readonly retry?: ThrottleRetryPolicy | undefined;
  readonly clock?: Clock | undefined;
  /** Stops every segment at its next page boundary; `scanSegments` then resolves `stopped`. */
  readonly signal?: AbortSignal | undefined;
  /** The last sentence of the error when throttling outlasts the retries. */
  readonly throttledNext: string;
  /** Handles a page. A segment's next page is handed over only after this resolves. */
  readonly onPage: (page: ScanPage) => Promise<void>;
  /** The segment's last page has been handled. */
  readonly onSegmentEnd: (segment: number) => Promise<void>;
  /** `signal` stopped the segment after the page last handed to `onPage`. */
  readonly onSegmentStop?: ((segment: number) => Promise<void>) | undefined;
  readonly onThrottle?: ((throttle: ScanThrottle) => void) | undefined;
}

/** A 1 MB page (DynamoDB's largest) in read units, eventually consistent. */
const FULL_PAGE_UNITS = (1024 * 1024) / READ_UNIT_BYTES / 2;
/** Items seen before the measured cost per item replaces the estimate. */
const LEARNING_ITEMS = 100;

/**
 * The resumable, rate-limited parallel Scan shared by the Scan export and touch. Scans the given
 * segments, `concurrency` at a time, each from its start key, and hands each page to `onPage` in
 * the segment's order; the caller checkpoints what it has made durable, so a later run can start
 * each segment from the `lastEvaluatedKey` of its last handled page.
 *
 * Every request first takes its expected cost from the shared limiter and books what DynamoDB
 * reports as consumed (`ReturnConsumedCapacity: TOTAL`). When the limiter's share of a second is
 * less than a 1 MB page, pages are cut with `Limit` to what the share affords. While a page is
 * handled the segment's next one is already being read. Throttled requests are retried with
 * backoff and lower the rate (`withThrottleRetry`).
 *
 * Resolves `completed` once every segment has ended, or `stopped` when `signal` aborted (each
 * segment was told through `onSegmentStop`). On the first failure the other segments stop at
 * their next page boundary and the error is rethrown (a `ThrottledError`, or whatever a callback
 * or DynamoDB threw).
 */
export async function scanSegments(options: SegmentScanOptions): Promise<'completed' | 'stopped'> {
  const clock = options.clock ?? SYSTEM_CLOCK;
  const failed = new AbortController();
  const signal =
    options.signal === undefined ? failed.signal : AbortSignal.any([options.signal, failed.signal]);
  const queue = [...options.segments];
  const learned = { items: 0, units: 0 };
  let running = 0;
  let failure: { readonly error: unknown } | undefined;

  const unitsPerItem = () =>
    learned.items >= LEARNING_ITEMS ? learned.units / learned.items : options.readUnitsPerItem;
  const fullPageUnits = options.consistentRead ? FULL_PAGE_UNITS * 2 : FULL_PAGE_UNITS;

  const readPage = async (segment: number, startKey: SdkItem | undefined): Promise<ScanPage> => {
    const limiter = options.limiter;
    let limit = options.pageLimit;
    let reserved = 0;
    if (limiter.limited) {
      const share = (limiter.unitsPerSecond * limiter.burstSeconds) / Math.max(1, running);
      if (share < fullPageUnits) {
        const affordable = Math.max(1, Math.floor(share / Math.max(unitsPerItem(), 1e-6)));
        limit = Math.min(limit ?? affordable, affordable);
      }
      reserved = limit === undefined ? fullPageUnits : Math.max(0.5, limit * unitsPerItem());
      await limiter.acquire(reserved, signal);
    }
    signal.throwIfAborted();
    const names = options.projection?.map((_, index) => `#p${index}`);
    const answer: ScanCommandOutput = await withThrottleRetry(
      () =>
        options.client.send(
          new ScanCommand({
            TableName: options.table,
            Segment: segment,
            TotalSegments: options.totalSegments,
            ConsistentRead: options.consistentRead,
            ReturnConsumedCapacity: 'TOTAL',
            ...(limit === undefined ? {} : { Limit: limit }),
            ...(startKey === undefined ? {} : { ExclusiveStartKey: startKey }),
            ...(names === undefined || options.projection === undefined
              ? {}
              : {
                  ProjectionExpression: names.join(', '),
                  ExpressionAttributeNames: Object.fromEntries(
                    names.map((name, index) => [name, options.projection?.[index] as string]),
                  ),
                }),
          }),
          { abortSignal: signal },
        ),
      {
        limiter,
        policy: options.retry ?? THROTTLE_RETRY,
        clock,
        signal,
        operation: `the Scan of segment ${segment} of ${options.totalSegments} of ${options.table}`,
        next: options.throttledNext,
        onThrottle: (attempt, delayMs, error) =>
          options.onThrottle?.({
            segment,
            attempt,
            delayMs,
            unitsPerSecond: limiter.unitsPerSecond,
            error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
          }),
      },
    );
    const items = answer.Items ?? [];
    const readUnits =
      answer.ConsumedCapacity?.CapacityUnits ??
      pageReadUnits(
        items.reduce((sum, item) => sum + itemSize(fromSdkItem(item)), 0),
        options.consistentRead,
      );
    limiter.settle(reserved, readUnits);
    // A Scan is billed for whole items whatever it projects, so projected pages teach the same.
    learned.items += items.length;
    learned.units += readUnits;
    return { segment, items, lastEvaluatedKey: answer.LastEvaluatedKey, readUnits };
  };

  const scanOne = async (start: SegmentStart): Promise<void> => {
    const stop = async () => {
      if (failure === undefined) await options.onSegmentStop?.(start.segment);
    };
    let pending: Promise<ScanPage> | undefined = readPage(start.segment, start.exclusiveStartKey);
    while (pending !== undefined) {
      let page: ScanPage;
      try {
        page = await pending;
      } catch (error) {
        if (signal.aborted) return stop();
        throw error;
      }
      const next = page.lastEvaluatedKey;
      pending = next === undefined || signal.aborted ? undefined : readPage(start.segment, next);
      // Awaited on the next turn; until then a failure must not count as unhandled.
      pending?.catch(() => {});
      await options.onPage(page);
      if (next === undefined) return options.onSegmentEnd(start.segment);
      if (signal.aborted) return stop();
    }
  };

  const worker = async (): Promise<void> => {
    for (let start = queue.shift(); start !== undefined; start = queue.shift()) {
      if (signal.aborted) return;
      running++;
      try {
        await scanOne(start);
      } catch (error) {
        failure ??= { error };
        failed.abort(error);
      } finally {
        running--;
      }
    }
  };

  const workers = Math.max(1, Math.min(options.concurrency, queue.length));
  await Promise.all(Array.from({ length: workers }, worker));
  if (failure !== undefined) throw failure.error;
  return options.signal?.aborted === true ? 'stopped' : 'completed';
}
