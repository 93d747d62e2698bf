import type { DroppedInput } from './replan-record.ts';

/** Stable codes of the events `applyBatch` reports while it works. */
export const ApplyEventCode = {
  /** The batch's number and inputs are known (a new batch, or one rebuilt from its record). */
  batchPlanned: 'APPLY_BATCH_PLANNED',
  /** An uncommitted batch was planned again (`replan`, `replanWithout`): its record was replaced. */
  replanned: 'APPLY_BATCH_REPLANNED',
  /** The handoff was checked (first run only). */
  handoffChecked: 'APPLY_HANDOFF_CHECKED',
  /** A data file of the snapshot export was read (for the schema, or for its rows). */
  snapshotFileLoaded: 'APPLY_SNAPSHOT_FILE_LOADED',
  /** A change file (or incremental-export data file) was read. */
  changeFileRead: 'APPLY_CHANGE_FILE_READ',
  /** A line could not be read or applied and went to the quarantine. */
  quarantined: 'APPLY_QUARANTINED',
  /** The new content of one bucket was written as data files. */
  bucketWritten: 'APPLY_BUCKET_WRITTEN',
  /** The Delta commit of the batch was written (or found already there). */
  committed: 'APPLY_COMMITTED',
  /** A checkpoint was written after the commit (or it failed; the table is fine either way). */
  checkpoint: 'APPLY_CHECKPOINT',
} as const;

export type ApplyEventCode = (typeof ApplyEventCode)[keyof typeof ApplyEventCode];

/** An event of `applyBatch`. The library never prints; the CLI renders these. */
export type ApplyEvent =
  | {
      readonly code: typeof ApplyEventCode.replanned;
      readonly batch: number;
      /** The batch record's key beside the table (now the new plan). */
      readonly record: string;
      /** Where the record it replaced is kept. */
      readonly superseded: string;
      /** The change files this re-plan dropped. */
      readonly dropped: readonly DroppedInput[];
      /** Change files the new plan reads. */
      readonly changeFiles: number;
    }
  | {
      readonly code: typeof ApplyEventCode.batchPlanned;
      readonly batch: number;
      /** True when the batch record already existed: its inputs are replayed exactly. */
      readonly rebuilt: boolean;
      readonly snapshot: string | null;
      readonly incrementalExports: number;
      readonly changeFiles: number;
    }
  | {
      readonly code: typeof ApplyEventCode.handoffChecked;
      readonly ok: boolean;
      readonly exportTime: string;
      readonly windowStart: string;
    }
  | {
      readonly code: typeof ApplyEventCode.snapshotFileLoaded;
      /** `schema`: the first pass (inference); `rows`: the second (conversion and load). */
      readonly pass: 'schema' | 'rows';
      readonly file: string;
      /** Items read so far from the snapshot, and the data files done out of all. */
      readonly items: number;
      readonly filesDone: number;
      readonly files: number;
      /** Compressed bytes of the snapshot's data files read so far (for a rate). */
      readonly bytes: number;
      /** Milliseconds since the snapshot load started. */
      readonly elapsedMs: number;
    }
  | {
      readonly code: typeof ApplyEventCode.changeFileRead;
      readonly file: string;
      readonly records: number;
      readonly filesDone: number;
      readonly files: number;
    }
  | {
      readonly code: typeof ApplyEventCode.quarantined;
      readonly file: string;
      readonly line: number;
      readonly reason: string;
      /** Lines quarantined so far in this batch. */
      readonly count: number;
    }
  | {
      readonly code: typeof ApplyEventCode.bucketWritten;
      readonly bucket: number;
      readonly rows: number;
      readonly files: number;
      readonly bytes: number;
      readonly bucketsDone: number;
      readonly buckets: number;
    }
  | {
      readonly code: typeof ApplyEventCode.committed;
      readonly batch: number;
      readonly version: number;
      readonly outcome: 'committed' | 'already-applied';
    }
  | {
      readonly code: typeof ApplyEventCode.checkpoint;
      readonly version: number;
      readonly outcome: 'written' | 'failed';
      readonly message?: string;
    };
