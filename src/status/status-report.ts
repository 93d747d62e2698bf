import type { CaptureQuarantineEntry } from '../apply/inputs/capture-quarantine-gate.ts';
import type { RecordedShardGap } from '../capture/shard-gap.ts';

/*
 * What `ddb-lake status` reports about one table's pipeline: how far capture got and how old its
 * newest record is, what it could not capture (gaps, quarantine), what apply has not applied yet
 * and how old that is, the last batch, apply's quarantine and the table's lease; and, from those,
 * the problems a person must act on, each with what to do. Every age is measured against one
 * clock reading, `now`. The `--json` document is this report.
 */

/** How far capture got in one shard, or in one group of change files. */
export interface ShardPosition {
  /**
   * The shard id (a poller checkpoint, or a change file's shard folder), or `lambda` for the
   * change files of Lambda batches: a Lambda event carries no shard id, so each batch has a label
   * of its own (`lambda-<hash>`), and they are shown as one line.
   */
  readonly shard: string;
  /** Where the position comes from: the poller's checkpoint, or the newest change file's last record. */
  readonly source: 'checkpoint' | 'change-file';
  readonly parentShardId: string | null;
  /** A checkpoint that read its (closed) shard to the end. */
  readonly finished: boolean;
  /** SequenceNumber of the last record captured. */
  readonly lastSequenceNumber: string | null;
  /** ApproximateCreationDateTime of that record (ISO 8601), or null when unknown. */
  readonly lastRecordTime: string | null;
  /** `now` minus `lastRecordTime`, milliseconds. */
  readonly lastRecordAgeMs: number | null;
  /** When the checkpoint, or the change file, was written (ISO 8601). */
  readonly writtenAt: string;
  /** The change file the position was read from (change-file source), else null. */
  readonly file: string | null;
  /** Change files of the shard (or of the Lambda group) in the partitions listed; 0 for a checkpoint. */
  readonly files: number;
}

/** A gap capture recorded, and whether its changes are recovered anyway. */
export interface GapStatus extends RecordedShardGap {
  /** A complete incremental export of the table whose window holds the gap's, or null. */
  readonly recoveredBy: string | null;
  /** True when the gap ended before the Delta table's T − margin: its snapshot holds those changes. */
  readonly beforeSnapshot: boolean;
}

/**
 * One record capture wrote to quarantine instead of a change file (as the apply gate reads it),
 * and whether a batch accepted its loss.
 */
export interface CaptureQuarantineStatus extends CaptureQuarantineEntry {
  /** True when a committed batch accepted it as lost (`apply --accept-capture-quarantine`). */
  readonly accepted: boolean;
}

export interface CaptureStatus {
  /** `checkpoints` for a landing area the poller writes; `change-files` for the Lambda's; `none`. */
  readonly source: 'checkpoints' | 'change-files' | 'none';
  /** Newest record first. */
  readonly shards: readonly ShardPosition[];
  /** Shards (change-file source) whose newest file was not read: only the most recent are. */
  readonly shardsNotRead: number;
  /** Change-file source: the partitions listed start at this `dt=` date; null when all were listed. */
  readonly listedFrom: string | null;
  /** The newest record captured, over every shard (ISO 8601). */
  readonly newestRecordTime: string | null;
  /** `now` minus `newestRecordTime`: how far behind capture is, unless the table had no writes since. */
  readonly lagMs: number | null;
  readonly gaps: readonly GapStatus[];
  readonly quarantine: readonly CaptureQuarantineStatus[];
}

/** The last batch committed to the Delta table. */
export interface LastBatch {
  readonly batch: number;
  /** The Delta version that holds it, or null when its commit is no longer in the log. */
  readonly version: number | null;
  /** The commit's time (commitInfo.timestamp, ISO 8601). */
  readonly committedAt: string | null;
  readonly ageMs: number | null;
  /** `WRITE` (the first batch) or `MERGE`. */
  readonly operation: string | null;
  /** From the batch record: the snapshot of batch 1, inputs, the quarantine a replay batch replayed. */
  readonly snapshot: { readonly exportId: string; readonly exportTime: string } | null;
  readonly changeFiles: number | null;
  readonly incrementalExports: number | null;
  readonly replayedQuarantine: number | null;
  /** From the commit's operationMetrics: data files added and removed, rows and bytes written. */
  readonly filesAdded: number | null;
  readonly filesRemoved: number | null;
  readonly rowsWritten: number | null;
  readonly bytesWritten: number | null;
}

/** A batch whose record is stored but whose commit is not in the table: running, or interrupted. */
export interface PendingBatch {
  readonly batch: number;
  readonly createdAt: string;
  readonly changeFiles: number;
  readonly incrementalExports: number;
}

/** What no committed batch has taken yet, as the next batch would plan it. */
export interface Unapplied {
  readonly changeFiles: number;
  readonly incrementalExports: number;
  /** The first unapplied change file of the oldest partition, in apply's order, and its first record. */
  readonly oldest: {
    readonly key: string;
    readonly firstRecordTime: string | null;
    readonly ageMs: number | null;
  } | null;
  /** Partitions dated before this are settled (taken-index.ts) and not listed. */
  readonly settledBefore: string | null;
}

/** One batch's quarantine beside the table. */
export interface ApplyQuarantineEntry {
  readonly batch: number;
  /** The folder, relative to the Delta table. */
  readonly folder: string;
  readonly files: number;
  /** Lines in it; null when a later batch replayed it (not counted then). */
  readonly lines: number | null;
  /** The committed batch that replayed it (`apply --replay-quarantine`), or null. */
  readonly replayedBy: number | null;
}

/** The table's lease (one writer at a time), as its newest generation says. */
export interface LeaseStatus {
  /** `released` by its holder; `held` until `expiresAt`; `expired`: not released and past its expiry. */
  readonly state: 'released' | 'held' | 'expired';
  readonly host: string;
  readonly pid: number;
  readonly acquiredAt: string;
  readonly expiresAt: string;
}

export interface ApplyStatus {
  /** False while apply has not created the table (no commit at `--delta` yet). */
  readonly exists: boolean;
  readonly version: number | null;
  readonly appId: string | null;
  /** T − margin of the table's handoff (ISO 8601): older changes are in its snapshot. */
  readonly windowStart: string | null;
  readonly lastBatch: LastBatch | null;
  readonly pendingBatch: PendingBatch | null;
  readonly unapplied: Unapplied;
  readonly quarantine: readonly ApplyQuarantineEntry[];
  readonly lease: LeaseStatus | null;
}

/** What needs a person. */
export const StatusProblemCode = {
  /** A capture quarantine object that no batch accepted: apply commits no batch while it is there. */
  captureQuarantine: 'CAPTURE_QUARANTINE',
  /** A recorded gap whose changes no export recovers, after the table's T − margin. */
  shardGap: 'SHARD_GAP',
  /** Nothing shows capture ever ran: no checkpoint, no change file. */
  noCapture: 'NO_CAPTURE',
  /** The newest captured record is older than the allowed lag. */
  captureBehind: 'CAPTURE_BEHIND',
  /** The oldest change file not yet applied is older than the allowed lag. */
  applyBehind: 'APPLY_BEHIND',
  /** Quarantined lines of an apply batch that no batch replayed. */
  applyQuarantine: 'APPLY_QUARANTINE',
  /** The lease was not released and is past its expiry: a writer died or hangs. */
  leaseExpired: 'LEASE_EXPIRED',
} as const;

export type StatusProblemCode = (typeof StatusProblemCode)[keyof typeof StatusProblemCode];

export interface StatusProblem {
  readonly code: StatusProblemCode;
  /** What is wrong, where (shard, key, batch) and since when. */
  readonly message: string;
  /** What to do: the command to run, or what to check. */
  readonly action: string;
}

export interface StatusReport {
  readonly table: string;
  readonly landing: string;
  readonly delta: string | null;
  /** The clock reading every age is measured against (ISO 8601). */
  readonly now: string;
  readonly maxLagMs: number;
  /** True when there is no problem. */
  readonly healthy: boolean;
  readonly problems: readonly StatusProblem[];
  readonly capture: CaptureStatus;
  /** Null without `--delta`. */
  readonly apply: ApplyStatus | null;
}
