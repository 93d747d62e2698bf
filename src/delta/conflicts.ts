import type { Action } from './actions.ts';
import { dataFileKey } from './data-path.ts';
import type { Transaction } from './transaction.ts';

/*
 * The conflict rules of optimistic concurrency (PROTOCOL.md, "Overview": writers commit by adding
 * the next log entry; the rules are those of the reference implementation's conflict checker): a
 * transaction that lost the race for version v may retry at v + 1 only when the winning commit
 * changed nothing it depended on.
 */

/** Whether a transaction may retry on top of a winning commit: a value, not an exception. */
export type ConflictVerdict =
  | { readonly conflict: false }
  | { readonly conflict: true; readonly rule: ConflictRule; readonly reason: string };

export type ConflictRule =
  | 'protocol-changed'
  | 'metadata-changed'
  | 'read-file-removed'
  | 'removed-file-removed'
  | 'txn-committed';

/** A log path as the store key it names, so `a%20b` and `a b` compare equal. */
function fileKey(path: string, tableUrl: string): string {
  try {
    return dataFileKey(path, tableUrl);
  } catch {
    return path;
  }
}

/**
 * Checks `transaction` against the actions of one winning commit at `winningVersion`:
 * - the winner changed the protocol or the metadata (schema, partitioning, properties);
 * - the winner removed a file the transaction read (the whole table, or a declared set) or removes
 *   itself (delete–delete);
 * - the winner wrote a `txn` for the transaction's `appId` (the batch may already be in).
 * A blind append (no reads, no removes) never conflicts on files. Pure.
 */
export function checkConflict(
  transaction: Transaction,
  winner: readonly Action[],
  winningVersion: number,
): ConflictVerdict {
  const tableUrl = transaction.snapshot.tableUrl;
  const reads = transaction.reads;
  const readKeys =
    reads.kind === 'files'
      ? new Set([...reads.paths].map((path) => fileKey(path, tableUrl)))
      : new Set<string>();
  const removedKeys = new Set(transaction.removedFiles.map((file) => fileKey(file.path, tableUrl)));
  const appId = transaction.txn?.appId;
  const at = `version ${winningVersion}`;
  for (const action of winner) {
    if ('protocol' in action) {
      return {
        conflict: true,
        rule: 'protocol-changed',
        reason: `the concurrent commit at ${at} changed the table's protocol`,
      };
    }
    if ('metaData' in action) {
      return {
        conflict: true,
        rule: 'metadata-changed',
        reason: `the concurrent commit at ${at} changed the table's metadata (schema, partitioning or properties)`,
      };
    }
    if ('txn' in action && appId !== undefined && action.txn.appId === appId) {
      return {
        conflict: true,
        rule: 'txn-committed',
        reason: `the concurrent commit at ${at} committed version ${action.txn.version} of the application ${appId}`,
      };
    }
    if ('remove' in action) {
      const key = fileKey(action.remove.path, tableUrl);
      if (removedKeys.has(key)) {
        return {
          conflict: true,
          rule: 'removed-file-removed',
          reason: `the concurrent commit at ${at} also removed ${action.remove.path}`,
        };
      }
      if (reads.kind === 'table' || readKeys.has(key)) {
        return {
          conflict: true,
          rule: 'read-file-removed',
          reason: `the concurrent commit at ${at} removed ${action.remove.path}, which this transaction read`,
        };
      }
    }
  }
  return { conflict: false };
}
