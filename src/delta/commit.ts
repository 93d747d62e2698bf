import type { ObjectStore } from '../storage/object-store.ts';
import { type Action, parseCommitFile, serializeCommitFile } from './actions.ts';
import { checkConflict } from './conflicts.ts';
import type { DeltaEngine } from './engine.ts';
import { DeltaCommitRetriesExhaustedError, DeltaConflictError } from './errors.ts';
import { loadSnapshot } from './load-snapshot.ts';
import { commitFileKey } from './log-files.ts';
import { latestTxnVersion } from './snapshot.ts';
import type { Transaction } from './transaction.ts';
import { type CheckpointOutcome, isCheckpointDue, writeCheckpoint } from './write-checkpoint.ts';
import { assertWritable } from './writer-features.ts';

/*
 * The commit (PROTOCOL.md, "Creation of New Log Entries", "Delta Log Entries", "Transaction
 * Identifiers"): put-if-absent of `_delta_log/<version>.json`, then a loop over the outcome — a
 * lost race reads the winning commit and either conflicts (the caller re-plans) or retries at the
 * next version with the same bytes. After a commit at a multiple of the checkpoint interval, a
 * checkpoint is written; its failure is reported, never thrown.
 */

export const DEFAULT_MAX_COMMIT_ATTEMPTS = 10;

export interface CommitOptions {
  /** Put-if-absent attempts before giving up (default 10). */
  readonly maxAttempts?: number;
  /** Milliseconds since the epoch stamped on the commit (default: the time of the call). */
  readonly now?: number;
  /** Write the checkpoint when one is due (default true). */
  readonly checkpoint?: boolean;
}

/** What a commit did: a value, so callers read retries and skips as data. */
export type CommitOutcome =
  | {
      readonly outcome: 'committed';
      readonly version: number;
      /** Put-if-absent calls it took (1 when no other writer was in the way). */
      readonly attempts: number;
      /** The actions the commit file holds, as written (snapshotAfterCommit builds the next snapshot from them). */
      readonly actions: readonly Action[];
      readonly checkpoint: CheckpointOutcome;
    }
  | {
      /** The table already holds this appId's txn at `txnVersion` or later: nothing was written. */
      readonly outcome: 'already-applied';
      readonly appId: string;
      readonly txnVersion: number;
      readonly tableVersion: number;
    };

async function checkpointAfterCommit(
  store: ObjectStore,
  engine: DeltaEngine,
  version: number,
  configuration: Readonly<Record<string, string>>,
  now: number,
): Promise<CheckpointOutcome> {
  try {
    if (!isCheckpointDue(version, configuration)) return { outcome: 'not-due' };
    const snapshot = await loadSnapshot(store, engine, { version });
    return await writeCheckpoint(store, engine, snapshot, { now });
  } catch (error) {
    return { outcome: 'failed', version, error: error instanceof Error ? error : new Error(String(error)) };
  }
}

/**
 * Commits `transaction` to the table in `store` (the store rooted at the table).
 *
 * Before writing: refuses a table or write ddb-lake may not do (`assertWritable`), and returns
 * `already-applied` without writing when the transaction's txn version is already in its snapshot.
 * Then tries version `readVersion + 1` with put-if-absent. When the version is taken: if the stored
 * bytes are this commit's own (an S3 request retried after a lost response), it is committed;
 * otherwise the winner is checked with the conflict rules (conflicts.ts) and the commit retries at
 * the next version with the same actions. Exactly one version ever holds the commit.
 * @throws DeltaUnsupportedFeatureError (nothing written) for a table ddb-lake may not write.
 * @throws DeltaConflictError when a winning commit changed what the transaction depended on;
 *   re-read the table and plan again (a txn conflict may mean the batch is already in).
 * @throws DeltaCommitRetriesExhaustedError after `maxAttempts` lost races.
 */
export async function commit(
  store: ObjectStore,
  engine: DeltaEngine,
  transaction: Transaction,
  options: CommitOptions = {},
): Promise<CommitOutcome> {
  const snapshot = transaction.snapshot;
  const intent = {
    removesData: transaction.removesData,
    addsDeletionVectors: transaction.addsDeletionVectors,
  };
  assertWritable(snapshot, intent);
  if (transaction.changesMetadata) {
    assertWritable({ ...snapshot, metadata: transaction.metadata, schema: transaction.schema }, intent);
  }
  const txn = transaction.txn;
  if (txn !== undefined) {
    const applied = latestTxnVersion(snapshot, txn.appId);
    if (applied !== undefined && applied >= txn.version) {
      return {
        outcome: 'already-applied',
        appId: txn.appId,
        txnVersion: applied,
        tableVersion: snapshot.version,
      };
    }
  }

  const now = options.now ?? Date.now();
  const actions = transaction.actions(now);
  const body = serializeCommitFile(actions);
  const maxAttempts = options.maxAttempts ?? DEFAULT_MAX_COMMIT_ATTEMPTS;
  let version = snapshot.version + 1;
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const key = commitFileKey(version);
    const put = await store.putIfAbsent(key, body);
    let committed = put.outcome === 'created';
    let winner: string | undefined;
    if (!committed) {
      winner = Buffer.from(await store.getBytes(key)).toString('utf8');
      committed = winner === body;
    }
    if (committed) {
      const checkpoint =
        options.checkpoint === false
          ? ({ outcome: 'not-due' } as const)
          : await checkpointAfterCommit(store, engine, version, transaction.configuration, now);
      return { outcome: 'committed', version, attempts: attempt, checkpoint, actions };
    }
    const verdict = checkConflict(transaction, parseCommitFile(winner as string, key), version);
    if (verdict.conflict) {
      throw new DeltaConflictError(
        version,
        `The commit to ${store.url} (read at version ${snapshot.version}) conflicts: ${verdict.reason}. Nothing was written; read the table again and plan the write anew.`,
      );
    }
    version++;
  }
  throw new DeltaCommitRetriesExhaustedError(
    `The commit to ${store.url} lost the race for the next version ${maxAttempts} times (versions ${snapshot.version + 1} to ${version - 1} were taken by other writers). Nothing was written; retry later, and check that only one writer runs against this table.`,
  );
}
