import { randomBytes } from 'node:crypto';
import { type DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { itemToPlainJson } from '../dynamo/plain-json.ts';
import { fromSdkItem, type SdkItem, toSdkItem } from '../dynamo/sdk-interop.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { type BackfillProgress, ProgressMeter } from './backfill-progress.ts';
import {
  type BackfillRun,
  findRunToResume,
  type ResumeChoice,
  readSegmentCheckpoints,
  writeRun,
  writeSegmentCheckpoint,
} from './backfill-run.ts';
import {
  type BackfillTable,
  capacityTarget,
  defaultSegments,
  describeBackfillTable,
} from './backfill-table.ts';
import { CapacityLimiter, type Clock, SYSTEM_CLOCK } from './capacity-limiter.ts';
import { READ_UNIT_BYTES } from './item-size.ts';
import { TouchNeedsStreamError } from './scan-errors.ts';
import { type SegmentStart, scanSegments } from './segment-scan.ts';
import { THROTTLE_RETRY, type ThrottleRetryPolicy, withThrottleRetry } from './throttle-retry.ts';
import { estimateTouch, type TouchEstimate } from './touch-estimate.ts';
import { type TouchEvent, TouchEventCode } from './touch-events.ts';
import { TOUCH_MARKER_ATTRIBUTE } from './touch-marker.ts';

export interface TouchOptions {
  readonly client: DynamoDBClient;
  /** Table name or ARN. */
  readonly table: string;
  /** The landing area: the run's state goes under `_ddb_lake/touch/<runId>/`. */
  readonly landing: ObjectStore;
  /**
   * Asked once, after the estimate and before the first write: resolve true to go on. The CLI
   * prompts on a terminal, or answers for `--yes`.
   */
  readonly confirm: (estimate: TouchEstimate) => Promise<boolean>;
  /** Parallel Scan segments; default `defaultSegments`. A resumed run keeps its own. */
  readonly segments?: number | undefined;
  /** Segments worked on at once (default: all of them, at most 16). */
  readonly concurrency?: number | undefined;
  /** Writes in flight per segment (default 8). */
  readonly writeConcurrency?: number | undefined;
  /** Share of the table's write capacity to use, in percent (default 50; see `capacityTarget`). */
  readonly writePercent?: number | undefined;
  readonly maxWriteUnitsPerSecond?: number | undefined;
  /** Share of the read capacity for the Scan that finds the items (default 50). */
  readonly readPercent?: number | undefined;
  readonly maxReadUnitsPerSecond?: number | undefined;
  /** Prices for the estimate (default `DEFAULT_TOUCH_PRICES`). */
  readonly pricePerMillionWriteUnits?: number | undefined;
  readonly pricePerMillionReadUnits?: number | undefined;
  /** Which unfinished run to continue (default `latest`: the last one of this table, if any). */
  readonly resume?: ResumeChoice | undefined;
  /** At most this many items per Scan page (`Limit`); default: as many as the rate affords. */
  readonly pageLimit?: number | undefined;
  readonly retry?: ThrottleRetryPolicy | undefined;
  /** Stops at the next page boundaries, checkpointing every segment (outcome `stopped`). */
  readonly signal?: AbortSignal | undefined;
  readonly onEvent?: ((event: TouchEvent) => void) | undefined;
  readonly clock?: Clock | undefined;
}

export type TouchResult =
  | { readonly outcome: 'declined'; readonly estimate: TouchEstimate }
  | {
      readonly outcome: 'complete' | 'stopped';
      readonly runId: string;
      /** The value written to `TOUCH_MARKER_ATTRIBUTE`. */
      readonly marker: string;
      readonly resumed: boolean;
      /** Items written, counting earlier runs of this touch. */
      readonly touched: number;
      /** Items deleted between the Scan and their write, counting earlier runs. */
      readonly skipped: number;
      readonly estimate: TouchEstimate;
      readonly progress: BackfillProgress;
    };

const MAX_DEFAULT_CONCURRENCY = 16;
const DEFAULT_WRITE_CONCURRENCY = 8;

/**
 * Sends every item of the table through its stream (the seed's "update items to trigger the
 * stream"): a parallel Scan of the keys, and for each item an UpdateItem that sets
 * `TOUCH_MARKER_ATTRIBUTE` to the run's start time on the condition that the item still exists
 * (`attribute_exists` of the partition key), so a deleted item is not recreated: that
 * ConditionalCheckFailed counts as skipped, not as an error.
 *
 * Nothing is written before `confirm` resolves true with the estimate (`estimateTouch`). Reads and
 * writes each take a share of the table's capacity (two limiters, `CapacityLimiter`), measured
 * from `ReturnConsumedCapacity`, with backoff on throttling. Resumable: after every page, once all
 * its writes are done, the segment's checkpoint (`_ddb_lake/touch/<runId>/segments/<n>.json`)
 * records the page's `LastEvaluatedKey`; a killed run resumes there and rewrites at most the
 * pages after the last checkpoint, with the same marker value, which changes nothing and so adds
 * no stream record on DynamoDB.
 *
 * Throws `TableNotFoundError`, `TouchNeedsStreamError` (no stream, or one without new images),
 * `CannotResumeError`, `BadScanCheckpointError`, `ThrottledError`, and SDK or store errors.
 */
export async function touchTable(options: TouchOptions): Promise<TouchResult> {
  const clock = options.clock ?? SYSTEM_CLOCK;
  const emit = options.onEvent ?? (() => {});
  const landing = options.landing;
  const table = await describeBackfillTable(options.client, options.table, options.signal);
  const viewType = table.stream.enabled ? table.stream.viewType : null;
  if (viewType !== 'NEW_AND_OLD_IMAGES' && viewType !== 'NEW_IMAGE') {
    throw new TouchNeedsStreamError(table.name, viewType);
  }
  const readTarget = capacityTarget(table, 'read', {
    percent: options.readPercent,
    maxUnitsPerSecond: options.maxReadUnitsPerSecond,
  });
  const writeTarget = capacityTarget(table, 'write', {
    percent: options.writePercent,
    maxUnitsPerSecond: options.maxWriteUnitsPerSecond,
  });
  const previous = await findRunToResume(landing, 'touch', table, options.resume ?? 'latest', {
    segments: options.segments,
  });
  const segments = previous?.segments ?? options.segments ?? defaultSegments(table);
  const startTime = previous === undefined ? new Date() : new Date(previous.startTime);
  const marker = previous?.marker ?? startTime.toISOString();
  const runId =
    previous?.runId ?? `${String(startTime.getTime()).padStart(14, '0')}-${randomBytes(4).toString('hex')}`;
  const run: BackfillRun = previous ?? {
    kind: 'touch',
    runId,
    table: { name: table.name, arn: table.arn, id: table.id, createdAt: table.createdAt },
    startTime: startTime.toISOString(),
    segments,
    consistentRead: false,
    marker,
    finishedAt: null,
  };
  const checkpoints =
    previous === undefined ? new Map() : await readSegmentCheckpoints(landing, 'touch', runId, segments);
  const itemsDone = [...checkpoints.values()].reduce((sum, checkpoint) => sum + checkpoint.items, 0);
  const skippedBefore = [...checkpoints.values()].reduce((sum, checkpoint) => sum + checkpoint.skipped, 0);
  const estimate = estimateTouch(table, {
    marker,
    writeTarget,
    pricePerMillionWriteUnits: options.pricePerMillionWriteUnits,
    pricePerMillionReadUnits: options.pricePerMillionReadUnits,
    resuming: previous === undefined ? null : { runId, itemsDone: itemsDone + skippedBefore },
  });
  const meter = new ProgressMeter({
    clock,
    segments,
    segmentsDone: [...checkpoints.values()].filter((checkpoint) => checkpoint.done).length,
    itemsBefore: itemsDone + skippedBefore,
    estimatedItems: table.itemCount,
  });
  const totals = { touched: itemsDone, skipped: skippedBefore };
  const result = (outcome: 'complete' | 'stopped') => ({
    outcome,
    runId,
    marker,
    resumed: previous !== undefined,
    touched: totals.touched,
    skipped: totals.skipped,
    estimate,
    progress: meter.snapshot(),
  });
  if (previous?.finishedAt != null) return result('complete');
  if (!(await options.confirm(estimate))) return { outcome: 'declined', estimate };
  if (previous === undefined) await writeRun(landing, run);

  const starts: SegmentStart[] = [];
  const positions = new Map<number, { items: number; skipped: number; key: SdkItem | undefined }>();
  for (let segment = 0; segment < segments; segment++) {
    const checkpoint = checkpoints.get(segment);
    if (checkpoint?.done === true) continue;
    const key = checkpoint?.lastEvaluatedKey == null ? undefined : toSdkItem(checkpoint.lastEvaluatedKey);
    starts.push({ segment, exclusiveStartKey: key });
    positions.set(segment, { items: checkpoint?.items ?? 0, skipped: checkpoint?.skipped ?? 0, key });
  }
  const concurrency = options.concurrency ?? Math.min(starts.length || 1, MAX_DEFAULT_CONCURRENCY);
  const readLimiter = new CapacityLimiter({ unitsPerSecond: readTarget.unitsPerSecond, clock });
  const writeLimiter = new CapacityLimiter({ unitsPerSecond: writeTarget.unitsPerSecond, clock });
  emit({
    code: TouchEventCode.started,
    level: 'info',
    runId,
    marker,
    resumed: previous !== undefined,
    segments,
    concurrency,
    readCapacity: readTarget,
    writeCapacity: writeTarget,
    estimate,
  });

  const next = `Everything up to each segment's last checkpoint is kept: run the same command again to resume the touch run ${runId}, with a lower --write-percent or --max-wcu (or --read-percent / --max-rcu), or once the table has more capacity.`;
  const checkpoint = async (segment: number, done: boolean): Promise<string> => {
    const position = positions.get(segment) as { items: number; skipped: number; key: SdkItem | undefined };
    return writeSegmentCheckpoint(landing, 'touch', runId, {
      segment,
      lastEvaluatedKey: done || position.key === undefined ? null : fromSdkItem(position.key),
      done,
      items: position.items,
      skipped: position.skipped,
      files: [],
      updatedAt: new Date().toISOString(),
    });
  };
  const keyNames = table.sortKey === null ? [table.partitionKey] : [table.partitionKey, table.sortKey];

  const touchOne = async (segment: number, key: SdkItem): Promise<'touched' | 'skipped'> => {
    const reserved = estimate.writeUnitsPerItem;
    // No signal: a page once begun is written to its end at the rate, so its checkpoint holds.
    await writeLimiter.acquire(reserved);
    try {
      const answer = await withThrottleRetry(
        () =>
          options.client.send(
            new UpdateItemCommand({
              TableName: table.arn,
              Key: key,
              UpdateExpression: 'SET #marker = :marker',
              ConditionExpression: 'attribute_exists(#key)',
              ExpressionAttributeNames: { '#marker': TOUCH_MARKER_ATTRIBUTE, '#key': table.partitionKey },
              ExpressionAttributeValues: { ':marker': { S: marker } },
              ReturnConsumedCapacity: 'TOTAL',
            }),
          ),
        {
          limiter: writeLimiter,
          policy: options.retry ?? THROTTLE_RETRY,
          clock,
          // No signal either: a stop request waits for the page's writes, throttled or not.
          signal: undefined,
          operation: `the UpdateItem of ${itemToPlainJson(fromSdkItem(key))} in ${table.name}`,
          next,
          onThrottle: (attempt, delayMs, error) =>
            emit({
              code: TouchEventCode.throttled,
              level: 'warn',
              operation: 'write',
              segment,
              attempt,
              delayMs,
              unitsPerSecond: writeLimiter.unitsPerSecond,
              error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
            }),
        },
      );
      const units = answer.ConsumedCapacity?.CapacityUnits ?? reserved;
      writeLimiter.settle(reserved, units);
      meter.handled(1, { writeUnits: units });
      return 'touched';
    } catch (error) {
      if ((error as { name?: string }).name !== 'ConditionalCheckFailedException') throw error;
      // A failed condition still costs a write unit: the item is gone, so one.
      writeLimiter.settle(reserved, 1);
      meter.handled(1, { writeUnits: 1 });
      emit({ code: TouchEventCode.skipped, level: 'info', key: itemToPlainJson(fromSdkItem(key)) });
      return 'skipped';
    }
  };

  const outcome = await scanSegments({
    client: options.client,
    table: table.arn,
    totalSegments: segments,
    segments: starts,
    concurrency,
    consistentRead: false,
    projection: keyNames,
    limiter: readLimiter,
    readUnitsPerItem: readUnitsPerItem(table),
    pageLimit: options.pageLimit,
    retry: options.retry,
    clock,
    signal: options.signal,
    throttledNext: next,
    onThrottle: (throttle) =>
      emit({ code: TouchEventCode.throttled, level: 'warn', operation: 'scan', ...throttle }),
    onPage: async (page) => {
      meter.read(page.readUnits);
      const position = positions.get(page.segment) as {
        items: number;
        skipped: number;
        key: SdkItem | undefined;
      };
      const keys = page.items.map(
        (item) => Object.fromEntries(keyNames.map((name) => [name, item[name]])) as SdkItem,
      );
      let index = 0;
      let failed = false;
      const lane = async () => {
        for (let at = index++; at < keys.length && !failed; at = index++) {
          try {
            const outcome = await touchOne(page.segment, keys[at] as SdkItem);
            if (outcome === 'touched') {
              position.items++;
              totals.touched++;
            } else {
              position.skipped++;
              totals.skipped++;
            }
          } catch (error) {
            failed = true;
            throw error;
          }
        }
      };
      const lanes = Math.min(options.writeConcurrency ?? DEFAULT_WRITE_CONCURRENCY, keys.length);
      // Every lane ends before the page fails: no write may still be in flight once the run returns.
      const settled = await Promise.allSettled(Array.from({ length: lanes }, lane));
      const rejected = settled.find((result) => result.status === 'rejected');
      if (rejected !== undefined) throw rejected.reason;
      position.key = page.lastEvaluatedKey;
      if (page.lastEvaluatedKey === undefined) return;
      const key = await checkpoint(page.segment, false);
      emit({
        code: TouchEventCode.progress,
        level: 'info',
        segment: page.segment,
        checkpoint: key,
        progress: meter.snapshot(),
        touched: totals.touched,
        skipped: totals.skipped,
      });
    },
    onSegmentEnd: async (segment) => {
      await checkpoint(segment, true);
      meter.segmentDone();
      emit({ code: TouchEventCode.segmentFinished, level: 'info', segment, progress: meter.snapshot() });
    },
    onSegmentStop: async (segment) => {
      await checkpoint(segment, false);
    },
  });
  if (outcome === 'completed') await writeRun(landing, { ...run, finishedAt: new Date().toISOString() });
  const done = result(outcome === 'completed' ? 'complete' : 'stopped');
  emit({
    code: outcome === 'completed' ? TouchEventCode.finished : TouchEventCode.stopped,
    level: 'info',
    runId,
    touched: done.touched,
    skipped: done.skipped,
    progress: done.progress,
  });
  return done;
}

/** Expected read units per item of an eventually consistent Scan (1 KB items when unknown). */
function readUnitsPerItem(table: BackfillTable): number {
  const averageBytes = table.itemCount > 0 && table.sizeBytes > 0 ? table.sizeBytes / table.itemCount : 1024;
  return averageBytes / READ_UNIT_BYTES / 2;
}
