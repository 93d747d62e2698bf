import type { AddFile, CommitInfo, DomainMetadata, Metadata, Protocol, RemoveFile, Txn } from './actions.ts';
import type { StructType } from './schema.ts';

/*
 * The state of a Delta table at one version (PROTOCOL.md, "Delta Table Specification", "Action
 * Reconciliation"): what log replay (load-snapshot.ts) produces and every reader and writer uses.
 */

export interface Snapshot {
  /** The table's location (the store's URL). */
  readonly tableUrl: string;
  readonly version: number;
  readonly protocol: Protocol;
  readonly metadata: Metadata;
  /** `metadata.schemaString`, parsed. */
  readonly schema: StructType;
  readonly partitionColumns: readonly string[];
  /** Active logical files, ascending by path. */
  readonly files: readonly AddFile[];
  /** Remove tombstones, ascending by path (expired ones included; VACUUM and checkpoints filter). */
  readonly tombstones: readonly RemoveFile[];
  /** The latest `txn` per `appId`. */
  readonly txns: ReadonlyMap<string, Txn>;
  /** Live metadata domains (tombstoned ones excluded). */
  readonly domainMetadata: ReadonlyMap<string, DomainMetadata>;
  /** The `commitInfo` of the commit file at `version`, when that file still exists and has one. */
  readonly commitInfo: CommitInfo | null;
  /** The checkpoint replay started from, or null when it started from version 0. */
  readonly checkpointVersion: number | null;
}

/**
 * A snapshot as a reader of the table's rows needs it: everything but the tombstones, which only
 * writers (checkpoints) and VACUUM use. What loadReadSnapshot returns; every Snapshot is one, and
 * the type keeps one loaded without tombstones away from a writer.
 */
export type ReadSnapshot = Omit<Snapshot, 'tombstones'>;

/**
 * The latest version an application committed (PROTOCOL.md, "Transaction Identifiers"), or
 * undefined when it never committed. A batch whose number is ≤ this is already in the table.
 */
export function latestTxnVersion(snapshot: ReadSnapshot, appId: string): number | undefined {
  return snapshot.txns.get(appId)?.version;
}
