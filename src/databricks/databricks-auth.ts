import type { DatabricksAuth, DatabricksConfig } from './databricks-config.ts';
import { DatabricksErrorCode, DatabricksRequestError } from './databricks-errors.ts';
import {
  apiErrorOf,
  type HttpDeps,
  type RequestContext,
  requestError,
  sendWithRetries,
} from './databricks-http.ts';

/** The bearer token of every API request, however it is obtained. */
export interface DatabricksTokenProvider {
  /** The credentials in words, for messages: `the personal access token from DATABRICKS_TOKEN`. */
  readonly credentials: string;
  /** Whether a refused token can be replaced by fetching a new one (OAuth), so a 401 is worth one retry. */
  readonly refreshable: boolean;
  /**
   * The token to send now: a personal access token as configured; an OAuth token from the cache
   * while it is fresh, else a new one. Throws `DatabricksRequestError` when the token endpoint
   * fails, and the signal's reason when `signal` aborts.
   */
  token(signal?: AbortSignal): Promise<string>;
  /** Forgets `rejected` (a token the API answered 401 to), so the next `token()` fetches a new one. */
  invalidate(rejected: string): void;
}

/** The words for a configuration's credentials, in messages. */
export function credentialsOf(auth: DatabricksAuth): string {
  return auth.type === 'pat'
    ? `the personal access token from ${auth.source}`
    : `service principal ${auth.clientId} (OAuth secret from ${auth.source})`;
}

/** A personal access token, sent as it is; nothing can refresh it. */
export function patTokenProvider(auth: Extract<DatabricksAuth, { type: 'pat' }>): DatabricksTokenProvider {
  return {
    credentials: credentialsOf(auth),
    refreshable: false,
    token: async (signal) => {
      signal?.throwIfAborted();
      return auth.token.reveal();
    },
    invalidate: () => {},
  };
}

/** The OAuth token endpoint of a workspace. */
export const OIDC_TOKEN_PATH = '/oidc/v1/token';

/**
 * The SDKs refresh this long before a token expires, because Azure Databricks refuses tokens
 * that expire within 30 seconds; tokens living under twice as long are refreshed at half-life.
 */
const REFRESH_MARGIN_MS = 40_000;

/**
 * OAuth machine-to-machine (client credentials) tokens of a service principal: `POST
 * {host}/oidc/v1/token` with `grant_type=client_credentials&scope=all-apis` and the client id and
 * secret as HTTP basic auth. A token is cached until shortly before its `expires_in`; callers who
 * ask while one is being fetched share that fetch.
 *
 * The SDKs first read `{host}/oidc/.well-known/oauth-authorization-server` to find the token
 * endpoint; for a workspace host it is always `/oidc/v1/token`, so this skips that request. The
 * id and secret go into the basic auth header as they are, not form-encoded first as RFC 6749
 * §2.3.1 asks, as the SDKs send them (Databricks ids and secrets are URL-safe).
 */
export class OAuthM2MTokenProvider implements DatabricksTokenProvider {
  readonly credentials: string;
  readonly refreshable = true;
  readonly #config: DatabricksConfig;
  readonly #auth: Extract<DatabricksAuth, { type: 'oauth-m2m' }>;
  readonly #deps: HttpDeps;
  #cached: { token: string; refreshAt: number } | undefined;
  #inFlight: Promise<string> | undefined;

  constructor(config: DatabricksConfig, deps: HttpDeps) {
    if (config.auth.type !== 'oauth-m2m')
      throw new TypeError('OAuthM2MTokenProvider needs oauth-m2m credentials');
    this.#config = config;
    this.#auth = config.auth;
    this.#deps = deps;
    this.credentials = credentialsOf(config.auth);
  }

  async token(signal?: AbortSignal): Promise<string> {
    signal?.throwIfAborted();
    if (this.#cached !== undefined && this.#deps.now() < this.#cached.refreshAt) return this.#cached.token;
    // The fetch is shared, so one caller's abort must not end it for the others: it runs without
    // the caller's signal, and each caller stops waiting when its own signal aborts.
    this.#inFlight ??= this.#fetchToken().finally(() => {
      this.#inFlight = undefined;
    });
    return untilAborted(this.#inFlight, signal);
  }

  invalidate(rejected: string): void {
    if (this.#cached?.token === rejected) this.#cached = undefined;
  }

  async #fetchToken(): Promise<string> {
    const context: RequestContext = {
      host: this.#config.host,
      hostSource: this.#config.hostSource,
      credentials: this.credentials,
      tokenEndpoint: true,
    };
    const basic = Buffer.from(`${this.#auth.clientId}:${this.#auth.clientSecret.reveal()}`).toString(
      'base64',
    );
    const answer = await sendWithRetries(
      this.#config.host,
      {
        method: 'POST',
        path: OIDC_TOKEN_PATH,
        headers: {
          authorization: `Basic ${basic}`,
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        },
        body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'all-apis' }).toString(),
        // Asking for a token twice does no harm.
        idempotent: true,
      },
      this.#deps,
      context,
    );
    const failure = (status: number, apiMessage?: string) => ({
      method: 'POST',
      path: OIDC_TOKEN_PATH,
      httpStatus: status,
      errorCode: undefined,
      apiMessage,
      attempts: answer.attempts,
    });
    if (answer.status !== 200)
      throw requestError({ ...failure(answer.status), ...apiErrorOf(answer.text) }, context);
    const fetchedAt = this.#deps.now();
    const body = parseJson(answer.text);
    const token = body?.['access_token'];
    const expiresIn = Number(body?.['expires_in']);
    if (typeof token !== 'string' || token === '' || !Number.isFinite(expiresIn) || expiresIn <= 0) {
      throw new DatabricksRequestError(
        DatabricksErrorCode.requestFailed,
        failure(answer.status, 'no access_token and expires_in'),
        `The OAuth token endpoint of ${this.#config.host} answered POST ${OIDC_TOKEN_PATH} without an access_token ` +
          'and a positive expires_in. Check that the host is a Databricks workspace URL.',
      );
    }
    const lifetimeMs = expiresIn * 1000;
    this.#cached = { token, refreshAt: fetchedAt + lifetimeMs - Math.min(REFRESH_MARGIN_MS, lifetimeMs / 2) };
    return token;
  }
}

/** The token provider for a configuration's credentials. */
export function tokenProviderFor(config: DatabricksConfig, deps: HttpDeps): DatabricksTokenProvider {
  return config.auth.type === 'pat' ? patTokenProvider(config.auth) : new OAuthM2MTokenProvider(config, deps);
}

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** `promise`, or a rejection with the signal's reason as soon as `signal` aborts. */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
