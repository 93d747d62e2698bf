import type { ObjectStore } from '../storage/object-store.ts';
import {
  DeltaLogCorruptError,
  DeltaTableNotFoundError,
  DeltaUnsupportedFeatureError,
  DeltaVersionNotFoundError,
} from './errors.ts';
import { readLastCheckpoint } from './last-checkpoint.ts';
import { DELTA_LOG_DIR, paddedVersion, parseLogFileName } from './log-files.ts';

/*
 * The log segment of one snapshot (PROTOCOL.md, "Checkpoints", "Last Checkpoint File"): the newest
 * complete checkpoint at or before the version, and the contiguous commits after it up to the
 * version. Found by listing `_delta_log/` (sorted), from the `_last_checkpoint` hint when it helps,
 * from the start otherwise; the listing, not the hint, is the truth.
 */

/** A checkpoint: one classic file, or every part of a multi-part one in part order. */
export interface CheckpointRef {
  readonly version: number;
  readonly keys: readonly string[];
}

/** One commit file. */
export interface CommitRef {
  readonly version: number;
  readonly key: string;
}

/** What to read to build the snapshot at `version`. */
export interface LogSegment {
  readonly version: number;
  /** The checkpoint replay starts from, or null to start at version 0. */
  readonly checkpoint: CheckpointRef | null;
  /** The commits after the checkpoint (or from 0) up to `version`, ascending, without a gap. */
  readonly commits: readonly CommitRef[];
  /** The commit file at `version` when it exists (its `commitInfo` belongs to the snapshot). */
  readonly commitAtVersion: string | null;
}

/** What one listing of `_delta_log/` found. */
interface LogListing {
  readonly commits: Map<number, string>;
  readonly classic: Map<number, string>;
  /** version → number of parts → part number → key. */
  readonly parts: Map<number, Map<number, Map<number, string>>>;
  readonly uuidNamed: Map<number, string>;
  /** True when the listing stopped early at a version above the target. */
  cut: boolean;
}

async function listLog(
  store: ObjectStore,
  startAfter: string | undefined,
  target: number | undefined,
): Promise<LogListing> {
  const listing: LogListing = {
    commits: new Map(),
    classic: new Map(),
    parts: new Map(),
    uuidNamed: new Map(),
    cut: false,
  };
  const options = startAfter === undefined ? undefined : { startAfter };
  for await (const { key } of store.list(DELTA_LOG_DIR, options)) {
    const file = parseLogFileName(key);
    if (file.kind === 'other') continue;
    // Every file of one version sorts together (20 digits, then '.'), so nothing at or below the
    // target follows the first file above it.
    if (target !== undefined && file.version > target) {
      listing.cut = true;
      break;
    }
    if (file.kind === 'commit') listing.commits.set(file.version, key);
    else if (file.kind === 'checkpoint') listing.classic.set(file.version, key);
    else if (file.kind === 'uuid-checkpoint') listing.uuidNamed.set(file.version, key);
    else {
      const byCount = listing.parts.get(file.version) ?? new Map<number, Map<number, string>>();
      const byPart = byCount.get(file.parts) ?? new Map<number, string>();
      byPart.set(file.part, key);
      byCount.set(file.parts, byPart);
      listing.parts.set(file.version, byCount);
    }
  }
  return listing;
}

/** The complete checkpoint at `version`, preferring a classic file; a multi-part one with a missing part is ignored. */
function completeCheckpointAt(listing: LogListing, version: number): CheckpointRef | null {
  const classic = listing.classic.get(version);
  if (classic !== undefined) return { version, keys: [classic] };
  for (const [count, byPart] of listing.parts.get(version) ?? []) {
    const keys: string[] = [];
    for (let part = 1; part <= count; part++) {
      const key = byPart.get(part);
      if (key === undefined) break;
      keys.push(key);
    }
    if (count > 1 && keys.length === count) return { version, keys };
  }
  return null;
}

/** The newest complete checkpoint at or before `version`. */
function newestCheckpoint(listing: LogListing, version: number): CheckpointRef | null {
  const versions = new Set([...listing.classic.keys(), ...listing.parts.keys()]);
  const candidates = [...versions].filter((v) => v <= version).sort((a, b) => b - a);
  for (const candidate of candidates) {
    const checkpoint = completeCheckpointAt(listing, candidate);
    if (checkpoint !== null) return checkpoint;
  }
  return null;
}

function earliestCommit(listing: LogListing): number | undefined {
  let earliest: number | undefined;
  for (const v of listing.commits.keys()) if (earliest === undefined || v < earliest) earliest = v;
  return earliest;
}

function latestVersionOf(listing: LogListing): number | undefined {
  let latest: number | undefined;
  for (const v of listing.commits.keys()) if (latest === undefined || v > latest) latest = v;
  const checkpoint = newestCheckpoint(listing, Number.MAX_SAFE_INTEGER);
  if (checkpoint !== null && (latest === undefined || checkpoint.version > latest))
    latest = checkpoint.version;
  return latest;
}

/** Refuses a UUID-named (V2) checkpoint newer than the checkpoint replay would start from. */
function refuseNewerV2Checkpoint(listing: LogListing, from: number, version: number, tableUrl: string): void {
  for (const [v, key] of listing.uuidNamed) {
    if (v > from && v <= version) {
      throw new DeltaUnsupportedFeatureError(
        'read',
        'v2Checkpoint',
        `The table at ${tableUrl} has a UUID-named V2 checkpoint (${key}): it needs the reader feature "v2Checkpoint", which ddb-lake does not implement. Disable V2 checkpoints in Databricks (ALTER TABLE … DROP FEATURE v2Checkpoint) or read the table with Spark or Databricks.`,
      );
    }
  }
}

function cleanedUp(listing: LogListing, version: number, tableUrl: string): DeltaVersionNotFoundError {
  const earliest = earliestCommit(listing);
  const from =
    earliest === undefined
      ? 'the log holds only later versions'
      : `the earliest commit is version ${earliest}`;
  return new DeltaVersionNotFoundError(
    tableUrl,
    version,
    `Version ${version} of ${tableUrl} can no longer be reconstructed: no checkpoint exists at or before it and its commits from version 0 are gone (${from}; old log files were cleaned up or lost). Read a later version.`,
  );
}

function commitsAfter(
  listing: LogListing,
  checkpoint: CheckpointRef | null,
  version: number,
  tableUrl: string,
  timeTravel: boolean,
): CommitRef[] {
  const first = checkpoint === null ? 0 : checkpoint.version + 1;
  if (checkpoint === null && !listing.commits.has(0) && timeTravel)
    throw cleanedUp(listing, version, tableUrl);
  const commits: CommitRef[] = [];
  for (let v = first; v <= version; v++) {
    const key = listing.commits.get(v);
    if (key === undefined) {
      const start =
        checkpoint === null
          ? 'version 0 (there is no checkpoint)'
          : `the checkpoint at version ${checkpoint.version}`;
      throw new DeltaLogCorruptError(
        `The log of ${tableUrl} is missing version ${v} (${DELTA_LOG_DIR}${paddedVersion(v)}.json): replay from ${start} to version ${version} needs every commit in between. Restore the file from a backup, or read an earlier version.`,
        { file: `${DELTA_LOG_DIR}${paddedVersion(v)}.json` },
      );
    }
    commits.push({ version: v, key });
  }
  return commits;
}

function segmentOf(listing: LogListing, target: number | undefined, tableUrl: string): LogSegment {
  const latest = latestVersionOf(listing);
  if (latest === undefined) {
    // A listing cut at the target saw nothing at or below it: later versions exist.
    if (listing.cut && target !== undefined) throw cleanedUp(listing, target, tableUrl);
    throw new DeltaTableNotFoundError(tableUrl);
  }
  if (target !== undefined && target > latest && !listing.cut) {
    throw new DeltaVersionNotFoundError(
      tableUrl,
      target,
      `Version ${target} of ${tableUrl} does not exist: the latest version is ${latest}.`,
    );
  }
  const version = target ?? latest;
  const checkpoint = newestCheckpoint(listing, version);
  refuseNewerV2Checkpoint(listing, checkpoint?.version ?? -1, version, tableUrl);
  const commits = commitsAfter(listing, checkpoint, version, tableUrl, target !== undefined);
  return { version, checkpoint, commits, commitAtVersion: listing.commits.get(version) ?? null };
}

/**
 * The log segment of the snapshot at `options.version` (default: the latest) of the table in
 * `store`. Lists `_delta_log/` once from the `_last_checkpoint` hint (so a checkpoint newer than a
 * stale hint is found) and once from the start when the hint is missing, above the target, or led
 * to no complete checkpoint. Temp files, `.crc`, compacted logs and subfolders are ignored.
 * @throws DeltaTableNotFoundError when `_delta_log/` holds no commit (nor a complete checkpoint).
 * @throws DeltaVersionNotFoundError for a version above the latest or one whose log was cleaned up.
 * @throws DeltaLogCorruptError naming the missing version when the commits after the checkpoint
 *   (or from 0) have a gap.
 * @throws DeltaUnsupportedFeatureError('read', 'v2Checkpoint') when the newest checkpoint is UUID-named.
 */
export async function resolveLogSegment(
  store: ObjectStore,
  options: { readonly version?: number } = {},
): Promise<LogSegment> {
  const target = options.version;
  if (target !== undefined && (!Number.isSafeInteger(target) || target < 0)) {
    throw new DeltaVersionNotFoundError(
      store.url,
      target,
      `${target} is not a Delta version: versions are integers from 0.`,
    );
  }
  const hint = await readLastCheckpoint(store);
  if (hint !== undefined && (target === undefined || hint.version <= target)) {
    const listing = await listLog(store, `${DELTA_LOG_DIR}${paddedVersion(hint.version)}`, target);
    const latest = latestVersionOf(listing);
    const version = target ?? latest;
    if (version !== undefined && newestCheckpoint(listing, version) !== null)
      return segmentOf(listing, target, store.url);
  }
  return segmentOf(await listLog(store, undefined, target), target, store.url);
}
