import { DdbLakeError } from '../errors.ts';

/*
 * Errors of the data plane other than DuckDB's own failures (DuckDbError, session.ts): values that
 * do not fit their column, files the data plane cannot read.
 */

/**
 * A JS value does not fit its lake column (a decimal with too many digits, a malformed timestamp,
 * a number where a bigint belongs), or a DuckDB value has no lake representation. `column` and
 * `row` say where; nothing was written.
 */
export class LakeValueError extends DdbLakeError {
  readonly column: string;
  readonly row: number | undefined;

  constructor(column: string, row: number | undefined, message: string) {
    const where = row === undefined ? `column "${column}"` : `row ${row}, column "${column}"`;
    super('LAKE_VALUE_INVALID', `${where}: ${message}`);
    this.column = column;
    this.row = row;
  }
}

/**
 * A data file listed by a snapshot cannot be read as the table says it is (missing, not Parquet,
 * a column whose type does not cast to the table's). Partial results are never returned.
 */
export class DataFileReadError extends DdbLakeError {
  readonly path: string;

  constructor(path: string, message: string, options?: { cause?: unknown }) {
    super('DATA_FILE_UNREADABLE', message, options);
    this.path = path;
  }
}
