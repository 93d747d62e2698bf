import type { DeltaEngine } from '../../delta/engine.ts';
import { loadReadSnapshot } from '../../delta/load-snapshot.ts';
import type { ReadSnapshot } from '../../delta/snapshot.ts';
import { duckdbEngine } from '../../duckdb/duckdb-engine.ts';
import { DuckSession } from '../../duckdb/session.ts';
import { hasTableLayout, PARTITION_COLUMNS } from '../../lake/table-layout.ts';
import type { ObjectStore } from '../../storage/object-store.ts';
import { acquireTableLease } from '../table-lease.ts';
import { bucketSummary, type OptimizeOutcome, optimizeBuckets, plannedOutcome } from './optimize-buckets.ts';
import { OptimizeError, OptimizeErrorCode } from './optimize-errors.ts';
import { type OptimizeEvent, OptimizeEventCode } from './optimize-events.ts';
import { bucketsToOptimize, type OptimizeThresholds, optimizeThresholds } from './optimize-plan.ts';

/*
 * `ddb-lake table optimize` (DESIGN.md rule 6): under the table's lease (the one apply takes, so an
 * optimize and a batch never run at once), plan from the table's log which buckets pass the
 * thresholds (optimize-plan.ts) and rewrite them in one commit (optimize-buckets.ts).
 */

export interface OptimizeTableOptions {
  /** The Delta table's location. */
  readonly delta: ObjectStore;
  /** Thresholds over the defaults (20 % deleted share, more than 4 small files). */
  readonly thresholds?: Partial<OptimizeThresholds>;
  /** Plan and report, write nothing (not even the lease). */
  readonly dryRun?: boolean;
  /** Default: one opened and closed by the call. */
  readonly session?: DuckSession;
  readonly onEvent?: (event: OptimizeEvent) => void;
  /** The clock (epoch ms) for the lease and the commit; default `Date.now`. */
  readonly now?: () => number;
}

export type { OptimizedBucket, OptimizeOutcome } from './optimize-buckets.ts';

/** What an optimize did, with the thresholds it planned by (the defaults with the options on top). */
export type OptimizeTableResult = OptimizeOutcome & { readonly thresholds: OptimizeThresholds };

async function lakeTable(delta: ObjectStore, engine: DeltaEngine): Promise<ReadSnapshot> {
  const table = await loadReadSnapshot(delta, engine);
  assertLakeTable(table);
  return table;
}

function thresholdsOf(
  table: ReadSnapshot,
  given: Partial<OptimizeThresholds> | undefined,
): OptimizeThresholds {
  try {
    return optimizeThresholds(table, given);
  } catch (error) {
    throw new OptimizeError(
      OptimizeErrorCode.invalidOption,
      `${(error as Error).message}; nothing was written.`,
      { cause: error },
    );
  }
}

function assertLakeTable(table: ReadSnapshot): void {
  const partitioned =
    table.partitionColumns.length === PARTITION_COLUMNS.length &&
    PARTITION_COLUMNS.every((column, index) => table.partitionColumns[index] === column);
  if (!hasTableLayout(table.metadata.configuration) || !partitioned) {
    throw new OptimizeError(
      OptimizeErrorCode.notALakeTable,
      `The Delta table at ${table.tableUrl} was not written by ddb-lake apply (its properties hold no ddb_lake.keys, or it is not partitioned by ${PARTITION_COLUMNS.join(', ')}), so it has no buckets to optimize. Nothing was written. Optimize it with the engine that writes it (Spark's OPTIMIZE), or point --delta at a table ddb-lake apply writes.`,
    );
  }
}

/**
 * Optimizes the ddb-lake table at `options.delta`: rewrites, per bucket, the files whose deleted
 * share passes the threshold and the small files of buckets that hold too many (optimize-plan.ts),
 * as key-sorted files without deleted rows, in one OPTIMIZE commit whose files are all
 * `dataChange: false`; readers see the same rows before and after. Takes the table's lease first
 * (not in a dry run) and releases it at the end. Idempotent: a run killed at any point leaves the
 * table as it was or optimized, and a rerun plans from the table as it is (nothing, once done).
 * A dry run plans and returns what it would rewrite, writing nothing.
 * @throws LeaseHeldError when another writer (apply, another optimize) holds the table; nothing written.
 * @throws OptimizeError for a table apply did not write, a threshold out of range, or as
 *   optimizeBuckets; DeltaTableNotFoundError when there is no table; the scan's, writer's and
 *   commit's errors.
 */
export async function optimizeTable(options: OptimizeTableOptions): Promise<OptimizeTableResult> {
  const clock = options.now ?? Date.now;
  const emit = options.onEvent ?? (() => {});
  const session = options.session ?? (await DuckSession.open());
  try {
    const engine = duckdbEngine(session);
    // Checked before the lease is taken, so a wrong --delta or flag leaves nothing behind.
    const first = await lakeTable(options.delta, engine);
    const thresholds = thresholdsOf(first, options.thresholds);
    const lease =
      options.dryRun === true ? undefined : await acquireTableLease(options.delta, { now: clock });
    try {
      // Read again under the lease: a batch may have committed since.
      const table = lease === undefined ? first : await lakeTable(options.delta, engine);
      const plans = bucketsToOptimize(table, thresholds);
      emit({
        code: OptimizeEventCode.planned,
        version: table.version,
        dryRun: options.dryRun === true,
        buckets: plans.map(bucketSummary),
      });
      if (options.dryRun === true) return { ...plannedOutcome(table, plans, 'dry-run'), thresholds };
      const outcome = await optimizeBuckets({
        session,
        delta: options.delta,
        engine,
        table,
        plans,
        onEvent: emit,
        now: clock,
      });
      return { ...outcome, thresholds };
    } finally {
      await lease?.release();
    }
  } finally {
    if (options.session === undefined) await session.close();
  }
}

export interface OptimizeAfterBatchOptions {
  readonly session: DuckSession;
  /** The table's store (rooted at the table). */
  readonly delta: ObjectStore;
  readonly engine: DeltaEngine;
  /** The table right after the batch's commit (loadReadSnapshot of the committed version). */
  readonly table: ReadSnapshot;
  /** The buckets the batch wrote to: only these are considered. */
  readonly buckets: Iterable<number>;
  /** Thresholds over the defaults (20 % deleted share, more than 4 small files). */
  readonly thresholds?: Partial<OptimizeThresholds>;
  readonly onEvent?: (event: OptimizeEvent) => void;
  readonly now?: () => number;
}

/**
 * The optimize apply runs after a batch (unless told not to): of the buckets the batch touched,
 * those that pass the thresholds are rewritten as `optimizeTable` rewrites them, in one commit
 * after the batch's (commitInfo `auto: true`); `nothing-to-do` when none passes. The caller holds
 * the table's lease (apply's own), so none is taken here. The batch is in the table whatever
 * happens here: an error leaves the table as the batch committed it, and the next optimize (apply's
 * or `table optimize`) finds the same buckets due.
 * @throws OptimizeError for a threshold out of range, or as optimizeBuckets.
 */
export async function optimizeAfterBatch(options: OptimizeAfterBatchOptions): Promise<OptimizeTableResult> {
  const emit = options.onEvent ?? (() => {});
  const { table } = options;
  assertLakeTable(table);
  const thresholds = thresholdsOf(table, options.thresholds);
  const plans = bucketsToOptimize(table, thresholds, options.buckets);
  emit({
    code: OptimizeEventCode.planned,
    version: table.version,
    dryRun: false,
    buckets: plans.map(bucketSummary),
  });
  const outcome = await optimizeBuckets({
    session: options.session,
    delta: options.delta,
    engine: options.engine,
    table,
    plans,
    auto: true,
    onEvent: emit,
    ...(options.now === undefined ? {} : { now: options.now }),
  });
  return { ...outcome, thresholds };
}
