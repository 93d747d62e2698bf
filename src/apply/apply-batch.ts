import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DeltaEngine } from '../delta/engine.ts';
import { DeltaTableNotFoundError } from '../delta/errors.ts';
import { loadReadSnapshot } from '../delta/load-snapshot.ts';
import { latestTxnVersion, type ReadSnapshot } from '../delta/snapshot.ts';
import { duckdbEngine } from '../duckdb/duckdb-engine.ts';
import { DuckSession } from '../duckdb/session.ts';
import { tableNameOf } from '../formats/change-file-key.ts';
import {
  DEFAULT_APP_ID,
  hasTableLayout,
  readTableLayout,
  TABLE_NAME_PROPERTY,
  type TableLayout,
} from '../lake/table-layout.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { ApplyErrorCode, ApplyRunError } from './apply-errors.ts';
import { type ApplyEvent, ApplyEventCode } from './apply-events.ts';
import { catchUpCheckpoint } from './batch-commit.ts';
import { lastAppliedBatch } from './batch-completion.ts';
import type { BatchContext } from './batch-context.ts';
import type { BatchEngine } from './batch-engine.ts';
import { planBatch } from './batch-plan.ts';
import { readBatchRecord, storeBatchRecord } from './batch-record.ts';
import { replanBatch } from './batch-replan.ts';
import type { ApplyBatchResult, LocalBatchResult } from './batch-result.ts';
import { faultPoint } from './fault-points.ts';
import { assertFirstRunFlags } from './first-run-flags.ts';
import { gateNewBatch, gateStoredBatch } from './inputs/capture-quarantine-gate.ts';
import { assertLandingHasObjects } from './inputs/landing-check.ts';
import { laterBatch } from './merge/later-batch.ts';
import { mergesOnRead } from './merge/merge-on-read.ts';
import { firstBatch } from './snapshot/first-batch.ts';
import { acquireTableLease } from './table-lease.ts';
import { writeTakenIndex } from './taken-index.ts';

/*
 * One apply batch, exactly once (DESIGN.md rules 2–6). The batch after the table's latest txn of
 * the pipeline's appId is either rebuilt from its stored record (a run that stopped before its
 * commit; on request re-planned first, batch-replan.ts) or planned from what no earlier batch took, its record stored (put-if-absent) before
 * anything else and its taken index (taken-index.ts) right after; then the inputs are read and
 * folded, bad lines quarantined (the batch fails past `maxBad`), the schema evolved, the new files
 * written (the first batch bulk-loads the snapshot), tombstones written (and compacted every 16th
 * batch), and one commit made: remove + add + txn(appId, batch) [+ metaData].
 */

export interface ApplyOptions {
  /** The landing area (change files, exports, capture state). */
  readonly landing: ObjectStore;
  /** The Delta table's location. */
  readonly delta: ObjectStore;
  /** The DynamoDB table name or ARN (change-file prefix, handoff). */
  readonly table: string;
  /** Export id of the snapshot; default: the newest complete full export of the table (first run only). */
  readonly snapshot?: string;
  /**
   * The key attributes (first run); default: DescribeTable's with `dynamodb`, else the keys of the
   * change records. Checked against all of them and the snapshot's items (first-batch-keys.ts).
   */
  readonly keys?: { readonly partition: string; readonly sort?: string };
  /** A DynamoDB client: the first run reads the table's key schema with DescribeTable. */
  readonly dynamodb?: DynamoDBClient;
  /** Default 15 minutes (first run; later runs read it from the table). */
  readonly marginMs?: number;
  /** Default hard (the first run fixes it in the table configuration). */
  readonly deletes?: 'hard' | 'soft';
  /** Bad lines tolerated before the run fails; default 0. */
  readonly maxBad?: number;
  /** Key-hash buckets, the table's partition column; default 16 (first run). */
  readonly buckets?: number;
  /**
   * First run: merge-on-read with deletion vectors (rule 6 of docs/DESIGN.md), default true; false
   * keeps the copy-on-write layout for readers without deletion vectors.
   */
  readonly deletionVectors?: boolean;
  /**
   * After a batch, optimize the buckets it touched that pass the thresholds (a deleted share of 20 %,
   * more than 4 small files: table-optimize.ts); default true. False leaves it to `table optimize`.
   */
  readonly autoOptimize?: boolean;
  /** Rows per data file (first run); default 250,000. */
  readonly rowsPerFile?: number;
  /**
   * Plan the next new batch as the replay of this earlier batch's quarantine (its lines fixed in
   * place), and nothing else. A batch whose record already exists is rebuilt first (run again).
   */
  readonly replayQuarantine?: number;
  /**
   * Plan the next new batch from every batch record and a listing of every change-file partition,
   * not from the previous batch's taken index (taken-index.ts), which skips partitions dated more
   * than two days before the previous batch. For change files restored into such a partition.
   * A batch whose record already exists is rebuilt from it as always.
   */
  readonly rescan?: boolean;
  /**
   * Capture quarantine objects (keys, or names in the table's folder; `all`: every one there now)
   * to accept as lost with this batch, recorded in its record (DESIGN.md rule 7). Without it, any
   * object no batch accepted holds the batch (CaptureQuarantineBlockedError).
   */
  readonly acceptCaptureQuarantine?: readonly string[];
  /**
   * Plan the uncommitted batch (the one after the table's latest txn, whose record an earlier run
   * stored) again, with this run's first-run flags (batch 1), and store the new record, keeping the
   * old one beside it (batch-replan.ts). Refused when there is no uncommitted batch.
   */
  readonly replan?: boolean;
  /**
   * Re-plan the uncommitted batch (as `replan`) without these change files (keys in the landing
   * area), which its record lists: their records are left out of the batch, and the new record
   * says so (replan-record.ts).
   */
  readonly replanWithout?: readonly string[];
  /**
   * Default: one opened and closed by the call. A session passed in keeps the files it downloads
   * from an S3 table until it closes (createSnapshotView): close it now and then in a long loop.
   */
  readonly session?: DuckSession;
  readonly onEvent?: (event: ApplyEvent) => void;
  /** The clock (epoch ms) for commit timestamps and the duration; default `Date.now`. */
  readonly now?: () => number;
  /**
   * The engine that applies the planned batch (batch-engine.ts); default ours on this machine
   * (DuckDB). Planning, the record, the taken index, the lease and the gates are the same for all.
   */
  readonly engine?: BatchEngine;
  /**
   * Plan the batch and hand it to the engine's dry run, writing nothing (no record, no taken
   * index, no lease). Only for engines that have one (`engine.dryRun`).
   */
  readonly dryRun?: boolean;
}

export type {
  AppliedBatch,
  AppliedSchemaChange,
  ApplyBatchResult,
  LocalBatchResult,
  SkippedCounts,
  WarehouseBatch,
  WarehouseDryRun,
} from './batch-result.ts';

// Without tombstones: a batch never reads them, and after many merge-on-read batches they are most
// of the log (a checkpoint, which needs them, loads the whole snapshot itself).
async function loadTable(delta: ObjectStore, engine: DeltaEngine): Promise<ReadSnapshot | undefined> {
  try {
    return await loadReadSnapshot(delta, engine);
  } catch (error) {
    if (error instanceof DeltaTableNotFoundError) return undefined;
    throw error;
  }
}

function tableLayoutOf(table: ReadSnapshot, name: string): TableLayout {
  const configuration = table.metadata.configuration;
  if (!hasTableLayout(configuration)) {
    throw new ApplyRunError(
      ApplyErrorCode.tableMismatch,
      `The Delta table at ${table.tableUrl} was not created by ddb-lake apply (its properties hold no ddb_lake.keys), so apply cannot merge into it. Point --delta at a new, empty location; apply creates the table there.`,
    );
  }
  const follows = configuration[TABLE_NAME_PROPERTY];
  if (follows !== undefined && follows !== name) {
    throw new ApplyRunError(
      ApplyErrorCode.tableMismatch,
      `The Delta table at ${table.tableUrl} follows the DynamoDB table ${follows}, not ${name}. Check --table and --delta.`,
    );
  }
  return readTableLayout(configuration);
}

function positive(name: string, value: number | undefined, min: number): void {
  if (value !== undefined && (!Number.isSafeInteger(value) || value < min)) {
    throw new ApplyRunError(
      ApplyErrorCode.invalidOption,
      `${name} must be a whole number of at least ${min}, got ${value}.`,
    );
  }
}

/**
 * Applies one batch to the Delta table at `options.delta` (DESIGN.md rules 1–6) and says what it
 * did. Exactly once: the batch is the one after the table's latest txn of its appId; its record
 * (the list of its inputs) is stored before its commit and, when found stored, rebuilt exactly;
 * the commit carries txn(appId, batch), so a batch already in the table is never applied again.
 * Safe to run again after a crash at any point; one writer per table at a time: the run holds the
 * table's lease (table-lease.ts) and refuses with LeaseHeldError while another live writer does.
 *
 * The first batch needs a snapshot (the newest complete full export of the table, or
 * `options.snapshot`), checks the handoff (rule 2) and refuses one that the captured changes do
 * not cover, creates the table and loads the snapshot with every change from T − margin on.
 * Later batches take the change files (and incremental exports) no earlier batch took; with none,
 * the result is `nothing-new` and no batch is written (only the checkpoint of the table's version,
 * when a run killed after its commit skipped one).
 * Every batch, first or later, new, rebuilt or re-planned, passes the capture quarantine gate
 * (capture-quarantine-gate.ts, DESIGN.md rule 7) before its record is stored (a stored one before
 * its commit): a new batch takes the change files of records replayed from the capture quarantine,
 * and every batch records the objects `acceptCaptureQuarantine` accepts.
 * @throws HandoffRefusedError (first batch) with the problems and what to do; nothing written.
 * @throws CaptureQuarantineBlockedError while an object of the table's capture quarantine is
 *   neither replayed nor accepted, naming each; nothing written (also when nothing else is new).
 * @throws CaptureQuarantineUnknownError when `acceptCaptureQuarantine` names an object that is not
 *   in the quarantine; nothing written.
 * @throws TooManyBadLinesError when the batch's bad lines exceed `maxBad`; the lines are in the
 *   quarantine, nothing else of the batch is committed, a rerun rebuilds the same batch.
 * @throws ApplyRunError for a landing area that holds nothing (checked before anything is written),
 *   a table apply did not write, a missing snapshot, a damaged record;
 *   the readers', data plane's and Delta log's errors (DeltaConflictError when another writer
 *   changed the table meanwhile: run again).
 */
export async function applyBatch(
  options: ApplyOptions & { readonly engine?: undefined; readonly dryRun?: false },
): Promise<LocalBatchResult>;
export async function applyBatch(options: ApplyOptions): Promise<ApplyBatchResult>;
export async function applyBatch(options: ApplyOptions): Promise<ApplyBatchResult> {
  const clock = options.now ?? Date.now;
  const started = clock();
  if (options.dryRun === true && options.engine?.dryRun === undefined) {
    throw new ApplyRunError(
      ApplyErrorCode.invalidOption,
      `A dry run needs an engine that has one (--engine databricks prints the statements it would submit); the ${options.engine?.name ?? 'duckdb'} engine writes the batch itself.`,
    );
  }
  positive('maxBad', options.maxBad, 0);
  positive('buckets', options.buckets, 1);
  positive('rowsPerFile', options.rowsPerFile, 1);
  positive('marginMs', options.marginMs, 0);
  positive('replayQuarantine', options.replayQuarantine, 1);
  await assertLandingHasObjects(options.landing, tableNameOf(options.table));
  const run = (session: DuckSession) =>
    runBatch({
      options,
      session,
      engine: duckdbEngine(session),
      name: tableNameOf(options.table),
      clock,
      started,
      emit: options.onEvent ?? (() => {}),
    });
  if (options.dryRun === true) {
    // Nothing is written: no lease to hold.
    const session = options.session ?? (await DuckSession.open());
    try {
      return await run(session);
    } finally {
      if (options.session === undefined) await session.close();
    }
  }
  // DuckDB starts while the lease is taken: neither waits for the other.
  const opening = options.session === undefined ? DuckSession.open() : undefined;
  opening?.catch(() => {});
  let lease: Awaited<ReturnType<typeof acquireTableLease>>;
  try {
    lease = await acquireTableLease(options.delta, { now: clock });
  } catch (error) {
    await opening?.then((session) => session.close()).catch(() => {});
    throw error;
  }
  const session =
    options.session ??
    (await (opening as Promise<DuckSession>).catch(async (error) => {
      await lease.release();
      throw error;
    }));
  try {
    return await run(session);
  } finally {
    await Promise.all([options.session === undefined ? session.close() : undefined, lease.release()]);
  }
}

async function runBatch(context: BatchContext): Promise<ApplyBatchResult> {
  const { options, engine, name, clock, emit } = context;
  const { delta } = options;
  const table = await loadTable(delta, engine);
  const existingLayout = table === undefined ? undefined : tableLayoutOf(table, name);
  const appId = existingLayout?.appId ?? DEFAULT_APP_ID;
  // A warehouse cannot write txn: its batches are marked done beside the table (batch-completion.ts).
  const lastBatch = await lastAppliedBatch(
    delta,
    table === undefined ? 0 : (latestTxnVersion(table, appId) ?? 0),
  );
  const batch = lastBatch + 1;

  let record = await readBatchRecord(delta, batch);
  let rebuilt = record !== undefined;
  const replanning = options.replan === true || (options.replanWithout?.length ?? 0) > 0;
  // A re-plan takes this run's first-run flags; otherwise flags that differ from batch 1's record
  // or the table are refused, not silently ignored.
  await assertFirstRunFlags(options, delta, {
    ...(record === undefined || replanning ? {} : { pending: record }),
    ...(existingLayout === undefined ? {} : { layout: existingLayout }),
    ...(table === undefined ? {} : { deletionVectors: mergesOnRead(table) }),
  });
  if (replanning) {
    const replanned = await replanBatch(context, {
      batch,
      lastBatch,
      appId,
      layout: existingLayout,
      pending: record,
    });
    record = replanned.record;
    if (replanned.replan !== null) rebuilt = false;
  }
  const dryRun = options.dryRun === true;
  if (record === undefined) {
    const planned = await gateNewBatch(
      context,
      batch,
      appId,
      await planBatch(context, batch, appId, existingLayout),
    );
    if (planned === undefined) {
      return {
        outcome: 'nothing-new',
        batch: lastBatch,
        version: (table as ReadSnapshot).version,
        checkpoint: await catchUpCheckpoint(context, table as ReadSnapshot),
        durationMs: clock() - context.started,
      };
    }
    if (dryRun) {
      record = planned;
    } else {
      const stored = await storeBatchRecord(delta, planned);
      record = stored.record;
      rebuilt = !stored.created;
      if (rebuilt) record = await gateStoredBatch(context, record);
    }
  } else {
    record = await gateStoredBatch(context, record);
  }
  if (dryRun) {
    const engine = options.engine as BatchEngine & { dryRun: NonNullable<BatchEngine['dryRun']> };
    return engine.dryRun(context, { record, rebuilt, table, layout: existingLayout });
  }
  await writeTakenIndex(delta, record);
  emit({
    code: ApplyEventCode.batchPlanned,
    batch,
    rebuilt,
    snapshot: record.snapshot?.exportId ?? null,
    incrementalExports: record.incrementalExports.length,
    changeFiles: record.changeFiles.length,
  });
  faultPoint('after-batch-record');
  if (options.engine !== undefined) {
    return options.engine.apply(context, { record, rebuilt, table, layout: existingLayout });
  }
  return batch === 1
    ? firstBatch(context, record, rebuilt, table, existingLayout)
    : laterBatch(context, record, rebuilt, table, existingLayout);
}
