import type { SchemaEvolutionPlan } from '../lake/schema-evolution.ts';
import type { AcceptedCaptureQuarantine, BatchRecord } from './batch-record.ts';
import type { BatchReplan, DroppedInput } from './replan-record.ts';

/*
 * What one apply batch did, as `applyBatch` returns it: counts of rows and skipped records,
 * schema changes, the files rewritten (write amplification), the Delta version.
 */

/** Why records of a batch changed nothing. */
export interface SkippedCounts {
  /** Not newer than the row already in the table. */
  readonly olderThanRow: number;
  /** Not newer than the key's tombstone (a deleted key stays deleted). */
  readonly tombstoned: number;
  /** `ts` before T − margin: already in the snapshot. */
  readonly beforeWindow: number;
  /** The same (key, sequence number) seen again, or superseded by a later record of the batch. */
  readonly duplicates: number;
}

/** One change to the table's schema made by a batch, or values kept in a conflict column. */
export interface AppliedSchemaChange {
  /** `column`: a new attribute got a column; `conflict`: values whose type does not fit the attribute's column. */
  readonly kind: 'column' | 'conflict';
  readonly attribute: string;
  readonly column: string;
  /** The column's Delta type, as `table describe` shows it. */
  readonly type: string;
  /** For a conflict, the DynamoDB type of the values. */
  readonly valueType?: string;
  /** True when this batch added the column. */
  readonly added: boolean;
  /** Rows of the batch with a value in that column. */
  readonly rows: number;
  readonly reason?: string;
}

export interface AppliedBatch {
  readonly outcome: 'applied';
  readonly batch: number;
  /** The Delta version that holds the batch. */
  readonly version: number;
  readonly appId: string;
  /** True when the batch record existed before this run (a rerun after a crash). */
  readonly rebuilt: boolean;
  /** Set on the first batch: the snapshot loaded. */
  readonly snapshot: {
    readonly exportId: string;
    readonly kind: 'export' | 'scan';
    readonly exportTime: string;
    readonly items: number;
  } | null;
  readonly changeFiles: number;
  readonly incrementalExports: number;
  /** The batch whose quarantine this batch replayed, or null. */
  readonly replayedQuarantine: number | null;
  /** Capture quarantine objects this batch accepted as lost (DESIGN.md rule 7), as its record lists them. */
  readonly acceptedCaptureQuarantine: readonly AcceptedCaptureQuarantine[];
  /** Records replayed from the capture quarantine whose change files this batch took. */
  readonly replayedCaptureRecords: number;
  /** Change files re-plans dropped from the batch (its record says so), and those re-plans. */
  readonly dropped: readonly DroppedInput[];
  readonly replans: readonly BatchReplan[];
  /** Change records and incremental-export lines read. */
  readonly records: number;
  readonly inserted: number;
  readonly updated: number;
  readonly deleted: number;
  readonly skipped: SkippedCounts;
  readonly quarantined: number;
  /** Where the quarantined lines are, beside the table; null when none. */
  readonly quarantine: string | null;
  readonly schemaChanges: readonly AppliedSchemaChange[];
  readonly bucketsRewritten: number;
  /** Data files removed by the commit, and their bytes (the share of the table rewritten). */
  readonly filesRewritten: number;
  readonly bytesRewritten: number;
  /** Data files added by the commit, and the bytes written (data files and deletion vector files). */
  readonly filesWritten: number;
  readonly bytesWritten: number;
  /** Merge-on-read: files given a new deletion vector, and the rows it newly marks deleted. */
  readonly filesMarked: number;
  readonly rowsMarked: number;
  /** Rows in the files written. */
  readonly rowsWritten: number;
  readonly tombstones: number;
  readonly checkpoint: 'not-due' | 'written' | 'failed';
  /**
   * The optimize run after the batch (table-optimize.ts) on the buckets it touched; null when none
   * ran (first batch, nothing merged, or --no-auto-optimize). A failure leaves the batch committed.
   */
  readonly optimize: AutoOptimizeReport | null;
  readonly durationMs: number;
}

/** What apply's automatic optimize did after a batch. */
export type AutoOptimizeReport =
  | {
      readonly outcome: 'optimized' | 'nothing-to-do';
      readonly version: number | null;
      readonly buckets: number;
      readonly filesRemoved: number;
      readonly filesAdded: number;
      readonly rows: number;
      readonly deletedRowsPurged: number;
      readonly bytesAdded: number;
    }
  | { readonly outcome: 'failed'; readonly message: string };

/** A statement a SQL warehouse ran for a batch, or would run (a dry run: no id). */
export interface WarehouseStatement {
  readonly purpose: string;
  readonly statementId: string | null;
  readonly sql: string;
  readonly parameters: readonly { readonly name: string; readonly value: string; readonly type: string }[];
}

/** A batch a SQL warehouse applied (`--engine databricks`). */
export interface WarehouseBatch {
  readonly outcome: 'applied';
  readonly engine: 'databricks';
  readonly batch: number;
  /** The Delta version that holds the batch, read back from the table's log. */
  readonly version: number;
  readonly appId: string;
  readonly rebuilt: boolean;
  /** Set on the first batch: the snapshot loaded. */
  readonly snapshot: {
    readonly exportId: string;
    readonly kind: 'export' | 'scan';
    readonly exportTime: string;
  } | null;
  readonly changeFiles: number;
  readonly replayedQuarantine: null;
  readonly schemaChanges: readonly AppliedSchemaChange[];
  /** As the MERGE reported them; null when the warehouse did not (a rerun that changed nothing reports 0). */
  readonly inserted: number | null;
  readonly updated: number | null;
  readonly deleted: number | null;
  readonly tombstones: number;
  readonly statements: readonly WarehouseStatement[];
  readonly durationMs: number;
}

/** What `--engine databricks --dry-run` would submit for the next batch; nothing was written. */
export interface WarehouseDryRun {
  readonly outcome: 'dry-run';
  readonly engine: 'databricks';
  readonly batch: number;
  readonly rebuilt: boolean;
  readonly changeFiles: number;
  readonly schemaChanges: readonly AppliedSchemaChange[];
  readonly statements: readonly WarehouseStatement[];
  readonly durationMs: number;
}

export type ApplyBatchResult =
  | AppliedBatch
  | WarehouseBatch
  | WarehouseDryRun
  | {
      /** No input that earlier batches have not taken: no batch was written. */
      readonly outcome: 'nothing-new';
      /** The latest batch in the table. */
      readonly batch: number;
      readonly version: number;
      /** `written` when the table's checkpoint was behind (a killed run skipped it) and was caught up. */
      readonly checkpoint: 'not-due' | 'written' | 'failed';
      readonly durationMs: number;
    }
  | {
      /** Another writer committed this batch first: nothing was written by this run. */
      readonly outcome: 'already-applied';
      readonly batch: number;
      readonly version: number;
      readonly durationMs: number;
    };

/** The schema changes of a batch for its result: columns added, and values kept in conflict columns (new or not). Pure. */
export function schemaChangesOf(plan: SchemaEvolutionPlan): AppliedSchemaChange[] {
  const changes: AppliedSchemaChange[] = [];
  for (const change of plan.changes) {
    if (change.change !== 'column-added') continue;
    changes.push({
      kind: 'column',
      attribute: change.attribute,
      column: change.column,
      type: change.type,
      added: true,
      rows: change.rows,
      reason: change.reason,
    });
  }
  const added = new Map(
    plan.changes
      .filter((change) => change.change === 'conflict-column-added')
      .map((change) => [change.column, change]),
  );
  for (const conflict of plan.conflicts) {
    const change = added.get(conflict.column);
    changes.push({
      kind: 'conflict',
      attribute: conflict.attribute,
      column: conflict.column,
      type: 'string',
      valueType: conflict.type,
      added: change !== undefined,
      rows: conflict.rows,
      ...(change === undefined ? {} : { reason: change.reason }),
    });
  }
  return changes;
}

/** What a batch's result says of its inputs, as its record lists them (either batch kind). Pure. */
export function recordInputsOf(
  record: BatchRecord,
): Pick<
  AppliedBatch,
  | 'changeFiles'
  | 'incrementalExports'
  | 'replayedQuarantine'
  | 'acceptedCaptureQuarantine'
  | 'replayedCaptureRecords'
  | 'dropped'
  | 'replans'
> {
  return {
    changeFiles: record.changeFiles.length,
    incrementalExports: record.incrementalExports.length,
    replayedQuarantine: record.replayQuarantine ?? null,
    acceptedCaptureQuarantine: record.acceptedCaptureQuarantine ?? [],
    replayedCaptureRecords: record.replayedCaptureQuarantine?.length ?? 0,
    dropped: record.dropped ?? [],
    replans: record.replans ?? [],
  };
}

/** What a batch on this machine's engine (the default) gives: never a warehouse's result. */
export type LocalBatchResult = Exclude<ApplyBatchResult, WarehouseBatch | WarehouseDryRun>;
