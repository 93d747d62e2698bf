import { rm, stat } from 'node:fs/promises';
import type { DeltaType, StructType } from '../../delta/schema.ts';
import { duckdbTypeOf } from '../../duckdb/duckdb-type.ts';
import type { LakeRow } from '../../duckdb/lake-value.ts';
import { type DuckSession, quoteIdentifier, quoteLiteral } from '../../duckdb/session.ts';
import { LakeRowSink } from './lake-row-sink.ts';
import { SPOOL_QUOTE, SpoolFileWriter, spoolable } from './snapshot-spool-file.ts';

/*
 * Many rows into a DuckDB table fast: each row becomes one CSV line in a spool file of the
 * session's scratch folder (snapshot-spool-file.ts gives the format), and DuckDB's own CSV reader
 * (multi-threaded, in its own threads) loads every full spool file while the caller goes on
 * producing rows. The reader gets the column types and every dialect option, so nothing is
 * sniffed: `nullstr` is the empty unquoted field only (`allow_quoted_nulls = false` keeps a quoted
 * empty field an empty string), and SPOOL_QUOTE quotes and escapes. Exact: longs travel as digits
 * read as BIGINT; decimals as the digits of their unscaled value, read as HUGEINT and turned into
 * DECIMAL(p,s) by integer arithmetic only (DuckDB's own text-to-DECIMAL(38,s) cast is exact too but
 * costs about a hundred times more); timestamps as ISO-8601 text cast by DuckDB; binary as base64;
 * arrays as JSON text whose number elements are strings, cast element by element. Spool files
 * written elsewhere with the same schema are loaded with `load`, or into a table of their own,
 * sorted, with `createTableFromSpoolFiles` (the bulk load's buckets). Schemas with types a lake row of apply never holds (maps, structs, floats, dates) are
 * refused: use LakeRowSink for those.
 */

/**
 * The longest CSV line (row) DuckDB is first told to expect (its buffers are twice that): a
 * DynamoDB item is at most 400 KB, and its row at most a few times that (control characters as
 * `\u0001` in plain JSON text). A file that fails to load with it is read again with its own size
 * as the limit, so no row is ever refused for its length.
 */
const MAX_LINE_BYTES = 8 << 20;

/** The spool's CSV dialect, every option given so the reader sniffs nothing. */
const CSV_DIALECT = [
  'header = false',
  'auto_detect = false',
  "delim = ','",
  `quote = ${quoteLiteral(SPOOL_QUOTE)}`,
  `escape = ${quoteLiteral(SPOOL_QUOTE)}`,
  "new_line = '\\n'",
  "nullstr = ''",
  'allow_quoted_nulls = false',
  "comment = ''",
  'parallel = true',
].join(', ');

/** The type DuckDB's CSV reader reads a field of `type` as. */
function readTypeOf(type: DeltaType): string {
  if (type.type === 'decimal') return 'HUGEINT';
  if (type.type !== 'primitive') return 'VARCHAR';
  switch (type.name) {
    case 'integer':
      return 'INTEGER';
    case 'long':
      return 'BIGINT';
    case 'boolean':
      return 'BOOLEAN';
    default:
      return 'VARCHAR';
  }
}

/** The type from_json reads an array element of `type` as (numbers other than integers are JSON strings). */
function elementReadTypeOf(type: DeltaType): string {
  return type.type === 'primitive' && (type.name === 'integer' || type.name === 'boolean')
    ? readTypeOf(type)
    : 'VARCHAR';
}

/** SQL turning `x`, read as the DuckDB type `read`, into a value of the scalar `type`. */
function scalarCastOf(type: DeltaType, x: string, read: string): string {
  if (type.type === 'decimal') {
    // x is the unscaled value: an exact reinterpretation as DECIMAL(38, scale) is a product with
    // 10^-scale (the unscaled factor is 1), range-checked by the cast to the column's precision.
    const unscaled = read === 'HUGEINT' ? x : `CAST(${x} AS HUGEINT)`;
    if (type.scale === 0) return `CAST(${unscaled} AS ${duckdbTypeOf(type)})`;
    const unit = quoteLiteral(`0.${'0'.repeat(type.scale - 1)}1`);
    return `CAST(CAST(${unscaled} AS DECIMAL(38,0)) * CAST(${unit} AS DECIMAL(38,${type.scale})) AS ${duckdbTypeOf(type)})`;
  }
  if (type.type !== 'primitive') return x;
  switch (type.name) {
    case 'long':
      return read === 'BIGINT' ? x : `CAST(${x} AS BIGINT)`;
    case 'binary':
      return `from_base64(${x})`;
    case 'timestamp':
      return `CAST(${x} AS TIMESTAMPTZ)`;
    default:
      return x;
  }
}

/** SQL turning the read field `x` into the column's value. */
function castOf(type: DeltaType, x: string): string {
  if (type.type !== 'array') return scalarCastOf(type, x, readTypeOf(type));
  const read = elementReadTypeOf(type.elementType);
  const list = `from_json(${x}, ${quoteLiteral(`["${read}"]`)})`;
  const element = scalarCastOf(type.elementType, 'e', read);
  return element === 'e' ? list : `list_transform(${list}, e -> ${element})`;
}

/** The SELECT of `schema`'s columns from the spool files `files` read by DuckDB's CSV reader. */
function spoolSelect(
  schema: StructType,
  files: readonly string[],
  lineBytes: number,
  leaveOut: ReadonlySet<string> = new Set(),
): string {
  const select = schema.fields
    .flatMap((field, index) =>
      leaveOut.has(field.name)
        ? []
        : [`${castOf(field.type, `c${index}`)} AS ${quoteIdentifier(field.name)}`],
    )
    .join(', ');
  const columns = `{${schema.fields.map((field, index) => `c${index}: ${quoteLiteral(readTypeOf(field.type))}`).join(', ')}}`;
  return `SELECT ${select} FROM read_csv([${files.map(quoteLiteral).join(', ')}], columns = ${columns}, ${CSV_DIALECT}, max_line_size = ${lineBytes}, buffer_size = ${2 * lineBytes})`;
}

/**
 * Creates (or replaces) the temporary DuckDB table `table` with the rows of the spool files
 * `files` (written by SpoolFileWriter with `schema`, read in parallel by one statement), sorted
 * by the column `orderBy`, so that a scan of the table returns them in that order; the columns of
 * `leaveOut` are not in the table. A file with a row longer than DuckDB was first told to expect
 * is read again with its own size as the limit.
 * @throws DuckDB's error when a file cannot be read as a spool file of `schema`.
 */
export async function createTableFromSpoolFiles(
  session: DuckSession,
  table: string,
  schema: StructType,
  files: readonly string[],
  orderBy: string,
  leaveOut: readonly string[] = [],
): Promise<void> {
  const create = (lineBytes: number) =>
    `CREATE OR REPLACE TEMP TABLE ${quoteIdentifier(table)} AS ${spoolSelect(schema, files, lineBytes, new Set(leaveOut))} ORDER BY ${quoteIdentifier(orderBy)}`;
  try {
    await session.run(create(MAX_LINE_BYTES));
  } catch (error) {
    const largest = Math.max(0, ...(await Promise.all(files.map(async (file) => (await stat(file)).size))));
    if (largest < MAX_LINE_BYTES) throw error;
    await session.run(create(largest + 1));
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

  private constructor(session: DuckSession, table: string, schema: StructType, rowsPerFile?: number) {
    this.#session = session;
    this.table = table;
    this.#writer = new SpoolFileWriter(
      schema,
      session.scratchDir,
      `${table}-spool`,
      (file) => this.load(file),
      rowsPerFile,
    );
    const select = schema.fields
      .map((field, index) => `${castOf(field.type, `c${index}`)} AS ${quoteIdentifier(field.name)}`)
      .join(', ');
    this.#insert = `INSERT INTO ${quoteIdentifier(table)} SELECT ${select} FROM `;
    this.#columns = `{${schema.fields.map((field, index) => `c${index}: ${quoteLiteral(readTypeOf(field.type))}`).join(', ')}}`;
  }

  /**
   * Creates (or replaces) the table `table` with one column per field of `schema`. DuckDB starts
   * loading a spool file once it holds `rowsPerFile` rows (default ROWS_PER_SPOOL_FILE) and the
   * caller yields to the event loop.
   * @throws RangeError for a schema with a column type the spool does not carry (see `spoolable`).
   */
  static async open(
    session: DuckSession,
    table: string,
    schema: StructType,
    rowsPerFile?: number,
  ): Promise<LakeRowSpool> {
    if (!spoolable(schema)) throw new RangeError('the schema has a column type the row spool does not carry');
    const columns = schema.fields.map(
      (field) => `${quoteIdentifier(field.name)} ${duckdbTypeOf(field.type)}`,
    );
    await session.run(`CREATE OR REPLACE TABLE ${quoteIdentifier(table)} (${columns.join(', ')})`);
    return new LakeRowSpool(session, table, schema, rowsPerFile);
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

  /** Appends one row given as its spool line (item-spool-line.ts), without the line break; unchecked. */
  appendLine(line: string): void {
    if (this.#failed !== undefined) throw this.#failed;
    this.#writer.appendLine(line);
  }

  /**
   * Queues the complete spool file `file` (written by a SpoolFileWriter with this table's schema)
   * for loading into the table behind the files before it, and removes it once loaded; after
   * `abandon`, removes it without loading. The spool owns the file from this call on.
   */
  load(file: string): void {
    this.#loading = this.#loading.then(async () => {
      try {
        if (this.#failed === undefined && !this.#abandoned) await this.#loadFile(file);
      } catch (error) {
        this.#failed ??= error;
      } finally {
        await rm(file, { force: true });
      }
    });
  }

  async #loadFile(file: string): Promise<void> {
    const read = (lineBytes: number) =>
      `${this.#insert}read_csv(${quoteLiteral(file)}, columns = ${this.#columns}, ${CSV_DIALECT}, max_line_size = ${lineBytes}, buffer_size = ${2 * lineBytes})`;
    try {
      await this.#session.run(read(MAX_LINE_BYTES));
    } catch (error) {
      // A failed INSERT inserted nothing; a file larger than the limit may hold a longer row, so it
      // is read once more with its own size as the limit (any other fault fails again, and throws).
      const bytes = (await stat(file)).size;
      if (bytes < MAX_LINE_BYTES) throw error;
      await this.#session.run(read(bytes + 1));
    }
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
  rowsPerSpoolFile?: number,
): Promise<RowTable> {
  if (spoolable(schema)) return LakeRowSpool.open(session, table, schema, rowsPerSpoolFile);
  const sink = await LakeRowSink.open(session, table, schema);
  return {
    table,
    append: (row) => sink.append(row),
    close: async () => sink.close(),
    abandon: async () => sink.close(),
  };
}
