import { assertColumnNameMappingValid, COLUMN_NAMES_PROPERTY } from './column-names.ts';
import { DeltaInvalidWriteError } from './errors.ts';

/*
 * The table properties (`metaData.configuration`, PROTOCOL.md "Table Properties" and the feature
 * sections) that ddb-lake reads when it writes: checkpoint interval, tombstone retention, the pins
 * of DESIGN.md rule 5; and which `delta.*` properties a ddb-lake write may set. Values are read the
 * way Spark reads them (booleans ignoring case, intervals in Spark's `interval 1 week` syntax).
 */

export const CHECKPOINT_INTERVAL = 'delta.checkpointInterval';
export const DELETED_FILE_RETENTION = 'delta.deletedFileRetentionDuration';
export const APPEND_ONLY = 'delta.appendOnly';

export const ENABLE_DELETION_VECTORS = 'delta.enableDeletionVectors';

/**
 * Properties every table ddb-lake creates without deletion vectors carries, with these values
 * (DESIGN.md rule 5). `pinnedProperties` gives the pins of either kind of table.
 */
export const PINNED_PROPERTIES: Readonly<Record<string, string>> = {
  [ENABLE_DELETION_VECTORS]: 'false',
  'delta.checkpointPolicy': 'classic',
};

/**
 * The properties a table ddb-lake creates carries, with these values: classic checkpoints, and
 * `delta.enableDeletionVectors` true exactly when the table is created with the deletion vector
 * feature (DESIGN.md rules 5 and 6). Pure.
 */
export function pinnedProperties(deletionVectors: boolean): Readonly<Record<string, string>> {
  return { ...PINNED_PROPERTIES, [ENABLE_DELETION_VECTORS]: String(deletionVectors) };
}

/**
 * True when writers may add deletion vectors to the table (PROTOCOL.md, "Deletion Vectors": only
 * with the `deletionVectors` writer feature and `delta.enableDeletionVectors` = true). Pure.
 */
export function deletionVectorsEnabled(
  protocol: { readonly minWriterVersion: number; readonly writerFeatures?: readonly string[] },
  configuration: Readonly<Record<string, string>>,
): boolean {
  return (
    protocol.minWriterVersion === 7 &&
    (protocol.writerFeatures ?? []).includes('deletionVectors') &&
    booleanProperty(configuration, ENABLE_DELETION_VECTORS)
  );
}

export const DEFAULT_CHECKPOINT_INTERVAL = 10;
/** Spark's default `delta.deletedFileRetentionDuration`: `interval 1 week`. */
export const DEFAULT_DELETED_FILE_RETENTION_MS = 7 * 24 * 3_600_000;

const UNIT_MS: Readonly<Record<string, number>> = {
  week: 7 * 24 * 3_600_000,
  day: 24 * 3_600_000,
  hour: 3_600_000,
  minute: 60_000,
  second: 1000,
  millisecond: 1,
  microsecond: 0.001,
};

function invalid(key: string, value: string, what: string): DeltaInvalidWriteError {
  return new DeltaInvalidWriteError(
    `The table property ${key} = ${JSON.stringify(value)} is invalid: ${what}.`,
  );
}

/**
 * Milliseconds of a Spark calendar interval without months (`interval 1 week`, `7 days`,
 * `interval 1 day 12 hours`): weeks, days, hours, minutes, seconds, milliseconds, microseconds,
 * singular or plural, any case, the leading `interval` optional. Pure.
 * @throws DeltaInvalidWriteError naming `key` for any other text, months or years, or a negative total.
 */
export function parseIntervalMs(value: string, key: string): number {
  const words = value.trim().toLowerCase().split(/\s+/);
  if (words[0] === 'interval') words.shift();
  if (words.length === 0 || words.length % 2 !== 0) {
    throw invalid(key, value, 'expected an interval such as "interval 1 week" or "interval 36 hours"');
  }
  let total = 0;
  for (let i = 0; i < words.length; i += 2) {
    const amount = words[i] as string;
    const unit = (words[i + 1] as string).replace(/s$/, '');
    if (!/^[+-]?\d+$/.test(amount)) throw invalid(key, value, `"${amount}" is not a whole number`);
    if (unit === 'month' || unit === 'year') {
      throw invalid(key, value, 'months and years have no fixed length; use weeks, days or hours');
    }
    const ms = UNIT_MS[unit];
    if (ms === undefined) throw invalid(key, value, `"${words[i + 1]}" is not an interval unit`);
    total += Number(amount) * ms;
  }
  if (total < 0) throw invalid(key, value, 'the interval is negative');
  return Math.floor(total);
}

/** `delta.checkpointInterval`, default 10. @throws DeltaInvalidWriteError unless a positive integer. */
export function checkpointInterval(configuration: Readonly<Record<string, string>>): number {
  const value = configuration[CHECKPOINT_INTERVAL];
  if (value === undefined) return DEFAULT_CHECKPOINT_INTERVAL;
  const interval = Number(value.trim());
  if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(interval) || interval < 1) {
    throw invalid(CHECKPOINT_INTERVAL, value, 'expected a whole number of commits, at least 1');
  }
  return interval;
}

/** `delta.deletedFileRetentionDuration` in milliseconds, default one week. @throws DeltaInvalidWriteError */
export function deletedFileRetentionMs(configuration: Readonly<Record<string, string>>): number {
  const value = configuration[DELETED_FILE_RETENTION];
  return value === undefined
    ? DEFAULT_DELETED_FILE_RETENTION_MS
    : parseIntervalMs(value, DELETED_FILE_RETENTION);
}

/** A boolean property as Spark reads it (`true` in any case); `fallback` when absent. */
export function booleanProperty(
  configuration: Readonly<Record<string, string>>,
  key: string,
  fallback = false,
): boolean {
  const value = configuration[key];
  return value === undefined ? fallback : value.trim().toLowerCase() === 'true';
}

type Check = (value: string) => string | undefined;

const isBoolean: Check = (v) => (/^(true|false)$/i.test(v.trim()) ? undefined : 'expected true or false');
const only =
  (allowed: string): Check =>
  (v) =>
    v.trim().toLowerCase() === allowed
      ? undefined
      : `ddb-lake writes only tables with ${allowed} here (the other values need table features it does not write)`;
const isInterval =
  (key: string): Check =>
  (v) => {
    parseIntervalMs(v, key);
    return undefined;
  };

/** `delta.enableDeletionVectors`: any boolean with the writer feature, else only false. */
function deletionVectorsCheck(protocol: WriterFeatureList): Check {
  const featured =
    protocol.minWriterVersion === 7 && (protocol.writerFeatures ?? []).includes('deletionVectors');
  if (featured) return isBoolean;
  return (v) =>
    v.trim().toLowerCase() === 'false'
      ? undefined
      : 'the table lacks the deletionVectors table feature (reader version 3, writer version 7); create the table with deletion vectors instead';
}

/** The `delta.*` properties a ddb-lake write may set or change, and what values each may take. */
const WRITABLE_DELTA_PROPERTIES: Readonly<Record<string, Check>> = {
  [APPEND_ONLY]: isBoolean,
  [CHECKPOINT_INTERVAL]: (v) =>
    /^\s*\d+\s*$/.test(v) && Number(v) >= 1 ? undefined : 'expected a whole number of commits, at least 1',
  [DELETED_FILE_RETENTION]: isInterval(DELETED_FILE_RETENTION),
  'delta.logRetentionDuration': isInterval('delta.logRetentionDuration'),
  'delta.enableExpiredLogCleanup': isBoolean,
  'delta.checkpointPolicy': only('classic'),
  'delta.enableChangeDataFeed': only('false'),
  'delta.columnMapping.mode': only('none'),
  'delta.checkpoint.writeStatsAsJson': only('true'),
  'delta.checkpoint.writeStatsAsStruct': only('false'),
  'delta.parquet.compression.codec': only('zstd'),
  'delta.dataSkippingNumIndexedCols': (v) =>
    /^\s*-?\d+\s*$/.test(v) && Number(v) >= -1 ? undefined : 'expected a whole number, at least -1',
  'delta.dataSkippingStatsColumns': () => undefined,
};

/** The table features a table's protocol lists for writers (`writerFeatures` at writer version 7). */
export interface WriterFeatureList {
  readonly minWriterVersion: number;
  readonly writerFeatures?: readonly string[];
}

/**
 * Checks the table properties a write sets, changes or removes (`before` → `after`) on a table of
 * `protocol` (default: one without table features): a `delta.*` property must be one ddb-lake knows
 * how to honour, with a value it honours (anything else needs a table feature or a protocol change
 * it does not write); `delta.enableDeletionVectors` may be true only when the protocol has the
 * `deletionVectors` writer feature. Other keys (`ddb_lake.*`, users') are free.
 * Properties left as they were are not checked, so a table written by Spark keeps its own. A
 * changed column name mapping (`ddb_lake.columnNames`) must be one `assignColumnNames` writes.
 * @throws DeltaInvalidWriteError naming the property.
 */
export function assertTablePropertiesWritable(
  before: Readonly<Record<string, string>>,
  after: Readonly<Record<string, string>>,
  protocol: WriterFeatureList = { minWriterVersion: 2 },
): void {
  if (before[COLUMN_NAMES_PROPERTY] !== after[COLUMN_NAMES_PROPERTY]) assertColumnNameMappingValid(after);
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  for (const key of keys) {
    if (!key.startsWith('delta.') || before[key] === after[key]) continue;
    const check =
      key === ENABLE_DELETION_VECTORS ? deletionVectorsCheck(protocol) : WRITABLE_DELTA_PROPERTIES[key];
    if (check === undefined) {
      throw new DeltaInvalidWriteError(
        `ddb-lake does not set the table property ${key}: it needs a table feature or protocol change that ddb-lake does not write. Set it with Spark or Databricks if the table needs it (ddb-lake will then refuse writes it cannot honour).`,
      );
    }
    const value = after[key];
    if (value === undefined) continue;
    const problem = check(value);
    if (problem !== undefined) throw invalid(key, value, problem);
  }
}
