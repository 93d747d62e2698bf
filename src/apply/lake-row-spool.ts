import { closeSync, openSync, writeSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { DeltaType, StructType } from '../delta/schema.ts';
import { duckdbTypeOf } from '../duckdb/duckdb-type.ts';
import { LakeValueError } from '../duckdb/errors.ts';
import { parseDecimalText, parseTimestampText } from '../duckdb/lake-text.ts';
import type { LakeRow, LakeValue } from '../duckdb/lake-value.ts';
import { type DuckSession, quoteIdentifier, quoteLiteral } from '../duckdb/session.ts';
import { bytesToBase64 } from '../dynamo/base64.ts';
import { LakeRowSink } from './lake-row-sink.ts';

/*
 * Many rows into a DuckDB table fast: each row becomes one JSON line of text cells in a spool file
 * of the session's scratch folder, and DuckDB's own JSON reader (multi-threaded, in its own
 * threads) loads every full spool file while the caller goes on producing rows. Exact: decimals,
 * longs and timestamps travel as text and are cast by DuckDB (text to DECIMAL(p,s) is exact for
 * text with at most s fractional digits, which every decimal cell is checked to have), binary as
 * base64. Values are checked as the appender path (lakeValueToDuckdb) checks them. Schemas with
 * types a lake row of apply never holds (maps, structs, floats, dates) are refused: use
 * LakeRowSink for those.
 */

/** Rows per spool file: each full file is loaded while the next is written. */
const ROWS_PER_SPOOL_FILE = 50_000;
/** Characters of JSON gathered before one write to the spool file. */
const WRITE_CHUNK = 1 << 20;

type Encoder = (value: LakeValue, row: number) => string;

function failure(column: string, row: number, expected: string, value: LakeValue): LakeValueError {
  const shown =
    typeof value === 'bigint'
      ? `the bigint ${value}`
      : value instanceof Uint8Array
        ? 'bytes'
        : JSON.stringify(value);
  return new LakeValueError(column, row, `expected ${expected}, got ${shown}`);
}

/** The JSON text of one cell of type `type`, and the read type and SQL that turn it back. */
interface ColumnCodec {
  readonly encode: Encoder;
  /** The type DuckDB's JSON reader reads the cell as. */
  readonly readType: string;
  /** SQL turning the read cell (`x`) into the column's value. */
  readonly cast: (x: string) => string;
}

function scalarCodec(column: string, type: DeltaType): ColumnCodec | undefined {
  if (type.type === 'decimal') {
    return {
      encode: (value, row) => {
        const text = typeof value === 'bigint' ? `${value}` : value;
        if (
          typeof text !== 'string' ||
          typeof parseDecimalText(text, type.precision, type.scale) === 'string'
        ) {
          throw failure(column, row, `decimal(${type.precision},${type.scale}) text`, value);
        }
        return `"${text}"`;
      },
      readType: 'VARCHAR',
      cast: (x) => `CAST(${x} AS ${duckdbTypeOf(type)})`,
    };
  }
  if (type.type !== 'primitive') return undefined;
  switch (type.name) {
    case 'string':
      return {
        encode: (value, row) => {
          if (typeof value !== 'string') throw failure(column, row, 'a string', value);
          return JSON.stringify(value);
        },
        readType: 'VARCHAR',
        cast: (x) => x,
      };
    case 'long':
      return {
        encode: (value, row) => {
          if (typeof value !== 'bigint' || value < -(2n ** 63n) || value >= 2n ** 63n) {
            throw failure(column, row, 'a bigint within the 64-bit range', value);
          }
          return `"${value}"`;
        },
        readType: 'VARCHAR',
        cast: (x) => `CAST(${x} AS BIGINT)`,
      };
    case 'integer':
      return {
        encode: (value, row) => {
          if (
            typeof value !== 'number' ||
            !Number.isInteger(value) ||
            value < -2147483648 ||
            value > 2147483647
          ) {
            throw failure(column, row, 'a 32-bit integer', value);
          }
          return `${value}`;
        },
        readType: 'INTEGER',
        cast: (x) => x,
      };
    case 'boolean':
      return {
        encode: (value, row) => {
          if (typeof value !== 'boolean') throw failure(column, row, 'true or false', value);
          return value ? 'true' : 'false';
        },
        readType: 'BOOLEAN',
        cast: (x) => x,
      };
    case 'binary':
      return {
        encode: (value, row) => {
          if (!(value instanceof Uint8Array)) throw failure(column, row, 'a Uint8Array', value);
          return `"${bytesToBase64(value)}"`;
        },
        readType: 'VARCHAR',
        cast: (x) => `from_base64(${x})`,
      };
    case 'timestamp':
      return {
        encode: (value, row) => {
          if (typeof value !== 'string' || parseTimestampText(value, 'required') === undefined) {
            throw failure(column, row, 'ISO-8601 UTC text', value);
          }
          return JSON.stringify(value);
        },
        readType: 'VARCHAR',
        cast: (x) => `CAST(${x} AS TIMESTAMPTZ)`,
      };
    default:
      return undefined;
  }
}

function columnCodec(column: string, type: DeltaType): ColumnCodec | undefined {
  if (type.type !== 'array') return scalarCodec(column, type);
  const element = scalarCodec(`${column}[]`, type.elementType);
  if (element === undefined || type.elementType.type === 'array') return undefined;
  return {
    encode: (value, row) => {
      if (!Array.isArray(value)) throw failure(column, row, 'an array', value);
      const items = value as readonly LakeValue[];
      let text = '[';
      for (let i = 0; i < items.length; i++) {
        if (i > 0) text += ',';
        const item = items[i] ?? null;
        text += item === null ? 'null' : element.encode(item, row);
      }
      return `${text}]`;
    },
    readType: `${element.readType}[]`,
    cast: (x) => (element.cast('e') === 'e' ? x : `list_transform(${x}, e -> ${element.cast('e')})`),
  };
}

/** True when every column of `schema` can travel through a spool. */
export function spoolable(schema: StructType): boolean {
  return schema.fields.every((field) => columnCodec(field.name, field.type) !== undefined);
}

/** A DuckDB table being filled with lake rows through spool files. Close it before querying the table. */
export class LakeRowSpool {
  readonly table: string;
  readonly #session: DuckSession;
  readonly #schema: StructType;
  readonly #codecs: readonly ColumnCodec[];
  readonly #names: readonly string[];
  readonly #select: string;
  readonly #columns: string;
  #fd: number | undefined;
  #file = '';
  #files = 0;
  #chunk = '';
  #rows = 0;
  #rowsInFile = 0;
  #loading: Promise<void> = Promise.resolve();
  #failed: unknown;

  private constructor(session: DuckSession, table: string, schema: StructType) {
    this.#session = session;
    this.table = table;
    this.#schema = schema;
    this.#codecs = schema.fields.map((field) => columnCodec(field.name, field.type) as ColumnCodec);
    this.#names = schema.fields.map((_, index) => `c${index}`);
    this.#select = schema.fields
      .map(
        (field, index) =>
          `${(this.#codecs[index] as ColumnCodec).cast(`c${index}`)} AS ${quoteIdentifier(field.name)}`,
      )
      .join(', ');
    this.#columns = `{${this.#names.map((name, index) => `${name}: ${quoteLiteral((this.#codecs[index] as ColumnCodec).readType)}`).join(', ')}}`;
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

  /** Rows appended so far. */
  get rows(): number {
    return this.#rows;
  }

  /**
   * Appends one row (a missing field is null).
   * @throws LakeValueError naming the column for a value that does not fit its type, or a key of
   *   the row that is no column; nothing of that row is appended.
   */
  append(row: LakeRow): void {
    if (this.#failed !== undefined) throw this.#failed;
    const fields = this.#schema.fields;
    let line = '{';
    let known = 0;
    for (let i = 0; i < fields.length; i++) {
      const name = (fields[i] as { name: string }).name;
      const value = row[name];
      if (value === undefined) continue;
      known++;
      if (value === null) continue;
      if (line.length > 1) line += ',';
      line += `"c${i}":${(this.#codecs[i] as ColumnCodec).encode(value, this.#rows)}`;
    }
    if (known !== Object.keys(row).length) {
      const names = new Set(fields.map((field) => field.name));
      const stray = Object.keys(row).find((key) => !names.has(key)) as string;
      throw new LakeValueError(stray, this.#rows, `not a column of the table (${[...names].join(', ')})`);
    }
    this.#chunk += `${line}}\n`;
    this.#rows++;
    this.#rowsInFile++;
    if (this.#chunk.length >= WRITE_CHUNK) this.#write();
    if (this.#rowsInFile >= ROWS_PER_SPOOL_FILE) this.#rotate();
  }

  #write(): void {
    if (this.#chunk === '') return;
    if (this.#fd === undefined) {
      this.#file = path.join(this.#session.scratchDir, `${this.table}-spool-${this.#files++}.jsonl`);
      this.#fd = openSync(this.#file, 'w');
    }
    writeSync(this.#fd, this.#chunk);
    this.#chunk = '';
  }

  /** Closes the current spool file and loads it into the table behind the rows still to come. */
  #rotate(): void {
    this.#write();
    if (this.#fd === undefined) return;
    closeSync(this.#fd);
    this.#fd = undefined;
    this.#rowsInFile = 0;
    const file = this.#file;
    const sql = `INSERT INTO ${quoteIdentifier(this.table)} SELECT ${this.#select} FROM read_json(${quoteLiteral(file)}, format = 'newline_delimited', columns = ${this.#columns}, maximum_object_size = 1073741824)`;
    this.#loading = this.#loading.then(async () => {
      try {
        await this.#session.run(sql);
      } catch (error) {
        this.#failed ??= error;
      } finally {
        await rm(file, { force: true });
      }
    });
  }

  /**
   * Loads the rows not yet loaded and waits for every load. Call once, after the last append.
   * @throws DuckDB's error when a spool file could not be loaded.
   */
  async close(): Promise<void> {
    this.#rotate();
    await this.#loading;
    if (this.#failed !== undefined) throw this.#failed;
  }

  /** Stops without loading the rest (after a failure of the caller); removes the spool files. */
  async abandon(): Promise<void> {
    if (this.#fd !== undefined) {
      closeSync(this.#fd);
      this.#fd = undefined;
      await rm(this.#file, { force: true });
    }
    this.#chunk = '';
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
