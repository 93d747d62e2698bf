import { DdbLakeError } from '../errors.ts';

/*
 * Errors of the Delta transaction log. Each names the table (its URL), the log file or version, and
 * what to do next.
 */

/** Base of every Delta log error. */
export class DeltaError extends DdbLakeError {}

/** No `_delta_log/` commit exists at the location. */
export class DeltaTableNotFoundError extends DeltaError {
  readonly tableUrl: string;

  constructor(tableUrl: string) {
    super(
      'DELTA_TABLE_NOT_FOUND',
      `No Delta table at ${tableUrl}: ${tableUrl.replace(/\/?$/, '/')}_delta_log/ holds no commit. Check --delta, or create the table first.`,
    );
    this.tableUrl = tableUrl;
  }
}

/**
 * The log cannot be read as the protocol says: a missing version, a corrupt commit or checkpoint,
 * a malformed action, a bad schema string. `file` is the log file's key, when one is to blame.
 */
export class DeltaLogCorruptError extends DeltaError {
  readonly file: string | undefined;

  constructor(message: string, options?: { file?: string; cause?: unknown }) {
    super('DELTA_LOG_CORRUPT', message, options);
    this.file = options?.file;
  }
}

/**
 * The table needs a protocol version or table feature that ddb-lake does not implement for this
 * operation (`read` or `write`). Nothing was written.
 */
export class DeltaUnsupportedFeatureError extends DeltaError {
  readonly feature: string;
  readonly operation: 'read' | 'write';

  constructor(operation: 'read' | 'write', feature: string, message: string) {
    super('DELTA_UNSUPPORTED_FEATURE', message);
    this.feature = feature;
    this.operation = operation;
  }
}

/**
 * A concurrent commit changed what this transaction depended on (protocol, metadata, a file it
 * read or removed, its own `txn`), so it cannot be retried on top; the caller must re-plan.
 */
export class DeltaConflictError extends DeltaError {
  readonly winningVersion: number;

  constructor(winningVersion: number, message: string) {
    super('DELTA_CONFLICT', message);
    this.winningVersion = winningVersion;
  }
}

/** Lost the race for the next version more times than allowed. */
export class DeltaCommitRetriesExhaustedError extends DeltaError {
  constructor(message: string) {
    super('DELTA_COMMIT_RETRIES_EXHAUSTED', message);
  }
}

/** A write that breaks the table's own rules: a schema change that drops or retypes a column, etc. */
export class DeltaInvalidWriteError extends DeltaError {
  constructor(message: string) {
    super('DELTA_INVALID_WRITE', message);
  }
}

/**
 * The requested version of the table cannot be read: it is above the latest version, or the log
 * before it was cleaned up (no checkpoint at or before it, and its commits are gone).
 */
export class DeltaVersionNotFoundError extends DeltaError {
  readonly tableUrl: string;
  readonly version: number;

  constructor(tableUrl: string, version: number, message: string) {
    super('DELTA_VERSION_NOT_FOUND', message);
    this.tableUrl = tableUrl;
    this.version = version;
  }
}
