import { rm } from 'node:fs/promises';
import type { DeltaType, StructType } from '../delta/schema.ts';
import { duckdbTypeOf } from '../duckdb/duckdb-type.ts';
import type { LakeRow } from '../duckdb/lake-value.ts';
import { type DuckSession, quoteIdentifier, quoteLiteral } from '../duckdb/session.ts';
import { LakeRowSink } from './lake-row-sink.ts';
import { SpoolFileWriter, spoolable } from './snapshot-spool-file.ts';

/*
 * Many rows into a DuckDB table fast: each row becomes one JSON line of text cells in a spool file
 * of the session's scratch folder (snapshot-spool-file.ts), and DuckDB's own JSON reader
 * (multi-threaded, in its own threads) loads every full spool file while the caller goes on
 * producing rows. Exact: decimals, longs and timestamps travel as text and are cast by DuckDB (text
 * to DECIMAL(p,s) is exact for text with at most s fractional digits, which every decimal cell is
 * checked to have), binary as base64. Spool files written elsewhere (the snapshot load's worker
 * threads) with the same schema are loaded with `load`. Schemas with types a lake row of apply
 * never holds (maps, structs, floats, dates) are refused: use LakeRowSink for those.
 */

/** The type DuckDB's JSON reader reads a cell of `type` as. */
function readTypeOf(type: DeltaType): string {
  if (type.type === 'array') return `${readTypeOf(type.elementType)}[]`;
  if (type.type === 'primitive' && type.name === 'integer') return 'INTEGER';
  if (type.type === 'primitive' && type.name === 'boolean') return 'BOOLEAN';
  return 'VARCHAR';
}

/** SQL turning the read cell `x` into the column's value. */
function castOf(type: DeltaType, x: string): string {
  if (type.type === 'array') {
    const element = castOf(type.elementType, 'e');
    return element === 'e' ? x : `list_transform(${x}, e -> ${element})`;
  }
  if (type.type === 'decimal') return `CAST(${x} AS ${duckdbTypeOf(type)})`;
  if (type.type !== 'primitive') return x;
  switch (type.name) {
    case 'long':
      return `CAST(${x} AS BIGINT)`;
    case 'binary':
      return `from_base64(${x})`;
    case 'timestamp':
      return `CAST(${x} AS TIMESTAMPTZ)`;
    default:
      return x;
  }
}

/** A DuckDB table being filled with lake rows through spool files. Close it before querying the table. */
export class LakeRowSpool {
  readonly table: string;
  readonly #session: DuckSession;
  readonly #writer: SpoolFileWriter;
  readonly #insert: string;
  readonly #columns: string;
  #loading: Promise<void> = Promise.resolve();
  #abandoned = false;
  #failed: unknown;

  private constructor(session: DuckSession, table: string, schema: StructType) {
    this.#session = session;
    this.table = table;
    this.#writer = new SpoolFileWriter(schema, session.scratchDir, `${table}-spool`, (file) =>
      this.load(file),
    );
    const select = schema.fields
      .map((field, index) => `${castOf(field.type, `c${index}`)} AS ${quoteIdentifier(field.name)}`)
      .join(', ');
    this.#insert = `INSERT INTO ${quoteIdentifier(table)} SELECT ${select} FROM `;
    this.#columns = `{${schema.fields.map((field, index) => `c${index}: ${quoteLiteral(readTypeOf(field.type))}`).join(', ')}}`;
  }

  /**
   * Creates (or replaces) the table `table` with one column per field of `schema`.
   * @throws RangeError for a schema with a column type the spool does not carry (see `spoolable`).
   */
  static async open(session: DuckSession, table: string, schema: StructType): Promise<LakeRowSpool> {
    if (!spoolable(schema)) throw new RangeError('the schema has a column type the row spool does not carry');
    const columns = schema.fields.map(
      (field) => `${quoteIdentifier(field.name)} ${duckdbTypeOf(field.type)}`,
    );
    await session.run(`CREATE OR REPLACE TABLE ${quoteIdentifier(table)} (${columns.join(', ')})`);
    return new LakeRowSpool(session, table, schema);
  }

  /** Rows appended so far (rows of files given to `load` not counted). */
  get rows(): number {
    return this.#writer.rows;
  }

  /**
   * Appends one row (a missing field is null).
   * @throws LakeValueError naming the column for a value that does not fit its type, or a key of
   *   the row that is no column; nothing of that row is appended.
   */
  append(row: LakeRow): void {
    if (this.#failed !== undefined) throw this.#failed;
    this.#writer.append(row);
  }

  /**
   * Queues the complete spool file `file` (written by a SpoolFileWriter with this table's schema)
   * for loading into the table behind the files before it, and removes it once loaded; after
   * `abandon`, removes it without loading. The spool owns the file from this call on.
   */
  load(file: string): void {
    const sql = `${this.#insert}read_json(${quoteLiteral(file)}, format = 'newline_delimited', columns = ${this.#columns}, maximum_object_size = 1073741824)`;
    this.#loading = this.#loading.then(async () => {
      try {
        if (this.#failed === undefined && !this.#abandoned) await this.#session.run(sql);
      } catch (error) {
        this.#failed ??= error;
      } finally {
        await rm(file, { force: true });
      }
    });
  }

  /**
   * Loads the rows not yet loaded and waits for every load. Call once, after the last append and
   * the last `load`.
   * @throws DuckDB's error when a spool file could not be loaded.
   */
  async close(): Promise<void> {
    this.#writer.finishFile();
    await this.#loading;
    if (this.#failed !== undefined) throw this.#failed;
  }

  /** Stops without loading the rest (after a failure of the caller); removes the spool files. */
  async abandon(): Promise<void> {
    this.#abandoned = true;
    this.#writer.abandon();
    await this.#loading;
  }
}

/** Rows into a new DuckDB table, by whichever path carries the schema. */
export interface RowTable {
  readonly table: string;
  append(row: LakeRow): void;
  /** Every row is in the table once this resolves. */
  close(): Promise<void>;
  /** After a failure: stops, loads nothing more. */
  abandon(): Promise<void>;
}

/**
 * Creates (or replaces) the DuckDB table `table` for rows of `schema`, filled through spool files
 * (LakeRowSpool) when the schema allows it, else through the appender (LakeRowSink).
 */
export async function openRowTable(
  session: DuckSession,
  table: string,
  schema: StructType,
): Promise<RowTable> {
  if (spoolable(schema)) return LakeRowSpool.open(session, table, schema);
  const sink = await LakeRowSink.open(session, table, schema);
  return {
    table,
    append: (row) => sink.append(row),
    close: async () => sink.close(),
    abandon: async () => sink.close(),
  };
}
