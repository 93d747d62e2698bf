import type { AppliedBatch } from '../apply/batch-result.ts';
import type { VerifyReport } from '../verify/verify-report.ts';
import type { DemoWorkloadStats } from './demo-workload.ts';

/*
 * What the demo reports as it goes (events, rendered by the CLI) and what it returns (every step's
 * figures, for `--json`). The library never prints.
 */

/** One apply batch as the demo reports it. */
export interface DemoBatch {
  /** 1 for the batch that loads the backfill, then one per round. */
  readonly round: number;
  readonly outcome: 'applied' | 'nothing-new';
  readonly batch: number;
  readonly version: number;
  /** Snapshot items loaded (first batch) plus change records read. */
  readonly inputRows: number;
  readonly records: number;
  readonly changeFiles: number;
  readonly inserted: number;
  readonly updated: number;
  readonly deleted: number;
  readonly skipped: AppliedBatch['skipped'] | null;
  readonly schemaChanges: number;
  readonly rowsWritten: number;
  readonly ms: number;
  readonly rowsPerSecond: number;
}

/** The verify step's outcome, as the demo reports it. */
export interface DemoVerify {
  readonly equal: boolean;
  /** Live items in the DynamoDB table, and live rows in the Delta table. */
  readonly tableItems: number;
  readonly lakeRows: number;
  readonly missing: number;
  readonly extra: number;
  readonly different: number;
  /** The first differences, one line each (key and what differs). */
  readonly firstDifferences: readonly string[];
  readonly ms: number;
  /** Verify's own report, as it returned it. */
  readonly report: VerifyReport;
}

export type DemoEvent =
  | { readonly type: 'stack-started'; readonly dynamodbEndpoint: string; readonly ms: number }
  | { readonly type: 'table-created'; readonly table: string; readonly ms: number }
  | { readonly type: 'capture-started' }
  | { readonly type: 'write-progress'; readonly items: number; readonly of: number }
  | { readonly type: 'items-written'; readonly items: number; readonly ms: number }
  | { readonly type: 'workload-started'; readonly changesPerSecond: number }
  | {
      readonly type: 'handoff-waiting';
      readonly problem: string;
      readonly message: string;
      readonly coveredFrom: string | null;
      readonly readyAt: string | null;
      readonly marginMs: number;
    }
  | { readonly type: 'handoff-ready'; readonly coveredFrom: string | null; readonly waitedMs: number }
  | { readonly type: 'export-progress'; readonly items: number }
  | {
      readonly type: 'exported';
      readonly exportId: string;
      readonly items: number;
      readonly ms: number;
      readonly changesMeanwhile: number;
    }
  | { readonly type: 'applied'; readonly batch: DemoBatch }
  | { readonly type: 'workload-stopped'; readonly stats: DemoWorkloadStats }
  | {
      readonly type: 'capture-drained';
      readonly records: number;
      readonly files: number;
      readonly ms: number;
    }
  | { readonly type: 'verified'; readonly verify: DemoVerify }
  | { readonly type: 'stack-stopped' };

/** Every step's figures. */
export interface DemoResult {
  readonly outputDir: string;
  /** The landing area (change files, the Scan export, capture's checkpoints). */
  readonly landing: string;
  /** The Delta table's folder. */
  readonly delta: string;
  readonly table: string;
  readonly stackMs: number;
  readonly write: { readonly items: number; readonly ms: number; readonly itemsPerSecond: number };
  readonly handoff: {
    readonly marginMs: number;
    readonly coveredFrom: string | null;
    readonly waitedMs: number;
  };
  readonly backfill: {
    readonly exportId: string;
    readonly items: number;
    readonly ms: number;
    readonly itemsPerSecond: number;
    /** Changes the workload made while the Scan ran. */
    readonly changesMeanwhile: number;
  };
  readonly batches: readonly DemoBatch[];
  readonly workload: DemoWorkloadStats & { readonly changesPerSecond: number };
  /** Stream records and change files capture wrote, over all its runs. */
  readonly capture: { readonly records: number; readonly files: number };
  readonly verify: DemoVerify;
}
