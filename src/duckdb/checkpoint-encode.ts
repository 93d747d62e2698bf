import { randomUUID } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import type { AddFile, DomainMetadata, Metadata, Protocol, RemoveFile, Txn } from '../delta/actions.ts';
import type { CheckpointContent } from '../delta/engine.ts';
import type { DeltaType, StructField, StructType } from '../delta/schema.ts';
import { loadLakeRows } from './lake-rows.ts';
import type { LakeRow, LakeValue } from './lake-value.ts';
import { type DuckSession, quoteIdentifier, quoteLiteral } from './session.ts';

/*
 * A classic V1 checkpoint (PROTOCOL.md, "Checkpoints", "Checkpoint Schema"): one Parquet file, one
 * action per row, one struct column per action type (txn, add, remove, metaData, protocol,
 * domainMetadata) and no commitInfo. Maps (partitionValues, configuration, format.options, tags)
 * are Parquet maps, `add.stats` is the JSON text, `remove` carries no stats or tags. Rows go in
 * through the appender as typed values (lake-rows.ts), so nothing is re-parsed on the way.
 */

const LONG: DeltaType = { type: 'primitive', name: 'long' };
const INT: DeltaType = { type: 'primitive', name: 'integer' };
const STRING: DeltaType = { type: 'primitive', name: 'string' };
const BOOLEAN: DeltaType = { type: 'primitive', name: 'boolean' };
const STRING_MAP: DeltaType = { type: 'map', keyType: STRING, valueType: STRING, valueContainsNull: true };
const STRING_ARRAY: DeltaType = { type: 'array', elementType: STRING, containsNull: true };

function struct(fields: readonly (readonly [string, DeltaType])[]): StructType {
  return {
    type: 'struct',
    fields: fields.map(([name, type]): StructField => ({ name, type, nullable: true, metadata: {} })),
  };
}

const DELETION_VECTOR = struct([
  ['storageType', STRING],
  ['pathOrInlineDv', STRING],
  ['offset', INT],
  ['sizeInBytes', INT],
  ['cardinality', LONG],
]);

/** The columns of the checkpoint; `deletionVector` and `clusteringProvider` only when some file has one. */
function checkpointSchema(withDeletionVectors: boolean, withClustering: boolean): StructType {
  const dv: [string, DeltaType][] = withDeletionVectors ? [['deletionVector', DELETION_VECTOR]] : [];
  return struct([
    [
      'txn',
      struct([
        ['appId', STRING],
        ['version', LONG],
        ['lastUpdated', LONG],
      ]),
    ],
    [
      'add',
      struct([
        ['path', STRING],
        ['partitionValues', STRING_MAP],
        ['size', LONG],
        ['modificationTime', LONG],
        ['dataChange', BOOLEAN],
        ['stats', STRING],
        ['tags', STRING_MAP],
        ...dv,
        ['baseRowId', LONG],
        ['defaultRowCommitVersion', LONG],
        ...(withClustering ? ([['clusteringProvider', STRING]] as [string, DeltaType][]) : []),
      ]),
    ],
    [
      'remove',
      struct([
        ['path', STRING],
        ['deletionTimestamp', LONG],
        ['dataChange', BOOLEAN],
        ['extendedFileMetadata', BOOLEAN],
        ['partitionValues', STRING_MAP],
        ['size', LONG],
        ...dv,
        ['baseRowId', LONG],
        ['defaultRowCommitVersion', LONG],
      ]),
    ],
    [
      'metaData',
      struct([
        ['id', STRING],
        ['name', STRING],
        ['description', STRING],
        [
          'format',
          struct([
            ['provider', STRING],
            ['options', STRING_MAP],
          ]),
        ],
        ['schemaString', STRING],
        ['partitionColumns', STRING_ARRAY],
        ['createdTime', LONG],
        ['configuration', STRING_MAP],
      ]),
    ],
    [
      'protocol',
      struct([
        ['minReaderVersion', INT],
        ['minWriterVersion', INT],
        ['readerFeatures', STRING_ARRAY],
        ['writerFeatures', STRING_ARRAY],
      ]),
    ],
    [
      'domainMetadata',
      struct([
        ['domain', STRING],
        ['configuration', STRING],
        ['removed', BOOLEAN],
      ]),
    ],
  ]);
}

/** A JSON-shaped action field as the lake value of its checkpoint type (longs → bigint, maps → Map). */
function toLake(value: unknown, type: DeltaType): LakeValue {
  if (value === null || value === undefined) return null;
  switch (type.type) {
    case 'primitive':
      return type.name === 'long' ? BigInt(value as number) : (value as LakeValue);
    case 'map':
      return new Map(
        Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, toLake(v, type.valueType)]),
      );
    case 'array':
      return (value as unknown[]).map((item) => toLake(item, type.elementType));
    case 'struct': {
      const object = value as Record<string, unknown>;
      const result: Record<string, LakeValue> = {};
      for (const field of type.fields) result[field.name] = toLake(object[field.name], field.type);
      return result;
    }
    default:
      return value as LakeValue;
  }
}

function byKey<T>(items: readonly T[], key: (item: T) => string): T[] {
  return [...items].sort((a, b) => {
    const x = key(a);
    const y = key(b);
    return x < y ? -1 : x > y ? 1 : 0;
  });
}

/** Reader/writer features only at the versions that define them (PROTOCOL.md, "Checkpoint Schema"). */
function checkpointProtocol(protocol: Protocol): Protocol {
  return {
    minReaderVersion: protocol.minReaderVersion,
    minWriterVersion: protocol.minWriterVersion,
    ...(protocol.minReaderVersion === 3 ? { readerFeatures: protocol.readerFeatures ?? [] } : {}),
    ...(protocol.minWriterVersion === 7 ? { writerFeatures: protocol.writerFeatures ?? [] } : {}),
  };
}

function withoutStatsAndTags(remove: RemoveFile): RemoveFile {
  const { stats: _stats, tags: _tags, ...rest } = remove;
  return rest;
}

/** The rows of the checkpoint in their fixed order: protocol, metaData, txns, domains, adds, removes. */
function checkpointRows(content: CheckpointContent, schema: StructType): LakeRow[] {
  const typeOf = (name: string): DeltaType =>
    schema.fields.find((field) => field.name === name)?.type as DeltaType;
  const row = (
    name: string,
    value: Protocol | Metadata | Txn | DomainMetadata | AddFile | RemoveFile,
  ): LakeRow => ({
    [name]: toLake(value, typeOf(name)),
  });
  return [
    row('protocol', checkpointProtocol(content.protocol)),
    row('metaData', content.metadata),
    ...byKey(content.txns, (txn) => txn.appId).map((txn) => row('txn', txn)),
    ...byKey(content.domainMetadata, (domain) => domain.domain).map((domain) =>
      row('domainMetadata', domain),
    ),
    ...byKey(content.files, (add) => add.path).map((add) => row('add', add)),
    ...byKey(content.tombstones, (remove) => remove.path).map((remove) =>
      row('remove', withoutStatsAndTags(remove)),
    ),
  ];
}

/**
 * The bytes of a classic V1 checkpoint (PROTOCOL.md, "Checkpoint Schema") holding `content`: one
 * action per row in a fixed order (protocol, metaData, txns by appId, domainMetadata by domain, adds
 * by path, removes by path); struct columns txn, add, remove, metaData, protocol, domainMetadata;
 * `readerFeatures` / `writerFeatures` null unless the reader version is 3 / the writer version 7;
 * `remove` without stats and tags; no commitInfo. Deterministic: the same content gives the same
 * bytes with the same DuckDB version. Uses a scratch file and a temporary table, both removed.
 * @throws DuckDbError when DuckDB cannot write the file.
 */
export async function encodeCheckpoint(
  session: DuckSession,
  content: CheckpointContent,
): Promise<Uint8Array> {
  const fileActions = [...content.files, ...content.tombstones];
  const schema = checkpointSchema(
    fileActions.some((file) => file.deletionVector !== undefined && file.deletionVector !== null),
    content.files.some((file) => file.clusteringProvider !== undefined && file.clusteringProvider !== null),
  );
  const id = randomUUID();
  const table = `__ddb_lake_checkpoint_${id}`;
  const file = path.join(session.scratchDir, `checkpoint-${id}.parquet`);
  try {
    await loadLakeRows(session, table, schema, checkpointRows(content, schema));
    await session.run(
      `COPY ${quoteIdentifier(table)} TO ${quoteLiteral(file)} (FORMAT parquet, COMPRESSION snappy, PARQUET_VERSION V1)`,
    );
    return new Uint8Array(await readFile(file));
  } finally {
    await session.run(`DROP TABLE IF EXISTS ${quoteIdentifier(table)}`);
    await rm(file, { force: true });
  }
}
