import { gzipSync } from 'node:zlib';
import { expect } from 'vitest';
import type { ApplyBatchResult } from '../../src/apply/apply-batch.ts';
import { applyBatch } from '../../src/apply/apply-batch.ts';
import { writeCheckpoint } from '../../src/capture/checkpoint.ts';
import { changeRecordLine } from '../../src/formats/change-file-encoder.ts';
import { changeFileKey } from '../../src/formats/change-file-key.ts';
import type { ChangeRecord } from '../../src/formats/change-record.ts';
import { ExportWriter } from '../../src/formats/export-writer.ts';
import type { ObjectStore } from '../../src/storage/object-store.ts';
import { change, MINUTE, seq, TABLE } from '../apply/run-support.ts';
import { captureThrough } from '../apply/support/stream-records.ts';

/*
 * A real pipeline for status to report on, dated from one injected clock reading: a full export at
 * T = now − 30 min, change files written by capture's own code (captureBatch), the poller's
 * checkpoints written by its own writer, and batches applied by applyBatch with the same clock.
 * Nothing is dated by the calendar, so the tests pass on any day.
 */

export { MINUTE, TABLE };

export const SHARD = 'shardId-00000001795390000000-0000aaaa';
export const TABLE_ARN = 'arn:aws:dynamodb:us-east-1:111122223333:table/orders';

/** A clock reading for a test, whole seconds (Lambda's ApproximateCreationDateTime is seconds). */
export function clockReading(): number {
  return Math.floor(Date.now() / 1000) * 1000;
}

/** The export time of the pipeline's snapshot. */
export function snapshotTime(now: number): number {
  return now - 30 * MINUTE;
}

/** An order put at `ts`, the n-th record of the shard. */
export function put(n: number, ts: number, shard = SHARD): ChangeRecord {
  return change({
    op: 'INSERT',
    pk: `customer#${n}`,
    sk: 'order#0001',
    seq: seq(n),
    ts,
    attributes: { qty: { N: String(n) } },
    shard,
  });
}

/** Writes a full export of three orders at T (native layout, as `backfill` writes it). */
export async function writeSnapshot(landing: ObjectStore, exportTime: number): Promise<string> {
  const writer = await ExportWriter.start(landing, {
    tableArn: TABLE_ARN,
    exportTime: new Date(exportTime),
    s3Bucket: 'lake',
    s3Prefix: null,
  });
  for (const n of [101, 102, 103]) {
    await writer.write({ pk: { S: `customer#${n}` }, sk: { S: 'order#0001' }, qty: { N: String(n) } });
  }
  await writer.finish();
  return writer.exportId;
}

/**
 * Captures `records` as the poller does: captureBatch with the shard id, then the shard's checkpoint
 * (its last record), both at `now`.
 */
export async function pollerCaptures(
  landing: ObjectStore,
  records: readonly ChangeRecord[],
  now: number,
  options: { readonly damage?: readonly number[] } = {},
): Promise<void> {
  await captureThrough(landing, records, options);
  const last = records[records.length - 1] as ChangeRecord;
  await writeCheckpoint(landing, TABLE, {
    shardId: last.shard,
    parentShardId: null,
    lastSequenceNumber: last.seq,
    lastApproximateCreationDateTime: new Date(last.ts).toISOString(),
    finished: false,
    updatedAt: new Date(now).toISOString(),
  });
}

/** Applies one batch with the test's clock and expects it applied. */
export async function applyAt(
  landing: ObjectStore,
  delta: ObjectStore,
  now: number,
  options: {
    readonly maxBad?: number;
    readonly replayQuarantine?: number;
    readonly acceptCaptureQuarantine?: readonly string[];
  } = {},
): Promise<ApplyBatchResult> {
  const result = await applyBatch({ landing, delta, table: TABLE, now: () => now, ...options });
  expect(result.outcome).toBe('applied');
  return result;
}

/**
 * A healthy pipeline at `now`: the snapshot, a change captured before T − margin (coverage) and one
 * 5 minutes ago, the poller's checkpoint, batch 1 applied. Returns the export id.
 */
export async function healthyPipeline(
  landing: ObjectStore,
  delta: ObjectStore,
  now: number,
): Promise<string> {
  const exportId = await writeSnapshot(landing, snapshotTime(now));
  await pollerCaptures(landing, [put(1, snapshotTime(now) - 20 * MINUTE), put(2, now - 5 * MINUTE)], now);
  await applyAt(landing, delta, now);
  return exportId;
}

/**
 * A change file with one good record and one line that is not JSON, as a broken writer would leave
 * it (capture never writes such a line; apply quarantines it).
 */
export async function landBrokenChangeFile(landing: ObjectStore, good: ChangeRecord): Promise<string> {
  const key = changeFileKey({
    table: TABLE,
    shard: good.shard,
    firstSeq: good.seq,
    lastSeq: good.seq,
    firstTs: good.ts,
  });
  await landing.put(key, gzipSync(`${changeRecordLine(good)}\n{"op":"INSERT", this is not json\n`));
  return key;
}
