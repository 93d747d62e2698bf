import type { _Record as SdkStreamRecord } from '@aws-sdk/client-dynamodb-streams';
import { sleep } from '../sleep.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { type CaptureResult, captureBatch } from './capture-batch.ts';
import { toLambdaEvent } from './lambda-event.ts';
import { backoffDelay, type RetryPolicy } from './stream-poller-backoff.ts';
import { CaptureBatchFailedError } from './stream-poller-errors.ts';
import { type CaptureEvent, CaptureEventCode } from './stream-poller-events.ts';

export interface DeliveryOptions {
  readonly store: ObjectStore;
  readonly streamArn: string;
  readonly shardId: string;
  readonly retry: RetryPolicy;
  /** Receives `batchRetry` events and the handler's log entries (as `handlerLog`). */
  readonly onEvent: (event: CaptureEvent) => void;
}

/** What the handler wrote for a batch, over all its attempts. */
export interface Delivery {
  readonly files: CaptureResult['files'];
  readonly quarantined: number;
}

/**
 * Hands a batch of one shard's records (stream order) to `captureBatch`, as a Lambda event, until
 * the handler takes all of them. When it reports failed records (`batchItemFailures`), the records
 * before the first failed one are durable, so the batch is sent again from that record on, after a
 * backoff, as Lambda does with ReportBatchItemFailures; an identifier that names no record of the
 * batch sends it again whole. After `retry.attempts` calls throws `CaptureBatchFailedError` naming
 * the shard and the record. What the handler throws passes through at once (a refused view type or
 * batch is not retried). The backoff is not cut short by a stop request: the batch in hand is
 * finished, or fails, first.
 */
export async function deliverBatch(
  records: readonly SdkStreamRecord[],
  options: DeliveryOptions,
): Promise<Delivery> {
  const files: CaptureResult['files'][number][] = [];
  let quarantined = 0;
  let pending = records;
  for (let attempt = 1; ; attempt++) {
    const result = await captureBatch(toLambdaEvent(pending, options.streamArn), {
      store: options.store,
      shardId: options.shardId,
      log: (entry) => options.onEvent({ code: CaptureEventCode.handlerLog, level: entry.level, entry }),
    });
    files.push(...result.files);
    quarantined += result.quarantined.length;
    if (result.batchItemFailures.length === 0) return { files, quarantined };
    const from = firstFailedIndex(pending, result.batchItemFailures);
    const fromSequenceNumber = pending[from]?.dynamodb?.SequenceNumber ?? '(none)';
    if (attempt >= options.retry.attempts) {
      throw new CaptureBatchFailedError(options.shardId, fromSequenceNumber, attempt);
    }
    const delayMs = backoffDelay(attempt, options.retry);
    options.onEvent({
      code: CaptureEventCode.batchRetry,
      level: 'warn',
      shardId: options.shardId,
      attempt,
      fromSequenceNumber,
      delayMs,
    });
    await sleep(delayMs);
    pending = pending.slice(from);
  }
}

/** Index of the first record reported failed (SequenceNumbers compared as integers); 0 when none matches. */
function firstFailedIndex(
  records: readonly SdkStreamRecord[],
  failures: readonly { itemIdentifier: string }[],
): number {
  const failed = new Set<bigint>();
  for (const failure of failures) {
    if (/^[0-9]{1,40}$/.test(failure.itemIdentifier)) failed.add(BigInt(failure.itemIdentifier));
  }
  const index = records.findIndex((record) => {
    const text = record.dynamodb?.SequenceNumber;
    return text !== undefined && /^[0-9]{1,40}$/.test(text) && failed.has(BigInt(text));
  });
  return Math.max(0, index);
}
