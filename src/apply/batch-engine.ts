import type { ReadSnapshot } from '../delta/snapshot.ts';
import type { TableLayout } from '../lake/table-layout.ts';
import type { BatchContext } from './batch-context.ts';
import type { BatchRecord } from './batch-record.ts';
import type { ApplyBatchResult } from './batch-result.ts';

/*
 * The seam between the engine-neutral batch (apply-batch.ts: which inputs, the batch record, the
 * taken index, the lease, the handoff and quarantine gates) and the engine that applies it: ours
 * on this machine (DuckDB: snapshot/first-batch.ts, merge/later-batch.ts) or a Databricks SQL
 * warehouse (databricks/databricks-engine.ts). Both read and write the same table and the same
 * `_ddb_lake/` state, so either can take the batch after the other.
 */

/** A batch planned and gated: what an engine receives. */
export interface PlannedBatch {
  readonly record: BatchRecord;
  /** True when the record existed before this run (a rerun after a crash). */
  readonly rebuilt: boolean;
  /** The table as it is now, without tombstones; undefined before the first batch. */
  readonly table: ReadSnapshot | undefined;
  /** The table's layout; undefined before the first batch. */
  readonly layout: TableLayout | undefined;
}

/** An engine that applies planned batches. */
export interface BatchEngine {
  /** As `--engine` spells it. */
  readonly name: string;
  /**
   * Applies the batch exactly once (DESIGN.md rule 4): a batch already in the table is reported
   * `already-applied`; a run killed anywhere and run again gives the same table. Called with the
   * record stored, the taken index written and the table's lease held.
   */
  apply(context: BatchContext, batch: PlannedBatch): Promise<ApplyBatchResult>;
  /** Reports what `apply` would do without doing or writing anything; absent when the engine has none. */
  dryRun?(context: BatchContext, batch: PlannedBatch): Promise<ApplyBatchResult>;
}
