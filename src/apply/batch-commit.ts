import type { AddFile } from '../delta/actions.ts';
import { type CommitOutcome, commit } from '../delta/commit.ts';
import { DeltaConflictError } from '../delta/errors.ts';
import { loadSnapshot } from '../delta/load-snapshot.ts';
import { serializeSchema } from '../delta/schema.ts';
import { latestTxnVersion, type Snapshot } from '../delta/snapshot.ts';
import { startTransaction, type Transaction } from '../delta/transaction.ts';
import { isCheckpointDue, writeCheckpoint } from '../delta/write-checkpoint.ts';
import { ApplyEventCode } from './apply-events.ts';
import type { BatchContext } from './batch-context.ts';
import type { AppliedBatch } from './batch-result.ts';
import { faultPoint, withCheckpointFaultPoint } from './fault-points.ts';
import type { SchemaEvolutionPlan } from './schema-evolution.ts';
import { layoutConfiguration } from './table-layout.ts';

/*
 * The commit of a batch (DESIGN.md rules 4 and 5): remove + add + txn(appId, batch), with a
 * metaData action when the schema or the layout grew, in one put-if-absent; then the checkpoint
 * when one is due, written here so that a fault point can sit between its file and
 * `_last_checkpoint`.
 */

function sameProperties(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => b[key] === a[key]);
}

/** What the commit of a batch holds. */
export interface CommitPlan {
  readonly base: Snapshot;
  readonly plan: SchemaEvolutionPlan;
  readonly removed: readonly AddFile[];
  readonly adds: readonly AddFile[];
  readonly batch: number;
  readonly appId: string;
}

/**
 * Commits the batch on top of the table it read: remove + add + txn(appId, batch), a metaData
 * action when the schema or the configuration changed, `readWholeTable` for the conflict rules;
 * `before-commit` and `after-commit` fault points around the put. Then, when the version is due a
 * checkpoint, writes it (with the `mid-checkpoint` fault point before `_last_checkpoint`); a failed
 * checkpoint is reported, never thrown. `already-applied` when the table holds the batch already.
 * @throws DeltaConflictError when another writer changed what the batch read (and not by
 *   committing this batch); the commit's other errors.
 */
export async function commitBatch(
  context: BatchContext,
  planned: CommitPlan,
): Promise<
  | { outcome: 'committed'; version: number; checkpoint: AppliedBatch['checkpoint'] }
  | { outcome: 'already-applied'; version: number }
> {
  const { options, engine, clock, emit } = context;
  const { base, plan, batch, appId } = planned;
  let transaction = startTransaction(base, {
    operation: batch === 1 ? 'WRITE' : 'MERGE',
    operationParameters: { ddbLakeBatch: String(batch), appId },
  });
  if (planned.removed.length > 0) transaction = transaction.removeFiles(planned.removed);
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
  let checkpoint: AppliedBatch['checkpoint'] = 'not-due';
  if (isCheckpointDue(outcome.version, transaction.configuration)) {
    try {
      const snapshot = await loadSnapshot(options.delta, engine, { version: outcome.version });
      await writeCheckpoint(withCheckpointFaultPoint(options.delta), engine, snapshot, { now: clock() });
      checkpoint = 'written';
      emit({ code: ApplyEventCode.checkpoint, version: outcome.version, outcome: 'written' });
    } catch (error) {
      checkpoint = 'failed';
      emit({
        code: ApplyEventCode.checkpoint,
        version: outcome.version,
        outcome: 'failed',
        message: (error as Error).message,
      });
    }
  }
  return { outcome: 'committed', version: outcome.version, checkpoint };
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
    const now = await loadSnapshot(options.delta, engine);
    const applied = latestTxnVersion(now, appId);
    if (applied === undefined || applied < batch) throw error;
    return { outcome: 'already-applied', appId, txnVersion: applied, tableVersion: now.version };
  }
}
