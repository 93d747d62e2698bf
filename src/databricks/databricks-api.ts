import type { DatabricksTokenProvider } from './databricks-auth.ts';
import type { DatabricksConfig } from './databricks-config.ts';
import { DatabricksErrorCode, DatabricksRequestError } from './databricks-errors.ts';
import {
  apiErrorOf,
  type HttpDeps,
  type RequestContext,
  requestError,
  sendWithRetries,
} from './databricks-http.ts';

/** One call of the Databricks REST API. */
export interface ApiCall {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  /** Sent as JSON. */
  readonly body?: unknown;
  /** Whether the call may be repeated after a network error (see `HttpRequest.idempotent`). */
  readonly idempotent: boolean;
  readonly signal?: AbortSignal;
  /** What a failure message can name. */
  readonly warehouseId?: string;
  readonly statementId?: string;
  readonly submitsStatement?: boolean;
}

/**
 * The REST API of one workspace, with a bearer token on every call. A 401 answer to an OAuth
 * token makes it fetch a new token and send the call once more: a token can be revoked or expire
 * early whatever its `expires_in` said. A second 401, or one to a personal access token, fails.
 */
export class DatabricksApi {
  readonly config: DatabricksConfig;
  readonly tokens: DatabricksTokenProvider;
  readonly deps: HttpDeps;

  constructor(config: DatabricksConfig, tokens: DatabricksTokenProvider, deps: HttpDeps) {
    this.config = config;
    this.tokens = tokens;
    this.deps = deps;
  }

  /**
   * Sends `call` and resolves with its JSON answer (`{}` for an empty body). Throws
   * `DatabricksRequestError` for an answer other than 2xx once retries are spent (see
   * `sendWithRetries`) or a 2xx answer that is not JSON, and the signal's reason when
   * `call.signal` aborts.
   */
  async call(call: ApiCall, deps: HttpDeps = this.deps): Promise<Record<string, unknown>> {
    const context: RequestContext = {
      host: this.config.host,
      hostSource: this.config.hostSource,
      credentials: this.tokens.credentials,
      warehouseId: call.warehouseId,
      statementId: call.statementId,
      submitsStatement: call.submitsStatement,
    };
    for (let refreshed = false; ; refreshed = true) {
      const token = await this.tokens.token(call.signal);
      const answer = await sendWithRetries(
        this.config.host,
        {
          method: call.method,
          path: call.path,
          headers: {
            authorization: `Bearer ${token}`,
            accept: 'application/json',
            'user-agent': 'ddb-lake',
            ...(call.body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          body: call.body === undefined ? undefined : JSON.stringify(call.body),
          idempotent: call.idempotent,
          statementId: call.statementId,
          signal: call.signal,
        },
        deps,
        context,
      );
      if (answer.status === 401 && this.tokens.refreshable && !refreshed) {
        this.tokens.invalidate(token);
        continue;
      }
      if (answer.status < 200 || answer.status > 299) {
        throw requestError(
          {
            method: call.method,
            path: call.path,
            httpStatus: answer.status,
            attempts: answer.attempts,
            ...apiErrorOf(answer.text),
          },
          { ...context, afterRefresh: refreshed },
        );
      }
      if (answer.text.trim() === '') return {};
      try {
        const value: unknown = JSON.parse(answer.text);
        if (typeof value === 'object' && value !== null && !Array.isArray(value))
          return value as Record<string, unknown>;
      } catch {
        // Reported below, with the status.
      }
      throw new DatabricksRequestError(
        DatabricksErrorCode.requestFailed,
        {
          method: call.method,
          path: call.path,
          httpStatus: answer.status,
          errorCode: undefined,
          apiMessage: answer.text.slice(0, 200),
          attempts: answer.attempts,
        },
        `Databricks at ${this.config.host} answered ${call.method} ${call.path} with HTTP ${answer.status} but no ` +
          `JSON object (${answer.text.slice(0, 80)}). Check that the host (from ${this.config.hostSource}) is a ` +
          'Databricks workspace URL, not a proxy or login page.',
      );
    }
  }
}
