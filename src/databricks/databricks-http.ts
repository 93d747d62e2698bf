import { sleep as realSleep } from '../sleep.ts';
import {
  DatabricksErrorCode as Codes,
  type DatabricksErrorCode,
  DatabricksRequestError,
  type DatabricksRequestFailure,
} from './databricks-errors.ts';
import type { DatabricksEventHandler } from './databricks-events.ts';

/*
 * One HTTP request to Databricks, sent again while the answer is worth waiting for: HTTP 429 and
 * 503 (the statuses the Databricks SDKs retry, honouring Retry-After), and, for requests that are
 * safe to repeat, network errors and timeouts. Every other answer goes back to the caller, which
 * turns a failure into a `DatabricksRequestError` with `requestError`.
 */

/** How long to keep retrying. Attempts stop at whichever bound comes first. */
export interface RetryPolicy {
  /** Attempts in all, the first included. */
  readonly maxAttempts: number;
  /** The first backoff; each next one doubles, up to `maxDelayMs`. */
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** No attempt starts later than this after the first one (the SDKs use 300 s). */
  readonly budgetMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 8,
  baseDelayMs: 1000,
  maxDelayMs: 30_000,
  budgetMs: 300_000,
};

/** What the transport uses from the outside world, injectable for tests. */
export interface HttpDeps {
  readonly fetch: typeof fetch;
  /** Milliseconds, as `Date.now`. */
  readonly now: () => number;
  /** Waits `ms`, or less when `signal` aborts (without throwing). */
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** In [0, 1), for backoff jitter. */
  readonly random: () => number;
  readonly retry: RetryPolicy;
  /** One attempt's limit, from sending to the whole body read. */
  readonly requestTimeoutMs: number;
  readonly onEvent: DatabricksEventHandler;
}

/** The defaults of `HttpDeps`, with the caller's overrides. */
export function httpDeps(
  overrides: Partial<Omit<HttpDeps, 'retry'>> & { retry?: Partial<RetryPolicy> },
): HttpDeps {
  return {
    fetch: overrides.fetch ?? ((input, init) => fetch(input, init)),
    now: overrides.now ?? Date.now,
    sleep: overrides.sleep ?? realSleep,
    random: overrides.random ?? Math.random,
    retry: { ...DEFAULT_RETRY_POLICY, ...overrides.retry },
    // Above the longest wait_timeout (50 s) a submission may block for.
    requestTimeoutMs: overrides.requestTimeoutMs ?? 90_000,
    onEvent: overrides.onEvent ?? (() => {}),
  };
}

/** One request. */
export interface HttpRequest {
  readonly method: 'GET' | 'POST';
  /** Joined to the host; starts with `/`. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
  /** Whether sending it twice does no harm, so a network error or timeout may be retried. */
  readonly idempotent: boolean;
  /** For the `retrying` event. */
  readonly statementId?: string;
  /**
   * Ends the waits between attempts, and stops further attempts. It ends a request in flight only
   * when the request is idempotent: an abandoned submission might run with nobody knowing its id,
   * so one in flight is awaited (at most its `wait_timeout`) and the caller cancels it then.
   */
  readonly signal?: AbortSignal;
}

/** An answer read whole. */
export interface HttpAnswer {
  readonly status: number;
  readonly text: string;
  /** How many times the request was sent. */
  readonly attempts: number;
}

/** What a message about a failed request can name. */
export interface RequestContext {
  readonly host: string;
  /** Where the host came from: `DATABRICKS_HOST`, `profile [prod] of ~/.databrickscfg`. */
  readonly hostSource: string;
  /** The credentials in words: `the personal access token from DATABRICKS_TOKEN`. */
  readonly credentials: string;
  readonly warehouseId?: string;
  readonly statementId?: string;
  /** The request submits a statement, so a lost answer leaves unknown whether it runs. */
  readonly submitsStatement?: boolean;
  /** The request went to the OAuth token endpoint. */
  readonly tokenEndpoint?: boolean;
  /** A fresh OAuth token was fetched after a 401 and was refused too. */
  readonly afterRefresh?: boolean;
}

/**
 * Sends `request` to `host`, retrying 429 and 503 answers (and network errors and timeouts of
 * idempotent requests) with exponential backoff and jitter, or after Retry-After when the answer
 * has one, within `deps.retry`. Resolves with the first other answer, whatever its status.
 *
 * Throws `DatabricksRequestError` when retries are spent or a network error ends a request that
 * may not be repeated; throws the signal's reason, unchanged, when `request.signal` aborts (a
 * request or a wait in progress ends at once).
 */
export async function sendWithRetries(
  host: string,
  request: HttpRequest,
  deps: HttpDeps,
  context: RequestContext,
): Promise<HttpAnswer> {
  const url = `${host}${request.path}`;
  const started = deps.now();
  for (let attempt = 1; ; attempt++) {
    request.signal?.throwIfAborted();
    let answer: { status: number; text: string; retryAfter: string | null } | undefined;
    let networkError: unknown;
    try {
      const timeout = AbortSignal.timeout(deps.requestTimeoutMs);
      const signal =
        request.signal === undefined || !request.idempotent
          ? timeout
          : AbortSignal.any([request.signal, timeout]);
      const response = await deps.fetch(url, {
        method: request.method,
        headers: request.headers,
        body: request.body,
        signal,
      });
      answer = {
        status: response.status,
        text: await response.text(),
        retryAfter: response.headers.get('retry-after'),
      };
    } catch (error) {
      if (request.idempotent) request.signal?.throwIfAborted();
      networkError = error;
    }
    const failure = (status: number | undefined, text: string | undefined): DatabricksRequestFailure => ({
      method: request.method,
      path: request.path,
      httpStatus: status,
      ...apiErrorOf(text),
      attempts: attempt,
    });
    if (answer === undefined) {
      if (!request.idempotent || !retryLeft(attempt, 0, started, deps)) {
        throw requestError(failure(undefined, undefined), context, networkError);
      }
    } else if (answer.status !== 429 && answer.status !== 503) {
      return { status: answer.status, text: answer.text, attempts: attempt };
    }
    // A throttled or unavailable answer means nothing was accepted: a stop now loses nothing.
    request.signal?.throwIfAborted();
    const retryAfterMs = answer === undefined ? undefined : retryAfterOf(answer.retryAfter, deps.now());
    const delayMs = retryAfterMs ?? backoff(attempt, deps);
    if (!retryLeft(attempt, delayMs, started, deps)) {
      throw requestError(failure(answer?.status, answer?.text), context, networkError);
    }
    deps.onEvent({
      code: 'retrying',
      statementId: request.statementId,
      method: request.method,
      path: request.path,
      reason: answer === undefined ? networkCodeOf(networkError) : `HTTP ${answer.status}`,
      attempt,
      delayMs,
    });
    await deps.sleep(delayMs, request.signal);
  }
}

function retryLeft(attempt: number, delayMs: number, started: number, deps: HttpDeps): boolean {
  return attempt < deps.retry.maxAttempts && deps.now() + delayMs - started <= deps.retry.budgetMs;
}

/** Exponential, with half of it random ("equal jitter"), so clients throttled together spread out. */
function backoff(attempt: number, deps: HttpDeps): number {
  const full = Math.min(deps.retry.maxDelayMs, deps.retry.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(full / 2 + (deps.random() * full) / 2);
}

/** Retry-After as delay-seconds or an HTTP date (RFC 9110 §10.2.3); undefined when absent or unreadable. */
export function retryAfterOf(header: string | null, now: number): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/**
 * The error code and message of an error answer: `error_code` and `message` of the REST API, or
 * `error` and `error_description` of the OAuth token endpoint (RFC 6749 §5.2).
 */
export function apiErrorOf(text: string | undefined): {
  errorCode: string | undefined;
  apiMessage: string | undefined;
} {
  if (text === undefined || text.trim() === '') return { errorCode: undefined, apiMessage: undefined };
  try {
    const body = JSON.parse(text) as Record<string, unknown>;
    const code = body['error_code'] ?? body['error'];
    const message = body['message'] ?? body['error_description'];
    return {
      errorCode: typeof code === 'string' ? code : undefined,
      apiMessage: typeof message === 'string' ? message : undefined,
    };
  } catch {
    // A proxy's HTML page or plain text: its start says enough.
    return { errorCode: undefined, apiMessage: text.trim().slice(0, 200) };
  }
}

function networkCodeOf(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown } } | undefined)?.cause;
  if (typeof cause?.code === 'string') return cause.code;
  const name = (error as { name?: unknown } | undefined)?.name;
  return name === 'TimeoutError' ? 'timeout' : typeof name === 'string' ? name : 'network error';
}

/**
 * The error for a request that failed for good, by its status (or its absence): what happened,
 * where, and what to check next. `cause` is the network error, if any.
 */
export function requestError(
  failure: DatabricksRequestFailure,
  context: RequestContext,
  cause?: unknown,
): DatabricksRequestError {
  const call = `${failure.method} ${failure.path}`;
  const tries = failure.attempts > 1 ? `; ${failure.attempts} attempts` : '';
  const said =
    failure.httpStatus === undefined
      ? ''
      : `HTTP ${failure.httpStatus}${failure.errorCode === undefined ? '' : ` ${failure.errorCode}`}` +
        `${failure.apiMessage === undefined ? '' : `: ${failure.apiMessage}`}${tries}`;
  const unknownSubmission = context.submitsStatement
    ? ' The statement may or may not have been submitted: check the warehouse query history before running it again.'
    : '';
  const make = (code: DatabricksErrorCode, message: string) =>
    new DatabricksRequestError(code, failure, message, cause === undefined ? undefined : { cause });
  switch (failure.httpStatus) {
    case undefined:
      return make(
        Codes.unreachable,
        `Databricks at ${context.host} did not answer ${call} (${networkCodeOf(cause)}${tries}). Check the host ` +
          `(from ${context.hostSource}) and the network path to it (proxy, firewall, VPN), then retry.${unknownSubmission}`,
      );
    case 401:
      return make(
        Codes.unauthenticated,
        context.tokenEndpoint
          ? `The OAuth token endpoint of ${context.host} refused ${context.credentials} (${said}). Check the client ` +
              'id, and create a new OAuth secret for the service principal if this one expired or was deleted.'
          : `Databricks at ${context.host} did not accept ${context.credentials} for ${call} (${said}). ` +
              (context.afterRefresh
                ? 'A freshly fetched OAuth token was refused too: check that the service principal belongs to this workspace.'
                : 'The token may have expired or been revoked, or belong to another workspace: create a new ' +
                  `personal access token in ${context.host}.`),
      );
    case 403:
      return make(
        Codes.permissionDenied,
        `Databricks denied ${call} to ${context.credentials} (${said}). ` +
          (context.warehouseId === undefined
            ? 'Grant the identity the permission the message names, or use another identity.'
            : `The identity needs CAN USE on SQL warehouse ${context.warehouseId}, and the Unity Catalog privileges ` +
              'the statement uses (USE CATALOG, USE SCHEMA, and SELECT or MODIFY on its tables): grant them, or use ' +
              'another identity.'),
      );
    case 404:
      return make(
        Codes.notFound,
        context.submitsStatement
          ? `Databricks at ${context.host} found no SQL warehouse ${context.warehouseId ?? ''} for ${call} (${said}). ` +
              "Check --warehouse (the id is on the warehouse's Connection details page) and that the host (from " +
              `${context.hostSource}) is the workspace that has it.`
          : context.tokenEndpoint
            ? `${context.host} has no OAuth token endpoint (${call}: ${said}). Check that the host (from ` +
              `${context.hostSource}) is a Databricks workspace URL.`
            : `Databricks at ${context.host} has no ${context.statementId === undefined ? 'such resource' : `statement ${context.statementId}`} ` +
              `(${call}: ${said}). A statement's result expires some time after it ends; run it again.`,
      );
    case 429:
      return make(
        Codes.throttled,
        `Databricks throttled ${call} on every attempt (${said}). Retry later, or run fewer commands against ` +
          'the workspace at once.',
      );
    case 503:
      return make(
        Codes.unavailable,
        `Databricks at ${context.host} was unavailable for ${call} on every attempt (${said}). The workspace may ` +
          'be under maintenance or overloaded: check its status, then retry.',
      );
    case 400:
      return make(
        context.tokenEndpoint ? Codes.unauthenticated : Codes.requestFailed,
        context.tokenEndpoint
          ? `The OAuth token endpoint of ${context.host} refused the request for ${context.credentials} (${said}). ` +
              'Check the client id and secret.'
          : `Databricks refused ${call} as invalid (${said}). ` +
              (context.submitsStatement
                ? 'Check the statement, its parameters and --warehouse.'
                : 'This is likely a bug in ddb-lake: report it with this message.'),
      );
    default:
      return make(
        Codes.requestFailed,
        `Databricks at ${context.host} failed ${call} (${said}). Retry; if it persists, check the workspace's ` +
          `status.${unknownSubmission}`,
      );
  }
}
