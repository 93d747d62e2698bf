import type { TableStatements } from '../apply/statements/batch-statements.ts';
import type { SqlDialect } from '../apply/statements/sql-dialect.ts';
import { DeltaUnsupportedFeatureError } from '../delta/errors.ts';
import type { DeltaType } from '../delta/schema.ts';
import { DdbLakeError } from '../errors.ts';
import { BUCKET_FUNCTION_NAME } from './bucket-function.ts';
import { PLAIN_JSON_FUNCTION_NAME } from './plain-json-function.ts';

/*
 * The statement plan (apply/statements/) in Databricks SQL, for a SQL warehouse: files read with
 * `read_files` (one call per file, its location a named parameter; FAILFAST, so a line that is not
 * JSON fails the statement instead of becoming a row of NULLs), images taken apart with
 * `from_json(…, 'map<string,string>')` (which keeps each value's JSON text) and `get_json_object`,
 * and the two functions ddb-lake creates in Unity Catalog (plain JSON of a DynamoDB value, the
 * bucket of a key) in place of the TypeScript ones the DuckDB rendering registers. Numbers never go
 * through a JSON number reader: they are tested by pattern and cast from exact text.
 */

/** Where ddb-lake's Unity Catalog functions live: `catalog.schema`. */
export interface FunctionSchema {
  readonly catalog: string;
  readonly schema: string;
}

/** A backticked identifier (a backtick inside doubled). */
export function databricksIdentifier(name: string): string {
  return `\`${name.replaceAll('`', '``')}\``;
}

/** A dotted name of backticked parts. */
export function databricksName(parts: readonly string[]): string {
  return parts.map(databricksIdentifier).join('.');
}

/** A value Databricks SQL only takes as a literal (DDL: LOCATION, TBLPROPERTIES, COMMENT). */
export class SqlLiteralError extends DdbLakeError {
  constructor(message: string) {
    super('SQL_LITERAL', message);
  }
}

/**
 * A Databricks SQL string literal of `value`: single quotes, a backslash and a quote escaped with a
 * backslash (Spark SQL reads backslash escapes in literals). Only for the places where the grammar
 * takes no parameter (DDL); values of the data are parameters everywhere else.
 * @throws SqlLiteralError for text with control characters other than tab, which no DDL here needs.
 */
export function databricksString(value: string): string {
  const control = [...value].some((char) => {
    const code = char.charCodeAt(0);
    return (code < 0x20 && code !== 0x09) || code === 0x7f;
  });
  if (control) {
    throw new SqlLiteralError(
      `The text ${JSON.stringify(value)} holds a control character and cannot be written into a Databricks SQL statement as a literal.`,
    );
  }
  return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}

function typeOf(type: DeltaType): string {
  switch (type.type) {
    case 'primitive':
      switch (type.name) {
        case 'string':
          return 'STRING';
        case 'long':
          return 'BIGINT';
        case 'integer':
          return 'INT';
        case 'boolean':
          return 'BOOLEAN';
        case 'binary':
          return 'BINARY';
        case 'timestamp':
          return 'TIMESTAMP';
        default:
          break;
      }
      break;
    case 'decimal':
      return `DECIMAL(${type.precision},${type.scale})`;
    case 'array':
      return `ARRAY<${typeOf(type.elementType)}>`;
    default:
      break;
  }
  throw new DeltaUnsupportedFeatureError(
    'write',
    JSON.stringify(type),
    `The column type ${JSON.stringify(type)} is not one a ddb-lake table has.`,
  );
}

const CHANGE_SCHEMA = 'op STRING, keys STRING, new STRING, old STRING, seq STRING, ts BIGINT, ttl BOOLEAN';

function readEach(files: readonly string[], columns: string, schema: string): string {
  const reads = files.map(
    (file) =>
      `SELECT ${columns} FROM read_files(${file}, format => 'json', schema => '${schema}', mode => 'FAILFAST')`,
  );
  return `(${reads.join('\n  UNION ALL ')})`;
}

/** The plan's spelling for Databricks SQL (parameters as `:name`), calling the functions in `functions`. */
export function databricksStatementDialect(functions: FunctionSchema): SqlDialect {
  const plainJson = databricksName([functions.catalog, functions.schema, PLAIN_JSON_FUNCTION_NAME]);
  const bucket = databricksName([functions.catalog, functions.schema, BUCKET_FUNCTION_NAME]);
  return {
    name: 'databricks',
    identifier: databricksIdentifier,
    parameter: (name) => `:${name}`,
    type: typeOf,
    changeLines: (files) => readEach(files, 'op, keys, new, old, seq, ts, ttl', CHANGE_SCHEMA),
    tombstoneLines: (files) =>
      readEach(files, 'key, seq', 'key STRING, seq STRING, source STRING, ts STRING'),
    exportLines: (files) => readEach(files, 'Item AS item', 'Item STRING'),
    attributeMap: (item) => `from_json(${item}, 'map<string,string>')`,
    attribute: (map, name) => `${map}[${name}]`,
    mapKeys: (map) => `map_keys(${map})`,
    explode: (array) => `explode(${array})`,
    typeTag: (value) => `json_object_keys(${value})[0]`,
    member: (value, tag) => `get_json_object(${value}, '$.${tag}')`,
    plainJson: (value) => `${plainJson}(${value})`,
    bucket: (key, buckets) => `${bucket}(${key}, ${buckets})`,
    matches: (value, pattern) => `(${value} RLIKE ${pattern})`,
    timestampFromMillis: (millis) => `timestamp_millis(${millis})`,
    fromBase64: (value) => `unbase64(${value})`,
    stringArray: (value) => `from_json(${value}, 'array<string>')`,
    split: (value, separator) => `split(${value}, ${separator})`,
    transform: (array, element, body) => `transform(${array}, ${element} -> ${body})`,
    prepend: (element, array) => `concat(array(${element}), ${array})`,
    arrayMax: (array) => `array_max(${array})`,
    everyElement: (array, element, body) => `forall(${array}, ${element} -> ${body})`,
    zeroPad: (value, length) => `lpad(${value}, ${length}, '0')`,
  };
}

/** Where the lake table lives and what it records: the DDL of its first batch. */
export interface DatabricksTableOptions {
  /** The Delta table's location (`--delta`, an `s3://` URL). */
  readonly location: string;
  /** Table properties: the layout's `ddb_lake.*` and Delta's (deletion vectors). */
  readonly properties: Readonly<Record<string, string>>;
}

function propertiesClause(properties: Readonly<Record<string, string>>): string {
  const entries = Object.entries(properties).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (entries.length === 0) return '';
  return `\nTBLPROPERTIES (${entries.map(([key, value]) => `${databricksString(key)} = ${databricksString(value)}`).join(', ')})`;
}

/** Databricks' DDL for the plan: external Delta tables at the given locations in Unity Catalog. */
export function databricksTableStatements(options: DatabricksTableOptions): TableStatements {
  return {
    createTable: (table, columns) =>
      `CREATE TABLE IF NOT EXISTS ${table} (${columns})\nUSING DELTA\nPARTITIONED BY (${databricksIdentifier('_ddb_bucket')})\nLOCATION ${databricksString(options.location)}${propertiesClause(options.properties)}`,
    addColumns: (table, columns) => [`ALTER TABLE ${table} ADD COLUMNS (${columns.join(', ')})`],
  };
}

/** The statement that records the evolved layout in the table's properties (after ADD COLUMNS). */
export function setLayoutPropertiesStatement(
  table: readonly string[],
  properties: Readonly<Record<string, string>>,
): string {
  return `ALTER TABLE ${databricksName(table)} SET${propertiesClause(properties).replace('\n', ' ')}`;
}
