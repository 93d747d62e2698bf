import { DeltaInvalidWriteError, DeltaLogCorruptError } from './errors.ts';

/*
 * DynamoDB attribute names may hold any character and may differ only in case (`Price`, `price`);
 * Spark refuses the characters ` ,;{}()\n\t=` in a column name (without column mapping) and treats
 * names case-insensitively. Each attribute therefore gets a column name of its own: readable (the
 * forbidden characters become `_`), unique ignoring case (`_2`, `_3`, … on a clash, also with the
 * system columns and with `file_row_number`, which DuckDB reserves), and stable (recorded in the
 * table's configuration; an attribute keeps its column forever, only attributes never seen before
 * get new names).
 */

/** The table property that records the mapping: JSON, `[["<attribute>","<column>"], …]` in assignment order. */
export const COLUMN_NAMES_PROPERTY = 'ddb_lake.columnNames';

/**
 * The columns a lake table carries besides the attributes (DESIGN.md, "Lake table", and apply's
 * layout: src/lake/table-layout.ts): reserved, so no attribute takes one of their names.
 */
export const SYSTEM_COLUMNS: readonly string[] = [
  '_ddb_key',
  '_ddb_bucket',
  '_ddb_seq',
  '_ddb_ts',
  '_ddb_source',
  '_ddb_deleted',
  '_ddb_ttl_expired',
];

/**
 * Names no attribute's column takes either: DuckDB reads a data file's row positions (for
 * deletion vectors) as its virtual column `file_row_number` and refuses to when the file has a
 * column of that name, in any case; such a table could take no merge-on-read batch.
 */
export const READER_RESERVED_COLUMNS: readonly string[] = ['file_row_number'];

/** The characters Spark refuses in a column name of a table without column mapping. */
const FORBIDDEN = /[ ,;{}()\n\t=]/g;

/** The key under which two names clash: Spark compares column names ignoring case. */
export function columnNameKey(name: string): string {
  return name.toLowerCase();
}

/** Why `name` cannot be a column name of a Spark table without column mapping, or undefined. */
export function invalidColumnNameReason(name: string): string | undefined {
  if (name === '') return 'it is empty';
  const found = name.match(FORBIDDEN);
  if (found === null) return undefined;
  const shown = [...new Set(found)].map((c) => JSON.stringify(c)).join(', ');
  return `it contains ${shown}, which Spark refuses in column names (" ,;{}()\\n\\t=")`;
}

/** The result of `assignColumnNames`. */
export interface ColumnNameAssignment {
  /** Every mapped attribute (old and new) → its column, in assignment order. */
  readonly columns: ReadonlyMap<string, string>;
  /** The attributes of this call that had no column before, in the order given. */
  readonly added: readonly string[];
  /** The configuration with the mapping recorded; the same object when nothing was added. */
  readonly configuration: Readonly<Record<string, string>>;
}

/**
 * The attribute → column mapping recorded in a table's configuration (empty when none is).
 * @throws DeltaLogCorruptError when the recorded mapping is not the JSON this module writes, or
 *   maps two attributes to one column.
 */
export function columnNameMapping(configuration: Readonly<Record<string, string>>): Map<string, string> {
  return parseMapping(
    configuration[COLUMN_NAMES_PROPERTY],
    (what) =>
      new DeltaLogCorruptError(
        `The table property ${COLUMN_NAMES_PROPERTY} is not a valid column name mapping: ${what}. It is written by ddb-lake only; restore it from an earlier metaData action of the log.`,
      ),
  );
}

/**
 * Refuses a configuration about to be written whose column name mapping is not what
 * `assignColumnNames` writes.
 * @throws DeltaInvalidWriteError saying what is wrong.
 */
export function assertColumnNameMappingValid(configuration: Readonly<Record<string, string>>): void {
  parseMapping(
    configuration[COLUMN_NAMES_PROPERTY],
    (what) =>
      new DeltaInvalidWriteError(
        `The table property ${COLUMN_NAMES_PROPERTY} is not a valid column name mapping: ${what}. Build it with assignColumnNames.`,
      ),
  );
}

function parseMapping(text: string | undefined, corrupt: (what: string) => Error): Map<string, string> {
  const mapping = new Map<string, string>();
  if (text === undefined) return mapping;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw corrupt(`not JSON (${(error as Error).message})`);
  }
  if (!Array.isArray(parsed)) throw corrupt('not a JSON array of [attribute, column] pairs');
  const usedColumns = new Set<string>();
  for (const entry of parsed) {
    if (
      !Array.isArray(entry) ||
      entry.length !== 2 ||
      typeof entry[0] !== 'string' ||
      typeof entry[1] !== 'string'
    ) {
      throw corrupt(`the entry ${JSON.stringify(entry)} is not an [attribute, column] pair of strings`);
    }
    const [attribute, column] = entry as [string, string];
    if (mapping.has(attribute)) throw corrupt(`the attribute ${JSON.stringify(attribute)} is mapped twice`);
    const reason = invalidColumnNameReason(column);
    if (reason !== undefined)
      throw corrupt(`the column ${JSON.stringify(column)} is not a valid name: ${reason}`);
    if (usedColumns.has(columnNameKey(column))) {
      throw corrupt(`two attributes are mapped to the column ${JSON.stringify(column)}`);
    }
    usedColumns.add(columnNameKey(column));
    mapping.set(attribute, column);
  }
  return mapping;
}

/** The readable base of a column name: forbidden characters replaced by `_`. */
function baseName(attribute: string): string {
  return attribute.replace(FORBIDDEN, '_');
}

/**
 * Maps every attribute of `attributeNames` to a column: attributes already in the mapping keep
 * their column; a new one gets its name with ` ,;{}()\n\t=` replaced by `_`, suffixed `_2`, `_3`, …
 * when that clashes, ignoring case, with a column already taken, a system column or a reserved
 * name (`READER_RESERVED_COLUMNS`). Deterministic (the same configuration and names give the same
 * result) and idempotent (assigning the result's attributes again adds nothing). Duplicates in
 * `attributeNames` count once. `otherColumns` are columns of the table that no attribute owns (the
 * schema's, beyond the system columns): new columns avoid them too.
 * @throws DeltaLogCorruptError when the recorded mapping is unreadable (see `columnNameMapping`).
 * @throws DeltaInvalidWriteError for an empty attribute name (DynamoDB has none).
 */
export function assignColumnNames(
  configuration: Readonly<Record<string, string>>,
  attributeNames: Iterable<string>,
  otherColumns: Iterable<string> = [],
): ColumnNameAssignment {
  const columns = columnNameMapping(configuration);
  const taken = new Set<string>([...SYSTEM_COLUMNS, ...READER_RESERVED_COLUMNS].map(columnNameKey));
  for (const column of otherColumns) taken.add(columnNameKey(column));
  for (const column of columns.values()) taken.add(columnNameKey(column));
  const added: string[] = [];
  for (const attribute of attributeNames) {
    if (columns.has(attribute)) continue;
    if (attribute === '') {
      throw new DeltaInvalidWriteError('An attribute with an empty name cannot become a column.');
    }
    const base = baseName(attribute);
    let column = base;
    for (let suffix = 2; taken.has(columnNameKey(column)); suffix++) column = `${base}_${suffix}`;
    taken.add(columnNameKey(column));
    columns.set(attribute, column);
    added.push(attribute);
  }
  if (added.length === 0) return { columns, added, configuration };
  return {
    columns,
    added,
    configuration: { ...configuration, [COLUMN_NAMES_PROPERTY]: JSON.stringify([...columns]) },
  };
}
