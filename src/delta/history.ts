import type { ObjectStore } from '../storage/object-store.ts';
import { type CommitInfo, parseCommitFile, type Txn } from './actions.ts';
import { DeltaTableNotFoundError } from './errors.ts';
import { commitFileKey, DELTA_LOG_DIR, parseLogFileName } from './log-files.ts';

/*
 * A table's history (Spark's `DESCRIBE HISTORY`): the `commitInfo` of each commit file still in the
 * log (PROTOCOL.md, "Commit Provenance Information"). Commits removed by log cleanup are gone from
 * the history too, as in Spark.
 */

/** One commit of the history. */
export interface HistoryEntry {
  readonly version: number;
  /** `commitInfo.timestamp`, or the commit file's modification time when it has none. */
  readonly timestamp: number;
  readonly operation: string | null;
  readonly operationParameters: Readonly<Record<string, unknown>>;
  readonly operationMetrics: Readonly<Record<string, unknown>>;
  readonly readVersion: number | null;
  readonly isBlindAppend: boolean | null;
  readonly engineInfo: string | null;
  /** The `txn` actions of the commit (the batches it made exactly-once). */
  readonly txns: readonly Txn[];
  /** The whole `commitInfo`, or null when the commit has none. */
  readonly commitInfo: CommitInfo | null;
}

function stringOrNull(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

function objectOf(value: unknown): Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

/**
 * The history of the table in `store`, newest first: every commit file of `_delta_log/`, at most
 * `limit` of them (the newest). Reads only the commit files it returns.
 * @throws DeltaTableNotFoundError when the log holds no commit.
 * @throws DeltaLogCorruptError naming the file for a commit that is not valid JSON lines.
 */
export async function tableHistory(
  store: ObjectStore,
  options: { readonly limit?: number } = {},
): Promise<HistoryEntry[]> {
  const commits: { version: number; lastModified: Date }[] = [];
  for await (const object of store.list(DELTA_LOG_DIR)) {
    const name = parseLogFileName(object.key);
    if (name.kind === 'commit') commits.push({ version: name.version, lastModified: object.lastModified });
  }
  if (commits.length === 0) throw new DeltaTableNotFoundError(store.url);
  commits.sort((a, b) => b.version - a.version);
  const chosen = options.limit === undefined ? commits : commits.slice(0, Math.max(0, options.limit));
  const entries: HistoryEntry[] = [];
  for (const { version, lastModified } of chosen) {
    const key = commitFileKey(version);
    const actions = parseCommitFile(Buffer.from(await store.getBytes(key)).toString('utf8'), key);
    let commitInfo: CommitInfo | null = null;
    const txns: Txn[] = [];
    for (const action of actions) {
      if ('commitInfo' in action) commitInfo ??= action.commitInfo;
      else if ('txn' in action) txns.push(action.txn);
    }
    const info = commitInfo ?? {};
    entries.push({
      version,
      timestamp:
        typeof info.timestamp === 'number' && Number.isFinite(info.timestamp)
          ? info.timestamp
          : lastModified.getTime(),
      operation: stringOrNull(info.operation),
      operationParameters: objectOf(info.operationParameters),
      operationMetrics: objectOf(info.operationMetrics),
      readVersion: typeof info.readVersion === 'number' ? info.readVersion : null,
      isBlindAppend: typeof info.isBlindAppend === 'boolean' ? info.isBlindAppend : null,
      engineInfo: stringOrNull(info.engineInfo),
      txns,
      commitInfo,
    });
  }
  return entries;
}
