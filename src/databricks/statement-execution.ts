import { DatabricksApi } from './databricks-api.ts';
import { type DatabricksTokenProvider, tokenProviderFor } from './databricks-auth.ts';
import type { DatabricksConfig } from './databricks-config.ts';
import {
  DatabricksErrorCode,
  DatabricksRequestError,
  DatabricksStatementEndedError,
  DatabricksStatementError,
  DatabricksStatementInterruptedError,
  type InterruptedPhase,
  statementFirstLine,
} from './databricks-errors.ts';
import type { DatabricksEventHandler, StatementState } from './databricks-events.ts';
import { type HttpDeps, httpDeps, type RetryPolicy } from './databricks-http.ts';

/*
 * The Databricks SQL Statement Execution API (2.0): `POST /api/2.0/sql/statements` submits a
 * statement to a SQL warehouse, `GET .../{statement_id}` polls it, `POST .../{statement_id}/cancel`
 * cancels it, `GET .../{statement_id}/result/chunks/{chunk_index}` reads a result chunk. Results
 * come INLINE as JSON_ARRAY: every value a string or null, as the API formats it, so a BIGINT or a
 * DECIMAL(38,0) never passes through a JS number here.
 */

const STATEMENTS_PATH = '/api/2.0/sql/statements';

/**
 * A parameter type: a Databricks SQL type name, as `CAST` accepts it. Complex types (ARRAY, MAP,
 * STRUCT) are not supported by the API. Without a type the API takes STRING.
 */
export type StatementParameterType =
  | 'STRING'
  | 'BIGINT'
  | 'INT'
  | 'SMALLINT'
  | 'TINYINT'
  | 'BOOLEAN'
  | 'DOUBLE'
  | 'FLOAT'
  | 'DATE'
  | 'TIMESTAMP'
  | 'TIMESTAMP_NTZ'
  | 'BINARY'
  | `DECIMAL(${number},${number})`;

/**
 * A named parameter, bound to the marker `:name` in the statement (the API has no positional
 * markers). The value is text, as the API takes it, and never pasted into the statement; null
 * binds SQL NULL.
 */
export interface StatementParameter {
  readonly name: string;
  readonly value: string | null;
  readonly type?: StatementParameterType;
}

/** A result column, from the manifest's `schema.columns`. */
export interface StatementColumn {
  readonly name: string;
  /** Its position, from 0. */
  readonly position: number;
  /** `type_name`: the base type (`LONG`, `DECIMAL`, `STRING`). */
  readonly typeName: string | undefined;
  /** `type_text`: the full SQL type (`bigint`, `decimal(38,0)`). */
  readonly typeText: string | undefined;
}

/** A statement that succeeded, with every row of every chunk, in order. */
export interface StatementResult {
  readonly statementId: string;
  readonly state: 'SUCCEEDED';
  readonly columns: readonly StatementColumn[];
  /** Each value as the API gave it: a string, or null for SQL NULL. */
  readonly rows: readonly (readonly (string | null)[])[];
}

/** Options of one `execute`. */
export interface ExecuteOptions {
  readonly parameters?: readonly StatementParameter[];
  /** The default catalog, as `USE CATALOG`. */
  readonly catalog?: string;
  /** The default schema, as `USE SCHEMA`. */
  readonly schema?: string;
  /** Aborting it cancels the statement (see `execute`). */
  readonly signal?: AbortSignal;
}

/** How often to poll a statement that is still PENDING or RUNNING. */
export interface PollPolicy {
  readonly initialDelayMs: number;
  /** Each next delay is the previous one times this, up to `maxDelayMs`. */
  readonly factor: number;
  readonly maxDelayMs: number;
}

const DEFAULT_POLL: PollPolicy = { initialDelayMs: 250, factor: 2, maxDelayMs: 5000 };

/** How to reach the workspace and warehouse; everything else has a default. */
export interface StatementExecutionClientOptions {
  readonly config: DatabricksConfig;
  /** The SQL warehouse id (`--warehouse`). */
  readonly warehouseId: string;
  /**
   * How long a submission waits for the statement to finish before answering with its id:
   * `0s` (at once) or `5s` to `50s`, as the API allows. Default `30s`.
   */
  readonly waitTimeout?: string;
  readonly poll?: Partial<PollPolicy>;
  readonly retry?: Partial<RetryPolicy>;
  readonly onEvent?: DatabricksEventHandler;
  /** The bearer tokens; by default from `config.auth`. */
  readonly tokens?: DatabricksTokenProvider;
  readonly fetch?: typeof fetch;
  /** Milliseconds, as `Date.now`; drives token expiry, retry budgets and durations. */
  readonly now?: () => number;
  /** Waits between polls and retries; it must end early when its signal aborts. */
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly random?: () => number;
  readonly requestTimeoutMs?: number;
}

const TERMINAL: ReadonlySet<string> = new Set(['SUCCEEDED', 'FAILED', 'CANCELED', 'CLOSED']);
const STATES: ReadonlySet<string> = new Set(['PENDING', 'RUNNING', ...TERMINAL]);

/**
 * Runs SQL statements on one SQL warehouse through the Statement Execution API, one `execute` at
 * a time or several at once. It never prints: statement ids, retries and cancellations go to
 * `onEvent`.
 */
export class StatementExecutionClient {
  readonly warehouseId: string;
  readonly #api: DatabricksApi;
  readonly #deps: HttpDeps;
  readonly #waitTimeout: string;
  readonly #poll: PollPolicy;

  /** Throws `RangeError` for a `waitTimeout` the API would refuse. */
  constructor(options: StatementExecutionClientOptions) {
    const waitTimeout = options.waitTimeout ?? '30s';
    const seconds = /^(\d+)s$/.exec(waitTimeout)?.[1];
    if (
      seconds === undefined ||
      !(Number(seconds) === 0 || (Number(seconds) >= 5 && Number(seconds) <= 50))
    ) {
      throw new RangeError(`waitTimeout must be 0s, or 5s to 50s, not ${waitTimeout}`);
    }
    this.warehouseId = options.warehouseId;
    this.#waitTimeout = waitTimeout;
    this.#poll = { ...DEFAULT_POLL, ...options.poll };
    this.#deps = httpDeps(options);
    this.#api = new DatabricksApi(
      options.config,
      options.tokens ?? tokenProviderFor(options.config, this.#deps),
      this.#deps,
    );
  }

  /**
   * Submits `statement` with its parameters, polls it until it ends (with backoff), and reads
   * every chunk of its result. Resolves when it SUCCEEDED; reports `statement-submitted` and
   * `statement-finished` with its id.
   *
   * Throws `DatabricksStatementError` when it FAILED (the API's error code and message, the id
   * and the statement's first line); `DatabricksStatementEndedError` when it was CANCELED or
   * CLOSED by something else; `DatabricksRequestError` when a request failed for good (HTTP 4xx,
   * 429 or 503 after the retries, the network); `DatabricksStatementInterruptedError` when
   * `options.signal` aborts: before submission nothing is submitted, while it runs the client
   * sends `POST .../cancel` first. A submission in flight is awaited (its `wait_timeout` at most)
   * and then canceled, since abandoning it would leave a statement running with no known id. When
   * polling fails for good, the client also asks for a cancel before it throws.
   */
  async execute(statement: string, options: ExecuteOptions = {}): Promise<StatementResult> {
    const { signal } = options;
    const body = {
      warehouse_id: this.warehouseId,
      statement,
      ...(options.parameters === undefined || options.parameters.length === 0
        ? {}
        : { parameters: options.parameters.map(parameterItem) }),
      ...(options.catalog === undefined ? {} : { catalog: options.catalog }),
      ...(options.schema === undefined ? {} : { schema: options.schema }),
      wait_timeout: this.#waitTimeout,
      // Past wait_timeout the statement keeps running and is polled, whatever it takes.
      on_wait_timeout: 'CONTINUE',
      disposition: 'INLINE',
      format: 'JSON_ARRAY',
    };
    let response: Record<string, unknown>;
    try {
      signal?.throwIfAborted();
      response = await this.#api.call({
        method: 'POST',
        path: STATEMENTS_PATH,
        body,
        idempotent: false,
        signal,
        warehouseId: this.warehouseId,
        submitsStatement: true,
      });
    } catch (error) {
      if (signal?.aborted && !(error instanceof DatabricksRequestError)) {
        throw new DatabricksStatementInterruptedError(
          undefined,
          statement,
          'before-submit',
          { sent: false },
          {
            cause: signal.reason,
          },
        );
      }
      throw error;
    }
    const statementId = response['statement_id'];
    if (typeof statementId !== 'string' || statementId === '') {
      throw this.#malformed('POST', STATEMENTS_PATH, 'no statement_id', undefined);
    }
    const submittedAt = this.#deps.now();
    let state = this.#stateOf(response, 'POST', STATEMENTS_PATH, statementId);
    this.#deps.onEvent({
      code: 'statement-submitted',
      statementId,
      state,
      warehouseId: this.warehouseId,
      firstLine: statementFirstLine(statement),
    });

    let phase: InterruptedPhase = 'running';
    try {
      for (let delay = this.#poll.initialDelayMs; !TERMINAL.has(state); ) {
        await this.#deps.sleep(delay, signal);
        signal?.throwIfAborted();
        const path = `${STATEMENTS_PATH}/${encodeURIComponent(statementId)}`;
        response = await this.#api.call({ method: 'GET', path, idempotent: true, signal, statementId });
        state = this.#stateOf(response, 'GET', path, statementId);
        delay = Math.min(this.#poll.maxDelayMs, delay * this.#poll.factor);
      }
      const finished = (rowCount: number) =>
        this.#deps.onEvent({
          code: 'statement-finished',
          statementId,
          state: state as 'SUCCEEDED' | 'FAILED' | 'CANCELED' | 'CLOSED',
          durationMs: this.#deps.now() - submittedAt,
          rowCount,
        });
      if (state === 'FAILED') {
        finished(0);
        const status = response['status'] as
          | { error?: Record<string, unknown>; sql_state?: unknown }
          | undefined;
        throw new DatabricksStatementError(statementId, statement, {
          errorCode: stringOr(status?.error?.['error_code']),
          message: stringOr(status?.error?.['message']),
          sqlState: stringOr(status?.sql_state),
        });
      }
      if (state === 'CANCELED' || state === 'CLOSED') {
        finished(0);
        throw new DatabricksStatementEndedError(statementId, statement, state);
      }
      phase = 'reading-result';
      const result = await this.#readResult(statementId, response, signal);
      finished(result.rows.length);
      return result;
    } catch (error) {
      // A statement that ended on its own needs no cancel, whatever the signal did meanwhile.
      const ended =
        error instanceof DatabricksStatementError || error instanceof DatabricksStatementEndedError;
      if (ended) throw error;
      if (!signal?.aborted) {
        // Polling failed for good (the network, 5xx past the retries): the client gives up on the
        // statement, so it asks for a cancel rather than leave it running unwatched.
        if (phase === 'running') await this.#cancel(statementId);
        throw error;
      }
      const cancel = phase === 'running' ? await this.#cancel(statementId) : { sent: false };
      throw new DatabricksStatementInterruptedError(statementId, statement, phase, cancel, {
        cause: signal.reason,
      });
    }
  }

  /** Asks Databricks to cancel; never throws, since the caller is already stopping or failing. */
  async #cancel(statementId: string): Promise<{ sent: boolean; failure?: string }> {
    let outcome: { sent: boolean; failure?: string };
    try {
      // Without the aborted signal, and briefly: the process is on its way out.
      await this.#api.call(
        {
          method: 'POST',
          path: `${STATEMENTS_PATH}/${encodeURIComponent(statementId)}/cancel`,
          body: {},
          // Canceling twice does no harm.
          idempotent: true,
          statementId,
        },
        {
          ...this.#deps,
          requestTimeoutMs: 10_000,
          retry: { ...this.#deps.retry, maxAttempts: 3, budgetMs: 10_000 },
        },
      );
      outcome = { sent: true };
    } catch (error) {
      outcome = { sent: false, failure: error instanceof Error ? error.message : String(error) };
    }
    this.#deps.onEvent({ code: 'statement-cancel-requested', statementId, sent: outcome.sent });
    return outcome;
  }

  /**
   * Every row of every chunk: the first chunk comes with the SUCCEEDED answer (or is fetched by
   * index when it did not), the next ones by `next_chunk_internal_link`, else `next_chunk_index`.
   * A result whose rows or chunks do not add up to the manifest's totals is an error, never a
   * short result.
   */
  async #readResult(
    statementId: string,
    response: Record<string, unknown>,
    signal: AbortSignal | undefined,
  ): Promise<StatementResult> {
    const manifest = (response['manifest'] ?? {}) as Record<string, unknown>;
    const schema = (manifest['schema'] ?? {}) as { columns?: unknown };
    const columns = Array.isArray(schema.columns) ? schema.columns.map(columnOf) : [];
    const totalChunks =
      typeof manifest['total_chunk_count'] === 'number' ? manifest['total_chunk_count'] : undefined;
    const totalRows =
      typeof manifest['total_row_count'] === 'number' ? manifest['total_row_count'] : undefined;
    const chunkPath = (index: number) =>
      `${STATEMENTS_PATH}/${encodeURIComponent(statementId)}/result/chunks/${index}`;

    const rows: (string | null)[][] = [];
    let chunk = response['result'] as Record<string, unknown> | undefined;
    let path = `${STATEMENTS_PATH}/${encodeURIComponent(statementId)}`;
    if (chunk === undefined && (totalChunks ?? 0) > 0) {
      path = chunkPath(0);
      chunk = await this.#api.call({ method: 'GET', path, idempotent: true, signal, statementId });
    }
    let chunksRead = 0;
    while (chunk !== undefined) {
      chunksRead++;
      rows.push(
        ...rowsOf(chunk['data_array'], () =>
          this.#malformed('GET', path, 'a data_array that is not rows of strings and nulls', statementId),
        ),
      );
      const link = chunk['next_chunk_internal_link'];
      const index = chunk['next_chunk_index'];
      if (typeof link === 'string' && link !== '') {
        // The link is a path on the same host; anything else would carry the token elsewhere.
        if (!link.startsWith('/') || link.startsWith('//')) {
          throw this.#malformed(
            'GET',
            path,
            `a next_chunk_internal_link that is not a path (${link})`,
            statementId,
          );
        }
        path = link;
      } else if (typeof index === 'number') {
        path = chunkPath(index);
      } else {
        break;
      }
      if (totalChunks !== undefined && chunksRead >= totalChunks) {
        throw this.#malformed(
          'GET',
          path,
          `a link to a chunk past the ${totalChunks} the manifest announced`,
          statementId,
        );
      }
      chunk = await this.#api.call({ method: 'GET', path, idempotent: true, signal, statementId });
    }
    if (
      (totalRows !== undefined && rows.length !== totalRows) ||
      (totalChunks !== undefined && totalChunks > 0 && chunksRead !== totalChunks)
    ) {
      throw this.#malformed(
        'GET',
        path,
        `${rows.length} rows in ${chunksRead} chunks, where the manifest announced ${totalRows ?? '?'} rows in ` +
          `${totalChunks ?? '?'} chunks`,
        statementId,
      );
    }
    return { statementId, state: 'SUCCEEDED', columns, rows };
  }

  #stateOf(
    response: Record<string, unknown>,
    method: string,
    path: string,
    statementId: string | undefined,
  ): StatementState {
    const state = (response['status'] as { state?: unknown } | undefined)?.state;
    if (typeof state !== 'string' || !STATES.has(state)) {
      throw this.#malformed(
        method,
        path,
        `status.state ${JSON.stringify(state)}, which is no statement state`,
        statementId,
      );
    }
    return state as StatementState;
  }

  #malformed(
    method: string,
    path: string,
    what: string,
    statementId: string | undefined,
  ): DatabricksRequestError {
    return new DatabricksRequestError(
      DatabricksErrorCode.requestFailed,
      { method, path, httpStatus: 200, errorCode: undefined, apiMessage: what, attempts: 1 },
      `Databricks answered ${method} ${path} with ${what}${statementId === undefined ? '' : ` (statement ${statementId})`}. ` +
        'The result cannot be trusted, so nothing of it is used: run the command again, and report this if it persists.',
    );
  }
}

/** The API's `StatementParameterListItem`: a null value is left out, which the API reads as NULL. */
function parameterItem(parameter: StatementParameter): Record<string, string> {
  const value: unknown = parameter.value;
  if (value !== null && typeof value !== 'string') {
    // A number would reach the API as JSON and may already have lost digits: refuse it.
    throw new TypeError(`parameter ${parameter.name} must be a string or null, not ${typeof value}`);
  }
  return {
    name: parameter.name,
    ...(parameter.type === undefined ? {} : { type: parameter.type }),
    ...(value === null ? {} : { value }),
  };
}

function columnOf(column: unknown, index: number): StatementColumn {
  const c = (column ?? {}) as Record<string, unknown>;
  return {
    name: stringOr(c['name']) ?? `_c${index}`,
    position: typeof c['position'] === 'number' ? c['position'] : index,
    typeName: stringOr(c['type_name']),
    typeText: stringOr(c['type_text']),
  };
}

function rowsOf(dataArray: unknown, malformed: () => Error): (string | null)[][] {
  if (dataArray === undefined) return [];
  if (!Array.isArray(dataArray)) throw malformed();
  for (const row of dataArray) {
    if (!Array.isArray(row) || !row.every((value) => value === null || typeof value === 'string'))
      throw malformed();
  }
  return dataArray as (string | null)[][];
}

function stringOr(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
