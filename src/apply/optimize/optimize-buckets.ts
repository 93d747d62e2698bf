import { randomUUID } from 'node:crypto';
import type { AddFile } from '../../delta/actions.ts';
import { commit } from '../../delta/commit.ts';
import type { DeltaEngine } from '../../delta/engine.ts';
import { DeltaConflictError } from '../../delta/errors.ts';
import { loadSnapshot } from '../../delta/load-snapshot.ts';
import type { ReadSnapshot } from '../../delta/snapshot.ts';
import { startTransaction } from '../../delta/transaction.ts';
import { isCheckpointBehind, writeCheckpoint } from '../../delta/write-checkpoint.ts';
import { type DuckSession, quoteIdentifier } from '../../duckdb/session.ts';
import { createSnapshotView } from '../../duckdb/table-scan.ts';
import { fileBucket, SYSTEM_COLUMN } from '../../lake/table-layout.ts';
import type { ObjectStore } from '../../storage/object-store.ts';
import { type ApplyEvent, ApplyEventCode } from '../apply-events.ts';
import { fileRows, type WrittenBuckets, writeBucketQueries, writeBucketsAtOnce } from '../bucket-files.ts';
import { faultPoint, withCheckpointFaultPoint } from '../fault-points.ts';
import { OptimizeError, OptimizeErrorCode } from './optimize-errors.ts';
import { type OptimizeEvent, OptimizeEventCode, type PlannedBucketSummary } from './optimize-events.ts';
import { type BucketPlan, tableRowsPerFile } from './optimize-plan.ts';

/*
 * The rewrite of planned buckets (optimize-plan.ts) and its one commit (DESIGN.md rule 6). The
 * chosen files are read through the deletion-vector-aware scan (table-scan.ts), so rows their
 * vectors hide are left behind; each bucket's live rows are written sorted by `_ddb_key` as files of
 * at most the table's rows per file (bucket-files.ts), so their key bounds in stats stay tight for
 * the batches that look keys up. One commit then swaps them: a `remove` of each rewritten logical
 * file (path and deletion vector) and an `add` of each new file, all `dataChange: false` (the table's
 * rows do not change; streaming readers skip the commit), operation OPTIMIZE. Before the commit the
 * rows written are counted against the rows the plan read, and a difference refuses the commit.
 *
 * Nothing here takes the table's lease: `optimizeTable` takes it for a run of its own, and apply
 * already holds it when it optimizes after a batch. A run killed before its commit leaves only
 * unreferenced files (vacuum deletes them) and the table as it was; a rerun plans again from the
 * table and finds the same buckets due, or none once the commit is in.
 */

/** What the rewrite of one bucket did. */
export interface OptimizedBucket extends PlannedBucketSummary {
  readonly filesAdded: number;
  readonly bytesAdded: number;
}

/** What an optimize did (or, in a dry run, would do). */
export interface OptimizeOutcome {
  /** `optimized`: committed; `nothing-to-do`: no bucket passed the thresholds; `dry-run`: planned only. */
  readonly outcome: 'optimized' | 'nothing-to-do' | 'dry-run';
  /** The version the plan read. */
  readonly readVersion: number;
  /** The version of the optimize's commit; null when nothing was committed. */
  readonly version: number | null;
  readonly buckets: readonly OptimizedBucket[];
  readonly filesRemoved: number;
  readonly filesAdded: number;
  /** Live rows rewritten (the same rows before and after). */
  readonly rows: number;
  /** Rows deletion vectors hid in the removed files, gone from the data files now. */
  readonly deletedRowsPurged: number;
  readonly bytesRemoved: number;
  readonly bytesAdded: number;
  readonly checkpoint: 'not-due' | 'written' | 'failed';
}

export interface OptimizeBucketsOptions {
  readonly session: DuckSession;
  /** The table's store (rooted at the table). */
  readonly delta: ObjectStore;
  readonly engine: DeltaEngine;
  /** The table as it is now; `plans` must come from this snapshot. */
  readonly table: ReadSnapshot;
  /** The buckets to rewrite: `bucketsToOptimize` of `table`. */
  readonly plans: readonly BucketPlan[];
  /** True when apply runs the optimize after a batch (commitInfo `auto`, as Spark's auto compaction). */
  readonly auto?: boolean;
  readonly onEvent?: (event: OptimizeEvent) => void;
  /** The clock (epoch ms) for the commit's timestamp; default `Date.now`. */
  readonly now?: () => number;
}

/** The summary of a planned bucket, for events and results. Pure. */
export function bucketSummary(plan: BucketPlan): PlannedBucketSummary {
  return {
    bucket: plan.bucket,
    files: plan.files.length,
    rows: plan.rows,
    deletedRows: plan.deletedRows,
    bytes: plan.bytes,
    reasons: {
      'deleted-share': plan.files.filter((f) => f.reason === 'deleted-share').length,
      'small-file': plan.files.filter((f) => f.reason === 'small-file').length,
      'deleted-along': plan.files.filter((f) => f.reason === 'deleted-along').length,
    },
  };
}

/** The outcome of a plan that is not carried out (nothing due, or a dry run). Pure. */
export function plannedOutcome(
  table: ReadSnapshot,
  plans: readonly BucketPlan[],
  outcome: 'nothing-to-do' | 'dry-run',
): OptimizeOutcome {
  const buckets = plans.map((plan) => ({ ...bucketSummary(plan), filesAdded: 0, bytesAdded: 0 }));
  return {
    outcome,
    readVersion: table.version,
    version: null,
    buckets,
    filesRemoved: buckets.reduce((sum, b) => sum + b.files, 0),
    filesAdded: 0,
    rows: buckets.reduce((sum, b) => sum + b.rows, 0),
    deletedRowsPurged: buckets.reduce((sum, b) => sum + b.deletedRows, 0),
    bytesRemoved: buckets.reduce((sum, b) => sum + b.bytes, 0),
    bytesAdded: 0,
    checkpoint: 'not-due',
  };
}

const q = quoteIdentifier;

/**
 * Rewrites the files of `plans` (each bucket's live rows, sorted by `_ddb_key`, in files of at most
 * the table's `ddb_lake.rowsPerFile` rows) and commits the swap in one commit on top of `table`
 * (see the top of this file), then writes the checkpoint when one is due (a failed checkpoint is
 * reported, never thrown). Fault points `optimize-after-data-files`, `optimize-before-commit`,
 * `optimize-after-commit`. The caller holds the table's lease. With no plan, commits nothing and
 * returns `nothing-to-do`.
 * @throws OptimizeError `OPTIMIZE_ROWS_DIFFER` when the files written hold another number of rows
 *   than the plan read (nothing committed); `OPTIMIZE_CONFLICT` when a concurrent commit removed a
 *   file being rewritten or changed the table's metadata (nothing committed; run again).
 * @throws the scan's errors (a data file or deletion vector missing or damaged), the writer's and
 *   the commit's (DeltaUnsupportedFeatureError for a table ddb-lake may not write).
 */
export async function optimizeBuckets(options: OptimizeBucketsOptions): Promise<OptimizeOutcome> {
  const { session, delta, engine, table, plans } = options;
  const emit = options.onEvent ?? (() => {});
  const clock = options.now ?? Date.now;
  if (plans.length === 0) return plannedOutcome(table, plans, 'nothing-to-do');

  const removed = plans.flatMap((plan) => plan.files.map((planned) => planned.file));
  const view = `__ddb_lake_optimize_${randomUUID()}`;
  await createSnapshotView(session, delta, { ...table, files: removed }, view);
  const rowsOf = new Map(plans.map((plan) => [plan.bucket, plan.rows]));
  const planOf = new Map(plans.map((plan) => [plan.bucket, plan]));
  const forward = (event: ApplyEvent): void => {
    if (event.code !== ApplyEventCode.bucketWritten) return;
    emit({
      code: OptimizeEventCode.bucketWritten,
      bucket: event.bucket,
      filesRemoved: planOf.get(event.bucket)?.files.length ?? 0,
      filesAdded: event.files,
      rows: event.rows,
      bytes: event.bytes,
      bucketsDone: event.bucketsDone,
      buckets: event.buckets,
    });
  };
  const rowsPerFile = tableRowsPerFile(table);
  let written: WrittenBuckets;
  try {
    // Every bucket's live rows fit one file (the usual case): one partitioned write for all of them.
    written = plans.every((plan) => plan.rows <= rowsPerFile)
      ? await writeBucketsAtOnce(session, delta, table.schema, `SELECT * FROM ${q(view)}`, forward)
      : await writeBucketQueries(
          session,
          delta,
          table.schema,
          plans.map((plan) => plan.bucket),
          (bucket) =>
            `SELECT * FROM ${q(view)} WHERE ${q(SYSTEM_COLUMN.bucket)} = ${bucket} ORDER BY ${q(SYSTEM_COLUMN.key)}`,
          rowsOf,
          rowsPerFile,
          forward,
        );
  } finally {
    await session.run(`DROP VIEW IF EXISTS ${q(view)}`);
  }

  const addsOf = new Map<number, AddFile[]>();
  for (const add of written.adds) {
    const bucket = fileBucket(add) as number;
    addsOf.set(bucket, [...(addsOf.get(bucket) ?? []), { ...add, dataChange: false }]);
  }
  for (const plan of plans) {
    const rows = (addsOf.get(plan.bucket) ?? []).reduce((sum, add) => sum + (fileRows(add) ?? 0), 0);
    if (rows !== plan.rows) {
      throw new OptimizeError(
        OptimizeErrorCode.rowsDiffer,
        `The rewrite of bucket ${plan.bucket} of the table at ${table.tableUrl} wrote ${rows} row(s), but its ${plan.files.length} file(s) (${plan.files.map((f) => f.file.path).join(', ')}) hold ${plan.rows} live row(s) by their stats and deletion vectors. Nothing was committed; the table is unchanged. A data file's stats or deletion vector disagree with its content: check the table with ddb-lake verify, and report the files.`,
      );
    }
  }
  faultPoint('optimize-after-data-files');

  const adds = plans.flatMap((plan) => addsOf.get(plan.bucket) ?? []);
  const transaction = startTransaction(table, {
    operation: 'OPTIMIZE',
    operationParameters: {
      predicate: '[]',
      zOrderBy: '[]',
      auto: String(options.auto === true),
      ddbLakeBuckets: JSON.stringify(plans.map((plan) => plan.bucket)),
    },
  })
    .removeFiles(removed, { dataChange: false })
    .addFiles(adds);
  faultPoint('optimize-before-commit');
  let version: number;
  try {
    const outcome = await commit(delta, engine, transaction, { checkpoint: false, now: clock() });
    // The transaction carries no txn, so it is never `already-applied`.
    version = outcome.outcome === 'committed' ? outcome.version : table.version;
  } catch (error) {
    if (!(error instanceof DeltaConflictError)) throw error;
    throw new OptimizeError(
      OptimizeErrorCode.conflict,
      `Another writer committed to the table at ${table.tableUrl} while the optimize rewrote buckets ${plans.map((p) => p.bucket).join(', ')}: ${error.message} The optimize's new data files are unreferenced (table vacuum deletes them once past the retention). Run the optimize again; it plans from the table as it is now.`,
      { cause: error },
    );
  }
  emit({ code: OptimizeEventCode.committed, version, filesRemoved: removed.length, filesAdded: adds.length });
  faultPoint('optimize-after-commit');

  let checkpoint: OptimizeOutcome['checkpoint'] = 'not-due';
  if (isCheckpointBehind(version, table.checkpointVersion, table.metadata.configuration)) {
    try {
      const snapshot = await loadSnapshot(delta, engine, { version });
      await writeCheckpoint(withCheckpointFaultPoint(delta), engine, snapshot, { now: clock() });
      checkpoint = 'written';
      emit({ code: OptimizeEventCode.checkpoint, version, outcome: 'written' });
    } catch (error) {
      checkpoint = 'failed';
      emit({
        code: OptimizeEventCode.checkpoint,
        version,
        outcome: 'failed',
        message: (error as Error).message,
      });
    }
  }

  const buckets = plans.map((plan): OptimizedBucket => {
    const bucketAdds = addsOf.get(plan.bucket) ?? [];
    return {
      ...bucketSummary(plan),
      filesAdded: bucketAdds.length,
      bytesAdded: bucketAdds.reduce((sum, add) => sum + add.size, 0),
    };
  });
  return {
    outcome: 'optimized',
    readVersion: table.version,
    version,
    buckets,
    filesRemoved: removed.length,
    filesAdded: adds.length,
    rows: written.rows,
    deletedRowsPurged: plans.reduce((sum, plan) => sum + plan.deletedRows, 0),
    bytesRemoved: plans.reduce((sum, plan) => sum + plan.bytes, 0),
    bytesAdded: written.bytes,
    checkpoint,
  };
}
