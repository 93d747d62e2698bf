/*
 * What the Databricks client reports while it works. The library never prints: a caller passes
 * `onEvent` and renders these (the CLI on stderr), so every statement id reaches the person who
 * may need to look it up in the warehouse query history.
 */

/** The states of a statement, spelled as the Statement Execution API spells them (`status.state`). */
export type StatementState = 'PENDING' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELED' | 'CLOSED';

/** A statement was accepted; `state` is the one its submission answered with. */
export interface StatementSubmittedEvent {
  readonly code: 'statement-submitted';
  readonly statementId: string;
  readonly state: StatementState;
  readonly warehouseId: string;
  /** The statement's first line, to tell statements apart. */
  readonly firstLine: string;
}

/** A statement reached a terminal state (and, when it succeeded, all its rows were read). */
export interface StatementFinishedEvent {
  readonly code: 'statement-finished';
  readonly statementId: string;
  readonly state: Exclude<StatementState, 'PENDING' | 'RUNNING'>;
  /** From submission to the last row read, by the client's clock. */
  readonly durationMs: number;
  /** The rows read; 0 unless it succeeded. */
  readonly rowCount: number;
}

/** The caller's signal aborted a submitted statement and the client asked Databricks to cancel it. */
export interface StatementCancelRequestedEvent {
  readonly code: 'statement-cancel-requested';
  readonly statementId: string;
  /** Whether the cancel request was accepted. */
  readonly sent: boolean;
}

/** A request is sent again after a wait: throttled (429), unavailable (503), or a network error. */
export interface RetryingEvent {
  readonly code: 'retrying';
  /** The statement the request is about; undefined for a submission or a token request. */
  readonly statementId: string | undefined;
  readonly method: string;
  readonly path: string;
  /** `HTTP 429`, `HTTP 503`, or the network error's code (`ECONNRESET`). */
  readonly reason: string;
  /** The attempt that failed, from 1. */
  readonly attempt: number;
  /** How long the client waits before the next attempt. */
  readonly delayMs: number;
}

/** Everything the Databricks client reports. */
export type DatabricksEvent =
  | StatementSubmittedEvent
  | StatementFinishedEvent
  | StatementCancelRequestedEvent
  | RetryingEvent;

/** Receives the client's events; it must not throw. */
export type DatabricksEventHandler = (event: DatabricksEvent) => void;
