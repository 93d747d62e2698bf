import { randomUUID } from 'node:crypto';
import type { ObjectStore } from '../storage/object-store.ts';
import { type Action, type Metadata, type Protocol, serializeCommitFile } from './actions.ts';
import { commitInfoAction } from './commit-info.ts';
import { DeltaInvalidWriteError } from './errors.ts';
import { commitFileKey, DELTA_LOG_DIR, parseLogFileName } from './log-files.ts';
import { type StructType, serializeSchema } from './schema.ts';
import { assertSchemaWritable } from './schema-change.ts';
import type { Snapshot } from './snapshot.ts';
import { assertTablePropertiesWritable, pinnedProperties } from './table-properties.ts';

/*
 * Creating a table (PROTOCOL.md, "Change Metadata", "Protocol Evolution", "Creation of New Log
 * Entries"): commit 0 holds `protocol`, `metaData` and `commitInfo`, and is written with
 * put-if-absent, so of two creators exactly one wins and an existing table is never overwritten.
 */

/** The protocol of the tables ddb-lake creates without deletion vectors: no reader feature, writer version 2 (append-only, invariants). */
export const CREATED_TABLE_PROTOCOL: Protocol = { minReaderVersion: 1, minWriterVersion: 2 };

/**
 * The protocol of the tables ddb-lake creates with deletion vectors (PROTOCOL.md, "Deletion
 * Vectors": reader 3, writer 7, `deletionVectors` in both feature lists). The writer features of
 * writer version 2 (`appendOnly`, `invariants`) stay listed, as Spark lists them when it moves a
 * table to table features, so `delta.appendOnly` keeps its meaning.
 */
export const CREATED_DV_TABLE_PROTOCOL: Protocol = {
  minReaderVersion: 3,
  minWriterVersion: 7,
  readerFeatures: ['deletionVectors'],
  writerFeatures: ['appendOnly', 'deletionVectors', 'invariants'],
};

export interface CreateTableOptions {
  readonly schema: StructType;
  readonly partitionColumns?: readonly string[];
  /** Table properties; the pins of DESIGN.md rule 5 are added (and cannot be overridden). */
  readonly configuration?: Readonly<Record<string, string>>;
  readonly name?: string;
  readonly description?: string;
  /** Milliseconds since the epoch for `createdTime` and the commit's timestamp; default now. */
  readonly now?: number;
  /**
   * True: the table gets the `deletionVectors` feature (`CREATED_DV_TABLE_PROTOCOL`) and
   * `delta.enableDeletionVectors=true`, so writes may mark rows deleted instead of rewriting files.
   * Default false: reader 1 / writer 2 and `delta.enableDeletionVectors=false`, readable by every
   * Delta reader.
   */
  readonly deletionVectors?: boolean;
}

/** An error thrown when a table already exists where one is to be created. */
function tableExists(store: ObjectStore, found: string): DeltaInvalidWriteError {
  return new DeltaInvalidWriteError(
    `A Delta table already exists at ${store.url} (${found}); it was left untouched. Write to it, or choose another location.`,
  );
}

/** The first key under `_delta_log/` that makes the location a table (a commit or checkpoint), if any. */
async function existingLogFile(store: ObjectStore): Promise<string | undefined> {
  for await (const object of store.list(DELTA_LOG_DIR)) {
    if (parseLogFileName(object.key).kind !== 'other') return object.key;
  }
  return undefined;
}

/**
 * Creates a Delta table at the store's root: commit 0 with `protocol` (reader 1, writer 2; with
 * `deletionVectors`, reader 3, writer 7 and the `deletionVectors` feature), `metaData` (a new UUID,
 * Parquet format, the schema, partition columns, the configuration with
 * `delta.enableDeletionVectors` false, or true with `deletionVectors`, and
 * `delta.checkpointPolicy=classic`) and `commitInfo` (`CREATE TABLE`). Returns the table's
 * snapshot at version 0.
 *
 * Never overwrites: a location whose log already holds a commit or checkpoint (also one whose
 * early commits were cleaned up) is refused before writing, and a concurrent creator that wins
 * the put-if-absent makes this call fail. A retried S3 request that finds its own bytes succeeds.
 * @throws DeltaInvalidWriteError when a table exists, or for a schema, partition column or table
 *   property ddb-lake does not write (naming it).
 */
export async function createTable(store: ObjectStore, options: CreateTableOptions): Promise<Snapshot> {
  const partitionColumns = [...(options.partitionColumns ?? [])];
  assertSchemaWritable(options.schema, partitionColumns);
  const requested = options.configuration ?? {};
  const deletionVectors = options.deletionVectors === true;
  const pinned = pinnedProperties(deletionVectors);
  const protocol = deletionVectors ? CREATED_DV_TABLE_PROTOCOL : CREATED_TABLE_PROTOCOL;
  for (const [key, value] of Object.entries(pinned)) {
    const given = requested[key];
    if (given !== undefined && given.trim().toLowerCase() !== value) {
      throw new DeltaInvalidWriteError(
        `The table property ${key} = ${JSON.stringify(given)} cannot be set: ddb-lake creates ${deletionVectors ? 'tables with deletion vectors' : 'tables without deletion vectors'} with ${key} = ${value} (one writer at a time and only features it implements: rules 5 and 6 of docs/DESIGN.md).${key === 'delta.enableDeletionVectors' ? ' Ask for a table with or without deletion vectors instead.' : ''}`,
      );
    }
  }
  const configuration: Record<string, string> = { ...requested, ...pinned };
  assertTablePropertiesWritable({}, configuration, protocol);

  const found = await existingLogFile(store);
  if (found !== undefined) throw tableExists(store, found);

  const now = options.now ?? Date.now();
  const metadata: Metadata = {
    id: randomUUID(),
    ...(options.name === undefined ? {} : { name: options.name }),
    ...(options.description === undefined ? {} : { description: options.description }),
    format: { provider: 'parquet', options: {} },
    schemaString: serializeSchema(options.schema),
    partitionColumns,
    createdTime: now,
    configuration,
  };
  const commitInfo = commitInfoAction({
    operation: 'CREATE TABLE',
    operationParameters: {
      isManaged: 'false',
      ...(options.description === undefined ? {} : { description: options.description }),
      partitionBy: JSON.stringify(partitionColumns),
      properties: JSON.stringify(configuration),
    },
    timestamp: now,
    isBlindAppend: true,
  });
  const actions: Action[] = [commitInfo, { protocol }, { metaData: metadata }];
  const body = serializeCommitFile(actions);
  const key = commitFileKey(0);
  const put = await store.putIfAbsent(key, body);
  if (put.outcome === 'exists') {
    const stored = Buffer.from(await store.getBytes(key)).toString('utf8');
    if (stored !== body) throw tableExists(store, key);
  }
  return {
    tableUrl: store.url,
    version: 0,
    protocol,
    metadata,
    schema: options.schema,
    partitionColumns,
    files: [],
    tombstones: [],
    txns: new Map(),
    domainMetadata: new Map(),
    commitInfo: commitInfo.commitInfo,
    checkpointVersion: null,
  };
}
