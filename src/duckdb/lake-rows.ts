import type { StructType } from '../delta/schema.ts';
import { duckdbTypeOf } from './duckdb-type.ts';
import { LakeValueError } from './errors.ts';
import type { LakeRow, LakeValue } from './lake-value.ts';
import { duckdbValueToLake } from './lake-value-from-duckdb.ts';
import { lakeValueToDuckdb } from './lake-value-to-duckdb.ts';
import { DuckDbError, type DuckSession, quoteIdentifier, type SqlParams } from './session.ts';

/*
 * JS rows in and out of DuckDB as lake values (lake-value.ts), exactly: rows go in through the
 * appender as typed DuckDB values (decimals as scaled bigints, timestamps as microseconds), never
 * through SQL text or JS numbers, and come back converted by their DuckDB column type.
 */

export { duckdbTypeOf } from './duckdb-type.ts';
export type { LakeRow, LakeStruct, LakeValue } from './lake-value.ts';

/**
 * Creates (or replaces) the DuckDB table `tableName` with one column per field of `schema`, typed
 * by `duckdbTypeOf` and named as the fields are, and appends `rows` in order. A field missing from a
 * row is null; a key of a row that is not a field is an error.
 * @throws LakeValueError naming the row index and column for a value that does not fit its type
 * (a decimal with more digits than the type holds, a malformed timestamp, a number for a long);
 * every value is checked before the table is touched.
 */
export async function loadLakeRows(
  session: DuckSession,
  tableName: string,
  schema: StructType,
  rows: readonly LakeRow[],
): Promise<void> {
  const fields = schema.fields;
  const names = new Set(fields.map((field) => field.name));
  const converted = rows.map((row, index) => {
    for (const key of Object.keys(row)) {
      if (!names.has(key)) {
        throw new LakeValueError(key, index, `not a column of the schema (${[...names].join(', ')})`);
      }
    }
    return fields.map((field) =>
      lakeValueToDuckdb((row[field.name] ?? null) as LakeValue, field.type, {
        column: field.name,
        row: index,
      }),
    );
  });
  const columns = fields.map((field) => `${quoteIdentifier(field.name)} ${duckdbTypeOf(field.type)}`);
  await session.run(`CREATE OR REPLACE TABLE ${quoteIdentifier(tableName)} (${columns.join(', ')})`);
  const appender = await session.connection.createAppender(tableName);
  try {
    const types = fields.map((_, index) => appender.columnType(index));
    for (const values of converted) {
      values.forEach((value, index) => {
        appender.appendValue(value, types[index]);
      });
      appender.endRow();
    }
    appender.flushSync();
  } finally {
    appender.closeSync();
  }
}

/**
 * Runs `sql` (parameters bound) and returns every row as lake values (see lake-value.ts), with the
 * columns of the query in its order: BIGINT→bigint, DECIMAL→decimal text, TIMESTAMPTZ→ISO text, …
 * Reads the whole result into memory: for checks and small results, not for scans of big tables.
 * @throws DuckDbError naming the query when DuckDB refuses it; LakeValueError for a column type
 * with no lake representation (INTERVAL, UUID, HUGEINT, …).
 */
export async function readLakeRows(
  session: DuckSession,
  sql: string,
  params?: SqlParams,
): Promise<LakeRow[]> {
  let reader: Awaited<ReturnType<DuckSession['all']>>;
  try {
    reader = await session.all(sql, params);
  } catch (error) {
    throw new DuckDbError(
      `DuckDB could not run the query (${(error as Error).message}): ${sql.length > 300 ? `${sql.slice(0, 300)}…` : sql}`,
      {
        cause: error,
      },
    );
  }
  const names = reader.columnNames();
  const types = reader.columnTypes();
  return reader.getRows().map((values, rowIndex) => {
    const row: Record<string, LakeValue> = {};
    names.forEach((name, index) => {
      const type = types[index];
      if (type === undefined) return;
      row[name] = duckdbValueToLake(values[index] ?? null, type, name, rowIndex);
    });
    return row;
  });
}
