import type { _Record as SdkStreamRecord } from '@aws-sdk/client-dynamodb-streams';
import { UsageError } from '../errors.ts';
import { tableNameOf } from '../formats/change-file-key.ts';
import { sleep } from '../sleep.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { readCheckpoints, type ShardCheckpoint, writeCheckpoint } from './checkpoint.ts';
import { type RecordedShardGap, recordShardGap, type ShardGapReason } from './shard-gap.ts';
import { shardLineage } from './shard-lineage.ts';
import { ShardReader } from './shard-reader.ts';
import {
  listStreamWithRetry,
  type StreamListing,
  type StreamShard,
  type StreamsApi,
  type StreamsRetryReport,
} from './stream-poller-api.ts';
import { BATCH_RETRY, type RetryPolicy, STREAMS_RETRY } from './stream-poller-backoff.ts';
import { deliverBatch } from './stream-poller-delivery.ts';
import { StreamsUnavailableError } from './stream-poller-errors.ts';
import { type CaptureEvent, CaptureEventCode, type CaptureProgress } from './stream-poller-events.ts';
import type { TableStream } from './stream-poller-table.ts';

export interface StreamPollerOptions {
  /** The stream to read and the table it belongs to (see `tableStream`). */
  readonly stream: TableStream;
  readonly streams: StreamsApi;
  /** The landing area: change files, checkpoints and gap records go there. */
  readonly store: ObjectStore;
  /** Records per handler call (GetRecords `Limit`), 1 to 1000; default 100, as Lambda's. */
  readonly batchSize?: number;
  /**
   * Stop once every shard is finished, or every shard being read returned no records in two
   * consecutive polls. Otherwise run until `signal` aborts (or the stream is disabled and read to its end).
   */
  readonly untilIdle?: boolean;
  /**
   * Stops the poller after the batch in hand (its checkpoint written). Give the same signal to
   * `streamsApiOf`, so that Streams calls in flight end at once too.
   */
  readonly signal?: AbortSignal;
  readonly onEvent?: (event: CaptureEvent) => void;
  /** Wait after a pass in which no shard returned records; default 1000 ms. */
  readonly pollIntervalMs?: number;
  /** How often the shard list is read again while nothing closes; default 60 s. */
  readonly describeIntervalMs?: number;
  /** Backoff for throttled or failing Streams calls. */
  readonly streamsRetry?: RetryPolicy;
  /** Backoff for handler calls that report failed records. */
  readonly batchRetry?: RetryPolicy;
}

/** Why a poller run ended. */
export type StopReason =
  /** `untilIdle`: every shard being read returned nothing twice in a row. */
  | 'idle'
  /** `untilIdle`: every shard of the stream was read to its end. */
  | 'finished'
  /** The stream is disabled and every shard was read to its end: nothing more can come. */
  | 'stream-disabled'
  /** `signal` aborted. */
  | 'signal';

/** What a poller run did. */
export interface StreamPollSummary extends CaptureProgress {
  readonly table: string;
  readonly streamArn: string;
  readonly stoppedBecause: StopReason;
  /** Gaps found in this run (each recorded in the landing area): changes may be lost. */
  readonly gaps: readonly RecordedShardGap[];
  /** Every shard read in this run, with where it stands. */
  readonly shards: readonly {
    readonly shardId: string;
    readonly lastSequenceNumber: string | null;
    readonly finished: boolean;
  }[];
  readonly elapsedMs: number;
}

interface ActiveShard {
  readonly shard: StreamShard;
  readonly reader: ShardReader;
  lastSequenceNumber: string | null;
  lastTime: string | null;
  emptyPolls: number;
  lagMs: number;
  finished: boolean;
}

interface Totals {
  records: number;
  files: number;
  bytes: number;
  batches: number;
  quarantined: number;
}

/**
 * Captures a table's DynamoDB stream into change files, as the Lambda handler does, by calling
 * `captureBatch` with events shaped exactly as Lambda's (`toLambdaEvent`, `eventSourceARN` the stream).
 *
 * Order: a shard is read only after its parent was read to its end (`shardLineage`); each shard in
 * stream order, `batchSize` records per handler call. Closed shards are read to their end and
 * marked finished; the shard list is read again when a shard finishes (to find its children) and
 * every `describeIntervalMs`.
 *
 * At-least-once: the shard's checkpoint (`_ddb_lake/capture/<table>/shards/<shardId>.json`) is
 * written after each handler call that succeeded, and a restart resumes after it
 * (AFTER_SEQUENCE_NUMBER). A batch handled but not checkpointed comes again; its records share
 * `(keys, seq)` with the first copy. When the handler reports failed records, the checkpoint stays
 * and the batch is retried from the first failed record with backoff, then `CaptureBatchFailedError`.
 *
 * Trimmed data (TrimmedDataAccessException, or an unfinished checkpoint of a shard the stream no
 * longer holds) is recorded as a gap under `_ddb_lake/capture/<table>/gaps/`, reported as a `gap`
 * event and in the summary, and reading goes on from the oldest record still there.
 *
 * Never prints: progress goes to `onEvent`. Throws what the handler throws (e.g.
 * `UnsupportedStreamViewTypeError` for a KEYS_ONLY stream), `StreamsUnavailableError` when Streams
 * calls keep failing, `BadCheckpointError`, `NoStreamError` when the stream is gone, store errors.
 */
export async function pollStream(options: StreamPollerOptions): Promise<StreamPollSummary> {
  const started = Date.now();
  const table = tableNameOf(options.stream.table);
  const { streamArn } = options.stream;
  const batchSize = options.batchSize ?? 100;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 1000) {
    throw new UsageError(`the batch size must be a whole number from 1 to 1000, got ${batchSize}`);
  }
  const pollIntervalMs = options.pollIntervalMs ?? 1000;
  const describeIntervalMs = options.describeIntervalMs ?? 60_000;
  const streamsRetry = options.streamsRetry ?? STREAMS_RETRY;
  const batchRetry = options.batchRetry ?? BATCH_RETRY;
  const emit = options.onEvent ?? (() => {});
  const signal = options.signal;
  const store = options.store;

  const checkpoints = await readCheckpoints(store, table);
  const finished = new Set([...checkpoints.values()].filter((c) => c.finished).map((c) => c.shardId));
  const active = new Map<string, ActiveShard>();
  const touched = new Map<string, ActiveShard>();
  const gaps: RecordedShardGap[] = [];
  const totals: Totals = { records: 0, files: 0, bytes: 0, batches: 0, quarantined: 0 };

  const progress = (): CaptureProgress => ({
    ...totals,
    shardsFinished: finished.size,
    shardsOpen: active.size,
    lagMs: Math.max(0, ...[...active.values()].map((shard) => shard.lagMs)),
  });

  const saveCheckpoint = (checkpoint: Omit<ShardCheckpoint, 'updatedAt'>): Promise<string> => {
    const written: ShardCheckpoint = { ...checkpoint, updatedAt: new Date().toISOString() };
    checkpoints.set(written.shardId, written);
    if (written.finished) finished.add(written.shardId);
    return writeCheckpoint(store, table, written);
  };

  const addGap = async (
    shardId: string,
    reason: ShardGapReason,
    after: { sequenceNumber: string | null; time: string | null },
    beforeSequenceNumber: string | null,
  ): Promise<void> => {
    const detectedAt = new Date().toISOString();
    const gap = await recordShardGap(store, {
      table,
      streamArn,
      shardId,
      reason,
      afterSequenceNumber: after.sequenceNumber,
      beforeSequenceNumber,
      fromTime: after.time,
      toTime: detectedAt,
      detectedAt,
    });
    gaps.push(gap);
    emit({ code: CaptureEventCode.gap, level: 'warn', gap });
  };

  const onStreamsRetry = (retry: StreamsRetryReport) =>
    emit({
      code: CaptureEventCode.streamsRetry,
      level: 'warn',
      operation: retry.operation,
      shardId: retry.shardId,
      attempt: retry.attempt,
      delayMs: retry.delayMs,
      error:
        retry.error instanceof Error ? `${retry.error.name}: ${retry.error.message}` : String(retry.error),
    });

  const list = async (): Promise<StreamListing> => {
    const listing = await listStreamWithRetry(options.streams, {
      table,
      streamArn,
      retry: streamsRetry,
      onRetry: onStreamsRetry,
      ...(signal === undefined ? {} : { signal }),
    });
    // An unfinished checkpoint of a shard the stream no longer holds: the rest of it is gone.
    const listed = new Set(listing.shards.map((shard) => shard.shardId));
    for (const checkpoint of checkpoints.values()) {
      if (checkpoint.finished || listed.has(checkpoint.shardId)) continue;
      await addGap(
        checkpoint.shardId,
        'SHARD_EXPIRED',
        { sequenceNumber: checkpoint.lastSequenceNumber, time: checkpoint.lastApproximateCreationDateTime },
        null,
      );
      await saveCheckpoint({ ...checkpoint, finished: true });
    }
    const lineage = shardLineage(listing.shards, finished);
    emit({
      code: CaptureEventCode.shardsListed,
      level: 'info',
      streamStatus: listing.status,
      shards: listing.shards.length,
      readable: lineage.readable.length,
      waiting: lineage.waiting.length,
      finished: listing.shards.filter((shard) => finished.has(shard.shardId)).length,
    });
    return listing;
  };

  const startShard = (shard: StreamShard): ActiveShard => {
    const checkpoint = checkpoints.get(shard.shardId);
    const after = checkpoint?.lastSequenceNumber ?? null;
    emit({
      code: CaptureEventCode.shardStarted,
      level: 'info',
      shardId: shard.shardId,
      parentShardId: shard.parentShardId ?? null,
      from: after === null ? 'TRIM_HORIZON' : 'AFTER_SEQUENCE_NUMBER',
      afterSequenceNumber: after,
    });
    const reader = new ShardReader({
      api: options.streams,
      streamArn,
      shardId: shard.shardId,
      start:
        after === null ? { type: 'TRIM_HORIZON' } : { type: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: after },
      limit: batchSize,
      retry: streamsRetry,
      onRetry: onStreamsRetry,
      onIteratorExpired: (resumeAfter) =>
        emit({
          code: CaptureEventCode.iteratorExpired,
          level: 'info',
          shardId: shard.shardId,
          resumeAfter: resumeAfter ?? null,
        }),
      ...(signal === undefined ? {} : { signal }),
    });
    const state: ActiveShard = {
      shard,
      reader,
      lastSequenceNumber: after,
      lastTime: checkpoint?.lastApproximateCreationDateTime ?? null,
      emptyPolls: 0,
      lagMs: 0,
      finished: false,
    };
    touched.set(shard.shardId, state);
    return state;
  };

  /** One read of one shard, handled and checkpointed; returns how many records it carried. */
  const pollShard = async (state: ActiveShard): Promise<number> => {
    const shardId = state.shard.shardId;
    let page = await state.reader.read();
    let trimmedAfter: { sequenceNumber: string | null; time: string | null } | undefined;
    if (page.kind === 'trimmed') {
      trimmedAfter = { sequenceNumber: state.lastSequenceNumber, time: state.lastTime };
      state.reader.restartFromTrimHorizon();
      page = await state.reader.read();
      // The oldest record cannot be trimmed away from under a fresh TRIM_HORIZON iterator twice.
      if (page.kind === 'trimmed') {
        throw new StreamsUnavailableError('GetRecords', `shard ${shardId} (from TRIM_HORIZON)`, 2, {
          cause: page.cause,
        });
      }
    }
    if (page.kind === 'gone') {
      await addGap(
        shardId,
        'SHARD_EXPIRED',
        trimmedAfter ?? { sequenceNumber: state.lastSequenceNumber, time: state.lastTime },
        null,
      );
      await finishShard(state);
      return 0;
    }
    const records = page.records;
    if (trimmedAfter !== undefined) {
      await addGap(
        shardId,
        'TRIMMED_DATA_ACCESS',
        trimmedAfter,
        records[0]?.dynamodb?.SequenceNumber ?? null,
      );
    }
    if (records.length === 0) {
      state.emptyPolls++;
      state.lagMs = 0;
      if (page.ended) await finishShard(state);
      return 0;
    }
    const { files, quarantined } = await deliverBatch(records, {
      store,
      streamArn,
      shardId,
      retry: batchRetry,
      onEvent: emit,
    });
    totals.files += files.length;
    totals.bytes += files.reduce((sum, file) => sum + file.bytes, 0);
    totals.quarantined += quarantined;
    const first = records[0] as SdkStreamRecord;
    const last = records[records.length - 1] as SdkStreamRecord;
    const lastSequenceNumber = last.dynamodb?.SequenceNumber as string;
    const lastCreated = last.dynamodb?.ApproximateCreationDateTime;
    state.lastSequenceNumber = lastSequenceNumber;
    state.lastTime = lastCreated === undefined ? state.lastTime : lastCreated.toISOString();
    state.emptyPolls = 0;
    state.lagMs = lastCreated === undefined ? 0 : Math.max(0, Date.now() - lastCreated.getTime());
    const checkpoint = await saveCheckpoint({
      shardId,
      parentShardId: state.shard.parentShardId ?? null,
      lastSequenceNumber,
      lastApproximateCreationDateTime: state.lastTime,
      finished: page.ended,
    });
    totals.records += records.length;
    totals.batches++;
    if (page.ended) markFinished(state);
    emit({
      code: CaptureEventCode.batchCaptured,
      level: 'info',
      shardId,
      records: records.length,
      firstSequenceNumber: first.dynamodb?.SequenceNumber as string,
      lastSequenceNumber,
      files,
      checkpoint,
      progress: progress(),
    });
    return records.length;
  };

  const markFinished = (state: ActiveShard): void => {
    state.finished = true;
    state.lagMs = 0;
    active.delete(state.shard.shardId);
    emit({
      code: CaptureEventCode.shardFinished,
      level: 'info',
      shardId: state.shard.shardId,
      lastSequenceNumber: state.lastSequenceNumber,
    });
  };

  const finishShard = async (state: ActiveShard): Promise<void> => {
    await saveCheckpoint({
      shardId: state.shard.shardId,
      parentShardId: state.shard.parentShardId ?? null,
      lastSequenceNumber: state.lastSequenceNumber,
      lastApproximateCreationDateTime: state.lastTime,
      finished: true,
    });
    markFinished(state);
  };

  /** `list`, or undefined when `signal` cut its DescribeStream call short. */
  const listUnlessStopped = async (): Promise<StreamListing | undefined> => {
    try {
      return await list();
    } catch (error) {
      if (signal?.aborted) return undefined;
      throw error;
    }
  };

  let listing = await listUnlessStopped();
  let listedAt = Date.now();
  let stoppedBecause: StopReason;
  for (;;) {
    if (signal?.aborted || listing === undefined) {
      stoppedBecause = 'signal';
      break;
    }
    for (const shard of shardLineage(listing.shards, finished).readable) {
      if (!active.has(shard.shardId)) active.set(shard.shardId, startShard(shard));
    }
    if (active.size === 0) {
      if (listing.status === 'DISABLED') {
        stoppedBecause = 'stream-disabled';
        break;
      }
      if (options.untilIdle) {
        stoppedBecause = 'finished';
        break;
      }
    } else if (options.untilIdle && [...active.values()].every((shard) => shard.emptyPolls >= 2)) {
      stoppedBecause = 'idle';
      break;
    }

    let recordsThisPass = 0;
    let anyFinished = false;
    for (const state of [...active.values()]) {
      if (signal?.aborted) break;
      recordsThisPass += await pollShard(state);
      anyFinished ||= state.finished;
    }
    emit({ code: CaptureEventCode.progress, level: 'info', progress: progress() });
    // A finished shard may have children to read at once; otherwise an empty pass waits.
    if (recordsThisPass === 0 && !anyFinished) await sleep(pollIntervalMs, signal);
    if (signal?.aborted) continue;
    if (anyFinished || active.size === 0 || Date.now() - listedAt >= describeIntervalMs) {
      listing = await listUnlessStopped();
      listedAt = Date.now();
    }
  }

  return {
    table,
    streamArn,
    ...progress(),
    stoppedBecause,
    gaps,
    shards: [...touched.values()].map((state) => ({
      shardId: state.shard.shardId,
      lastSequenceNumber: state.lastSequenceNumber,
      finished: state.finished,
    })),
    elapsedMs: Date.now() - started,
  };
}
