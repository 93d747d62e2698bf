import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import type { Action, CommitInfo } from './actions.ts';

/*
 * The `commitInfo` ddb-lake writes into every commit (PROTOCOL.md, "Commit Provenance Information"):
 * free-form for the protocol, but Spark's `DESCRIBE HISTORY` and Databricks' table history read
 * `timestamp`, `operation`, `operationParameters`, `readVersion`, `isBlindAppend`,
 * `operationMetrics` and `engineInfo`, so they are spelled and typed as Spark writes them (parameter
 * and metric values are strings).
 */

const require = createRequire(import.meta.url);
const PACKAGE_VERSION: string = (require('../../package.json') as { version: string }).version;

/** `engineInfo` of every commit ddb-lake writes: `ddb-lake/<package version>`. */
export const ENGINE_INFO = `ddb-lake/${PACKAGE_VERSION}`;

/** What a commit says about itself. */
export interface CommitInfoInput {
  /** Spark's operation name: `CREATE TABLE`, `WRITE`, `MERGE`, `DELETE`, `ADD COLUMNS`, … */
  readonly operation: string;
  readonly operationParameters?: Readonly<Record<string, string>>;
  /** Milliseconds since the epoch. */
  readonly timestamp: number;
  /** The version the transaction read; absent for the commit that creates the table. */
  readonly readVersion?: number;
  /** True when the commit only adds files and read nothing (it can never conflict on files). */
  readonly isBlindAppend: boolean;
  readonly operationMetrics?: Readonly<Record<string, string>>;
  /** A unique id of the transaction; a new random UUID when absent. */
  readonly txnId?: string;
}

/** The `commitInfo` action of a commit. Pure except for a fresh `txnId` when none is given. */
export function commitInfoAction(input: CommitInfoInput): { readonly commitInfo: CommitInfo } {
  const commitInfo: Record<string, unknown> = {
    timestamp: input.timestamp,
    operation: input.operation,
    operationParameters: { ...(input.operationParameters ?? {}) },
  };
  if (input.readVersion !== undefined) commitInfo.readVersion = input.readVersion;
  commitInfo.isolationLevel = 'Serializable';
  commitInfo.isBlindAppend = input.isBlindAppend;
  if (input.operationMetrics !== undefined) commitInfo.operationMetrics = { ...input.operationMetrics };
  commitInfo.engineInfo = ENGINE_INFO;
  commitInfo.txnId = input.txnId ?? randomUUID();
  return { commitInfo };
}

/**
 * Spark's write metrics of a commit's file actions: files and bytes added and removed, and the
 * rows added when every added file carries `numRecords` in its stats.
 */
export function operationMetricsOf(actions: readonly Action[]): Record<string, string> {
  let addedFiles = 0;
  let addedBytes = 0;
  let removedFiles = 0;
  let removedBytes = 0;
  let rows: number | undefined = 0;
  for (const action of actions) {
    if ('add' in action) {
      addedFiles++;
      addedBytes += action.add.size;
      const records = numRecordsOf(action.add.stats);
      rows = rows === undefined || records === undefined ? undefined : rows + records;
    } else if ('remove' in action) {
      removedFiles++;
      removedBytes += action.remove.size ?? 0;
    }
  }
  const metrics: Record<string, string> = {
    numFiles: String(addedFiles),
    numOutputBytes: String(addedBytes),
  };
  if (rows !== undefined) metrics.numOutputRows = String(rows);
  if (removedFiles > 0) {
    metrics.numRemovedFiles = String(removedFiles);
    metrics.numRemovedBytes = String(removedBytes);
  }
  return metrics;
}

/** `numRecords` of an `add.stats` JSON text, or undefined when absent or unreadable. */
export function numRecordsOf(stats: string | null | undefined): number | undefined {
  if (stats === undefined || stats === null || stats === '') return undefined;
  try {
    const parsed = JSON.parse(stats) as { numRecords?: unknown };
    return typeof parsed.numRecords === 'number' && Number.isSafeInteger(parsed.numRecords)
      ? parsed.numRecords
      : undefined;
  } catch {
    return undefined;
  }
}
