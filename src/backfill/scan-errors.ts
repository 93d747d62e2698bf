import { DdbLakeError } from '../errors.ts';

/** Stable codes of the errors of Scan exports and touch runs, for programs and `--json`. */
export const ScanErrorCode = {
  /** DescribeTable found no such table. */
  tableNotFound: 'TABLE_NOT_FOUND',
  /** DynamoDB kept throttling one request past the retry budget. */
  throttled: 'SCAN_THROTTLED',
  /** A checkpoint or run record in the landing area is not what this version writes. */
  badCheckpoint: 'BAD_SCAN_CHECKPOINT',
  /** The run to resume does not exist, or belongs to another table, or was started differently. */
  cannotResume: 'SCAN_CANNOT_RESUME',
  /** Touch needs a stream that carries new images. */
  streamNeeded: 'TOUCH_NEEDS_STREAM',
  /** A flag value the table cannot use (a percentage of zero capacity, say). */
  badCapacity: 'BAD_CAPACITY_SETTING',
} as const;

export type ScanErrorCode = (typeof ScanErrorCode)[keyof typeof ScanErrorCode];

/** An error of a Scan export or a touch run. */
export class ScanError extends DdbLakeError {
  declare readonly code: ScanErrorCode;

  constructor(code: ScanErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** DescribeTable answered ResourceNotFoundException. */
export class TableNotFoundError extends ScanError {
  readonly table: string;

  constructor(table: string, options?: { cause?: unknown }) {
    super(
      ScanErrorCode.tableNotFound,
      `The table ${table} was not found. Check --table, and --region / --endpoint-url: a table lives in one region of one account.`,
      options,
    );
    this.table = table;
  }
}

/**
 * DynamoDB throttled one request more times in a row than the retry policy allows. Everything up to
 * the last checkpoint is kept, so the message says how to resume with a gentler rate.
 */
export class ThrottledError extends ScanError {
  readonly operation: string;
  readonly attempts: number;

  constructor(operation: string, attempts: number, next: string, options?: { cause?: unknown }) {
    const reason =
      options?.cause instanceof Error ? ` (${options.cause.name}: ${options.cause.message})` : '';
    super(
      ScanErrorCode.throttled,
      `DynamoDB throttled ${operation} ${attempts} times in a row${reason}, even at a reduced rate. ${next}`,
      options,
    );
    this.operation = operation;
    this.attempts = attempts;
  }
}

/** A checkpoint or run record that cannot be read: resuming from it could lose or repeat items. */
export class BadScanCheckpointError extends ScanError {
  readonly key: string;

  constructor(storeUrl: string, key: string, reason: string, options?: { cause?: unknown }) {
    super(
      ScanErrorCode.badCheckpoint,
      `The checkpoint ${key} in ${storeUrl} cannot be used: ${reason}. Resuming from it could lose or repeat items, so nothing was read. Start a new run instead (--fresh), or restore the object.`,
      options,
    );
    this.key = key;
  }
}

/** The run named to resume cannot be resumed as asked; the message says why and what to do. */
export class CannotResumeError extends ScanError {
  constructor(message: string) {
    super(ScanErrorCode.cannotResume, message);
  }
}

/**
 * Touch sends every item through the stream; without a stream that carries new images the writes
 * would cost and change nothing downstream. Thrown before anything is written.
 */
export class TouchNeedsStreamError extends ScanError {
  constructor(table: string, viewType: string | null) {
    const state = viewType === null ? 'has no stream enabled' : `has a stream of view type ${viewType}`;
    super(
      ScanErrorCode.streamNeeded,
      `The table ${table} ${state}, so touching its items would send nothing capture can use. Nothing was written. Enable a stream with NEW_AND_OLD_IMAGES (aws dynamodb update-table --table-name ${table} --stream-specification StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES), start capture, then touch.`,
    );
  }
}
