import { DdbLakeError } from '../errors.ts';

/** The stable error codes of the Databricks client, for programs and `--json`. */
export const DatabricksErrorCode = {
  /** The host or credentials could not be resolved from the flags, environment and config file. */
  config: 'DATABRICKS_CONFIG',
  /** The host did not answer, or could not be reached. */
  unreachable: 'DATABRICKS_UNREACHABLE',
  /** The credentials were refused (HTTP 401, or the OAuth token endpoint said no). */
  unauthenticated: 'DATABRICKS_UNAUTHENTICATED',
  /** The identity lacks a permission (HTTP 403). */
  permissionDenied: 'DATABRICKS_PERMISSION_DENIED',
  /** The warehouse, statement or endpoint does not exist there (HTTP 404). */
  notFound: 'DATABRICKS_NOT_FOUND',
  /** HTTP 429 on every attempt. */
  throttled: 'DATABRICKS_THROTTLED',
  /** HTTP 503 on every attempt. */
  unavailable: 'DATABRICKS_UNAVAILABLE',
  /** Any other answer the client cannot use. */
  requestFailed: 'DATABRICKS_REQUEST_FAILED',
  /** The statement ran and failed (state FAILED). */
  statementFailed: 'DATABRICKS_STATEMENT_FAILED',
  /** The statement was canceled by something other than this process (state CANCELED). */
  statementCanceled: 'DATABRICKS_STATEMENT_CANCELED',
  /** The statement was closed before its result was read (state CLOSED). */
  statementClosed: 'DATABRICKS_STATEMENT_CLOSED',
  /** The caller's signal aborted the statement; its cancellation was requested. */
  statementInterrupted: 'DATABRICKS_STATEMENT_INTERRUPTED',
} as const;

export type DatabricksErrorCode = (typeof DatabricksErrorCode)[keyof typeof DatabricksErrorCode];

/** The base of every error of the Databricks client. */
export class DatabricksError extends DdbLakeError {
  constructor(code: DatabricksErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** The host or credentials could not be resolved; the message says what is missing and where it looked. */
export class DatabricksConfigError extends DatabricksError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(DatabricksErrorCode.config, message, options);
  }
}

/** What is known about one HTTP request that failed. */
export interface DatabricksRequestFailure {
  readonly method: string;
  /** The endpoint path, without the host: `/api/2.0/sql/statements`. */
  readonly path: string;
  /** Undefined when no answer came (a network error or a timeout). */
  readonly httpStatus: number | undefined;
  /** The API's `error_code` (`PERMISSION_DENIED`), or the OAuth endpoint's `error`. */
  readonly errorCode: string | undefined;
  /** The API's `message`, or the OAuth endpoint's `error_description`. */
  readonly apiMessage: string | undefined;
  /** How many times the request was sent. */
  readonly attempts: number;
}

/**
 * An HTTP request to Databricks that failed for good: retries, if any, are spent. The message
 * names the status, the endpoint and what the API said, then what to check.
 */
export class DatabricksRequestError extends DatabricksError {
  readonly failure: DatabricksRequestFailure;

  constructor(
    code: DatabricksErrorCode,
    failure: DatabricksRequestFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    this.failure = failure;
  }
}

/** The first line of a statement, shortened, to name it in a message without quoting all of it. */
export function statementFirstLine(statement: string): string {
  const line = statement.trim().split('\n', 1)[0]?.trim() ?? '';
  return line.length > 120 ? `${line.slice(0, 117)}...` : line;
}

/** A statement that ran and failed (state FAILED): the API's error code and message, and its id. */
export class DatabricksStatementError extends DatabricksError {
  readonly statementId: string;
  /** `status.error.error_code`, when the API gave one. */
  readonly errorCode: string | undefined;
  /** `status.error.message`, when the API gave one. */
  readonly apiMessage: string | undefined;
  /** `status.sql_state`, when the API gave one. */
  readonly sqlState: string | undefined;

  constructor(
    statementId: string,
    statement: string,
    error: { errorCode?: string; message?: string; sqlState?: string },
  ) {
    const said = [error.errorCode, error.sqlState === undefined ? undefined : `SQLSTATE ${error.sqlState}`]
      .filter((part) => part !== undefined)
      .join(', ');
    super(
      DatabricksErrorCode.statementFailed,
      `Databricks statement ${statementId} failed${said === '' ? '' : ` (${said})`}: ` +
        `${error.message ?? 'the API gave no message'}. The statement began: ${statementFirstLine(statement)}. ` +
        'Look it up by its id in the warehouse query history for details.',
    );
    this.statementId = statementId;
    this.errorCode = error.errorCode;
    this.apiMessage = error.message;
    this.sqlState = error.sqlState;
  }
}

/**
 * A statement that ended without a result this process asked for: CANCELED by someone or
 * something else (a person in the UI, the warehouse stopping, a timeout), or CLOSED before its
 * result was read.
 */
export class DatabricksStatementEndedError extends DatabricksError {
  readonly statementId: string;
  readonly state: 'CANCELED' | 'CLOSED';

  constructor(statementId: string, statement: string, state: 'CANCELED' | 'CLOSED') {
    const what =
      state === 'CANCELED'
        ? 'was canceled before it finished (by a person, the warehouse stopping, or a warehouse timeout), not by this process'
        : 'was closed before its result was read, so the result is gone';
    super(
      state === 'CANCELED' ? DatabricksErrorCode.statementCanceled : DatabricksErrorCode.statementClosed,
      `Databricks statement ${statementId} ${what}. The statement began: ${statementFirstLine(statement)}. ` +
        'Check the warehouse query history, then run the command again.',
    );
    this.statementId = statementId;
    this.state = state;
  }
}

/** Where a statement was when the caller's signal aborted it. */
export type InterruptedPhase = 'before-submit' | 'running' | 'reading-result';

/**
 * The caller's signal aborted a statement. Before submission nothing ran. While it ran, its
 * cancellation was requested (`cancelSent` says whether Databricks accepted the request); it is
 * best effort, so a statement close to its end may still have finished. While its result was
 * read, it had already succeeded and its effects stand. The `cause` is the signal's reason.
 */
export class DatabricksStatementInterruptedError extends DatabricksError {
  /** Undefined when the signal aborted before the statement was submitted. */
  readonly statementId: string | undefined;
  readonly phase: InterruptedPhase;
  readonly cancelSent: boolean;

  constructor(
    statementId: string | undefined,
    statement: string,
    phase: InterruptedPhase,
    cancel: { sent: boolean; failure?: string },
    options?: { cause?: unknown },
  ) {
    const first = statementFirstLine(statement);
    const message =
      statementId === undefined || phase === 'before-submit'
        ? `Interrupted before the statement was submitted to Databricks; nothing ran. The statement began: ${first}.`
        : phase === 'reading-result'
          ? `Interrupted while reading the result of Databricks statement ${statementId} (${first}), which had ` +
            'already succeeded: its effects stand.'
          : cancel.sent
            ? `Interrupted: canceled Databricks statement ${statementId} (${first}). Cancellation is best effort: ` +
              'check the warehouse query history in case it was about to finish.'
            : `Interrupted, but the cancellation of Databricks statement ${statementId} (${first}) was not ` +
              `accepted (${cancel.failure ?? 'no answer'}): it may still be running. Cancel it from the warehouse ` +
              'query history.';
    super(DatabricksErrorCode.statementInterrupted, message, options);
    this.statementId = statementId;
    this.phase = phase;
    this.cancelSent = cancel.sent;
  }
}
