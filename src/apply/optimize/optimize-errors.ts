import { DdbLakeError } from '../../errors.ts';

/** Stable codes of the errors an optimize raises itself (the parts it calls have their own). */
export const OptimizeErrorCode = {
  /** The table at `--delta` is not one ddb-lake apply wrote: it has no buckets to optimize. */
  notALakeTable: 'OPTIMIZE_NOT_A_LAKE_TABLE',
  /** A threshold is out of range. */
  invalidOption: 'OPTIMIZE_INVALID_OPTION',
  /** The rewritten files hold another number of rows than the files they replace: nothing committed. */
  rowsDiffer: 'OPTIMIZE_ROWS_DIFFER',
  /** Another writer committed a change to the files being rewritten: nothing committed. */
  conflict: 'OPTIMIZE_CONFLICT',
} as const;

export type OptimizeErrorCode = (typeof OptimizeErrorCode)[keyof typeof OptimizeErrorCode];

/** An error of an optimize: the message says what happened, where, and what to do. */
export class OptimizeError extends DdbLakeError {
  declare readonly code: OptimizeErrorCode;

  constructor(code: OptimizeErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
