import type { Metadata, Protocol } from './actions.ts';
import { DeltaUnsupportedFeatureError } from './errors.ts';
import type { StructField } from './schema.ts';

/*
 * What a reader must implement to read a table (PROTOCOL.md, "Protocol Evolution", "Table
 * Features", "Column Mapping", "Deletion Vectors", appendix "Valid Feature Names in Table
 * Features"). Two levels:
 * - the log (loadSnapshot): features that change how the transaction log itself is replayed
 *   (V2 checkpoints with sidecars, catalog-managed commits) or that this code has never heard of;
 * - the rows (assertReadable, called before reading data files): every reader feature must be one
 *   that the data plane applies (column mapping by name; deletion vectors when the caller says it
 *   applies them, with deletion-vector.ts).
 */

/** How data files name their columns (PROTOCOL.md, "Column Mapping"). */
export type ColumnMappingMode = 'none' | 'name' | 'id';

/** Reader versions this code implements: 1, 2 (column mapping) and 3 (table features). */
const MAX_READER_VERSION = 3;

/** How ddb-lake treats each reader feature the spec names. */
type FeatureSupport =
  /** Rows are read correctly. */
  | 'rows'
  /** The log replays correctly, but reading rows is refused. */
  | 'log'
  /** Even the log cannot be replayed correctly. */
  | 'none';

const READER_FEATURES: Readonly<Record<string, FeatureSupport>> = {
  columnMapping: 'rows',
  deletionVectors: 'log',
  vacuumProtocolCheck: 'rows',
  timestampNtz: 'log',
  typeWidening: 'log',
  'typeWidening-preview': 'log',
  variantType: 'log',
  'variantType-preview': 'log',
  variantShredding: 'log',
  'variantShredding-preview': 'log',
  v2Checkpoint: 'none',
  catalogManaged: 'none',
  'catalogOwned-preview': 'none',
};

/** What the user can do, per feature, when ddb-lake refuses it. */
const ADVICE: Readonly<Record<string, string>> = {
  deletionVectors:
    'Purge the deletion vectors in Databricks (REORG TABLE … APPLY (PURGE)) and disable them (delta.enableDeletionVectors = false), or read the table with Spark or Databricks.',
  timestampNtz:
    'Cast the TIMESTAMP_NTZ columns to TIMESTAMP in a copy of the table, or read it with Spark or Databricks.',
  v2Checkpoint:
    'Disable V2 checkpoints in Databricks (ALTER TABLE … DROP FEATURE v2Checkpoint) so the log has classic checkpoints only.',
  catalogManaged:
    'Read the table through its catalog (Databricks Unity Catalog) instead of its storage location.',
  columnMappingId:
    "Switch the table to column mapping by name (ALTER TABLE … SET TBLPROPERTIES ('delta.columnMapping.mode' = 'name')), or read it with Spark or Databricks.",
};

function featureList(protocol: Protocol): readonly string[] {
  return protocol.minReaderVersion === 3 ? (protocol.readerFeatures ?? []) : [];
}

function refuse(
  feature: string,
  tableUrl: string | undefined,
  what: string,
  advice = ADVICE[feature] ?? 'Read it with Spark or Databricks, or remove the feature from the table.',
): DeltaUnsupportedFeatureError {
  const where = tableUrl === undefined ? 'The table' : `The table at ${tableUrl}`;
  return new DeltaUnsupportedFeatureError(
    'read',
    feature,
    `${where} ${what}, which ddb-lake does not implement. ${advice}`,
  );
}

function assertReaderVersion(protocol: Protocol, tableUrl: string | undefined): void {
  const version = protocol.minReaderVersion;
  if (version < 1 || version > MAX_READER_VERSION) {
    throw refuse(
      `minReaderVersion=${version}`,
      tableUrl,
      `needs Delta reader version ${version} (ddb-lake reads versions 1 to ${MAX_READER_VERSION})`,
      'Read it with Spark or Databricks.',
    );
  }
  if (version === 3 && protocol.readerFeatures === undefined) {
    throw refuse(
      'readerFeatures',
      tableUrl,
      'is at reader version 3 but lists no readerFeatures (the protocol action is malformed)',
      'Read it with the engine that wrote it.',
    );
  }
}

/**
 * Refuses a protocol whose transaction log ddb-lake cannot replay correctly: a reader version
 * above 3, a reader feature that changes log replay (`v2Checkpoint`, `catalogManaged`) or one the
 * spec does not name. Called by `loadSnapshot` for the protocol at the loaded version.
 * @throws DeltaUnsupportedFeatureError naming the version or feature and what to do.
 */
export function assertLogReadable(protocol: Protocol, tableUrl?: string): void {
  assertReaderVersion(protocol, tableUrl);
  for (const feature of featureList(protocol)) {
    const support = READER_FEATURES[feature];
    if (support === undefined) {
      throw refuse(
        feature,
        tableUrl,
        `needs the reader feature "${feature}", unknown to the Delta protocol ddb-lake implements`,
      );
    }
    if (support === 'none') throw refuse(feature, tableUrl, `needs the reader feature "${feature}"`);
  }
}

export interface ReadableOptions {
  /** The table's URL, for messages. */
  readonly tableUrl?: string;
  /**
   * True when the caller skips the rows each file's `deletionVector` names (readDeletionVector).
   * Default false: a table with the `deletionVectors` reader feature is refused, because ignoring
   * a deletion vector brings deleted rows back.
   */
  readonly deletionVectors?: boolean;
}

/**
 * Refuses a table whose rows ddb-lake cannot read correctly (PROTOCOL.md, "Table Features": a
 * reader must implement every feature in `readerFeatures`): everything `assertLogReadable`
 * refuses, reader features that only the log side implements (`timestampNtz`, `typeWidening`,
 * `variantType`), `deletionVectors` unless `options.deletionVectors`, and column mapping by `id`.
 * Reader versions 1 and 2 pass (2 means column mapping, read by name). Call it before reading data
 * files; writers call it too (a writer reads). Pure.
 * @throws DeltaUnsupportedFeatureError naming the feature and what the user can do.
 */
export function assertReadable(protocol: Protocol, metadata: Metadata, options: ReadableOptions = {}): void {
  const tableUrl = options.tableUrl;
  assertLogReadable(protocol, tableUrl);
  for (const feature of featureList(protocol)) {
    if (READER_FEATURES[feature] === 'rows') continue;
    if (feature === 'deletionVectors' && options.deletionVectors === true) continue;
    throw refuse(feature, tableUrl, `needs the reader feature "${feature}"`);
  }
  const mode = columnMappingMode(protocol, metadata);
  if (mode === 'id') {
    const error = refuse(
      'columnMappingId',
      tableUrl,
      'maps columns by field id (delta.columnMapping.mode = id)',
    );
    throw new DeltaUnsupportedFeatureError('read', 'columnMapping', error.message);
  }
}

/** True when the protocol lets the table carry column mapping: reader version 2, or 3 with the feature. */
function columnMappingSupported(protocol: Protocol): boolean {
  return (
    protocol.minReaderVersion === 2 ||
    (protocol.minReaderVersion === 3 && featureList(protocol).includes('columnMapping'))
  );
}

/**
 * The column mapping mode the reader must honour (PROTOCOL.md, "Reader Requirements for Column
 * Mapping"): `delta.columnMapping.mode` when the protocol supports column mapping, else `none`
 * (the property is not honoured without protocol support). Pure.
 * @throws DeltaUnsupportedFeatureError('read', 'columnMapping') for a mode other than none, name, id.
 */
export function columnMappingMode(protocol: Protocol, metadata: Metadata): ColumnMappingMode {
  if (!columnMappingSupported(protocol)) return 'none';
  const mode = metadata.configuration['delta.columnMapping.mode'];
  if (mode === undefined || mode === 'none' || mode === 'name' || mode === 'id') return mode ?? 'none';
  throw new DeltaUnsupportedFeatureError(
    'read',
    'columnMapping',
    `The table maps columns in the mode "${mode}" (delta.columnMapping.mode), which the Delta protocol does not define (none, name, id). Read it with the engine that wrote it.`,
  );
}

/**
 * The name of `field` in data files, partition values and statistics: its
 * `delta.columnMapping.physicalName` under `name` or `id` mapping, its display name under `none`.
 * Applies to nested struct fields too (each carries its own physical name).
 * @throws DeltaUnsupportedFeatureError('read', 'columnMapping') when a mapped field has no physical name.
 */
export function physicalName(field: StructField, mode: ColumnMappingMode): string {
  if (mode === 'none') return field.name;
  const name = field.metadata['delta.columnMapping.physicalName'];
  if (typeof name !== 'string' || name === '') {
    throw new DeltaUnsupportedFeatureError(
      'read',
      'columnMapping',
      `The column "${field.name}" has no delta.columnMapping.physicalName although the table maps columns by ${mode}; the schema is inconsistent. Read the table with Spark or Databricks.`,
    );
  }
  return name;
}

/** The reader features `assertReadable` accepts by default (for messages and `table describe`). */
export function supportedReaderFeatures(): readonly string[] {
  return Object.entries(READER_FEATURES)
    .filter(([, support]) => support === 'rows')
    .map(([feature]) => feature);
}
