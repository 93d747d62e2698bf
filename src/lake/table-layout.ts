import type { AddFile } from '../delta/actions.ts';
import { COLUMN_NAMES_PROPERTY, columnNameKey, columnNameMapping } from '../delta/column-names.ts';
import {
  type DeltaType,
  deltaTypeEquals,
  deltaTypeText,
  type StructField,
  type StructType,
} from '../delta/schema.ts';
import { DYNAMO_TYPES, type DynamoType } from '../dynamo/attribute-value.ts';
import { MAX_BUCKETS, type TableKeys } from './key-identity.ts';
import { TableLayoutError } from './model-errors.ts';

/*
 * How apply lays a DynamoDB table out in Delta (shared notes of issue 6, DESIGN.md "Lake table"),
 * recorded in the table's configuration (`ddb_lake.*`) so every later run, on any machine, reads
 * the same layout back:
 *
 *   ddb_lake.keys             {"partition":"pk","sort":"sk"}           attribute names
 *   ddb_lake.buckets          "16"                                     fixed at creation
 *   ddb_lake.deletes          "hard" | "soft"                          fixed at creation
 *   ddb_lake.exportTime       "1795392000000"                          T, epoch ms
 *   ddb_lake.marginMs         "900000"
 *   ddb_lake.appId            "ddb-lake-apply"                         the txn appId
 *   ddb_lake.columnNames      [["attr","column"], …]                   column-names.ts
 *   ddb_lake.columnKinds      [["attr","N"], …]                        what each attribute column holds
 *   ddb_lake.conflictColumns  [["attr","N","attr__N"],                 values that fit no column
 *                              ["attr","S","attr__S","text"], …]
 *
 * `ddb_lake.columnKinds` says what an attribute column holds, which its Delta type alone does not
 * tell (a string column may hold S values, numbers as text, or plain JSON): the one DynamoDB type
 * whose values it takes (M and L as plain JSON text of that type only). Tables written before one
 * type per column was the rule may also have `JSON`: a column of plain JSON text that takes every
 * value (M, L, an attribute first seen with several types, or only NULL), and keeps taking them.
 * An attribute's value of any other type goes to its conflict column for that type,
 * `<column>__<TYPE>`, a string column: S values as their own text (a fourth member `text`; S
 * conflict columns of older tables lack it and hold JSON-quoted text), every other type as plain
 * JSON (for N the exact number text).
 */

/**
 * What an attribute column holds: one DynamoDB type as its Delta type holds it (M and L as plain
 * JSON), or, in tables written before one type per column, `JSON`: plain JSON of any value.
 */
export type ColumnKind = 'S' | 'N' | 'B' | 'BOOL' | 'SS' | 'NS' | 'BS' | 'M' | 'L' | 'JSON';

export const COLUMN_KINDS: readonly ColumnKind[] = [
  'S',
  'N',
  'B',
  'BOOL',
  'SS',
  'NS',
  'BS',
  'M',
  'L',
  'JSON',
];

/** `hard`: a REMOVE deletes the row; `soft`: the row stays with `_ddb_deleted = true`. */
export type DeletesMode = 'hard' | 'soft';

/**
 * How a conflict column holds its values: `text` — an S value's own string (S only);
 * `plain-json` — the value's plain JSON text (plain-json.ts; an N's exact number text).
 */
export type ConflictEncoding = 'text' | 'plain-json';

/** A string column holding the values of `attribute` whose type is `type`. */
export interface ConflictColumn {
  readonly attribute: string;
  readonly type: DynamoType;
  readonly column: string;
  readonly encoding: ConflictEncoding;
}

/** The encoding of a conflict column created now: S as its own text, every other type plain JSON. */
export function conflictEncodingOf(type: DynamoType): ConflictEncoding {
  return type === 'S' ? 'text' : 'plain-json';
}

/** The layout of one lake table. Immutable: evolution returns a new value. */
export interface TableLayout {
  readonly keys: TableKeys;
  readonly buckets: number;
  readonly deletes: DeletesMode;
  /** T: the time of the snapshot the table was loaded from, epoch milliseconds. */
  readonly exportTime: number;
  readonly marginMs: number;
  /** The `txn` appId of the commits that apply batches. */
  readonly appId: string;
  /** Attribute → column name, in assignment order. */
  readonly columns: ReadonlyMap<string, string>;
  /** Attribute → what its column holds; the same attributes as `columns`. */
  readonly kinds: ReadonlyMap<string, ColumnKind>;
  /** In the order they were added. */
  readonly conflictColumns: readonly ConflictColumn[];
}

/** The table properties of the layout. */
export const LAYOUT_PROPERTY = {
  keys: 'ddb_lake.keys',
  buckets: 'ddb_lake.buckets',
  deletes: 'ddb_lake.deletes',
  exportTime: 'ddb_lake.exportTime',
  marginMs: 'ddb_lake.marginMs',
  appId: 'ddb_lake.appId',
  columnNames: COLUMN_NAMES_PROPERTY,
  columnKinds: 'ddb_lake.columnKinds',
  conflictColumns: 'ddb_lake.conflictColumns',
} as const;

/** The system columns (shared notes, "Lake table layout"). */
export const SYSTEM_COLUMN = {
  /** string: itemToPlainJson of the key attributes (key-identity.ts). */
  key: '_ddb_key',
  /** integer: FNV-1a 32 of `_ddb_key` mod buckets; the only partition column. */
  bucket: '_ddb_bucket',
  /** string: the sequence number padded to 40 digits (sequence-number.ts). */
  seq: '_ddb_seq',
  /** timestamp: the change's time; T for snapshot rows. */
  ts: '_ddb_ts',
  /** string: `export` | `scan` | `stream` | `incremental-export`. */
  source: '_ddb_source',
  /** boolean, soft deletes only: the last change was a REMOVE. */
  deleted: '_ddb_deleted',
  /** boolean, soft deletes only: that REMOVE was a TTL expiry. */
  ttlExpired: '_ddb_ttl_expired',
} as const;

/** The partition columns of every table apply creates. */
export const PARTITION_COLUMNS: readonly string[] = [SYSTEM_COLUMN.bucket];

/** The bucket a file belongs to (its `_ddb_bucket` partition value), or undefined. */
export function fileBucket(file: AddFile): number | undefined {
  const value = file.partitionValues[SYSTEM_COLUMN.bucket];
  if (value === undefined || value === null || !/^[0-9]+$/.test(value)) return undefined;
  return Number(value);
}

/** The table property (beside the layout's) naming the DynamoDB table a lake table follows. */
export const TABLE_NAME_PROPERTY = 'ddb_lake.table';

/** The table property of the rows per data file (fixed at creation). */
export const ROWS_PER_FILE_PROPERTY = 'ddb_lake.rowsPerFile';

export const DEFAULT_BUCKETS = 16;
export const DEFAULT_MARGIN_MS = 15 * 60_000;
export const DEFAULT_APP_ID = 'ddb-lake-apply';

const STRING: DeltaType = { type: 'primitive', name: 'string' };
const BOOLEAN: DeltaType = { type: 'primitive', name: 'boolean' };

/** The Delta type of every conflict column. */
export const CONFLICT_COLUMN_TYPE: DeltaType = STRING;

function systemField(name: string, type: DeltaType): StructField {
  return { name, type, nullable: false, metadata: {} };
}

/**
 * The system fields of a table with this deletes mode, in schema order: `_ddb_key`, `_ddb_bucket`,
 * `_ddb_seq`, `_ddb_ts`, `_ddb_source` (and `_ddb_deleted`, `_ddb_ttl_expired` when soft), none
 * nullable. Pure.
 */
export function systemFields(deletes: DeletesMode): StructField[] {
  const fields = [
    systemField(SYSTEM_COLUMN.key, STRING),
    systemField(SYSTEM_COLUMN.bucket, { type: 'primitive', name: 'integer' }),
    systemField(SYSTEM_COLUMN.seq, STRING),
    systemField(SYSTEM_COLUMN.ts, { type: 'primitive', name: 'timestamp' }),
    systemField(SYSTEM_COLUMN.source, STRING),
  ];
  if (deletes === 'soft') {
    fields.push(systemField(SYSTEM_COLUMN.deleted, BOOLEAN), systemField(SYSTEM_COLUMN.ttlExpired, BOOLEAN));
  }
  return fields;
}

/** Every system column name, soft-delete flags included: no attribute or conflict column may take one. */
export const ALL_SYSTEM_COLUMNS: readonly string[] = Object.values(SYSTEM_COLUMN);

/** What a new table's layout needs; the rest has defaults. */
export interface NewTableLayoutOptions {
  readonly keys: TableKeys;
  readonly exportTime: number;
  readonly buckets?: number;
  readonly deletes?: DeletesMode;
  readonly marginMs?: number;
  readonly appId?: string;
}

function checkKeys(keys: unknown, where: string): TableKeys {
  const k = keys as Record<string, unknown> | null;
  if (
    typeof k !== 'object' ||
    k === null ||
    Array.isArray(k) ||
    typeof k['partition'] !== 'string' ||
    k['partition'] === '' ||
    (k['sort'] !== undefined &&
      (typeof k['sort'] !== 'string' || k['sort'] === '' || k['sort'] === k['partition'])) ||
    Object.keys(k).some((name) => name !== 'partition' && name !== 'sort')
  ) {
    throw new TableLayoutError(
      `${where}: the keys must be {"partition": "<attribute>", "sort"?: "<attribute>"} with two different non-empty names, not ${JSON.stringify(keys)}.`,
    );
  }
  return k['sort'] === undefined
    ? { partition: k['partition'] as string }
    : { partition: k['partition'] as string, sort: k['sort'] as string };
}

function checkInteger(value: number, name: string, min: number, max: number, where: string): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new TableLayoutError(
      `${where}: ${name} must be a whole number from ${min} to ${max}, not ${value}.`,
    );
  }
  return value;
}

function checkAppId(appId: string, where: string): string {
  if (appId.trim() === '' || appId !== appId.trim()) {
    throw new TableLayoutError(
      `${where}: the appId must be non-empty text without surrounding spaces, not ${JSON.stringify(appId)}.`,
    );
  }
  return appId;
}

/**
 * The layout of a table about to be created: no attribute columns yet (schema evolution adds them
 * from the snapshot), defaults 16 buckets, hard deletes, a 15-minute margin, appId `ddb-lake-apply`.
 * Pure.
 * @throws TableLayoutError for keys, bucket count (1 to 4096), margin or export time out of range.
 */
export function newTableLayout(options: NewTableLayoutOptions): TableLayout {
  const where = 'The new table';
  const deletes = options.deletes ?? 'hard';
  if (deletes !== 'hard' && deletes !== 'soft') {
    throw new TableLayoutError(`${where}: deletes must be hard or soft, not ${JSON.stringify(deletes)}.`);
  }
  return {
    keys: checkKeys(options.keys, where),
    buckets: checkInteger(options.buckets ?? DEFAULT_BUCKETS, 'the bucket count', 1, MAX_BUCKETS, where),
    deletes,
    exportTime: checkInteger(
      options.exportTime,
      'the export time (epoch ms)',
      0,
      8_640_000_000_000_000,
      where,
    ),
    marginMs: checkInteger(
      options.marginMs ?? DEFAULT_MARGIN_MS,
      'the margin (ms)',
      0,
      365 * 86_400_000,
      where,
    ),
    appId: checkAppId(options.appId ?? DEFAULT_APP_ID, where),
    columns: new Map(),
    kinds: new Map(),
    conflictColumns: [],
  };
}

/** True when the configuration carries an apply layout (`ddb_lake.keys` is set). */
export function hasTableLayout(configuration: Readonly<Record<string, string>>): boolean {
  return configuration[LAYOUT_PROPERTY.keys] !== undefined;
}

const WHERE = 'The table properties (metaData.configuration)';

function corrupt(property: string, what: string, cause?: unknown): TableLayoutError {
  return new TableLayoutError(
    `${WHERE}: ${property} ${what}. ddb-lake apply writes it when it creates the table; restore it from an earlier metaData action of the log, or apply to a new table location.`,
    cause === undefined ? undefined : { cause },
  );
}

function required(configuration: Readonly<Record<string, string>>, property: string): string {
  const value = configuration[property];
  if (value === undefined) throw corrupt(property, 'is missing, so this is not a table ddb-lake apply wrote');
  return value;
}

function integerProperty(
  configuration: Readonly<Record<string, string>>,
  property: string,
  min: number,
  max: number,
): number {
  const text = required(configuration, property);
  const value = /^[0-9]{1,16}$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw corrupt(property, `is ${JSON.stringify(text)}, not a whole number from ${min} to ${max}`);
  }
  return value;
}

function jsonProperty(
  configuration: Readonly<Record<string, string>>,
  property: string,
  fallback: unknown,
): unknown {
  const text = configuration[property];
  if (text === undefined) return fallback;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw corrupt(property, `is not JSON (${(error as Error).message})`, error);
  }
}

const DYNAMO_TYPE_SET: ReadonlySet<string> = new Set(DYNAMO_TYPES);
const KIND_SET: ReadonlySet<string> = new Set(COLUMN_KINDS);

/**
 * Reads the layout back from a table's configuration (see the top of this file). Pure.
 * @throws TableLayoutError naming the property that is missing or malformed, or when two columns
 *   (attribute, conflict, system) share a name ignoring case.
 */
export function readTableLayout(configuration: Readonly<Record<string, string>>): TableLayout {
  const keys = checkKeys(
    jsonProperty(configuration, LAYOUT_PROPERTY.keys, undefined),
    `${WHERE}: ${LAYOUT_PROPERTY.keys}`,
  );
  const buckets = integerProperty(configuration, LAYOUT_PROPERTY.buckets, 1, MAX_BUCKETS);
  const deletes = required(configuration, LAYOUT_PROPERTY.deletes);
  if (deletes !== 'hard' && deletes !== 'soft')
    throw corrupt(LAYOUT_PROPERTY.deletes, `is ${JSON.stringify(deletes)}, not hard or soft`);
  const exportTime = integerProperty(configuration, LAYOUT_PROPERTY.exportTime, 0, 8_640_000_000_000_000);
  const marginMs = integerProperty(configuration, LAYOUT_PROPERTY.marginMs, 0, 365 * 86_400_000);
  const appId = required(configuration, LAYOUT_PROPERTY.appId);
  if (appId.trim() === '') throw corrupt(LAYOUT_PROPERTY.appId, 'is empty');

  let columns: Map<string, string>;
  try {
    columns = columnNameMapping(configuration);
  } catch (error) {
    throw corrupt(LAYOUT_PROPERTY.columnNames, `cannot be read (${(error as Error).message})`, error);
  }

  const kinds = new Map<string, ColumnKind>();
  const kindList = jsonProperty(configuration, LAYOUT_PROPERTY.columnKinds, []);
  if (!Array.isArray(kindList))
    throw corrupt(LAYOUT_PROPERTY.columnKinds, 'is not a JSON array of [attribute, kind] pairs');
  for (const entry of kindList) {
    if (
      !Array.isArray(entry) ||
      entry.length !== 2 ||
      typeof entry[0] !== 'string' ||
      !KIND_SET.has(entry[1])
    ) {
      throw corrupt(
        LAYOUT_PROPERTY.columnKinds,
        `holds ${JSON.stringify(entry)}, not an [attribute, ${COLUMN_KINDS.join('|')}] pair`,
      );
    }
    const [attribute, kind] = entry as [string, ColumnKind];
    if (!columns.has(attribute))
      throw corrupt(
        LAYOUT_PROPERTY.columnKinds,
        `names the attribute ${JSON.stringify(attribute)}, which has no column in ${LAYOUT_PROPERTY.columnNames}`,
      );
    if (kinds.has(attribute))
      throw corrupt(LAYOUT_PROPERTY.columnKinds, `names the attribute ${JSON.stringify(attribute)} twice`);
    kinds.set(attribute, kind);
  }
  for (const attribute of columns.keys()) {
    if (!kinds.has(attribute))
      throw corrupt(
        LAYOUT_PROPERTY.columnKinds,
        `has no kind for the attribute ${JSON.stringify(attribute)}`,
      );
  }

  const conflictColumns: ConflictColumn[] = [];
  const conflictList = jsonProperty(configuration, LAYOUT_PROPERTY.conflictColumns, []);
  if (!Array.isArray(conflictList))
    throw corrupt(
      LAYOUT_PROPERTY.conflictColumns,
      'is not a JSON array of [attribute, type, column] triples',
    );
  const conflictSeen = new Set<string>();
  for (const entry of conflictList) {
    if (
      !Array.isArray(entry) ||
      (entry.length !== 3 && !(entry.length === 4 && entry[1] === 'S' && entry[3] === 'text')) ||
      typeof entry[0] !== 'string' ||
      !DYNAMO_TYPE_SET.has(entry[1]) ||
      typeof entry[2] !== 'string' ||
      entry[2] === ''
    ) {
      throw corrupt(
        LAYOUT_PROPERTY.conflictColumns,
        `holds ${JSON.stringify(entry)}, not an [attribute, DynamoDB type, column] triple (with "text" after an S column)`,
      );
    }
    const [attribute, type, column] = entry as [string, DynamoType, string];
    const encoding: ConflictEncoding = entry.length === 4 ? 'text' : 'plain-json';
    if (!columns.has(attribute))
      throw corrupt(
        LAYOUT_PROPERTY.conflictColumns,
        `names the attribute ${JSON.stringify(attribute)}, which has no column`,
      );
    const id = `${attribute}\u0000${type}`;
    if (conflictSeen.has(id))
      throw corrupt(LAYOUT_PROPERTY.conflictColumns, `lists ${type} of ${JSON.stringify(attribute)} twice`);
    conflictSeen.add(id);
    conflictColumns.push({ attribute, type, column, encoding });
  }

  const layout: TableLayout = {
    keys,
    buckets,
    deletes,
    exportTime,
    marginMs,
    appId,
    columns,
    kinds,
    conflictColumns,
  };
  assertDistinctColumns(layout);
  return layout;
}

/**
 * Refuses a layout in which two columns (attribute, conflict or system) have the same name ignoring
 * case, as Spark compares them.
 * @throws TableLayoutError naming both.
 */
export function assertDistinctColumns(layout: TableLayout): void {
  const seen = new Map<string, string>();
  const take = (column: string, owner: string): void => {
    const clash = seen.get(columnNameKey(column));
    if (clash !== undefined) {
      throw new TableLayoutError(
        `${WHERE}: the column ${JSON.stringify(column)} of ${owner} clashes with ${clash} (names compare ignoring case).`,
      );
    }
    seen.set(columnNameKey(column), `the column ${JSON.stringify(column)} of ${owner}`);
  };
  for (const name of ALL_SYSTEM_COLUMNS) take(name, 'the system');
  for (const [attribute, column] of layout.columns)
    take(column, `the attribute ${JSON.stringify(attribute)}`);
  for (const conflict of layout.conflictColumns)
    take(conflict.column, `${conflict.type} values of ${JSON.stringify(conflict.attribute)}`);
}

/**
 * The configuration with the layout recorded: `base` (other properties kept) with every
 * `ddb_lake.*` property of the layout set. Deterministic: the same layout gives the same text, so an
 * unchanged layout never needs a metaData action. Pure.
 */
export function layoutConfiguration(
  layout: TableLayout,
  base: Readonly<Record<string, string>> = {},
): Record<string, string> {
  const keys =
    layout.keys.sort === undefined
      ? { partition: layout.keys.partition }
      : { partition: layout.keys.partition, sort: layout.keys.sort };
  const configuration: Record<string, string> = {
    ...base,
    [LAYOUT_PROPERTY.keys]: JSON.stringify(keys),
    [LAYOUT_PROPERTY.buckets]: String(layout.buckets),
    [LAYOUT_PROPERTY.deletes]: layout.deletes,
    [LAYOUT_PROPERTY.exportTime]: String(layout.exportTime),
    [LAYOUT_PROPERTY.marginMs]: String(layout.marginMs),
    [LAYOUT_PROPERTY.appId]: layout.appId,
  };
  if (layout.columns.size > 0) {
    configuration[LAYOUT_PROPERTY.columnNames] = JSON.stringify([...layout.columns]);
    configuration[LAYOUT_PROPERTY.columnKinds] = JSON.stringify(
      [...layout.columns.keys()].map((a) => [a, layout.kinds.get(a)]),
    );
  } else {
    delete configuration[LAYOUT_PROPERTY.columnNames];
    delete configuration[LAYOUT_PROPERTY.columnKinds];
  }
  if (layout.conflictColumns.length > 0) {
    configuration[LAYOUT_PROPERTY.conflictColumns] = JSON.stringify(
      layout.conflictColumns.map((c) =>
        c.encoding === 'text' ? [c.attribute, c.type, c.column, 'text'] : [c.attribute, c.type, c.column],
      ),
    );
  } else {
    delete configuration[LAYOUT_PROPERTY.conflictColumns];
  }
  return configuration;
}

/**
 * The Delta schema of a layout: the fields of `current` first, unchanged and in their order (a
 * schema only grows, so files already written stay readable); then, for columns not in it, the
 * attribute columns (assignment order), the conflict columns (string) and the system columns. A new
 * table (no `current`) therefore reads attributes, conflicts, system columns. Added fields are
 * nullable, system fields not. Pure.
 * @param columnTypes the Delta type of each attribute column not in `current` (by column name); may
 *   also name columns of `current`, which must then agree.
 * @throws TableLayoutError when an attribute column has no type, or a type differs from the one the
 *   column already has (columns are never retyped).
 */
export function layoutSchema(
  layout: TableLayout,
  columnTypes: ReadonlyMap<string, DeltaType>,
  current?: StructType,
): StructType {
  const fields: StructField[] = [...(current?.fields ?? [])];
  const present = new Map(fields.map((field) => [field.name, field]));
  for (const [column, type] of columnTypes) {
    const field = present.get(column);
    if (field !== undefined && !deltaTypeEquals(field.type, type)) {
      throw new TableLayoutError(
        `The column ${JSON.stringify(column)} is ${deltaTypeText(field.type)} in the table and cannot become ${deltaTypeText(type)}: columns are never retyped; a value that does not fit goes to a conflict column.`,
      );
    }
  }
  const add = (name: string, type: DeltaType, nullable: boolean): void => {
    if (present.has(name)) return;
    const field: StructField = { name, type, nullable, metadata: {} };
    fields.push(field);
    present.set(name, field);
  };
  for (const [attribute, column] of layout.columns) {
    const type = columnTypes.get(column);
    if (type === undefined) {
      if (present.has(column)) continue;
      throw new TableLayoutError(
        `The attribute ${JSON.stringify(attribute)} has the column ${JSON.stringify(column)} but no type for it was given.`,
      );
    }
    add(column, type, true);
  }
  for (const conflict of layout.conflictColumns) add(conflict.column, CONFLICT_COLUMN_TYPE, true);
  for (const field of systemFields(layout.deletes)) add(field.name, field.type, field.nullable);
  return { type: 'struct', fields };
}
