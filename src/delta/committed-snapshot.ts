import type { Action, CommitInfo } from './actions.ts';
import { DeltaInvalidWriteError } from './errors.ts';
import { LogReplay } from './log-replay.ts';
import { assertLogReadable } from './reader-features.ts';
import { parseSchemaString } from './schema.ts';
import type { ReadSnapshot, Snapshot } from './snapshot.ts';

/*
 * The snapshot right after a commit, from the snapshot the commit read and the actions it wrote
 * (PROTOCOL.md, "Action Reconciliation"): the read snapshot's state replayed as if it were a
 * checkpoint, then the commit's actions. A writer that goes on after its own commit (apply's
 * automatic optimize) so skips reading the log it has just written.
 */

function commitInfoOf(actions: readonly Action[]): CommitInfo | null {
  for (const action of actions) if ('commitInfo' in action) return action.commitInfo;
  return null;
}

/**
 * The snapshot of the table at `read.version + 1` when that version is the commit of `actions`
 * written on top of `read`: what `loadSnapshot` of that version returns from a log whose newest
 * checkpoint is `read`'s (files and tombstones ascending by path, the latest txn per appId, the
 * commit's commitInfo). A checkpoint written at the new version would give `loadSnapshot` other
 * tombstones (a checkpoint leaves expired ones out): load the snapshot then. Pure.
 * @throws DeltaInvalidWriteError when `actions` is no commit (no commitInfo); the metaData's
 *   schema errors.
 */
export function snapshotAfterCommit(read: Snapshot, actions: readonly Action[]): Snapshot {
  return afterCommit(read, read.tombstones, actions);
}

/**
 * As snapshotAfterCommit, for a snapshot read without tombstones (loadReadSnapshot): the next
 * snapshot has none either. What a writer plans its next commit from; a checkpoint needs the
 * tombstones, so it is written from loadSnapshot.
 */
export function readSnapshotAfterCommit(read: ReadSnapshot, actions: readonly Action[]): ReadSnapshot {
  const { tombstones: _none, ...next } = afterCommit(read, [], actions);
  return next;
}

function afterCommit(
  read: ReadSnapshot,
  tombstones: Snapshot['tombstones'],
  actions: readonly Action[],
): Snapshot {
  const commitInfo = commitInfoOf(actions);
  if (commitInfo === null) {
    throw new DeltaInvalidWriteError(
      `The actions given as the commit after version ${read.version} of ${read.tableUrl} hold no commitInfo; pass the actions of the commit as written.`,
    );
  }
  const version = read.version + 1;
  const replay = new LogReplay();
  replay.applyCheckpoint(
    [
      { protocol: read.protocol },
      { metaData: read.metadata },
      ...[...read.txns.values()].map((txn): Action => ({ txn })),
      ...[...read.domainMetadata.values()].map((domainMetadata): Action => ({ domainMetadata })),
      ...tombstones.map((remove): Action => ({ remove })),
      ...read.files.map((add): Action => ({ add })),
    ],
    `${read.tableUrl} at version ${read.version}`,
  );
  replay.applyCommit(actions);
  const state = replay.state(read.tableUrl, version);
  assertLogReadable(state.protocol, read.tableUrl);
  const schema =
    state.metadata === read.metadata
      ? read.schema
      : parseSchemaString(
          state.metadata.schemaString,
          `${read.tableUrl} metaData.schemaString at version ${version}`,
        );
  return {
    tableUrl: read.tableUrl,
    version,
    protocol: state.protocol,
    metadata: state.metadata,
    schema,
    partitionColumns: state.metadata.partitionColumns,
    files: state.files,
    tombstones: state.tombstones,
    txns: state.txns,
    domainMetadata: state.domainMetadata,
    commitInfo,
    checkpointVersion: read.checkpointVersion,
  };
}
