import type { ObjectStore } from '../storage/object-store.ts';
import type { AddFile, Protocol, Txn } from './actions.ts';
import { columnNameMapping } from './column-names.ts';
import { numRecordsOf } from './commit-info.ts';
import type { DeltaEngine } from './engine.ts';
import { loadSnapshot } from './load-snapshot.ts';
import { LAST_CHECKPOINT_KEY } from './log-files.ts';
import { deletionVectorUniqueId } from './log-replay.ts';
import { deltaTypeText } from './schema.ts';

/*
 * What `ddb-lake table describe` shows (Spark's `DESCRIBE DETAIL` plus the schema and the
 * exactly-once state): everything is read from one snapshot, and the record count from the files'
 * stats, so describing a table reads no data file.
 */

export interface ColumnDescription {
  readonly name: string;
  /** Spark SQL spelling: `bigint`, `decimal(38,2)`, `array<string>`. */
  readonly type: string;
  readonly nullable: boolean;
}

/** The table's deletion vectors (PROTOCOL.md, "Deletion Vectors"), from the active files' descriptors. */
export interface DeletionVectorSummary {
  /** Rows the vectors mark deleted: the sum of the active files' `cardinality`. */
  readonly deletedRows: number;
  /** Active data files with a deletion vector. */
  readonly filesWithDeletionVectors: number;
  /** Distinct files holding those vectors (`u` and `p` descriptors). */
  readonly deletionVectorFiles: number;
  /** Vectors stored inline in the log (`i` descriptors). */
  readonly inlineDeletionVectors: number;
  /** Bytes of the vectors themselves (their `sizeInBytes`, inline ones included). */
  readonly deletionVectorBytes: number;
}

export interface TableDescription {
  readonly location: string;
  readonly version: number;
  readonly id: string;
  readonly name: string | null;
  readonly description: string | null;
  readonly createdTime: number | null;
  readonly protocol: Protocol;
  readonly partitionColumns: readonly string[];
  readonly schema: readonly ColumnDescription[];
  readonly configuration: Readonly<Record<string, string>>;
  /** DynamoDB attribute → column, as ddb-lake recorded it (empty for other tables). */
  readonly columnNames: Readonly<Record<string, string>>;
  readonly numFiles: number;
  readonly totalBytes: number;
  /** The rows the table holds: the files' `numRecords` less the rows their deletion vectors remove, or null when some file has no stats. */
  readonly numRecords: number | null;
  readonly filesWithoutStats: number;
  /** Deleted rows and deletion vectors of the active files (all zero without deletion vectors). */
  readonly deletionVectors: DeletionVectorSummary;
  /** The latest txn of each application, by appId. */
  readonly txns: readonly Txn[];
  readonly tombstones: number;
  /** What `_delta_log/_last_checkpoint` says, or null when there is none (or it is unreadable). */
  readonly lastCheckpoint: Readonly<Record<string, unknown>> | null;
  /** The checkpoint the snapshot was loaded from. */
  readonly checkpointVersion: number | null;
}

async function readLastCheckpoint(store: ObjectStore): Promise<Record<string, unknown> | null> {
  if ((await store.head(LAST_CHECKPOINT_KEY)) === undefined) return null;
  try {
    const parsed: unknown = JSON.parse(
      Buffer.from(await store.getBytes(LAST_CHECKPOINT_KEY)).toString('utf8'),
    );
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

/** Counts the deletion vectors of `files`. Pure. */
export function summarizeDeletionVectors(files: readonly AddFile[]): DeletionVectorSummary {
  let deletedRows = 0;
  let filesWithDeletionVectors = 0;
  let inlineDeletionVectors = 0;
  let deletionVectorBytes = 0;
  const stored = new Set<string>();
  for (const file of files) {
    const dv = file.deletionVector;
    if (dv === undefined || dv === null) continue;
    filesWithDeletionVectors++;
    deletedRows += dv.cardinality;
    deletionVectorBytes += dv.sizeInBytes;
    if (dv.storageType === 'i') inlineDeletionVectors++;
    // Several vectors may share a file (at different offsets): count the file once.
    else stored.add(deletionVectorUniqueId({ ...dv, offset: null }));
  }
  return {
    deletedRows,
    filesWithDeletionVectors,
    deletionVectorFiles: stored.size,
    inlineDeletionVectors,
    deletionVectorBytes,
  };
}

/**
 * Describes the table in `store` at its latest version (or `version`): location, id, protocol,
 * schema, partitioning, properties, the column-name mapping, file count and bytes, the record
 * count from stats, the rows deleted by deletion vectors and the vectors' files, the txns, and the
 * last checkpoint. Reads the log only.
 * @throws DeltaTableNotFoundError, DeltaLogCorruptError, DeltaUnsupportedFeatureError as `loadSnapshot` does.
 */
export async function describeTable(
  store: ObjectStore,
  engine: DeltaEngine,
  options: { readonly version?: number } = {},
): Promise<TableDescription> {
  const snapshot = await loadSnapshot(
    store,
    engine,
    options.version === undefined ? {} : { version: options.version },
  );
  let totalBytes = 0;
  let numRecords = 0;
  let filesWithoutStats = 0;
  for (const file of snapshot.files) {
    totalBytes += file.size;
    const records = numRecordsOf(file.stats);
    if (records === undefined) filesWithoutStats++;
    else numRecords += records - (file.deletionVector?.cardinality ?? 0);
  }
  const metadata = snapshot.metadata;
  return {
    location: snapshot.tableUrl,
    version: snapshot.version,
    id: metadata.id,
    name: metadata.name ?? null,
    description: metadata.description ?? null,
    createdTime: metadata.createdTime ?? null,
    protocol: snapshot.protocol,
    partitionColumns: snapshot.partitionColumns,
    schema: snapshot.schema.fields.map((field) => ({
      name: field.name,
      type: deltaTypeText(field.type),
      nullable: field.nullable,
    })),
    configuration: metadata.configuration,
    columnNames: Object.fromEntries(columnNameMapping(metadata.configuration)),
    numFiles: snapshot.files.length,
    totalBytes,
    numRecords: filesWithoutStats === 0 ? numRecords : null,
    filesWithoutStats,
    deletionVectors: summarizeDeletionVectors(snapshot.files),
    txns: [...snapshot.txns.values()].sort((a, b) => (a.appId < b.appId ? -1 : a.appId > b.appId ? 1 : 0)),
    tombstones: snapshot.tombstones.length,
    lastCheckpoint: await readLastCheckpoint(store),
    checkpointVersion: snapshot.checkpointVersion,
  };
}
