import { DdbLakeError } from '../errors.ts';

/** Stable codes of the errors of `verify`, for programs and `--json`. */
export const VerifyErrorCode = {
  /** The Delta table's key attributes are not the DynamoDB table's key schema. */
  keyMismatch: 'VERIFY_KEY_MISMATCH',
  /** The Delta table was not written by ddb-lake apply (no layout in its properties). */
  notALakeTable: 'VERIFY_NOT_A_LAKE_TABLE',
  /** An option out of range (a sample share, a limit, a segment count). */
  badOption: 'VERIFY_BAD_OPTION',
  /** DynamoDB kept some keys of a BatchGetItem unprocessed past the retry budget. */
  unprocessedKeys: 'VERIFY_UNPROCESSED_KEYS',
} as const;

export type VerifyErrorCode = (typeof VerifyErrorCode)[keyof typeof VerifyErrorCode];

/** An error of `verify`: the comparison could not be made (a difference is a result, not an error). */
export class VerifyError extends DdbLakeError {
  declare readonly code: VerifyErrorCode;

  constructor(code: VerifyErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
