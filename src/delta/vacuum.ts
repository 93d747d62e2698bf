import { compareKeys, TEMP_FILE_MARKER } from '../storage/object-key.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { holdsTemporaryFiles } from '../storage/temporary-files.ts';
import type { DeletionVectorDescriptor } from './actions.ts';
import { dataFileKey } from './data-path.ts';
import { deletionVectorFileKey } from './deletion-vector.ts';
import type { DeltaEngine } from './engine.ts';
import { DeltaInvalidWriteError, DeltaUnsupportedFeatureError } from './errors.ts';
import { loadSnapshot } from './load-snapshot.ts';
import type { Snapshot } from './snapshot.ts';
import { deletedFileRetentionMs } from './table-properties.ts';
import { isTombstoneUnexpired } from './write-checkpoint.ts';
import { assertWritable } from './writer-features.ts';

/*
 * VACUUM (PROTOCOL.md, "Add File and Remove File": tombstones let files be deleted lazily after a
 * retention period; "Data Files": data lives outside hidden folders; "Deletion Vector Files": they
 * sit in the table root too): deletes the files below the table's root that no version a reader may
 * still ask for references. A data file or deletion vector file is kept when an active `add` names
 * it (as its path or its deletion vector), when a tombstone still within the retention names it (a
 * reader of a recent older version needs it, with the vector it had then), when it is younger than
 * the retention (a writer may be about to commit it),
 * or when it is hidden: any path segment starting with `_` or `.` (`_delta_log/`, `_ddb_lake/`,
 * `_change_data/`, temporary files), except a partition folder of a partition column whose name
 * starts with `_`.
 *
 * Temporary files of interrupted writes (the local folder store's `.ddb-lake-tmp-*`, left by a
 * process killed mid-write, anywhere below the root, `_delta_log/` included) are no part of any
 * version: they go by the same age rule, older than the retention, so a write still in progress
 * (whose file is recent) is never touched.
 */

/** Spark's default retention: `delta.deletedFileRetentionDuration`, one week. */
export const DEFAULT_RETENTION_HOURS = 168;

export interface VacuumOptions {
  /** Files younger than this are kept (default: the table's `delta.deletedFileRetentionDuration`, one week). */
  readonly retentionHours?: number;
  /** List what would be deleted, delete nothing. */
  readonly dryRun?: boolean;
  /** Allow a retention shorter than the table's (Spark's retentionDurationCheck, switched off). */
  readonly allowShortRetention?: boolean;
  /** Milliseconds since the epoch (default now). */
  readonly now?: number;
  /** Called after each file is deleted (not in a dry run), for progress. */
  readonly onDeleted?: (file: VacuumFile) => void;
}

/** A file vacuum deletes (or would). */
export interface VacuumFile {
  /** The key below the table's root. */
  readonly key: string;
  readonly size: number;
  readonly lastModified: Date;
  /** True for a temporary file an interrupted write left (never part of the table). */
  readonly temporary?: boolean;
  /** True for a deletion vector file (`deletion_vector_<uuid>.bin`) no version references any more. */
  readonly deletionVector?: boolean;
}

export interface VacuumResult {
  readonly tableUrl: string;
  /** The table version whose references were kept. */
  readonly version: number;
  readonly retentionHours: number;
  readonly dryRun: boolean;
  /** Deleted files (or, in a dry run, those that would be), ascending by key. */
  readonly files: readonly VacuumFile[];
  readonly totalBytes: number;
  /** Unreferenced files kept because they are younger than the retention. */
  readonly keptYoung: number;
  /** Files kept because a tombstone within the retention still names them. */
  readonly keptForTombstones: number;
}

/** True for a key VACUUM never touches: a segment starting with `_` or `.` (hidden), partition folders aside. */
export function isHiddenKey(key: string, partitionColumns: readonly string[]): boolean {
  const segments = key.split('/');
  const folders = segments.slice(0, -1);
  const name = segments.at(-1) ?? '';
  if (name.startsWith('_') || name.startsWith('.') || name.startsWith(TEMP_FILE_MARKER)) return true;
  return folders.some((folder) => {
    if (!folder.startsWith('_') && !folder.startsWith('.')) return false;
    const equals = folder.indexOf('=');
    return !(equals > 0 && partitionColumns.includes(folder.slice(0, equals)));
  });
}

function keyOf(path: string, snapshot: Snapshot): string | undefined {
  try {
    return dataFileKey(path, snapshot.tableUrl);
  } catch {
    // A path outside the table (a shallow clone's) is no file of this table to keep or delete.
    return undefined;
  }
}

/**
 * The key of the file holding a deletion vector, or undefined for an inline one or one outside the
 * table. A descriptor that names no file properly (a bad UUID) fails the vacuum: it cannot tell
 * which file that vector needs.
 */
function vectorKeyOf(
  descriptor: DeletionVectorDescriptor | null | undefined,
  snapshot: Snapshot,
): string | undefined {
  if (descriptor === undefined || descriptor === null || descriptor.storageType === 'i') return undefined;
  try {
    return deletionVectorFileKey(descriptor, snapshot.tableUrl);
  } catch (error) {
    if (error instanceof DeltaUnsupportedFeatureError) return undefined;
    throw error;
  }
}

const DELETION_VECTOR_FILE =
  /(^|\/)deletion_vector_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.bin$/;

/**
 * Deletes (or with `dryRun` lists) the files below the table's root that the latest version does
 * not reference and that are older than the retention: not named by an active `add` (as its path
 * or its deletion vector's file), not named by a tombstone whose deletion is within the retention
 * (likewise), last modified before `now − retention`, and
 * not hidden (see `isHiddenKey`); and, in a store that can hold them (temporary-files.ts), the
 * temporary files of interrupted writes last modified before `now − retention`, wherever they are.
 * Never touches an object of `_delta_log/`. Idempotent: a second run finds nothing more to delete.
 *
 * The retention guards readers of older versions and writers whose data files are written but
 * not yet committed; a shorter retention than the table's `delta.deletedFileRetentionDuration`
 * (one week by default) is refused unless `allowShortRetention` is set.
 * @throws DeltaInvalidWriteError for a negative or too short retention (nothing deleted).
 * @throws DeltaUnsupportedFeatureError for a table ddb-lake may not write (e.g. with features whose
 *   files it would not know to keep).
 * @throws DeltaLogCorruptError for a deletion vector descriptor that names no file properly.
 */
export async function vacuum(
  store: ObjectStore,
  engine: DeltaEngine,
  options: VacuumOptions = {},
): Promise<VacuumResult> {
  const snapshot = await loadSnapshot(store, engine);
  assertWritable(snapshot, { removesData: false });
  const tableRetentionMs = deletedFileRetentionMs(snapshot.metadata.configuration);
  const retentionHours = options.retentionHours ?? tableRetentionMs / 3_600_000;
  if (!Number.isFinite(retentionHours) || retentionHours < 0) {
    throw new DeltaInvalidWriteError(`The vacuum retention must be 0 hours or more, got ${retentionHours}.`);
  }
  const retentionMs = retentionHours * 3_600_000;
  if (retentionMs < tableRetentionMs && options.allowShortRetention !== true) {
    throw new DeltaInvalidWriteError(
      `A vacuum retention of ${retentionHours} hours is shorter than the table's ${tableRetentionMs / 3_600_000} hours (delta.deletedFileRetentionDuration): it could delete files that readers of recent versions, or a writer about to commit, still need. Nothing was deleted. Pass a longer retention, or allow a short one explicitly if no other reader or writer uses the table.`,
    );
  }
  const now = options.now ?? Date.now();
  const cutoff = now - retentionMs;

  const active = new Set<string>();
  for (const file of snapshot.files) {
    for (const key of [keyOf(file.path, snapshot), vectorKeyOf(file.deletionVector, snapshot)]) {
      if (key !== undefined) active.add(key);
    }
  }
  const tombstoned = new Set<string>();
  for (const tombstone of snapshot.tombstones) {
    if (!isTombstoneUnexpired(tombstone, retentionMs, now)) continue;
    for (const key of [keyOf(tombstone.path, snapshot), vectorKeyOf(tombstone.deletionVector, snapshot)]) {
      if (key !== undefined && !active.has(key)) tombstoned.add(key);
    }
  }

  const files: VacuumFile[] = [];
  let keptYoung = 0;
  let keptForTombstones = 0;
  for await (const object of store.list('')) {
    if (isHiddenKey(object.key, snapshot.partitionColumns) || active.has(object.key)) continue;
    if (tombstoned.has(object.key)) {
      keptForTombstones++;
      continue;
    }
    if (object.lastModified.getTime() >= cutoff) {
      keptYoung++;
      continue;
    }
    files.push({
      key: object.key,
      size: object.size,
      lastModified: object.lastModified,
      ...(DELETION_VECTOR_FILE.test(object.key) ? { deletionVector: true } : {}),
    });
  }
  if (holdsTemporaryFiles(store)) {
    for await (const temporary of store.listTemporaryFiles()) {
      if (temporary.lastModified.getTime() >= cutoff) {
        keptYoung++;
        continue;
      }
      files.push({ ...temporary, temporary: true });
    }
    files.sort((a, b) => compareKeys(a.key, b.key));
  }
  if (options.dryRun !== true) {
    for (const file of files) {
      if (file.temporary === true && holdsTemporaryFiles(store)) await store.deleteTemporaryFile(file.key);
      else await store.delete(file.key);
      options.onDeleted?.(file);
    }
  }
  return {
    tableUrl: snapshot.tableUrl,
    version: snapshot.version,
    retentionHours,
    dryRun: options.dryRun === true,
    files,
    totalBytes: files.reduce((sum, file) => sum + file.size, 0),
    keptYoung,
    keptForTombstones,
  };
}
