import type { Metadata, Protocol } from './actions.ts';
import { DeltaUnsupportedFeatureError } from './errors.ts';
import { assertReadable } from './reader-features.ts';
import type { StructType } from './schema.ts';
import {
  APPEND_ONLY,
  booleanProperty,
  deletionVectorsEnabled,
  ENABLE_DELETION_VECTORS,
} from './table-properties.ts';

/*
 * Whether ddb-lake may write a table (PROTOCOL.md, "Writer Version Requirements", "Table
 * Features", and each feature's writer requirements). A writer must respect every feature the
 * protocol makes it responsible for; ddb-lake respects a feature either by honouring it
 * (append-only: no data removed; deletion vectors: every read applies them, a `remove` names the
 * file with its vector, new vectors only while `delta.enableDeletionVectors` is true and on files
 * whose stats hold `numRecords`, with `tightBounds` false) or by refusing to write while it is
 * active (invariants, CHECK constraints, generated or identity columns, change data feed, column
 * mapping), because it cannot evaluate SQL expressions or write change data. Anything it does not know refuses the write outright, so a
 * table written by Databricks is never corrupted.
 */

/** The highest writer version whose requirements ddb-lake implements. */
export const MAX_WRITER_VERSION = 7;
/** The highest reader version ddb-lake reads (3: reader features, checked one by one). */
export const MAX_READER_VERSION = 3;

/**
 * The writer features (writer version 7) ddb-lake respects. Each is refused later when it is
 * active and ddb-lake cannot honour it; every feature not listed here (rowTracking,
 * domainMetadata, v2Checkpoint, inCommitTimestamp, clustering, icebergCompat*, typeWidening,
 * variantType, catalogManaged, vacuumProtocolCheck, timestampNtz, any unknown name) refuses writes.
 */
export const RESPECTED_WRITER_FEATURES: ReadonlySet<string> = new Set([
  'appendOnly',
  'invariants',
  'deletionVectors',
  'checkConstraints',
  'changeDataFeed',
  'generatedColumns',
  'columnMapping',
  'identityColumns',
  'allowColumnDefaults',
]);

/** What a write is about to do, for the features that depend on it. */
export interface WriteIntent {
  /** True when the write removes data (`remove` with `dataChange: true`). */
  readonly removesData?: boolean;
  /** True when the write adds new deletion vectors (PROTOCOL.md, "Deletion Vectors"). */
  readonly addsDeletionVectors?: boolean;
}

/** The parts of a snapshot the check reads. */
export interface WritableTable {
  readonly tableUrl: string;
  readonly protocol: Protocol;
  readonly metadata: Metadata;
  readonly schema: StructType;
}

/** Is a feature supported by this protocol: by writer version range (legacy) or by name (version 7). */
function supported(protocol: Protocol, feature: string, fromVersion: number, toVersion = 6): boolean {
  const version = protocol.minWriterVersion;
  if (version >= 7) return (protocol.writerFeatures ?? []).includes(feature);
  return version >= fromVersion && version <= toVersion;
}

/** The first field path (nested fields included) whose metadata has a key that `match` accepts. */
function fieldWithMetadata(
  schema: StructType,
  match: (key: string) => boolean,
  prefix = '',
): string | undefined {
  for (const field of schema.fields) {
    const path = prefix === '' ? field.name : `${prefix}.${field.name}`;
    if (Object.keys(field.metadata).some(match)) return path;
    let type = field.type;
    while (type.type === 'array' || type.type === 'map') {
      type = type.type === 'array' ? type.elementType : type.valueType;
    }
    if (type.type === 'struct') {
      const nested = fieldWithMetadata(type, match, path);
      if (nested !== undefined) return nested;
    }
  }
  return undefined;
}

function refuse(table: WritableTable, feature: string, why: string): never {
  throw new DeltaUnsupportedFeatureError(
    'write',
    feature,
    `ddb-lake cannot write the Delta table at ${table.tableUrl}: ${why}. Nothing was written. Write this table with Spark or Databricks, or write to a table ddb-lake created.`,
  );
}

/**
 * Refuses, before anything is written, a write ddb-lake cannot do correctly: a reader version
 * above 3 or writer version above 7, a reader or writer feature it does not respect, or a
 * respected feature that is active in a way it cannot honour (append-only when the write removes
 * data; new deletion vectors where the table does not allow them; column invariants; CHECK
 * constraints; change data feed; generated, identity or default columns; column mapping other
 * than `none`; `delta.checkpoint.writeStatsAsStruct`). Pure.
 * @throws DeltaUnsupportedFeatureError('write', feature, …) naming the feature.
 */
export function assertWritable(table: WritableTable, intent: WriteIntent = {}): void {
  const { protocol, metadata, schema } = table;
  const configuration = metadata.configuration;
  if (protocol.minWriterVersion > MAX_WRITER_VERSION) {
    refuse(
      table,
      `writerVersion${protocol.minWriterVersion}`,
      `it needs writer version ${protocol.minWriterVersion}, and ddb-lake implements up to ${MAX_WRITER_VERSION}`,
    );
  }
  if (protocol.minReaderVersion > MAX_READER_VERSION) {
    refuse(
      table,
      `readerVersion${protocol.minReaderVersion}`,
      `it needs reader version ${protocol.minReaderVersion}, and ddb-lake implements up to ${MAX_READER_VERSION}`,
    );
  }
  if (protocol.minWriterVersion === 7) {
    for (const feature of [...(protocol.readerFeatures ?? []), ...(protocol.writerFeatures ?? [])]) {
      if (!RESPECTED_WRITER_FEATURES.has(feature)) {
        refuse(
          table,
          feature,
          `it uses the table feature "${feature}", which ddb-lake does not implement for writing`,
        );
      }
    }
  }

  if (
    supported(protocol, 'appendOnly', 2) &&
    booleanProperty(configuration, APPEND_ONLY) &&
    intent.removesData
  ) {
    refuse(
      table,
      'appendOnly',
      `it is append-only (${APPEND_ONLY} = true) and this write removes data; set ${APPEND_ONLY} to false first if data must be removed`,
    );
  }
  if (supported(protocol, 'invariants', 2)) {
    const field = fieldWithMetadata(schema, (key) => key === 'delta.invariants');
    if (field !== undefined) {
      refuse(
        table,
        'invariants',
        `the column ${field} has an invariant (delta.invariants), which ddb-lake cannot evaluate`,
      );
    }
  }
  if (supported(protocol, 'checkConstraints', 3)) {
    const constraint = Object.keys(configuration).find((key) => key.startsWith('delta.constraints.'));
    if (constraint !== undefined) {
      refuse(
        table,
        'checkConstraints',
        `it has the CHECK constraint ${constraint}, which ddb-lake cannot evaluate`,
      );
    }
  }
  if (
    protocol.minWriterVersion >= 3 &&
    booleanProperty(configuration, 'delta.checkpoint.writeStatsAsStruct')
  ) {
    refuse(
      table,
      'checkpoint.writeStatsAsStruct',
      'delta.checkpoint.writeStatsAsStruct is true, and ddb-lake writes checkpoints with stats as JSON only',
    );
  }
  if (
    supported(protocol, 'changeDataFeed', 4) &&
    booleanProperty(configuration, 'delta.enableChangeDataFeed')
  ) {
    refuse(
      table,
      'changeDataFeed',
      'its change data feed is enabled, and ddb-lake does not write change data files',
    );
  }
  if (supported(protocol, 'generatedColumns', 4)) {
    const field = fieldWithMetadata(schema, (key) => key === 'delta.generationExpression');
    if (field !== undefined) {
      refuse(
        table,
        'generatedColumns',
        `the column ${field} is generated, and ddb-lake cannot evaluate its expression`,
      );
    }
  }
  if (supported(protocol, 'columnMapping', 5)) {
    const mode = (configuration['delta.columnMapping.mode'] ?? 'none').trim().toLowerCase();
    if (mode !== 'none') {
      refuse(
        table,
        'columnMapping',
        `it uses column mapping mode "${mode}", and ddb-lake writes only mode "none"`,
      );
    }
  }
  if (supported(protocol, 'identityColumns', 6)) {
    const field = fieldWithMetadata(schema, (key) => key.startsWith('delta.identity.'));
    if (field !== undefined) {
      refuse(
        table,
        'identityColumns',
        `the column ${field} is an identity column, and ddb-lake does not generate identity values`,
      );
    }
  }
  if (supported(protocol, 'allowColumnDefaults', 7, 7)) {
    const field = fieldWithMetadata(schema, (key) => key === 'CURRENT_DEFAULT');
    if (field !== undefined) {
      refuse(
        table,
        'allowColumnDefaults',
        `the column ${field} has a default value, which ddb-lake cannot evaluate`,
      );
    }
  }
  if (intent.addsDeletionVectors && !deletionVectorsEnabled(protocol, configuration)) {
    refuse(
      table,
      'deletionVectors',
      protocol.minWriterVersion === 7 && (protocol.writerFeatures ?? []).includes('deletionVectors')
        ? `this write adds deletion vectors, and the table does not allow new ones (${ENABLE_DELETION_VECTORS} is not true); rewrite the files instead, or set ${ENABLE_DELETION_VECTORS} to true`
        : 'this write adds deletion vectors, and the table lacks the deletionVectors table feature (reader version 3, writer version 7); rewrite the files instead',
    );
  }
  // A writer reads the table first (PROTOCOL.md, "Table Features"): whatever the reader refuses,
  // the writer refuses too. ddb-lake reads rows only through table-scan.ts, which applies deletion
  // vectors, so rewriting a file never brings back its deleted rows.
  assertReadable(protocol, metadata, { tableUrl: table.tableUrl, deletionVectors: true });
}
