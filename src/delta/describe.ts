import type { ObjectStore } from '../storage/object-store.ts';
import type { Protocol, Txn } from './actions.ts';
import { columnNameMapping } from './column-names.ts';
import { numRecordsOf } from './commit-info.ts';
import type { DeltaEngine } from './engine.ts';
import { loadSnapshot } from './load-snapshot.ts';
import { LAST_CHECKPOINT_KEY } from './log-files.ts';
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

/**
 * Describes the table in `store` at its latest version (or `version`): location, id, protocol,
 * schema, partitioning, properties, the column-name mapping, file count and bytes, the record
 * count from stats, the txns, and the last checkpoint. Reads the log only.
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
    txns: [...snapshot.txns.values()].sort((a, b) => (a.appId < b.appId ? -1 : a.appId > b.appId ? 1 : 0)),
    tombstones: snapshot.tombstones.length,
    lastCheckpoint: await readLastCheckpoint(store),
    checkpointVersion: snapshot.checkpointVersion,
  };
}
