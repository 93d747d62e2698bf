import type { AddFile, DeletionVectorDescriptor, RemoveFile } from './actions.ts';
import { numRecordsOf } from './commit-info.ts';
import { DeltaInvalidWriteError } from './errors.ts';
import { deletionVectorUniqueId } from './log-replay.ts';

/*
 * Giving a data file a new deletion vector (PROTOCOL.md, "Deletion Vectors", "Action
 * Reconciliation", "Per-file Statistics", "Writer Requirement for Deletion Vectors"): the logical
 * file (path, old vector) is removed and the logical file (path, new vector) added in one commit,
 * so log replay, which keys files by path and the vector's unique id, ends with the new one active
 * and the old one a tombstone (which keeps the old vector's file until VACUUM's retention). The
 * added file keeps its path, size, partition values, tags and stats, with `numRecords` (required:
 * it must count the rows of the data file, deleted ones included) and `tightBounds: false`, since
 * the bounds may now belong to deleted rows.
 */

/** The pair of actions that moves a data file from its old deletion vector (or none) to a new one. */
export interface DeletionVectorUpdate {
  /** `remove` of the logical file (path, old vector), carrying the old vector. */
  readonly remove: RemoveFile;
  /** `add` of the logical file (path, new vector), stats marked `tightBounds: false`. */
  readonly add: AddFile;
}

/** Where the top-level member `name` of a JSON object text sits: its value's start and end. */
function topLevelMember(json: string, name: string): { start: number; end: number } | undefined {
  let depth = 0;
  let i = 0;
  let expectKey = false;
  let key: string | undefined;
  while (i < json.length) {
    const char = json[i] as string;
    if (char === '"') {
      let end = i + 1;
      while (json[end] !== '"') end += json[end] === '\\' ? 2 : 1;
      const text = json.slice(i, end + 1);
      if (depth === 1 && expectKey) key = JSON.parse(text) as string;
      i = end + 1;
      continue;
    }
    if (char === '{' || char === '[') {
      depth++;
      expectKey = char === '{' && depth === 1;
    } else if (char === '}' || char === ']') {
      depth--;
    } else if (char === ',' && depth === 1) {
      expectKey = true;
    } else if (char === ':' && depth === 1 && key !== undefined) {
      expectKey = false;
      if (key === name) {
        let start = i + 1;
        while (/\s/.test(json[start] ?? '')) start++;
        let end = start;
        while (end < json.length && /[a-z]/.test(json[end] as string)) end++;
        return { start, end };
      }
      key = undefined;
    }
    i++;
  }
  return undefined;
}

/**
 * The `stats` text of a file that now has a deletion vector: the same text with the top-level
 * `tightBounds` set to false (added when absent), so readers know the bounds may be wide
 * (PROTOCOL.md, "Per-file Statistics"). Works on the text, so exact numbers in the bounds (38-digit
 * decimals) stay exactly as written; a column that happens to be named `tightBounds` is left alone.
 * @throws DeltaInvalidWriteError when `stats` is not a JSON object with a whole `numRecords`.
 */
export function statsWithWideBounds(stats: string | null | undefined, path: string): string {
  if (numRecordsOf(stats) === undefined || stats === null || stats === undefined) {
    throw new DeltaInvalidWriteError(
      `The data file ${path} has no numRecords in its stats, and a file with a deletion vector must have it (PROTOCOL.md, "Writer Requirement for Deletion Vectors"). No deletion vector was added; rewrite the file instead.`,
    );
  }
  const text = stats.trim();
  const member = topLevelMember(text, 'tightBounds');
  if (member !== undefined) return `${text.slice(0, member.start)}false${text.slice(member.end)}`;
  const close = text.lastIndexOf('}');
  const body = text.slice(0, close).trimEnd();
  return `${body}${body.endsWith('{') ? '' : ','}"tightBounds":false}`;
}

/**
 * The `remove` of the logical file `file` (an active `add`): its path, partition values, size,
 * stats, tags, deletion vector and row-tracking fields, so the remove names exactly that logical
 * file (PROTOCOL.md, "Add File and Remove File": a remove with a different vector would name
 * another). Pure.
 */
export function removeOf(
  file: AddFile,
  options: { readonly deletionTimestamp: number; readonly dataChange: boolean },
): RemoveFile {
  return {
    path: file.path,
    deletionTimestamp: options.deletionTimestamp,
    dataChange: options.dataChange,
    extendedFileMetadata: true,
    partitionValues: file.partitionValues,
    size: file.size,
    ...(file.stats === undefined || file.stats === null ? {} : { stats: file.stats }),
    ...(file.tags === undefined || file.tags === null ? {} : { tags: file.tags }),
    ...(file.deletionVector === undefined || file.deletionVector === null
      ? {}
      : { deletionVector: file.deletionVector }),
    ...(file.baseRowId === undefined || file.baseRowId === null ? {} : { baseRowId: file.baseRowId }),
    ...(file.defaultRowCommitVersion === undefined || file.defaultRowCommitVersion === null
      ? {}
      : { defaultRowCommitVersion: file.defaultRowCommitVersion }),
  };
}

/**
 * The actions that give `file` (an active `add` of the snapshot) the deletion vector `deletionVector`
 * (usually `writeDeletionVector`'s, holding the old vector's rows and the newly deleted ones): the
 * `remove` of (path, old vector) with `deletionTimestamp`, and the `add` of (path, new vector) with
 * `dataChange: true`, its stats marked `tightBounds: false`, everything else as it was. Commit both
 * in one commit (Transaction.updateDeletionVectors does). Pure.
 * @throws DeltaInvalidWriteError when the file's stats lack `numRecords`, when the new vector
 *   removes fewer rows than the old one or more than the file holds, or is the old one.
 */
export function deletionVectorUpdate(
  file: AddFile,
  deletionVector: DeletionVectorDescriptor,
  options: { readonly deletionTimestamp: number },
): DeletionVectorUpdate {
  const stats = statsWithWideBounds(file.stats, file.path);
  const numRecords = numRecordsOf(file.stats) as number;
  const old = file.deletionVector ?? undefined;
  const cardinality = deletionVector.cardinality;
  if (!Number.isSafeInteger(cardinality) || cardinality < 0 || cardinality > numRecords) {
    throw new DeltaInvalidWriteError(
      `The deletion vector for ${file.path} removes ${cardinality} rows, but the file holds ${numRecords}. No deletion vector was added.`,
    );
  }
  if (old !== undefined && cardinality < old.cardinality) {
    throw new DeltaInvalidWriteError(
      `The new deletion vector for ${file.path} removes ${cardinality} rows, fewer than its current one (${old.cardinality}): deleted rows would come back. A new vector must hold the old one's rows too.`,
    );
  }
  if (old !== undefined && deletionVectorUniqueId(old) === deletionVectorUniqueId(deletionVector)) {
    throw new DeltaInvalidWriteError(
      `The file ${file.path} already has the deletion vector ${deletionVectorUniqueId(old)}; a new one must be written (writeDeletionVector) to change its rows.`,
    );
  }
  const remove = removeOf(file, { deletionTimestamp: options.deletionTimestamp, dataChange: true });
  const add: AddFile = { ...file, dataChange: true, stats, deletionVector };
  return { remove, add };
}
