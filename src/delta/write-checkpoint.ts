import type { ObjectStore } from '../storage/object-store.ts';
import type { AddFile, RemoveFile } from './actions.ts';
import type { CheckpointContent, DeltaEngine } from './engine.ts';
import { readLastCheckpoint } from './last-checkpoint.ts';
import { checkpointFileKey, LAST_CHECKPOINT_KEY } from './log-files.ts';
import type { Snapshot } from './snapshot.ts';
import { booleanProperty, checkpointInterval, deletedFileRetentionMs } from './table-properties.ts';
import { assertWritable } from './writer-features.ts';

/*
 * Classic V1 checkpoints (PROTOCOL.md, "Checkpoints", "V1 Spec", "Classic checkpoint", "Last
 * Checkpoint File Schema"): the reconciled state at one version in
 * `_delta_log/<version>.checkpoint.parquet` (protocol, metadata, txns, live domains, active files,
 * unexpired tombstones; no commitInfo), then `_delta_log/_last_checkpoint` pointing at it. The
 * Parquet bytes come from the engine; this module decides what goes in.
 */

/** `_delta_log/_last_checkpoint` as ddb-lake writes it. */
export interface LastCheckpoint {
  readonly version: number;
  /** The number of actions in the checkpoint. */
  readonly size: number;
  readonly sizeInBytes: number;
  readonly numOfAddFiles: number;
}

/** What became of the checkpoint after a commit: a value, so a failed checkpoint never fails the commit. */
export type CheckpointOutcome =
  | { readonly outcome: 'not-due' }
  | ({ readonly outcome: 'written'; readonly tombstonesExpired: number } & LastCheckpoint)
  | { readonly outcome: 'failed'; readonly version: number; readonly error: Error };

/** True when a commit at `version` is due a checkpoint: `version % delta.checkpointInterval == 0` (default 10). */
export function isCheckpointDue(version: number, configuration: Readonly<Record<string, string>>): boolean {
  return version > 0 && version % checkpointInterval(configuration) === 0;
}

/**
 * True when the table at `version` lacks a checkpoint it was due: the latest version up to
 * `version` that is a multiple of `delta.checkpointInterval` is newer than the newest checkpoint
 * (`newestCheckpoint`, null when there is none). A writer that just committed a due version writes
 * it; one killed between that commit and its checkpoint skipped it, and the next writer (or run)
 * writes the checkpoint of its own version instead of waiting an interval more. Pure.
 */
export function isCheckpointBehind(
  version: number,
  newestCheckpoint: number | null,
  configuration: Readonly<Record<string, string>>,
): boolean {
  const lastDue = version - (version % checkpointInterval(configuration));
  return lastDue > 0 && lastDue > (newestCheckpoint ?? 0);
}

/**
 * True while a tombstone must be kept (for VACUUM and readers of older versions): its
 * `deletionTimestamp` is later than `now` minus `delta.deletedFileRetentionDuration`. A tombstone
 * without a timestamp counts as removed at time 0, as the reference implementation reads it.
 */
export function isTombstoneUnexpired(tombstone: RemoveFile, retentionMs: number, now: number): boolean {
  return (tombstone.deletionTimestamp ?? 0) > now - retentionMs;
}

/**
 * The content of a V1 checkpoint of `snapshot` at time `now`: every txn, live domain and active
 * file, and the tombstones not yet expired. With `delta.checkpoint.writeStatsAsJson = false` the
 * files go without stats, as that property asks. Pure.
 * @throws DeltaInvalidWriteError when `delta.deletedFileRetentionDuration` cannot be read.
 */
export function checkpointContent(snapshot: Snapshot, now: number): CheckpointContent {
  const retentionMs = deletedFileRetentionMs(snapshot.metadata.configuration);
  const withStats = booleanProperty(
    snapshot.metadata.configuration,
    'delta.checkpoint.writeStatsAsJson',
    true,
  );
  const files: readonly AddFile[] = withStats
    ? snapshot.files
    : snapshot.files.map(({ stats: _stats, ...file }) => file);
  return {
    protocol: snapshot.protocol,
    metadata: snapshot.metadata,
    txns: [...snapshot.txns.values()],
    domainMetadata: [...snapshot.domainMetadata.values()],
    files,
    tombstones: snapshot.tombstones.filter((tombstone) => isTombstoneUnexpired(tombstone, retentionMs, now)),
  };
}

/**
 * Writes a classic V1 checkpoint of `snapshot` (`_delta_log/<version>.checkpoint.parquet`, replacing
 * any checkpoint of the same version: both hold the same state), then `_last_checkpoint`, unless
 * that already points at a later version. Call it only for a version whose commit exists.
 * Idempotent.
 * @throws DeltaUnsupportedFeatureError for a table ddb-lake may not write (v2 checkpoints, …);
 *   StorageError or the engine's error when a write fails (the checkpoint is then simply absent
 *   or `_last_checkpoint` older; readers fall back to the commits).
 */
export async function writeCheckpoint(
  store: ObjectStore,
  engine: DeltaEngine,
  snapshot: Snapshot,
  options: { readonly now?: number } = {},
): Promise<Extract<CheckpointOutcome, { outcome: 'written' }>> {
  assertWritable(snapshot);
  const content = checkpointContent(snapshot, options.now ?? Date.now());
  const bytes = await engine.checkpoints.encode(content);
  await store.put(checkpointFileKey(snapshot.version), bytes);
  const last: LastCheckpoint = {
    version: snapshot.version,
    size:
      2 +
      content.txns.length +
      content.domainMetadata.length +
      content.files.length +
      content.tombstones.length,
    sizeInBytes: bytes.byteLength,
    numOfAddFiles: content.files.length,
  };
  const current = (await readLastCheckpoint(store))?.version;
  if (current === undefined || current <= snapshot.version) {
    await store.put(LAST_CHECKPOINT_KEY, JSON.stringify(last));
  }
  return {
    outcome: 'written',
    ...last,
    tombstonesExpired: snapshot.tombstones.length - content.tombstones.length,
  };
}
