import type { AddFile } from '../delta/actions.ts';
import { type CommitOutcome, commit } from '../delta/commit.ts';
import { readSnapshotAfterCommit } from '../delta/committed-snapshot.ts';
import { DeltaConflictError } from '../delta/errors.ts';
import { loadReadSnapshot, loadSnapshot } from '../delta/load-snapshot.ts';
import { serializeSchema } from '../delta/schema.ts';
import { latestTxnVersion, type ReadSnapshot } from '../delta/snapshot.ts';
import { type DeletionVectorChange, startTransaction, type Transaction } from '../delta/transaction.ts';
import { isCheckpointBehind, writeCheckpoint } from '../delta/write-checkpoint.ts';
import type { SchemaEvolutionPlan } from '../lake/schema-evolution.ts';
import { layoutConfiguration } from '../lake/table-layout.ts';
import { ApplyEventCode } from './apply-events.ts';
import type { BatchContext } from './batch-context.ts';
import type { AppliedBatch } from './batch-result.ts';
import { faultPoint, withCheckpointFaultPoint } from './fault-points.ts';

/*
 * The commit of a batch (DESIGN.md rules 4 and 5): remove + add + txn(appId, batch), with a
 * metaData action when the schema or the layout grew, in one put-if-absent; then the checkpoint
 * when one is due, written here so that a fault point can sit between its file and
 * `_last_checkpoint`. Due means at every `delta.checkpointInterval` versions, and whenever such a
 * version has no checkpoint yet: a run killed between its commit and its checkpoint skipped one,
 * and the next run (also one that finds nothing new) writes the checkpoint of its version.
 */

function sameProperties(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => b[key] === a[key]);
}

/** What the commit of a batch holds. */
export interface CommitPlan {
  readonly base: ReadSnapshot;
  readonly plan: SchemaEvolutionPlan;
  readonly removed: readonly AddFile[];
  readonly adds: readonly AddFile[];
  /** Merge-on-read: files given new deletion vectors. */
  readonly deletionVectors?: readonly DeletionVectorChange[];
  readonly batch: number;
  readonly appId: string;
}

/**
 * Commits the batch on top of the table it read: remove + add + txn(appId, batch), a metaData
 * action when the schema or the configuration changed, `readWholeTable` for the conflict rules;
 * `before-commit` and `after-commit` fault points around the put. Then, when the version is due a
 * checkpoint, or a due one is missing (`isCheckpointBehind`), writes it (with the `mid-checkpoint` fault point before `_last_checkpoint`); a failed
 * checkpoint is reported, never thrown. `already-applied` when the table holds the batch already.
 * @throws DeltaConflictError when another writer changed what the batch read (and not by
 *   committing this batch); the commit's other errors.
 */
export async function commitBatch(
  context: BatchContext,
  planned: CommitPlan,
): Promise<
  | {
      outcome: 'committed';
      version: number;
      checkpoint: AppliedBatch['checkpoint'];
      /**
       * The table right after the commit, without tombstones, built from the commit's actions
       * (readSnapshotAfterCommit); undefined when another commit came between.
       */
      table: ReadSnapshot | undefined;
    }
  | { outcome: 'already-applied'; version: number }
> {
  const { emit } = context;
  const { base, plan, batch, appId } = planned;
  let transaction = startTransaction(base, {
    operation: batch === 1 ? 'WRITE' : 'MERGE',
    operationParameters: { ddbLakeBatch: String(batch), appId },
  });
  if (planned.removed.length > 0) transaction = transaction.removeFiles(planned.removed);
  if ((planned.deletionVectors?.length ?? 0) > 0)
    transaction = transaction.updateDeletionVectors(planned.deletionVectors ?? []);
  transaction = transaction.addFiles(planned.adds).setTxn(appId, batch).readWholeTable();
  if (serializeSchema(plan.schema) !== serializeSchema(base.schema))
    transaction = transaction.updateSchema(plan.schema);
  const configuration = layoutConfiguration(plan.layout, base.metadata.configuration);
  if (!sameProperties(configuration, base.metadata.configuration)) {
    transaction = transaction.updateConfiguration(configuration);
  }
  faultPoint('before-commit');
  const outcome = await commitOrFindApplied(context, transaction, batch, appId);
  if (outcome.outcome === 'already-applied') {
    emit({
      code: ApplyEventCode.committed,
      batch,
      version: outcome.tableVersion,
      outcome: 'already-applied',
    });
    return { outcome: 'already-applied', version: outcome.tableVersion };
  }
  emit({ code: ApplyEventCode.committed, batch, version: outcome.version, outcome: 'committed' });
  faultPoint('after-commit');
  // The checkpoint needs the tombstones, which the batch's snapshot does not hold: it loads them.
  const checkpoint = isCheckpointBehind(outcome.version, base.checkpointVersion, transaction.configuration)
    ? await writeBatchCheckpoint(context, outcome.version)
    : 'not-due';
  // The table at the new version, from the commit's actions when nothing came between: what
  // loadReadSnapshot would read, without reading the log again.
  const after =
    outcome.version === base.version + 1 ? readSnapshotAfterCommit(base, outcome.actions) : undefined;
  return {
    outcome: 'committed',
    version: outcome.version,
    checkpoint,
    table:
      after === undefined || checkpoint !== 'written'
        ? after
        : { ...after, checkpointVersion: outcome.version },
  };
}

/**
 * Writes the checkpoint of the table's current version when a due checkpoint is missing
 * (`isCheckpointBehind`): the catch-up for a checkpoint a killed run skipped, for a run that
 * commits nothing. Under the table's lease. A failed checkpoint is reported, never
 * thrown.
 */
export async function catchUpCheckpoint(
  context: BatchContext,
  table: ReadSnapshot,
): Promise<AppliedBatch['checkpoint']> {
  if (!isCheckpointBehind(table.version, table.checkpointVersion, table.metadata.configuration))
    return 'not-due';
  return writeBatchCheckpoint(context, table.version);
}

/**
 * The checkpoint of `version` (with the `mid-checkpoint` fault point), reported as an event; of
 * the snapshot loaded with its tombstones.
 */
async function writeBatchCheckpoint(context: BatchContext, version: number): Promise<'written' | 'failed'> {
  const { options, engine, clock, emit } = context;
  try {
    const snapshot = await loadSnapshot(options.delta, engine, { version });
    await writeCheckpoint(withCheckpointFaultPoint(options.delta), engine, snapshot, { now: clock() });
    emit({ code: ApplyEventCode.checkpoint, version, outcome: 'written' });
    return 'written';
  } catch (error) {
    emit({
      code: ApplyEventCode.checkpoint,
      version,
      outcome: 'failed',
      message: (error as Error).message,
    });
    return 'failed';
  }
}

/**
 * The commit; when another writer won the race with a commit that holds this batch's txn (two runs
 * of the same batch), the batch is in: `already-applied`, not an error.
 */
async function commitOrFindApplied(
  context: BatchContext,
  transaction: Transaction,
  batch: number,
  appId: string,
): Promise<CommitOutcome> {
  const { options, engine, clock } = context;
  try {
    return await commit(options.delta, engine, transaction, { checkpoint: false, now: clock() });
  } catch (error) {
    if (!(error instanceof DeltaConflictError)) throw error;
    const now = await loadReadSnapshot(options.delta, engine);
    const applied = latestTxnVersion(now, appId);
    if (applied === undefined || applied < batch) throw error;
    return { outcome: 'already-applied', appId, txnVersion: applied, tableVersion: now.version };
  }
}
