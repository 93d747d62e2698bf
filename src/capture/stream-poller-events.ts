import type { CaptureLogEntry } from './capture-log.ts';
import type { RecordedShardGap } from './shard-gap.ts';

/** Stable codes of the events the stream poller reports, for programs and renderers. */
export const CaptureEventCode = {
  /** DescribeStream was read: how many shards, how many readable now. */
  shardsListed: 'CAPTURE_SHARDS_LISTED',
  /** Reading of a shard begins, from its oldest record or after its checkpoint. */
  shardStarted: 'CAPTURE_SHARD_STARTED',
  /** The handler took a batch and the shard's checkpoint was written. */
  batchCaptured: 'CAPTURE_BATCH_CAPTURED',
  /** The end of a closed shard was read and recorded: a restart skips it. */
  shardFinished: 'CAPTURE_SHARD_FINISHED',
  /** The handler reported failed records; the batch is tried again from the first of them. */
  batchRetry: 'CAPTURE_BATCH_RETRY',
  /** A DynamoDB Streams call was throttled or failed and is tried again. */
  streamsRetry: 'CAPTURE_STREAMS_RETRY',
  /** A shard iterator expired and a new one was taken after the last record read. */
  iteratorExpired: 'CAPTURE_ITERATOR_EXPIRED',
  /** Changes of a shard may be lost: the stream no longer holds them. Recorded in the landing area. */
  gap: 'CAPTURE_GAP',
  /** An entry of the handler's structured log. */
  handlerLog: 'CAPTURE_HANDLER_LOG',
  /** One pass over the readable shards is done: running totals and the lag behind the stream. */
  progress: 'CAPTURE_PROGRESS',
} as const;

/** Running totals of a poller run. */
export interface CaptureProgress {
  /** Stream records handed to the handler (retried records count once per attempt that succeeded). */
  readonly records: number;
  readonly files: number;
  readonly bytes: number;
  readonly batches: number;
  /** Records the handler put in quarantine. */
  readonly quarantined: number;
  readonly shardsFinished: number;
  /** Shards being read now. */
  readonly shardsOpen: number;
  /**
   * How far behind the stream head capture is: now minus the ApproximateCreationDateTime of the
   * last record read, over the shards not yet caught up (0 when every shard's last read was empty).
   * DynamoDB Local rounds that time down to the minute, so expect up to a minute there.
   */
  readonly lagMs: number;
}

/** An event of the stream poller. The library never prints; the CLI renders these. */
export type CaptureEvent =
  | {
      readonly code: typeof CaptureEventCode.shardsListed;
      readonly level: 'info';
      readonly streamStatus: string;
      readonly shards: number;
      readonly readable: number;
      readonly waiting: number;
      readonly finished: number;
    }
  | {
      readonly code: typeof CaptureEventCode.shardStarted;
      readonly level: 'info';
      readonly shardId: string;
      readonly parentShardId: string | null;
      readonly from: 'TRIM_HORIZON' | 'AFTER_SEQUENCE_NUMBER';
      readonly afterSequenceNumber: string | null;
    }
  | {
      readonly code: typeof CaptureEventCode.batchCaptured;
      readonly level: 'info';
      readonly shardId: string;
      readonly records: number;
      readonly firstSequenceNumber: string;
      readonly lastSequenceNumber: string;
      readonly files: readonly { readonly key: string; readonly records: number; readonly bytes: number }[];
      readonly checkpoint: string;
      readonly progress: CaptureProgress;
    }
  | {
      readonly code: typeof CaptureEventCode.shardFinished;
      readonly level: 'info';
      readonly shardId: string;
      readonly lastSequenceNumber: string | null;
    }
  | {
      readonly code: typeof CaptureEventCode.batchRetry;
      readonly level: 'warn';
      readonly shardId: string;
      /** The attempt that failed (1 = the first call). */
      readonly attempt: number;
      readonly fromSequenceNumber: string;
      readonly delayMs: number;
    }
  | {
      readonly code: typeof CaptureEventCode.streamsRetry;
      readonly level: 'warn';
      readonly operation: string;
      readonly shardId: string | null;
      readonly attempt: number;
      readonly delayMs: number;
      /** `name: message` of the error. */
      readonly error: string;
    }
  | {
      readonly code: typeof CaptureEventCode.iteratorExpired;
      readonly level: 'info';
      readonly shardId: string;
      readonly resumeAfter: string | null;
    }
  | {
      readonly code: typeof CaptureEventCode.gap;
      readonly level: 'warn';
      readonly gap: RecordedShardGap;
    }
  | {
      readonly code: typeof CaptureEventCode.handlerLog;
      readonly level: 'info' | 'warn' | 'error';
      readonly entry: CaptureLogEntry;
    }
  | {
      readonly code: typeof CaptureEventCode.progress;
      readonly level: 'info';
      readonly progress: CaptureProgress;
    };
