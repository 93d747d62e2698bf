import { mapLimited } from '../map-limited.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { type Action, type CommitInfo, parseCommitFile } from './actions.ts';
import type { DeltaEngine } from './engine.ts';
import { LogReplay } from './log-replay.ts';
import { type CheckpointRef, type CommitRef, resolveLogSegment } from './log-segment.ts';
import { assertLogReadable } from './reader-features.ts';
import { parseSchemaString } from './schema.ts';
import type { ReadSnapshot, Snapshot } from './snapshot.ts';

/*
 * The snapshot of a Delta table at one version (PROTOCOL.md, "Checkpoints", "Action
 * Reconciliation"): the log segment (log-segment.ts), the checkpoint decoded by the engine, the
 * commits after it parsed in order, and their actions reconciled (log-replay.ts).
 */

/** Log files fetched at once; commits are small, and a long log is read in far fewer round trips. */
const READ_CONCURRENCY = 32;

export interface LoadSnapshotOptions {
  /** The version to load (time travel); default: the latest. */
  readonly version?: number;
}

async function readCheckpoint(
  store: ObjectStore,
  engine: DeltaEngine,
  checkpoint: CheckpointRef,
  removes: boolean,
): Promise<Action[]> {
  const parts = await mapLimited(checkpoint.keys, READ_CONCURRENCY, async (key) =>
    engine.checkpoints.decode(await store.getBytes(key), key, { removes }),
  );
  return parts.flat();
}

async function readCommit(store: ObjectStore, key: string): Promise<Action[]> {
  return parseCommitFile(new TextDecoder().decode(await store.getBytes(key)), key);
}

function commitInfoOf(actions: readonly Action[]): CommitInfo | null {
  for (const action of actions) if ('commitInfo' in action) return action.commitInfo;
  return null;
}

async function replayLog(
  store: ObjectStore,
  engine: DeltaEngine,
  options: LoadSnapshotOptions,
  tombstones: boolean,
): Promise<Snapshot> {
  const tableUrl = store.url;
  const segment = await resolveLogSegment(store, options);
  const replay = new LogReplay();
  if (segment.checkpoint !== null) {
    const first = segment.checkpoint.keys[0] as string;
    replay.applyCheckpoint(await readCheckpoint(store, engine, segment.checkpoint, tombstones), first);
  }
  const commits = await mapLimited(segment.commits, READ_CONCURRENCY, (commit: CommitRef) =>
    readCommit(store, commit.key),
  );
  for (const actions of commits) replay.applyCommit(actions);

  let commitInfo: CommitInfo | null = null;
  const last = segment.commits.at(-1);
  if (last !== undefined && last.version === segment.version) commitInfo = commitInfoOf(commits.at(-1) ?? []);
  else if (segment.commitAtVersion !== null)
    commitInfo = commitInfoOf(await readCommit(store, segment.commitAtVersion));

  const state = replay.state(tableUrl, segment.version);
  assertLogReadable(state.protocol, tableUrl);
  const schema = parseSchemaString(
    state.metadata.schemaString,
    `${tableUrl} metaData.schemaString at version ${segment.version}`,
  );
  return {
    tableUrl,
    version: segment.version,
    protocol: state.protocol,
    metadata: state.metadata,
    schema,
    partitionColumns: state.metadata.partitionColumns,
    files: state.files,
    // Without the checkpoint's removes the list would be partial: a reader gets none at all.
    tombstones: tombstones ? state.tombstones : [],
    txns: state.txns,
    domainMetadata: state.domainMetadata,
    commitInfo,
    checkpointVersion: segment.checkpoint?.version ?? null,
  };
}

/**
 * The snapshot of the table in `store` at `options.version` (default: the latest): protocol,
 * metadata and parsed schema, active files and tombstones (ascending by path), the latest `txn`
 * per appId, live metadata domains, and the `commitInfo` of the commit at that version. Reads
 * `_last_checkpoint` as a hint, lists `_delta_log/`, decodes the newest complete checkpoint at or
 * before the version with `engine.checkpoints`, and replays the commits after it. Read-only.
 * Refuses a protocol whose log ddb-lake cannot replay (assertLogReadable); whether the rows can be
 * read is `assertReadable`'s question (reader-features.ts).
 * @throws DeltaTableNotFoundError when `_delta_log/` holds no commit (nor a complete checkpoint).
 * @throws DeltaVersionNotFoundError for a version above the latest or no longer reconstructable.
 * @throws DeltaLogCorruptError naming the file: a missing version, a commit that is not JSON or
 *   holds a malformed action, an unreadable checkpoint, no protocol or metaData, a bad schema.
 * @throws DeltaUnsupportedFeatureError('read', feature) for a reader version or feature that
 *   changes how the log is read (v2Checkpoint, catalogManaged, unknown ones).
 */
export async function loadSnapshot(
  store: ObjectStore,
  engine: DeltaEngine,
  options: LoadSnapshotOptions = {},
): Promise<Snapshot> {
  return await replayLog(store, engine, options, true);
}

/**
 * The snapshot as loadSnapshot reads it, without the tombstones: the checkpoint's `remove` rows are
 * not decoded (a checkpoint's adds are already reconciled against them), so a table whose
 * checkpoint holds a week of merge-on-read tombstones loads about as fast as one without. For
 * readers of the rows (scans, verify); a writer needs loadSnapshot.
 * @throws as loadSnapshot.
 */
export async function loadReadSnapshot(
  store: ObjectStore,
  engine: DeltaEngine,
  options: LoadSnapshotOptions = {},
): Promise<ReadSnapshot> {
  const { tombstones: _none, ...snapshot } = await replayLog(store, engine, options, false);
  return snapshot;
}
