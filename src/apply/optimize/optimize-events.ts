import type { RewriteReason } from './optimize-plan.ts';

/** Stable codes of the events `optimizeTable` and `optimizeBuckets` report while they work. */
export const OptimizeEventCode = {
  /** The buckets to rewrite are known (also in a dry run, which stops there). */
  planned: 'OPTIMIZE_PLANNED',
  /** One bucket's chosen files were rewritten as new data files (not yet committed). */
  bucketWritten: 'OPTIMIZE_BUCKET_WRITTEN',
  /** The commit that swaps the files was written. */
  committed: 'OPTIMIZE_COMMITTED',
  /** A checkpoint was written after the commit (or it failed; the table is fine either way). */
  checkpoint: 'OPTIMIZE_CHECKPOINT',
} as const;

export type OptimizeEventCode = (typeof OptimizeEventCode)[keyof typeof OptimizeEventCode];

/** One bucket of a plan, as events and results tell it. */
export interface PlannedBucketSummary {
  readonly bucket: number;
  /** Files the rewrite removes. */
  readonly files: number;
  /** Live rows of those files: what the rewrite writes. */
  readonly rows: number;
  /** Rows their deletion vectors hide: what the rewrite purges. */
  readonly deletedRows: number;
  /** Bytes of the files removed. */
  readonly bytes: number;
  /** How many of its files are rewritten for each reason. */
  readonly reasons: Readonly<Record<RewriteReason, number>>;
}

/** An event of an optimize. The library never prints; the CLI renders these. */
export type OptimizeEvent =
  | {
      readonly code: typeof OptimizeEventCode.planned;
      /** The table version the plan read. */
      readonly version: number;
      readonly dryRun: boolean;
      readonly buckets: readonly PlannedBucketSummary[];
    }
  | {
      readonly code: typeof OptimizeEventCode.bucketWritten;
      readonly bucket: number;
      readonly filesRemoved: number;
      readonly filesAdded: number;
      readonly rows: number;
      readonly bytes: number;
      readonly bucketsDone: number;
      readonly buckets: number;
    }
  | {
      readonly code: typeof OptimizeEventCode.committed;
      readonly version: number;
      readonly filesRemoved: number;
      readonly filesAdded: number;
    }
  | {
      readonly code: typeof OptimizeEventCode.checkpoint;
      readonly version: number;
      readonly outcome: 'written' | 'failed';
      readonly message?: string;
    };
