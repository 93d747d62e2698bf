import { closeSync, openSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { DeltaType, StructType } from '../delta/schema.ts';
import { LakeValueError } from '../duckdb/errors.ts';
import { parseDecimalText, parseTimestampText } from '../duckdb/lake-text.ts';
import type { LakeRow, LakeValue } from '../duckdb/lake-value.ts';
import { bytesToBase64 } from '../dynamo/base64.ts';

/*
 * The writing half of a row spool (lake-row-spool.ts): lake rows as JSON lines of text cells in
 * files of a scratch folder, `{"c0":…,"c3":…}` with `c<i>` the i-th field of the schema and null
 * cells left out. Exact: decimals, longs and timestamps as text, binary as base64, every value
 * checked as the appender path (lakeValueToDuckdb) checks it. Nothing here touches DuckDB, so the
 * snapshot load's worker threads write spool files with it, which the main thread has DuckDB load.
 */

/** Rows per spool file: each full file can be loaded while the next is written. */
export const ROWS_PER_SPOOL_FILE = 50_000;
/** Characters of JSON gathered before one write to the spool file. */
const WRITE_CHUNK = 1 << 20;

/** The JSON text of one non-null cell; `row` only names the row in an error. */
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

function scalarEncoder(column: string, type: DeltaType): CellEncoder | undefined {
  if (type.type === 'decimal') {
    return (value, row) => {
      const text = typeof value === 'bigint' ? `${value}` : value;
      if (
        typeof text !== 'string' ||
        typeof parseDecimalText(text, type.precision, type.scale) === 'string'
      ) {
        throw failure(column, row, `decimal(${type.precision},${type.scale}) text`, value);
      }
      return `"${text}"`;
    };
  }
  if (type.type !== 'primitive') return undefined;
  switch (type.name) {
    case 'string':
      return (value, row) => {
        if (typeof value !== 'string') throw failure(column, row, 'a string', value);
        return JSON.stringify(value);
      };
    case 'long':
      return (value, row) => {
        if (typeof value !== 'bigint' || value < -(2n ** 63n) || value >= 2n ** 63n) {
          throw failure(column, row, 'a bigint within the 64-bit range', value);
        }
        return `"${value}"`;
      };
    case 'integer':
      return (value, row) => {
        if (
          typeof value !== 'number' ||
          !Number.isInteger(value) ||
          value < -2147483648 ||
          value > 2147483647
        ) {
          throw failure(column, row, 'a 32-bit integer', value);
        }
        return `${value}`;
      };
    case 'boolean':
      return (value, row) => {
        if (typeof value !== 'boolean') throw failure(column, row, 'true or false', value);
        return value ? 'true' : 'false';
      };
    case 'binary':
      return (value, row) => {
        if (!(value instanceof Uint8Array)) throw failure(column, row, 'a Uint8Array', value);
        return `"${bytesToBase64(value)}"`;
      };
    case 'timestamp':
      return (value, row) => {
        if (typeof value !== 'string' || parseTimestampText(value, 'required') === undefined) {
          throw failure(column, row, 'ISO-8601 UTC text', value);
        }
        return JSON.stringify(value);
      };
    default:
      return undefined;
  }
}

/**
 * The encoder of a column of `type`, or undefined for a type a spool does not carry (maps,
 * structs, floats, dates, nested arrays: a lake row of apply never holds them). Pure.
 */
export function cellEncoder(column: string, type: DeltaType): CellEncoder | undefined {
  if (type.type !== 'array') return scalarEncoder(column, type);
  if (type.elementType.type === 'array') return undefined;
  const element = scalarEncoder(`${column}[]`, type.elementType);
  if (element === undefined) return undefined;
  return (value, row) => {
    if (!Array.isArray(value)) throw failure(column, row, 'an array', value);
    const items = value as readonly LakeValue[];
    let text = '[';
    for (let i = 0; i < items.length; i++) {
      if (i > 0) text += ',';
      const item = items[i] ?? null;
      text += item === null ? 'null' : element(item, row);
    }
    return `${text}]`;
  };
}

/** True when every column of `schema` can travel through a spool. Pure. */
export function spoolable(schema: StructType): boolean {
  return schema.fields.every((field) => cellEncoder(field.name, field.type) !== undefined);
}

/**
 * Writes lake rows of one schema to spool files `<dir>/<prefix>-<n>.jsonl`, a new file every
 * `ROWS_PER_SPOOL_FILE` rows; `onFile` hears of each file once it is complete and closed, in the
 * order they were written, and owns it from then on. Single-threaded, synchronous writes.
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

  /** @throws RangeError for a schema with a column type a spool does not carry (see `spoolable`). */
  constructor(schema: StructType, dir: string, prefix: string, onFile: (file: string, rows: number) => void) {
    if (!spoolable(schema)) throw new RangeError('the schema has a column type the row spool does not carry');
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
    let line = '{';
    let known = 0;
    for (let i = 0; i < names.length; i++) {
      const value = row[names[i] as string];
      if (value === undefined) continue;
      known++;
      if (value === null) continue;
      if (line.length > 1) line += ',';
      line += `"c${i}":${(this.#encoders[i] as CellEncoder)(value, this.#rows)}`;
    }
    let keys = 0;
    for (const _ in row) keys++;
    if (known !== keys) {
      const columns = new Set(names);
      const stray = Object.keys(row).find((key) => !columns.has(key)) as string;
      throw new LakeValueError(stray, this.#rows, `not a column of the table (${names.join(', ')})`);
    }
    this.#chunk += `${line}}\n`;
    this.#rows++;
    this.#rowsInFile++;
    if (this.#chunk.length >= WRITE_CHUNK) this.#write();
    if (this.#rowsInFile >= ROWS_PER_SPOOL_FILE) this.finishFile();
  }

  #write(): void {
    if (this.#chunk === '') return;
    if (this.#fd === undefined) {
      this.#file = path.join(this.#dir, `${this.#prefix}-${this.#files++}.jsonl`);
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
