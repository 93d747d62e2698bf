import { DdbLakeError } from '../errors.ts';

/*
 * Errors of the lake table's model (keys, sequence numbers, the table layout, rows) and of the
 * state files beside the table, shared by every engine and verify: each names what is wrong, where
 * (attribute, key, property, file) and what to do. Their codes keep the APPLY_ prefix programs
 * already read. The run decides whether an error
 * quarantines one record (a record without its key attributes) or stops the batch (a table whose
 * layout cannot be read).
 */

/** Stable codes of the apply model's errors. */
export const ApplyModelErrorCode = {
  /** A record or item lacks a key attribute of the table, or holds it with a type other than S, N or B. */
  keyAttribute: 'APPLY_KEY_ATTRIBUTE',
  /** A sequence number is not 1 to 40 decimal digits. */
  sequenceNumber: 'APPLY_SEQUENCE_NUMBER',
  /** The `ddb_lake.*` table properties are missing or not what apply writes. */
  tableLayout: 'APPLY_TABLE_LAYOUT',
  /** A row or item does not fit the table's layout and schema (a caller bug or a damaged table). */
  rowShape: 'APPLY_ROW_SHAPE',
  /** A tombstone or quarantine file beside the table cannot be read. */
  stateFile: 'APPLY_STATE_FILE',
} as const;

export type ApplyModelErrorCode = (typeof ApplyModelErrorCode)[keyof typeof ApplyModelErrorCode];

/** The base of the apply model's errors. */
export class ApplyModelError extends DdbLakeError {
  declare readonly code: ApplyModelErrorCode;

  constructor(code: ApplyModelErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** A record without a usable key: quarantine it (it cannot be placed in the table). */
export class KeyAttributeError extends ApplyModelError {
  /** The key attribute that is missing or mistyped. */
  readonly attribute: string;

  constructor(attribute: string, message: string) {
    super(ApplyModelErrorCode.keyAttribute, message);
    this.attribute = attribute;
  }
}

/** A sequence number that is not decimal digits: the record cannot be ordered. */
export class SequenceNumberError extends ApplyModelError {
  constructor(message: string) {
    super(ApplyModelErrorCode.sequenceNumber, message);
  }
}

/** The table's `ddb_lake.*` configuration cannot be read or written as apply needs it. */
export class TableLayoutError extends ApplyModelError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ApplyModelErrorCode.tableLayout, message, options);
  }
}

/** A row or item that does not fit the layout and schema it is converted with. */
export class RowShapeError extends ApplyModelError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ApplyModelErrorCode.rowShape, message, options);
  }
}

/** A tombstone or quarantine file beside the table that is not what apply writes. */
export class StateFileError extends ApplyModelError {
  readonly file: string;

  constructor(file: string, message: string, options?: { cause?: unknown }) {
    super(ApplyModelErrorCode.stateFile, message, options);
    this.file = file;
  }
}
