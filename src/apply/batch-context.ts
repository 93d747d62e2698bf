import type { DeltaEngine } from '../delta/engine.ts';
import type { ReadSnapshot } from '../delta/snapshot.ts';
import type { DuckSession } from '../duckdb/session.ts';
import type { BadLine } from '../formats/bad-line.ts';
import { CorruptGzipError } from '../formats/errors.ts';
import type { TableLayout } from '../lake/table-layout.ts';
import { ROWS_PER_FILE_PROPERTY } from '../lake/table-layout.ts';
import { ObjectNotFoundError } from '../storage/errors.ts';
import type { ApplyOptions } from './apply-batch.ts';
import { PinnedInputError, TooManyBadLinesError } from './apply-errors.ts';
import { type ApplyEvent, ApplyEventCode } from './apply-events.ts';
import { type BatchRecord, batchRecordKey, readBatchRecord } from './batch-record.ts';
import { DEFAULT_ROWS_PER_FILE } from './bucket-files.ts';
import { ChangeReduction, type ReducedChange } from './changes/change-reduction.ts';
import { writeCompactedTombstones } from './changes/tombstone-compaction.ts';
import { type Tombstone, writeTombstones } from './changes/tombstones.ts';
import { readBatchChanges } from './inputs/batch-inputs.ts';
import { QuarantineWriter } from './inputs/quarantine.ts';

/*
 * What every step of one batch shares (the options, the DuckDB session, the clock, the event
 * callback), and the steps the first and later batches both take: folding the inputs, quarantining
 * bad lines, writing tombstones.
 */

/** One batch's run: what its steps share. */
export interface BatchContext {
  readonly options: ApplyOptions;
  readonly session: DuckSession;
  readonly engine: DeltaEngine;
  readonly name: string;
  readonly clock: () => number;
  readonly started: number;
  readonly emit: (event: ApplyEvent) => void;
}

/**
 * Reads the batch's inputs (batch-inputs.ts) into the fold of the batch (change-reduction.ts) with
 * the table's keys, buckets, T and margin; returns the winners (one per key, by bucket then key),
 * the fold's counts and what reading saw (records, bad lines in input order).
 * @throws PinnedInputError when a change file the record lists is gone or damaged (the batch cannot
 *   be built without it); otherwise as readBatchChanges.
 */
export async function foldChanges(context: BatchContext, record: BatchRecord, layout: TableLayout) {
  const reduction = new ChangeReduction({
    keys: layout.keys,
    buckets: layout.buckets,
    exportTime: layout.exportTime,
    marginMs: layout.marginMs,
  });
  const snapshotKind =
    record.replayQuarantine === undefined
      ? 'export'
      : ((await readBatchRecord(context.options.delta, 1))?.snapshot?.kind ?? 'export');
  const { landing, delta } = context.options;
  const read = await readBatchChanges(landing, record, reduction, context.emit, {
    delta,
    snapshotKind,
  }).catch((error: unknown) => {
    const file =
      error instanceof ObjectNotFoundError
        ? error.key
        : error instanceof CorruptGzipError
          ? error.file
          : undefined;
    if (file === undefined || !record.changeFiles.includes(file)) throw error;
    throw new PinnedInputError(
      {
        batch: record.batch,
        record: batchRecordKey(record.batch),
        deltaUrl: delta.url,
        landingUrl: landing.url,
      },
      file,
      error instanceof ObjectNotFoundError ? 'missing' : 'damaged',
      { cause: error },
    );
  });
  return { winners: reduction.winners(), counts: reduction.counts(), read };
}

/**
 * Writes the batch's bad lines to its quarantine beside the table (replacing an earlier attempt's),
 * in the order given, and says how many and where.
 * @throws TooManyBadLinesError when there are more than `maxBad` (default 0): nothing of the batch
 *   is committed then.
 */
export async function quarantineBadLines(
  context: BatchContext,
  batch: number,
  lines: readonly BadLine[],
): Promise<{ count: number; location: string | null }> {
  const writer = new QuarantineWriter(context.options.delta, batch);
  for (const line of lines) {
    await writer.add(line);
    context.emit({
      code: ApplyEventCode.quarantined,
      file: line.file,
      line: line.line,
      reason: line.reason,
      count: writer.count,
    });
  }
  const summary = await writer.close();
  const location =
    summary.count === 0 ? null : `${context.options.delta.url.replace(/\/$/, '')}/${summary.folder}`;
  const maxBad = context.options.maxBad ?? 0;
  if (summary.count > maxBad)
    throw new TooManyBadLinesError(summary.count, maxBad, location as string, batch);
  return { count: summary.count, location };
}

/** Rows per data file: what the table recorded at creation, else the option, else the default. */
export function rowsPerFileOf(table: ReadSnapshot | undefined, options: ApplyOptions): number {
  const recorded = table?.metadata.configuration[ROWS_PER_FILE_PROPERTY];
  if (recorded !== undefined && /^[1-9][0-9]{0,9}$/.test(recorded)) return Number(recorded);
  return options.rowsPerFile ?? DEFAULT_ROWS_PER_FILE;
}

/**
 * Writes the tombstones of the batch's deletes that applied (all of them for the first batch:
 * every change beats the snapshot), then, on every 16th batch, the compacted tombstone file
 * (tombstone-compaction.ts). Soft deletes keep the row, whose version is the tombstone.
 */
export async function writeTombstonesOf(
  context: BatchContext,
  batch: number,
  layout: TableLayout,
  winners: readonly ReducedChange[],
  applied: ReadonlySet<string> | undefined,
): Promise<number> {
  if (layout.deletes === 'soft') return 0;
  const tombstones: Tombstone[] = [];
  for (const winner of winners) {
    if (winner.op === 'delete' && (applied === undefined || applied.has(winner.key))) {
      tombstones.push({ key: winner.key, order: winner.order });
    }
  }
  const written = await writeTombstones(context.options.delta, batch, tombstones);
  await writeCompactedTombstones(context.options.delta, batch);
  return written;
}
