import { DeltaTableNotFoundError } from '../delta/errors.ts';
import { loadReadSnapshot } from '../delta/load-snapshot.ts';
import { latestTxnVersion } from '../delta/snapshot.ts';
import type { TableLayout } from '../lake/table-layout.ts';
import { ApplyErrorCode, ApplyRunError } from './apply-errors.ts';
import { ApplyEventCode } from './apply-events.ts';
import { lastAppliedBatch } from './batch-completion.ts';
import type { BatchContext } from './batch-context.ts';
import { planBatch } from './batch-plan.ts';
import { type BatchRecord, batchRecordKey, readBatchRecords, serializeBatchRecord } from './batch-record.ts';
import { faultPoint } from './fault-points.ts';
import { type BatchReplan, type DroppedInput, supersededRecordKey } from './replan-record.ts';

/*
 * Re-planning an uncommitted batch (DESIGN.md rule 4). A batch is pinned to the inputs its record
 * lists, so that a run after a crash rebuilds exactly that batch. When a listed change file is lost
 * for good (or truncated, and its records expired from the stream), or batch 1 was planned with
 * wrong first-run flags, a person asks for a new plan (`apply --replan`, `--replan-without <file>`):
 *
 *   1. only the batch after the table's latest txn, whose record exists, is re-planned: a batch in
 *      the table is never (its records are in the table); the refusal says why;
 *   2. the batch is planned again as a new batch would be (batch 1: this run's first-run flags,
 *      else the recorded ones), without the change files named; a change file the old record lists
 *      that is now gone must be named too, so that nothing is dropped unless a person said so;
 *   3. the old record is copied, byte for byte, with put-if-absent to
 *      `<batch>.superseded-<k>.json` beside it; then the new record, which lists what was dropped
 *      and the re-plan (replan-record.ts), replaces it with one atomic put; the run then rewrites
 *      the batch's taken index from it, as every run does, and builds the batch.
 *
 * Killed at any point, the batch is whole: before the replacing put the old record is in force (a
 * copy of it left beside is the same bytes, which the next re-plan reuses); after it, the new one.
 * Asked again after that, the re-plan finds the files already dropped and does nothing. It runs
 * under the table's lease (one writer); right before the replacing put it checks again that the
 * batch is not in the table. A writer that stalled past its lease and then commits the old plan
 * wins by the txn: this run then finds its batch already applied, and the records it dropped are in
 * the table after all.
 */

/** What `replanBatch` left in force. */
export interface ReplanOutcome {
  readonly record: BatchRecord;
  /** The re-plan this run made, or null when the record already was the plan asked for. */
  readonly replan: BatchReplan | null;
}

function refuse(message: string): ApplyRunError {
  return new ApplyRunError(ApplyErrorCode.replanRefused, message);
}

/** Why a file is in no uncommitted batch's record, from the committed batches' records. */
async function whereCommitted(context: BatchContext, lastBatch: number, file: string): Promise<string> {
  for (const record of await readBatchRecords(context.options.delta, lastBatch)) {
    if (record.changeFiles.includes(file)) {
      return `${file} was read by batch ${record.batch}, which is committed: its records are in the table, and a committed batch is never re-planned.`;
    }
    if (record.dropped?.some((input) => input.file === file) === true) {
      return `${file} was already dropped by a re-plan of batch ${record.batch}, which is committed.`;
    }
  }
  return `No batch record beside the table lists ${file}; check the key (the error that named the file gives it in full).`;
}

/** Content equality of two records, apart from when they were made and their re-plan history. */
function samePlan(a: BatchRecord, b: BatchRecord): boolean {
  const plan = (record: BatchRecord) =>
    serializeBatchRecord({ ...record, createdAt: '', replans: [], dropped: record.dropped ?? [] });
  return plan(a) === plan(b);
}

/**
 * The options the batch is planned again with: for batch 1, this run's first-run flags, else the
 * recorded ones; a quarantine replay replays the same batch's quarantine.
 */
function replanContext(context: BatchContext, pending: BatchRecord): BatchContext {
  const { options } = context;
  if (pending.replayQuarantine !== undefined) {
    // A replay batch stays the replay of the same quarantine.
    return { ...context, options: { ...options, replayQuarantine: pending.replayQuarantine } };
  }
  if (pending.batch !== 1) return context;
  const settings = pending.settings;
  const snapshot = options.snapshot ?? pending.snapshot?.exportId;
  const keys = options.keys ?? settings?.keys;
  const marginMs = options.marginMs ?? settings?.marginMs;
  const deletes = options.deletes ?? settings?.deletes;
  const buckets = options.buckets ?? settings?.buckets;
  const deletionVectors = options.deletionVectors ?? settings?.deletionVectors;
  return {
    ...context,
    options: {
      ...options,
      ...(snapshot === undefined ? {} : { snapshot }),
      ...(keys === undefined ? {} : { keys }),
      ...(marginMs === undefined ? {} : { marginMs }),
      ...(deletes === undefined ? {} : { deletes }),
      ...(buckets === undefined ? {} : { buckets }),
      ...(deletionVectors === undefined ? {} : { deletionVectors }),
    },
  };
}

/**
 * Re-plans the uncommitted batch `batch` (see the top of this file) as `context.options.replan` /
 * `replanWithout` ask, stores the new record (the old one kept beside it) and returns the record
 * in force. Idempotent: asked again for what is already so, it changes nothing.
 * @throws ApplyRunError `APPLY_REPLAN_REFUSED` when there is no uncommitted batch to re-plan, a
 *   named file is in a committed batch or in none, a file or export of the old record is gone and
 *   not named, or another writer committed the batch meanwhile; planning's own errors (handoff,
 *   keys); the store's errors.
 */
export async function replanBatch(
  context: BatchContext,
  state: {
    readonly batch: number;
    readonly lastBatch: number;
    readonly appId: string;
    readonly layout: TableLayout | undefined;
    readonly pending: BatchRecord | undefined;
  },
): Promise<ReplanOutcome> {
  const { options, clock, emit } = context;
  const { delta, landing } = options;
  const { batch, lastBatch, pending } = state;
  const without = [...new Set(options.replanWithout ?? [])];
  if (pending === undefined) {
    const reasons = await Promise.all(without.map((file) => whereCommitted(context, lastBatch, file)));
    throw refuse(
      `There is no uncommitted batch to re-plan beside the table at ${delta.url}: ${lastBatch === 0 ? 'no batch has been planned yet' : `the table holds batch ${lastBatch}, and batch ${batch} has no record yet`}, so a run plans the next batch from what is there now anyway. ${reasons.join(' ')} Nothing was written; run apply without --replan${without.length === 0 ? '' : '-without'}.`,
    );
  }
  const listed = new Set(pending.changeFiles);
  const alreadyDropped = new Set((pending.dropped ?? []).map((input) => input.file));
  for (const file of without) {
    if (listed.has(file) || alreadyDropped.has(file)) continue;
    throw refuse(
      `Batch ${batch} (not committed; its record is ${batchRecordKey(batch)}) does not list ${file}, so it cannot be dropped from it. ${await whereCommitted(context, lastBatch, file)} Nothing was written.`,
    );
  }
  const toDrop = without.filter((file) => listed.has(file));
  if (toDrop.length === 0 && options.replan !== true) return { record: pending, replan: null };

  const fresh = await planBatch(replanContext(context, pending), batch, state.appId, state.layout);
  const dropping = new Set(toDrop);
  const freshFiles = new Set(fresh?.changeFiles ?? []);
  const gone = pending.changeFiles.filter((file) => !freshFiles.has(file) && !dropping.has(file));
  const freshExports = new Set(fresh?.incrementalExports ?? []);
  const goneExports =
    batch === 1 ? [] : pending.incrementalExports.filter((exportId) => !freshExports.has(exportId));
  if (gone.length > 0 || goneExports.length > 0) {
    throw refuse(
      `Batch ${batch}'s record ${batchRecordKey(batch)} lists ${[...gone.map((file) => `the change file ${file}`), ...goneExports.map((id) => `the incremental export ${id}`)].join(', ')}, no longer in the landing area ${landing.url}. A re-plan drops only what it is told to: restore ${gone.length + goneExports.length === 1 ? 'it' : 'them'}, or name each lost change file with --replan-without (its records are then left out, and the new record says so). Nothing was written.`,
    );
  }
  const at = new Date(clock()).toISOString();
  const k = (pending.replans?.length ?? 0) + 1;
  const superseded = supersededRecordKey(batch, k);
  const dropped: DroppedInput[] = [...(pending.dropped ?? [])];
  for (const file of toDrop) {
    dropped.push({
      file,
      state: (await landing.head(file)) === undefined ? 'missing' : 'present',
      replan: k,
    });
  }
  const replan: BatchReplan = { at, superseded, dropped: toDrop };
  const base: BatchRecord = fresh ?? {
    batch,
    appId: state.appId,
    createdAt: at,
    incrementalExports: [],
    changeFiles: [],
  };
  const record: BatchRecord = {
    ...base,
    changeFiles: base.changeFiles.filter((file) => !dropping.has(file)),
    dropped,
    replans: [...(pending.replans ?? []), replan],
  };
  if (samePlan(record, pending)) return { record: pending, replan: null };

  await assertStillUncommitted(context, batch, state.appId);
  const key = batchRecordKey(batch);
  const old = await delta.getBytes(key);
  const kept = await delta.putIfAbsent(superseded, old);
  if (kept.outcome === 'exists' && !Buffer.from(await delta.getBytes(superseded)).equals(Buffer.from(old))) {
    throw refuse(
      `${superseded} beside the table at ${delta.url} already holds another record than batch ${batch}'s current one: another writer re-planned the batch at the same time. Nothing was replaced; run apply again.`,
    );
  }
  faultPoint('replan-after-copy');
  await delta.put(key, serializeBatchRecord(record));
  faultPoint('replan-after-record');
  emit({
    code: ApplyEventCode.replanned,
    batch,
    record: key,
    superseded,
    dropped: dropped.filter((input) => input.replan === k),
    changeFiles: record.changeFiles.length,
  });
  return { record, replan };
}

/** @throws ApplyRunError when the table now holds `batch` (another writer committed it). */
async function assertStillUncommitted(context: BatchContext, batch: number, appId: string): Promise<void> {
  let latest = 0;
  try {
    latest = latestTxnVersion(await loadReadSnapshot(context.options.delta, context.engine), appId) ?? 0;
    latest = await lastAppliedBatch(context.options.delta, latest);
  } catch (error) {
    if (!(error instanceof DeltaTableNotFoundError)) throw error;
  }
  if (latest >= batch) {
    throw refuse(
      `Batch ${batch} was committed by another writer while this run re-planned it: a committed batch is never re-planned. Nothing was replaced; its records are in the table.`,
    );
  }
}
