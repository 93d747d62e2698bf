import type { ObjectStore } from '../storage/object-store.ts';
import { captureStatePrefix } from './checkpoint.ts';

/** Why changes of a shard may be lost. */
export type ShardGapReason =
  /** DynamoDB Streams answered TrimmedDataAccessException: the records after the checkpoint were trimmed. */
  | 'TRIMMED_DATA_ACCESS'
  /** The shard is no longer in the stream (past its 24 hours) while its checkpoint was not at its end. */
  | 'SHARD_EXPIRED';

/**
 * A stretch of a shard that capture could not read because the stream no longer holds it: changes
 * in it may be lost, and only an incremental export of the time window can recover them. Stored at
 * `_ddb_lake/capture/<table>/gaps/<shardId>-<time>.json`.
 */
export interface ShardGap {
  readonly table: string;
  readonly streamArn: string;
  readonly shardId: string;
  readonly reason: ShardGapReason;
  /** The last record captured from the shard (exclusive lower bound), or null when none was. */
  readonly afterSequenceNumber: string | null;
  /** The first record the stream still held (exclusive upper bound), or null when unknown. */
  readonly beforeSequenceNumber: string | null;
  /**
   * Lost changes were made at or after this time (the last captured record's
   * ApproximateCreationDateTime), or null when unknown: then anything the stream's 24 hours held.
   */
  readonly fromTime: string | null;
  /** Lost changes were made before this time (when the gap was found). */
  readonly toTime: string;
  readonly detectedAt: string;
}

/** A gap as written, with the key of its record. */
export interface RecordedShardGap extends ShardGap {
  readonly key: string;
}

/**
 * Writes the record of a gap to `_ddb_lake/capture/<table>/gaps/<shardId>-<detectedAt>.json`
 * (the time in compact UTC, so keys sort by time). Writing the same gap twice writes the same key
 * and bytes. Store errors pass through: a gap that cannot be recorded must stop capture.
 */
export async function recordShardGap(store: ObjectStore, gap: ShardGap): Promise<RecordedShardGap> {
  const time = gap.detectedAt.replace(/[-:]/g, '').replace('.', '');
  const key = `${captureStatePrefix(gap.table)}gaps/${gap.shardId}-${time}.json`;
  const body: ShardGap = {
    table: gap.table,
    streamArn: gap.streamArn,
    shardId: gap.shardId,
    reason: gap.reason,
    afterSequenceNumber: gap.afterSequenceNumber,
    beforeSequenceNumber: gap.beforeSequenceNumber,
    fromTime: gap.fromTime,
    toTime: gap.toTime,
    detectedAt: gap.detectedAt,
  };
  await store.put(key, `${JSON.stringify(body, null, 2)}\n`);
  return { ...body, key };
}

/** Every gap recorded for the table, oldest first (for reports and the handoff check). */
export async function readShardGaps(store: ObjectStore, table: string): Promise<RecordedShardGap[]> {
  const gaps: RecordedShardGap[] = [];
  for await (const object of store.list(`${captureStatePrefix(table)}gaps/`)) {
    if (!object.key.endsWith('.json')) continue;
    const gap = JSON.parse(Buffer.from(await store.getBytes(object.key)).toString('utf8')) as ShardGap;
    gaps.push({ ...gap, key: object.key });
  }
  return gaps.sort((a, b) => Date.parse(a.detectedAt) - Date.parse(b.detectedAt));
}
