import type { WrittenExportSummary } from '../formats/export-writer.ts';
import type { BackfillProgress } from './backfill-progress.ts';
import type { CapacityTarget } from './backfill-table.ts';
import type { ScanThrottle } from './segment-scan.ts';

/** Stable codes of the events a Scan export reports, for programs and renderers. */
export const ScanEventCode = {
  /** The export started, or an unfinished one is resumed. */
  started: 'SCAN_STARTED',
  /** Data files of an earlier, killed run that no checkpoint lists were deleted. */
  orphansRemoved: 'SCAN_ORPHANS_REMOVED',
  /** A page was written: running totals. */
  progress: 'SCAN_PROGRESS',
  /** A data file was closed and the segment's checkpoint written. */
  checkpoint: 'SCAN_CHECKPOINT',
  /** A segment was read to its end. */
  segmentFinished: 'SCAN_SEGMENT_FINISHED',
  /** DynamoDB throttled a Scan; the rate was lowered and the page is tried again. */
  throttled: 'SCAN_THROTTLED',
  /** The manifests were written: the export is complete. */
  finished: 'SCAN_FINISHED',
  /** The run was stopped on request; every segment's position is checkpointed. */
  stopped: 'SCAN_STOPPED',
} as const;

/** An event of a Scan export. The library never prints; the CLI renders these. */
export type ScanEvent =
  | {
      readonly code: typeof ScanEventCode.started;
      readonly level: 'info';
      readonly exportId: string;
      readonly table: string;
      readonly tableArn: string;
      /** ISO-8601: the scan's start, the export time. */
      readonly startTime: string;
      readonly resumed: boolean;
      readonly segments: number;
      readonly segmentsDone: number;
      readonly concurrency: number;
      readonly consistentRead: boolean;
      /** Read units per second the run may use (`Infinity` when unlimited), and why. */
      readonly readCapacity: CapacityTarget;
      readonly estimatedItems: number;
      readonly estimatedBytes: number;
    }
  | {
      readonly code: typeof ScanEventCode.orphansRemoved;
      readonly level: 'info';
      readonly keys: readonly string[];
    }
  | {
      readonly code: typeof ScanEventCode.progress;
      readonly level: 'info';
      readonly progress: BackfillProgress;
    }
  | {
      readonly code: typeof ScanEventCode.checkpoint;
      readonly level: 'info';
      readonly segment: number;
      readonly checkpoint: string;
      readonly file: { readonly key: string; readonly items: number; readonly bytes: number };
    }
  | {
      readonly code: typeof ScanEventCode.segmentFinished;
      readonly level: 'info';
      readonly segment: number;
      /** Items of the segment, counting those of earlier runs. */
      readonly items: number;
      readonly progress: BackfillProgress;
    }
  | ({ readonly code: typeof ScanEventCode.throttled; readonly level: 'warn' } & ScanThrottle)
  | {
      readonly code: typeof ScanEventCode.finished;
      readonly level: 'info';
      readonly exportId: string;
      readonly summary: WrittenExportSummary;
      readonly progress: BackfillProgress;
    }
  | {
      readonly code: typeof ScanEventCode.stopped;
      readonly level: 'info';
      readonly exportId: string;
      readonly progress: BackfillProgress;
    };
