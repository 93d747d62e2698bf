import { loadReadSnapshot } from '../../delta/load-snapshot.ts';
import type { ReadSnapshot } from '../../delta/snapshot.ts';
import { supersedes } from '../../lake/change-order.ts';
import { SchemaEvolution } from '../../lake/schema-evolution.ts';
import type { TableLayout } from '../../lake/table-layout.ts';
import { ApplyErrorCode, ApplyRunError } from '../apply-errors.ts';
import { commitBatch } from '../batch-commit.ts';
import type { BatchContext } from '../batch-context.ts';
import { foldChanges, quarantineBadLines, rowsPerFileOf, writeTombstonesOf } from '../batch-context.ts';
import type { BatchRecord } from '../batch-record.ts';
import type { ApplyBatchResult, AutoOptimizeReport } from '../batch-result.ts';
import { recordInputsOf, schemaChangesOf } from '../batch-result.ts';
import { winnerItem } from '../changes/batch-rows.ts';
import type { ReducedChange } from '../changes/change-reduction.ts';
import { readTombstones } from '../changes/tombstones.ts';
import { faultPoint } from '../fault-points.ts';
import { optimizeAfterBatch } from '../optimize/table-optimize.ts';
import { type MergeOutcome, mergeWinners } from './merge.ts';
import { type MergeOnReadOutcome, mergeOnRead, mergesOnRead } from './merge-on-read.ts';

/*
 * A later batch (DESIGN.md rules 1 and 3): the new inputs folded, tombstones consulted, the schema
 * evolved, the files of the changed keys rewritten (merge.ts), one commit.
 */

/**
 * The optimize after a committed batch, on the buckets it touched, under the batch's lease; its
 * failure is reported, never thrown: the batch is in the table, and the next run optimizes again.
 */
async function autoOptimize(
  context: BatchContext,
  version: number,
  committed: ReadSnapshot | undefined,
  buckets: ReadonlySet<number>,
): Promise<AutoOptimizeReport> {
  const { options, session, engine, clock } = context;
  try {
    // The table the batch just committed, without reading the log again when the commit gave it.
    const table = committed ?? (await loadReadSnapshot(options.delta, engine, { version }));
    const done = await optimizeAfterBatch({
      session,
      delta: options.delta,
      engine,
      table,
      buckets,
      now: clock,
    });
    return {
      outcome: done.outcome === 'optimized' ? 'optimized' : 'nothing-to-do',
      version: done.version,
      buckets: done.buckets.length,
      filesRemoved: done.filesRemoved,
      filesAdded: done.filesAdded,
      rows: done.rows,
      deletedRowsPurged: done.deletedRowsPurged,
      bytesAdded: done.bytesAdded,
    };
  } catch (error) {
    return { outcome: 'failed', message: (error as Error).message };
  }
}

/**
 * Runs a batch after the first from its record: folds the inputs, drops winners not newer than
 * their key's tombstone (hard deletes), evolves the schema, quarantines bad lines (failing past
 * `maxBad` before any data file is written), merges (merge.ts), writes the tombstones of the
 * deletes that applied and commits, also when nothing changed (the txn marks the inputs taken).
 * @throws ApplyRunError when the table is gone; the steps' errors.
 */
export async function laterBatch(
  context: BatchContext,
  record: BatchRecord,
  rebuilt: boolean,
  table: ReadSnapshot | undefined,
  layout: TableLayout | undefined,
): Promise<ApplyBatchResult> {
  const { options, session, clock } = context;
  const { delta } = options;
  if (table === undefined || layout === undefined) {
    throw new ApplyRunError(
      ApplyErrorCode.tableMismatch,
      `Batch ${record.batch} is recorded beside ${delta.url}, but there is no Delta table there. Restore the table's _delta_log/, or move _ddb_lake/apply/ away and start over with a first batch.`,
    );
  }
  const { winners, counts, read } = await foldChanges(context, record, layout);
  let tombstoned = 0;
  let kept: readonly ReducedChange[] = winners;
  if (layout.deletes === 'hard' && winners.length > 0) {
    const found = await readTombstones(delta, new Set(winners.map((winner) => winner.key)), {
      before: record.batch,
    });
    kept = winners.filter((winner) => {
      const tombstone = found.get(winner.key);
      if (tombstone === undefined || supersedes(winner.order, tombstone.order)) return true;
      tombstoned++;
      return false;
    });
  }
  const evolution = new SchemaEvolution(layout, table.schema);
  for (const winner of kept) evolution.observe(winnerItem(winner, layout.deletes));
  const plan = evolution.result();
  const bad = await quarantineBadLines(context, record.batch, read.badLines);
  const mergeOptions = {
    session,
    delta,
    table,
    shape: { layout: plan.layout, schema: plan.schema },
    winners: kept,
    rowsPerFile: rowsPerFileOf(table, options),
    emit: context.emit,
  };
  const onRead = mergesOnRead(table);
  let merged: MergeOutcome | undefined;
  let marked: MergeOnReadOutcome | undefined;
  if (kept.length > 0) {
    if (onRead) {
      marked = await mergeOnRead(mergeOptions);
      merged = marked;
    } else {
      merged = await mergeWinners(mergeOptions);
    }
  }
  const tombstones = await writeTombstonesOf(
    context,
    record.batch,
    plan.layout,
    kept,
    merged?.appliedDeletes ?? new Set(),
  );
  faultPoint('after-data-files');
  const removed = merged?.removed ?? [];
  const adds = merged?.written.adds ?? [];
  const committed = await commitBatch(context, {
    base: table,
    plan,
    removed,
    adds,
    deletionVectors: marked?.marked ?? [],
    batch: record.batch,
    appId: record.appId,
  });
  if (committed.outcome === 'already-applied') {
    return {
      outcome: 'already-applied',
      batch: record.batch,
      version: committed.version,
      durationMs: clock() - context.started,
    };
  }
  return {
    outcome: 'applied',
    batch: record.batch,
    version: committed.version,
    appId: record.appId,
    rebuilt,
    snapshot: null,
    ...recordInputsOf(record),
    records: read.records,
    inserted: merged?.inserted ?? 0,
    updated: merged?.updated ?? 0,
    deleted: merged?.deleted ?? 0,
    skipped: {
      olderThanRow: merged?.olderThanRow ?? 0,
      tombstoned,
      beforeWindow: counts.skipped,
      duplicates: counts.duplicates + counts.superseded,
    },
    quarantined: bad.count,
    quarantine: bad.location,
    schemaChanges: schemaChangesOf(plan),
    bucketsRewritten: merged?.buckets ?? 0,
    filesRewritten: onRead ? 0 : removed.length,
    bytesRewritten: onRead ? 0 : removed.reduce((sum, file) => sum + file.size, 0),
    filesWritten: merged?.written.adds.length ?? 0,
    bytesWritten: (merged?.written.bytes ?? 0) + (marked?.deletionVectorBytes ?? 0),
    filesMarked: marked?.marked.length ?? 0,
    rowsMarked: marked?.rowsMarked ?? 0,
    rowsWritten: merged?.written.rows ?? 0,
    tombstones,
    checkpoint: committed.checkpoint,
    optimize:
      options.autoOptimize === false || kept.length === 0
        ? null
        : await autoOptimize(
            context,
            committed.version,
            committed.table,
            new Set(kept.map((winner) => winner.bucket)),
          ),
    durationMs: clock() - context.started,
  };
}
