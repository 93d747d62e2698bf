import { closeSync, openSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { DeltaType, StructType } from '../../delta/schema.ts';
import { LakeValueError } from '../../duckdb/errors.ts';
import { parseDecimalText, parseTimestampText } from '../../duckdb/lake-text.ts';
import type { LakeRow, LakeValue } from '../../duckdb/lake-value.ts';
import { bytesToBase64 } from '../../dynamo/base64.ts';

/*
 * The writing half of a row spool (lake-row-spool.ts): lake rows as CSV lines in files of a
 * scratch folder, one field per field of the schema in its order, `,` between fields, `\n` after
 * the last. The rules (RFC 4180 quoting, with SPOOL_QUOTE, written `'` here, for `"`):
 *
 *   null                          an empty unquoted field (the reader's `nullstr`)
 *   string                        always quoted, `'` doubled, so `''` is the empty string and a
 *                                 newline, CR, comma, `"`, backslash or NUL inside is kept as it is
 *   integer, long, boolean        unquoted digits / `true` / `false`
 *   decimal(p,s)                  unquoted digits of the unscaled value (value × 10^s): DuckDB
 *                                 reads them as HUGEINT and rescales (lake-row-spool.ts), which
 *                                 costs a hundredth of casting decimal text to DECIMAL(38,s)
 *   timestamp                     unquoted ISO-8601 UTC text
 *   binary                        quoted base64 (`''` is zero bytes)
 *   array                         quoted JSON array text of its elements: strings, decimals,
 *                                 longs, timestamps and base64 as JSON strings, integers and
 *                                 booleans bare, a null element as `null`
 *
 * Exact: decimals (as unscaled integers), longs and timestamps travel as text and DuckDB casts
 * them; every value is
 * checked as the appender path (lakeValueToDuckdb) checks it. Nothing here touches DuckDB, so the
 * snapshot load's worker threads write spool files with it, which DuckDB loads bucket by bucket
 * (bucket-row-spool.ts).
 */

/** Rows per spool file: each full file can be loaded while the next is written. */
export const ROWS_PER_SPOOL_FILE = 50_000;
/** Characters gathered before one write to the spool file. */
const WRITE_CHUNK = 1 << 20;

/** The CSV field text of one non-null cell; `row` only names the row in an error. */
export type CellEncoder = (value: LakeValue, row: number) => string;

function failure(column: string, row: number, expected: string, value: LakeValue): LakeValueError {
  const shown =
    typeof value === 'bigint'
      ? `the bigint ${value}`
      : value instanceof Uint8Array
        ? 'bytes'
        : JSON.stringify(value);
  return new LakeValueError(column, row, `expected ${expected}, got ${shown}`);
}

/**
 * The quote (and escape) character of spool files: U+0001, not `"`. Text of apply's rows is full
 * of `"` (JSON columns, keys, conflict cells) and almost never holds U+0001, so quoting a field is
 * a scan and two characters instead of doubling every `"`.
 */
export const SPOOL_QUOTE = '\u0001';

/** `text` as one quoted field of a spool line. Pure. */
export function quotedSpoolField(text: string): string {
  return text.includes(SPOOL_QUOTE)
    ? `${SPOOL_QUOTE}${text.replaceAll(SPOOL_QUOTE, SPOOL_QUOTE + SPOOL_QUOTE)}${SPOOL_QUOTE}`
    : `${SPOOL_QUOTE}${text}${SPOOL_QUOTE}`;
}

/**
 * A checked scalar: `text` validates a value and gives its text. `csv`: whether that text is a CSV
 * field as it is (it can be neither empty nor hold a `,`, `"` or line break) or is quoted. `json`:
 * how it is written as an array element: as it is (digits, `true`), as a JSON string needing no
 * escapes (digits, base64, ISO-8601), or through JSON.stringify.
 */
interface ScalarText {
  readonly text: (value: LakeValue, row: number) => string;
  readonly csv: 'bare' | 'quoted';
  readonly json: 'bare' | 'plain' | 'escaped';
}

function scalarText(column: string, type: DeltaType): ScalarText | undefined {
  if (type.type === 'decimal') {
    return {
      csv: 'bare',
      json: 'plain',
      text: (value, row) => {
        const text = typeof value === 'bigint' ? `${value}` : value;
        const unscaled = typeof text === 'string' ? parseDecimalText(text, type.precision, type.scale) : '';
        if (typeof unscaled === 'string') {
          throw failure(column, row, `decimal(${type.precision},${type.scale}) text`, value);
        }
        return `${unscaled}`;
      },
    };
  }
  if (type.type !== 'primitive') return undefined;
  switch (type.name) {
    case 'string':
      return {
        csv: 'quoted',
        json: 'escaped',
        text: (value, row) => {
          if (typeof value !== 'string') throw failure(column, row, 'a string', value);
          return value;
        },
      };
    case 'long':
      return {
        csv: 'bare',
        json: 'plain',
        text: (value, row) => {
          if (typeof value !== 'bigint' || value < -(2n ** 63n) || value >= 2n ** 63n) {
            throw failure(column, row, 'a bigint within the 64-bit range', value);
          }
          return `${value}`;
        },
      };
    case 'integer':
      return {
        csv: 'bare',
        json: 'bare',
        text: (value, row) => {
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
      };
    case 'boolean':
      return {
        csv: 'bare',
        json: 'bare',
        text: (value, row) => {
          if (typeof value !== 'boolean') throw failure(column, row, 'true or false', value);
          return value ? 'true' : 'false';
        },
      };
    case 'binary':
      return {
        csv: 'quoted',
        json: 'plain',
        text: (value, row) => {
          if (!(value instanceof Uint8Array)) throw failure(column, row, 'a Uint8Array', value);
          return bytesToBase64(value);
        },
      };
    case 'timestamp':
      return {
        csv: 'bare',
        json: 'plain',
        text: (value, row) => {
          if (typeof value !== 'string' || parseTimestampText(value, 'required') === undefined) {
            throw failure(column, row, 'ISO-8601 UTC text', value);
          }
          return value;
        },
      };
    default:
      return undefined;
  }
}

/**
 * The encoder of a column of `type` (its CSV field text, see the top of this file), or undefined
 * for a type a spool does not carry (maps, structs, floats, dates, nested arrays: a lake row of
 * apply never holds them). Pure.
 */
export function cellEncoder(column: string, type: DeltaType): CellEncoder | undefined {
  if (type.type !== 'array') {
    const scalar = scalarText(column, type);
    if (scalar === undefined) return undefined;
    const { text } = scalar;
    return scalar.csv === 'bare' ? text : (value, row) => quotedSpoolField(text(value, row));
  }
  if (type.elementType.type === 'array') return undefined;
  const element = scalarText(`${column}[]`, type.elementType);
  if (element === undefined) return undefined;
  const { text } = element;
  const json =
    element.json === 'bare'
      ? text
      : element.json === 'plain'
        ? (value: LakeValue, row: number) => `"${text(value, row)}"`
        : (value: LakeValue, row: number) => JSON.stringify(text(value, row));
  return (value, row) => {
    if (!Array.isArray(value)) throw failure(column, row, 'an array', value);
    const items = value as readonly LakeValue[];
    let array = '[';
    for (let i = 0; i < items.length; i++) {
      if (i > 0) array += ',';
      const item = items[i] ?? null;
      array += item === null ? 'null' : json(item, row);
    }
    return quotedSpoolField(`${array}]`);
  };
}

/** True when every column of `schema` can travel through a spool. Pure. */
export function spoolable(schema: StructType): boolean {
  return schema.fields.every((field) => cellEncoder(field.name, field.type) !== undefined);
}

/**
 * Writes lake rows of one schema to spool files `<dir>/<prefix>-<n>.csv`, a new file every
 * `rowsPerFile` rows (default ROWS_PER_SPOOL_FILE); `onFile` hears of each file once it is complete
 * and closed, in the order they were written, and owns it from then on. Single-threaded,
 * synchronous writes.
 */
export class SpoolFileWriter {
  readonly #dir: string;
  readonly #prefix: string;
  readonly #onFile: (file: string, rows: number) => void;
  readonly #names: readonly string[];
  readonly #encoders: readonly CellEncoder[];
  #fd: number | undefined;
  #file = '';
  #files = 0;
  #chunk = '';
  #rows = 0;
  #rowsInFile = 0;
  readonly #rowsPerFile: number;

  /** @throws RangeError for a schema with a column type a spool does not carry (see `spoolable`). */
  constructor(
    schema: StructType,
    dir: string,
    prefix: string,
    onFile: (file: string, rows: number) => void,
    rowsPerFile = ROWS_PER_SPOOL_FILE,
  ) {
    if (!spoolable(schema)) throw new RangeError('the schema has a column type the row spool does not carry');
    this.#rowsPerFile = rowsPerFile;
    this.#dir = dir;
    this.#prefix = prefix;
    this.#onFile = onFile;
    this.#names = schema.fields.map((field) => field.name);
    this.#encoders = schema.fields.map((field) => cellEncoder(field.name, field.type) as CellEncoder);
  }

  /** Rows appended so far. */
  get rows(): number {
    return this.#rows;
  }

  /**
   * Appends one row (a missing field is null).
   * @throws LakeValueError naming the column for a value that does not fit its type, or a key of
   *   the row that is no column; nothing of that row is written.
   */
  append(row: LakeRow): void {
    const names = this.#names;
    const encoders = this.#encoders;
    let line = '';
    let known = 0;
    for (let i = 0; i < names.length; i++) {
      if (i > 0) line += ',';
      const value = row[names[i] as string];
      if (value === undefined) continue;
      known++;
      if (value !== null) line += (encoders[i] as CellEncoder)(value, this.#rows);
    }
    let keys = 0;
    for (const _ in row) keys++;
    if (known !== keys) {
      const columns = new Set(names);
      const stray = Object.keys(row).find((key) => !columns.has(key)) as string;
      throw new LakeValueError(stray, this.#rows, `not a column of the table (${names.join(', ')})`);
    }
    this.#add(line);
  }

  /**
   * Appends one row given as its spool line without the line break, encoded elsewhere by these
   * same rules for this schema (item-spool-line.ts); unchecked.
   */
  appendLine(line: string): void {
    this.#add(line);
  }

  #add(line: string): void {
    this.#chunk += `${line}\n`;
    this.#rows++;
    this.#rowsInFile++;
    if (this.#chunk.length >= WRITE_CHUNK) this.#write();
    if (this.#rowsInFile >= this.#rowsPerFile) this.finishFile();
  }

  #write(): void {
    if (this.#chunk === '') return;
    if (this.#fd === undefined) {
      this.#file = path.join(this.#dir, `${this.#prefix}-${this.#files++}.csv`);
      this.#fd = openSync(this.#file, 'w');
    }
    writeSync(this.#fd, this.#chunk);
    this.#chunk = '';
  }

  /** Completes the current file (if it holds rows) and hands it to `onFile`. */
  finishFile(): void {
    this.#write();
    if (this.#fd === undefined) return;
    closeSync(this.#fd);
    this.#fd = undefined;
    const rows = this.#rowsInFile;
    this.#rowsInFile = 0;
    this.#onFile(this.#file, rows);
  }

  /** Stops after a failure: removes the file being written (files handed out are the receiver's). */
  abandon(): void {
    this.#chunk = '';
    if (this.#fd === undefined) return;
    closeSync(this.#fd);
    this.#fd = undefined;
    rmSync(this.#file, { force: true });
  }
}
