import type { DuckDBAppender, DuckDBType } from '@duckdb/node-api';
import type { StructType } from '../../delta/schema.ts';
import { duckdbTypeOf } from '../../duckdb/duckdb-type.ts';
import { LakeValueError } from '../../duckdb/errors.ts';
import type { LakeRow, LakeValue } from '../../duckdb/lake-value.ts';
import { lakeValueToDuckdb } from '../../duckdb/lake-value-to-duckdb.ts';
import { type DuckSession, quoteIdentifier } from '../../duckdb/session.ts';

/*
 * Rows into a DuckDB table one at a time, through one open appender, so a snapshot of any size
 * streams in without being held in memory as JS rows (loadLakeRows takes them all at once). Each
 * value is converted exactly as loadLakeRows converts it (lakeValueToDuckdb).
 */

/** Rows between flushes of the appender: bounds what DuckDB holds before it writes to its table. */
const FLUSH_EVERY = 100_000;

/** A DuckDB table being filled with lake rows. Close it (in a `finally`) before querying the table. */
export class LakeRowSink {
  readonly table: string;
  readonly #schema: StructType;
  readonly #appender: DuckDBAppender;
  readonly #types: readonly DuckDBType[];
  #rows = 0;
  #closed = false;

  private constructor(table: string, schema: StructType, appender: DuckDBAppender) {
    this.table = table;
    this.#schema = schema;
    this.#appender = appender;
    this.#types = schema.fields.map((_, index) => appender.columnType(index));
  }

  /**
   * Creates (or replaces) the table `table` with one column per field of `schema` (duckdb-type.ts)
   * and opens an appender on it.
   */
  static async open(session: DuckSession, table: string, schema: StructType): Promise<LakeRowSink> {
    const columns = schema.fields.map(
      (field) => `${quoteIdentifier(field.name)} ${duckdbTypeOf(field.type)}`,
    );
    await session.run(`CREATE OR REPLACE TABLE ${quoteIdentifier(table)} (${columns.join(', ')})`);
    return new LakeRowSink(table, schema, await session.connection.createAppender(table));
  }

  /** Rows appended so far. */
  get rows(): number {
    return this.#rows;
  }

  /**
   * Appends one row: a field missing from the row is null.
   * @throws LakeValueError naming the column for a value that does not fit its type, or a key of
   *   the row that is no column; nothing of that row is appended.
   */
  append(row: LakeRow): void {
    const fields = this.#schema.fields;
    const values = fields.map((field) =>
      lakeValueToDuckdb((row[field.name] ?? null) as LakeValue, field.type, {
        column: field.name,
        row: this.#rows,
      }),
    );
    let known = 0;
    for (const field of fields) if (Object.hasOwn(row, field.name)) known++;
    if (known !== Object.keys(row).length) {
      const names = new Set(fields.map((field) => field.name));
      const stray = Object.keys(row).find((key) => !names.has(key)) as string;
      throw new LakeValueError(stray, this.#rows, `not a column of the table (${[...names].join(', ')})`);
    }
    for (let i = 0; i < values.length; i++) this.#appender.appendValue(values[i] ?? null, this.#types[i]);
    this.#appender.endRow();
    this.#rows++;
    if (this.#rows % FLUSH_EVERY === 0) this.#appender.flushSync();
  }

  /** Flushes and closes the appender. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#appender.flushSync();
    } finally {
      this.#appender.closeSync();
    }
  }
}
