import { ApplyErrorCode, ApplyRunError } from '../apply/apply-errors.ts';
import { lastAppliedBatch, readBatchCompletion } from '../apply/batch-completion.ts';
import { parseBatchText } from '../apply/batch-number.ts';
import {
  BATCH_RECORDS_FOLDER,
  batchRecordKey,
  parseBatchRecord,
  readBatchRecord,
} from '../apply/batch-record.ts';
import {
  compareChangeFiles,
  findIncrementalExports,
  findNewChangeFiles,
} from '../apply/inputs/input-discovery.ts';
import { listQuarantine } from '../apply/inputs/quarantine.ts';
import { findReplayedChangeFiles } from '../apply/inputs/replayed-change-files.ts';
import { readTableLease } from '../apply/table-lease.ts';
import { type TakenIndex, takenIndexBefore } from '../apply/taken-index.ts';
import type { DeltaEngine } from '../delta/engine.ts';
import { DeltaTableNotFoundError } from '../delta/errors.ts';
import { tableHistory } from '../delta/history.ts';
import { loadReadSnapshot } from '../delta/load-snapshot.ts';
import { latestTxnVersion, type ReadSnapshot } from '../delta/snapshot.ts';
import { parseChangeFileKey } from '../formats/change-file-key.ts';
import { readChangeFile } from '../formats/change-file-reader.ts';
import type { ChangeRecord } from '../formats/change-record.ts';
import { BadInputError } from '../formats/errors.ts';
import { hasTableLayout, readTableLayout, TABLE_NAME_PROPERTY } from '../lake/table-layout.ts';
import { mapLimited } from '../map-limited.ts';
import { readFirstChangeRecord } from '../plan/change-file-first-record.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import type {
  ApplyQuarantineEntry,
  ApplyStatus,
  LastBatch,
  LeaseStatus,
  PendingBatch,
  Unapplied,
} from './status-report.ts';

/*
 * The apply side of `ddb-lake status`: read from the Delta log (the latest txn of the pipeline's
 * appId is the last batch; its commit says when and what it wrote), the state beside the table
 * (batch records, the taken index, the quarantine, the lease) and the landing area. What is not
 * applied yet is decided exactly as apply plans its next batch: the previous batch's taken index
 * and `findNewChangeFiles`, so both always agree.
 */

/** Commits searched (newest first) for the one that holds the last batch's txn. */
const HISTORY_SEARCHED = 32;

/** Batch records read at once while looking for the batch that replayed a quarantine. */
const RECORDS_PER_ROUND = 64;

/**
 * The apply side of the pipeline of `table` whose Delta table is at `delta`. A location without a
 * table yet gives `exists: false` and every change file as unapplied (the first batch will take
 * them). Ages are `now` minus the record or commit times. Read-only.
 * @throws ApplyRunError `APPLY_TABLE_MISMATCH` for a table apply did not write or that follows
 *   another DynamoDB table; the Delta log's, state files' and stores' errors.
 */
export async function readApplyStatus(
  delta: ObjectStore,
  landing: ObjectStore,
  table: string,
  options: { readonly now: number; readonly engine: DeltaEngine },
): Promise<ApplyStatus> {
  const { now } = options;
  const snapshot = await loadTable(delta, options.engine);
  const lease = leaseStatus(await readTableLease(delta), now);
  if (snapshot === undefined) {
    const keys = await unappliedChangeFiles(landing, table, undefined);
    return {
      exists: false,
      version: null,
      appId: null,
      windowStart: null,
      lastBatch: null,
      pendingBatch: await pendingBatch(delta, 1),
      unapplied: {
        changeFiles: keys.length,
        incrementalExports: 0,
        oldest: await oldestOf(landing, keys, now),
        settledBefore: null,
      },
      quarantine: [],
      lease,
    };
  }
  const configuration = snapshot.metadata.configuration;
  if (!hasTableLayout(configuration)) {
    throw new ApplyRunError(
      ApplyErrorCode.tableMismatch,
      `The Delta table at ${snapshot.tableUrl} was not created by ddb-lake apply (its properties hold no ddb_lake.keys): there is no pipeline to report on. Check --delta.`,
    );
  }
  const follows = configuration[TABLE_NAME_PROPERTY];
  if (follows !== undefined && follows !== table) {
    throw new ApplyRunError(
      ApplyErrorCode.tableMismatch,
      `The Delta table at ${snapshot.tableUrl} follows the DynamoDB table ${follows}, not ${table}. Check --table and --delta.`,
    );
  }
  const layout = readTableLayout(configuration);
  // A warehouse's batches carry no txn: their completion marks count as well.
  const lastBatchNumber = await lastAppliedBatch(delta, latestTxnVersion(snapshot, layout.appId) ?? 0);
  // What batches up to the last committed one took: the index the next batch plans from.
  const taken = await takenIndexBefore(delta, lastBatchNumber + 1);
  const keys = await unappliedChangeFiles(landing, table, taken);
  const exports = await findIncrementalExports(
    landing,
    table,
    layout.exportTime - layout.marginMs,
    taken?.incrementalExports ?? new Set(),
  );
  return {
    exists: true,
    version: snapshot.version,
    appId: layout.appId,
    windowStart: new Date(layout.exportTime - layout.marginMs).toISOString(),
    lastBatch: lastBatchNumber === 0 ? null : await lastBatch(delta, layout.appId, lastBatchNumber, now),
    pendingBatch: await pendingBatch(delta, lastBatchNumber + 1),
    unapplied: {
      changeFiles: keys.length,
      incrementalExports: exports.length,
      oldest: await oldestOf(landing, keys, now),
      settledBefore: taken?.settledBefore ?? null,
    },
    quarantine: await quarantineStatus(delta, lastBatchNumber),
    lease,
  };
}

/**
 * The change files the next batch would take, as apply plans it: those `findNewChangeFiles` lists
 * past the taken index, and those of records replayed from the capture quarantine that no batch
 * took (found through their markers, whatever their partition; capture-quarantine-gate.ts), in
 * apply's order.
 */
async function unappliedChangeFiles(
  landing: ObjectStore,
  table: string,
  taken: TakenIndex | undefined,
): Promise<string[]> {
  const listed = await findNewChangeFiles(
    landing,
    table,
    taken?.changeFiles ?? new Set(),
    taken?.settledBefore ?? null,
  );
  const replayed = await findReplayedChangeFiles(
    landing,
    table,
    taken?.replayedCaptureQuarantine ?? new Set(),
  );
  const known = new Set([...listed, ...(taken?.changeFiles ?? [])]);
  const added = replayed.map((entry) => entry.changeFile).filter((key) => !known.has(key));
  return added.length === 0 ? listed : [...new Set([...listed, ...added])].sort(compareChangeFiles);
}

async function loadTable(delta: ObjectStore, engine: DeltaEngine): Promise<ReadSnapshot | undefined> {
  try {
    return await loadReadSnapshot(delta, engine);
  } catch (error) {
    if (error instanceof DeltaTableNotFoundError) return undefined;
    throw error;
  }
}

/**
 * The last batch: its commit, found by its txn among the newest commits (later commits, such as
 * `table optimize`, may follow it), or by the version its completion mark names (a warehouse's
 * batch), and its record.
 */
async function lastBatch(delta: ObjectStore, appId: string, batch: number, now: number): Promise<LastBatch> {
  const history = await tableHistory(delta, { limit: HISTORY_SEARCHED });
  const byTxn = history.find((entry) =>
    entry.txns.some((txn) => txn.appId === appId && txn.version === batch),
  );
  // A warehouse's batch carries no txn: its completion mark names the version it left.
  const completion = byTxn === undefined ? await readBatchCompletion(delta, batch) : undefined;
  const commit = byTxn ?? history.find((entry) => entry.version === completion?.version);
  const record = await readBatchRecord(delta, batch);
  const metric = (name: string): number | null => {
    const value = commit?.operationMetrics[name];
    return typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : null;
  };
  return {
    batch,
    version: commit?.version ?? null,
    committedAt: commit === undefined ? null : new Date(commit.timestamp).toISOString(),
    ageMs: commit === undefined ? null : Math.max(0, now - commit.timestamp),
    operation: commit?.operation ?? null,
    snapshot:
      record?.snapshot === undefined
        ? null
        : { exportId: record.snapshot.exportId, exportTime: record.snapshot.exportTime },
    changeFiles: record?.changeFiles.length ?? null,
    incrementalExports: record?.incrementalExports.length ?? null,
    replayedQuarantine: record?.replayQuarantine ?? null,
    filesAdded: metric('numFiles'),
    // A commit that removed nothing carries no numRemovedFiles.
    filesRemoved: commit === undefined ? null : (metric('numRemovedFiles') ?? 0),
    rowsWritten: metric('numOutputRows'),
    bytesWritten: metric('numOutputBytes'),
  };
}

/** The record of `batch` when it is stored: planned, not committed (running, or interrupted). */
async function pendingBatch(delta: ObjectStore, batch: number): Promise<PendingBatch | null> {
  const record = await readBatchRecord(delta, batch);
  if (record === undefined) return null;
  return {
    batch,
    createdAt: record.createdAt,
    changeFiles: record.changeFiles.length,
    incrementalExports: record.incrementalExports.length,
  };
}

/**
 * The oldest unapplied change file: the first, in apply's order, of the oldest `dt=` partition
 * (the date of each file's first record), with its first record's time.
 */
async function oldestOf(
  landing: ObjectStore,
  keys: readonly string[],
  now: number,
): Promise<Unapplied['oldest']> {
  let oldest: { key: string; date: string } | undefined;
  for (const key of keys) {
    const date = parseChangeFileKey(key)?.date;
    if (date !== undefined && (oldest === undefined || date < oldest.date)) oldest = { key, date };
  }
  if (oldest === undefined) return null;
  const first = await firstRecordOf(landing, oldest.key);
  return {
    key: oldest.key,
    firstRecordTime: first === undefined ? null : new Date(first.ts).toISOString(),
    ageMs: first === undefined ? null : Math.max(0, now - first.ts),
  };
}

/**
 * The first change record of a file: its first line in one ranged read, or, when that line is not
 * a change record (apply quarantines it), the first line that is.
 * @throws CorruptGzipError for a file that is not gzip; the store's errors.
 */
async function firstRecordOf(landing: ObjectStore, key: string): Promise<ChangeRecord | undefined> {
  try {
    return await readFirstChangeRecord(landing, key);
  } catch (error) {
    if (!(error instanceof BadInputError)) throw error;
  }
  for await (const { record } of readChangeFile(landing, key, { onBadLine: () => {} })) return record;
  return undefined;
}

/**
 * Every batch quarantine beside the table, with the committed batch (up to `lastBatch`) that
 * replayed it, found by reading the batch records after it until each is accounted for; the lines
 * of those not replayed are counted.
 */
async function quarantineStatus(delta: ObjectStore, lastBatch: number): Promise<ApplyQuarantineEntry[]> {
  const quarantined = await listQuarantine(delta);
  if (quarantined.length === 0) return [];
  const replayedBy = new Map<number, number>();
  const open = new Set(quarantined.map((entry) => entry.batch));
  const first = Math.min(...open);
  let keys: string[] = [];
  const readRound = async (): Promise<void> => {
    const records = await mapLimited(keys, 16, async (key) =>
      parseBatchRecord(await delta.getBytes(key), key),
    );
    for (const record of records) {
      const replayed = record.replayQuarantine;
      if (replayed !== undefined && open.has(replayed) && !replayedBy.has(replayed)) {
        replayedBy.set(replayed, record.batch);
        open.delete(replayed);
      }
    }
    keys = [];
  };
  for await (const object of delta.list(BATCH_RECORDS_FOLDER, { startAfter: batchRecordKey(first) })) {
    if (open.size === 0) break;
    const batch = parseBatchText(object.key.slice(BATCH_RECORDS_FOLDER.length).replace(/\.json$/, ''));
    if (batch === undefined) continue;
    if (batch > lastBatch) break;
    keys.push(object.key);
    if (keys.length >= RECORDS_PER_ROUND) await readRound();
  }
  if (open.size > 0 && keys.length > 0) await readRound();
  return mapLimited(quarantined, 4, async (entry) => {
    const replayer = replayedBy.get(entry.batch) ?? null;
    return {
      batch: entry.batch,
      folder: entry.folder,
      files: entry.files.length,
      lines: replayer === null ? await countLines(delta, entry.files) : null,
      replayedBy: replayer,
    };
  });
}

async function countLines(delta: ObjectStore, files: readonly string[]): Promise<number> {
  let lines = 0;
  for (const file of files) {
    const text = Buffer.from(await delta.getBytes(file)).toString('utf8');
    for (const line of text.split('\n')) if (line.trim() !== '') lines++;
  }
  return lines;
}

function leaseStatus(stored: Awaited<ReturnType<typeof readTableLease>>, now: number): LeaseStatus | null {
  if (stored === undefined) return null;
  const { lease } = stored;
  const state = lease.released ? 'released' : Date.parse(lease.expiresAt) > now ? 'held' : 'expired';
  return {
    state,
    host: lease.host,
    pid: lease.pid,
    acquiredAt: lease.acquiredAt,
    expiresAt: lease.expiresAt,
  };
}
