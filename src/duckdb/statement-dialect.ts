import { DuckDBScalarFunction, INTEGER, VARCHAR } from '@duckdb/node-api';
import type { TableStatements } from '../apply/statements/batch-statements.ts';
import type { SqlDialect } from '../apply/statements/sql-dialect.ts';
import type { AttributeValue } from '../dynamo/attribute-value.ts';
import { valueToPlainJson } from '../dynamo/plain-json.ts';
import { bucketOf } from '../lake/key-identity.ts';
import { duckdbTypeOf } from './duckdb-type.ts';
import { type DuckSession, quoteIdentifier } from './session.ts';

/*
 * The statement plan (apply/statements/) as DuckDB runs it. This rendering is how the repository
 * proves what the plan does: run on DuckDB over the same change files, it must give the table the
 * local engine gives (test/apply/statement-plan-duckdb.test.ts). The two functions the plan calls
 * are the TypeScript ones (plain-json.ts, key-identity.ts), registered as DuckDB scalar functions,
 * which the Databricks rendering replaces by Unity Catalog Python functions tested against them.
 */

const PLAIN_JSON_FUNCTION = 'ddb_lake_plain_json';
const BUCKET_FUNCTION = 'ddb_lake_bucket';

const CHANGE_COLUMNS =
  "{op: 'VARCHAR', keys: 'JSON', new: 'JSON', old: 'JSON', seq: 'VARCHAR', ts: 'BIGINT', ttl: 'BOOLEAN'}";

const json = (value: string): string => `CAST(${value} AS JSON)`;
const text = (value: string): string => `nullif(CAST(${value} AS VARCHAR), 'null')`;

/** The plan's spelling for DuckDB (parameters as `$name`). */
export const duckdbStatementDialect: SqlDialect = {
  name: 'duckdb',
  identifier: quoteIdentifier,
  parameter: (name) => `$${name}`,
  type: duckdbTypeOf,
  changeLines: (files) =>
    `(SELECT op, ${text('keys')} AS keys, ${text('new')} AS new, ${text('old')} AS old, seq, ts, ttl FROM read_json([${files.join(', ')}], format = 'newline_delimited', compression = 'gzip', columns = ${CHANGE_COLUMNS}))`,
  tombstoneLines: (files) =>
    `(SELECT key, seq FROM read_json([${files.join(', ')}], format = 'newline_delimited', compression = 'gzip', columns = {key: 'VARCHAR', seq: 'VARCHAR'}))`,
  exportLines: (files) =>
    `(SELECT ${text('"Item"')} AS item FROM read_json([${files.join(', ')}], format = 'newline_delimited', compression = 'gzip', columns = {"Item": 'JSON'}))`,
  attributeMap: (item) => `CAST(${json(item)} AS MAP(VARCHAR, JSON))`,
  attribute: (map, name) => `CAST(${map}[${name}] AS VARCHAR)`,
  mapKeys: (map) => `map_keys(${map})`,
  explode: (array) => `unnest(${array})`,
  typeTag: (value) => `json_keys(${json(value)})[1]`,
  member: (value, tag) => `json_extract_string(${json(value)}, '$.${tag}')`,
  plainJson: (value) => `${PLAIN_JSON_FUNCTION}(${value})`,
  bucket: (key, buckets) => `${BUCKET_FUNCTION}(${key}, ${buckets})`,
  matches: (value, pattern) => `regexp_matches(${value}, ${pattern})`,
  timestampFromMillis: (millis) => `CAST(epoch_ms(${millis}) AS TIMESTAMPTZ)`,
  fromBase64: (value) => `from_base64(${value})`,
  stringArray: (value) => `CAST(${json(value)} AS VARCHAR[])`,
  split: (value, separator) => `string_split(${value}, ${separator})`,
  transform: (array, element, body) => `list_transform(${array}, lambda ${element}: ${body})`,
  prepend: (element, array) => `list_prepend(${element}, ${array})`,
  arrayMax: (array) => `list_max(${array})`,
  everyElement: (array, element, body) =>
    `coalesce(list_bool_and(list_transform(${array}, lambda ${element}: ${body})), TRUE)`,
  zeroPad: (value, length) => `lpad(${value}, ${length}, '0')`,
};

/** DuckDB's DDL for the plan: plain tables (the rows are what the plan is checked on). */
export const duckdbTableStatements: TableStatements = {
  createTable: (table, columns) => `CREATE TABLE IF NOT EXISTS ${table} (${columns})`,
  addColumns: (table, columns) =>
    columns.map((column) => `ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS ${column}`),
};

/**
 * Registers the plan's two functions in the session's connection: `ddb_lake_plain_json(VARCHAR)`
 * (canonical plain JSON of a DynamoDB JSON value text, plain-json.ts; NULL for NULL) and
 * `ddb_lake_bucket(VARCHAR, INTEGER)` (key-identity.ts). A value that is not valid DynamoDB JSON
 * fails the statement with the parser's error, naming the problem.
 */
export function registerStatementFunctions(session: DuckSession): void {
  session.connection.registerScalarFunction(
    DuckDBScalarFunction.create({
      name: PLAIN_JSON_FUNCTION,
      returnType: VARCHAR,
      parameterTypes: [VARCHAR],
      specialHandling: true,
      mainFunction: (_info, input, output) => {
        const values = input.getColumnVector(0);
        for (let row = 0; row < input.rowCount; row++) {
          const value = values.getItem(row);
          output.setItem(
            row,
            value === null ? null : valueToPlainJson(JSON.parse(String(value)) as AttributeValue),
          );
        }
        output.flush();
      },
    }),
  );
  session.connection.registerScalarFunction(
    DuckDBScalarFunction.create({
      name: BUCKET_FUNCTION,
      returnType: INTEGER,
      parameterTypes: [VARCHAR, INTEGER],
      mainFunction: (_info, input, output) => {
        const keys = input.getColumnVector(0);
        const buckets = input.getColumnVector(1);
        for (let row = 0; row < input.rowCount; row++) {
          output.setItem(row, bucketOf(String(keys.getItem(row)), Number(buckets.getItem(row))));
        }
        output.flush();
      },
    }),
  );
}
