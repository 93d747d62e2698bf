import type { BackfillProgress } from './backfill-progress.ts';
import type { CapacityTarget } from './backfill-table.ts';
import type { TouchEstimate } from './touch-estimate.ts';

/** Stable codes of the events a touch run reports, for programs and renderers. */
export const TouchEventCode = {
  /** Confirmed: the run starts writing, or an unfinished one goes on. */
  started: 'TOUCH_STARTED',
  /** A page of items was touched and the segment's checkpoint written: running totals. */
  progress: 'TOUCH_PROGRESS',
  /** An item was deleted between the Scan and its write: nothing was written for it. */
  skipped: 'TOUCH_ITEM_SKIPPED',
  /** A segment was touched to its end. */
  segmentFinished: 'TOUCH_SEGMENT_FINISHED',
  /** DynamoDB throttled a Scan or a write; the rate was lowered and the request is tried again. */
  throttled: 'TOUCH_THROTTLED',
  /** Every item was touched. */
  finished: 'TOUCH_FINISHED',
  /** The run was stopped on request; every segment's position is checkpointed. */
  stopped: 'TOUCH_STOPPED',
} as const;

/** An event of a touch run. The library never prints; the CLI renders these. */
export type TouchEvent =
  | {
      readonly code: typeof TouchEventCode.started;
      readonly level: 'info';
      readonly runId: string;
      /** The value written to the marker attribute. */
      readonly marker: string;
      readonly resumed: boolean;
      readonly segments: number;
      readonly concurrency: number;
      /** Units per second the Scan and the writes may use (`Infinity` when unlimited), and why. */
      readonly readCapacity: CapacityTarget;
      readonly writeCapacity: CapacityTarget;
      readonly estimate: TouchEstimate;
    }
  | {
      readonly code: typeof TouchEventCode.progress;
      readonly level: 'info';
      readonly segment: number;
      readonly checkpoint: string;
      readonly progress: BackfillProgress;
      /** Totals of every run of this touch. */
      readonly touched: number;
      readonly skipped: number;
    }
  | {
      readonly code: typeof TouchEventCode.skipped;
      readonly level: 'info';
      /** The item's key as plain JSON. */
      readonly key: string;
    }
  | {
      readonly code: typeof TouchEventCode.segmentFinished;
      readonly level: 'info';
      readonly segment: number;
      readonly progress: BackfillProgress;
    }
  | {
      readonly code: typeof TouchEventCode.throttled;
      readonly level: 'warn';
      readonly operation: 'scan' | 'write';
      readonly segment: number;
      readonly attempt: number;
      readonly delayMs: number;
      readonly unitsPerSecond: number;
      readonly error: string;
    }
  | {
      readonly code: typeof TouchEventCode.finished | typeof TouchEventCode.stopped;
      readonly level: 'info';
      readonly runId: string;
      readonly touched: number;
      readonly skipped: number;
      readonly progress: BackfillProgress;
    };
