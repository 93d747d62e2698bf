import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { StatementState } from '../../../src/databricks/databricks-events.ts';

/*
 * A loopback fake of the Databricks SQL Statement Execution API and the workspace OAuth token
 * endpoint: an HTTP server on 127.0.0.1 that answers just enough of
 * `POST /api/2.0/sql/statements`, `GET .../{id}`, `POST .../{id}/cancel`,
 * `GET .../{id}/result/chunks/{n}` and `POST /oidc/v1/token` for the client's tests, as scripted
 * per statement, and records every request so a test asserts what the client sent. Its tokens and
 * secrets are made up.
 */

/** How one submitted statement behaves. */
export interface FakeStatementScript {
  /**
   * The states it goes through: the submission answers with the first, each poll with the next,
   * and the last one stays. Default `['SUCCEEDED']`.
   */
  readonly states?: readonly StatementState[];
  /** RUNNING until a cancel request arrives, then CANCELED. Overrides `states`. */
  readonly runsUntilCanceled?: boolean;
  readonly columns?: readonly {
    readonly name: string;
    readonly type_name: string;
    readonly type_text: string;
  }[];
  readonly rows?: readonly (readonly (string | null)[])[];
  /** Splits the rows into this many chunks (default 1). */
  readonly chunks?: number;
  /** How each chunk points to the next: both fields (default) or `next_chunk_index` alone. */
  readonly nextChunk?: 'internal-link-and-index' | 'index-only';
  /** `status.error` of a FAILED statement. */
  readonly error?: { readonly error_code: string; readonly message: string };
  readonly sqlState?: string;
}

/** An answer given instead of the real one, the next `times` times a request matches. */
export interface FakeFailure {
  readonly status: number;
  readonly times: number;
  readonly method?: 'GET' | 'POST';
  /** Matches paths that start with it; every path when absent. */
  readonly pathPrefix?: string;
  readonly retryAfter?: string;
  readonly body?: Record<string, unknown>;
}

/** The Authorization header as received: a bearer token, or basic auth with only whether the secret matched. */
export type RecordedAuthorization =
  | { readonly scheme: 'Bearer'; readonly token: string }
  | { readonly scheme: 'Basic'; readonly clientId: string; readonly secretMatches: boolean }
  | { readonly scheme: 'other' };

/** A request the fake received. */
export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  /** Every header but `authorization`, which is in `authorization`. */
  readonly headers: Readonly<Record<string, string>>;
  readonly authorization: RecordedAuthorization | undefined;
  /** The JSON body parsed, a form body as an object of its fields, or undefined when empty. */
  readonly body: unknown;
  /** The HTTP status the fake answered with. */
  status: number;
}

/** Who the fake accepts. */
export interface FakeStatementApiOptions {
  /** The personal access token it accepts. */
  readonly pat?: string;
  readonly clientId?: string;
  readonly clientSecret?: string;
  /** `expires_in` of the access tokens it issues (default 3600). */
  readonly tokenLifetimeSeconds?: number;
  /** The warehouse ids that exist (default `['fake-warehouse']`). */
  readonly warehouses?: readonly string[];
}

interface FakeStatement {
  readonly id: string;
  readonly script: FakeStatementScript;
  polls: number;
  canceled: boolean;
}

const STATEMENTS = '/api/2.0/sql/statements';

/** The fake server; `start` it, `close` it after the test. */
export class FakeStatementApi {
  readonly requests: RecordedRequest[] = [];
  /** The access tokens it issued, in order. */
  readonly issuedTokens: string[] = [];
  readonly #server: Server;
  readonly #options: Required<FakeStatementApiOptions>;
  readonly #scripts: FakeStatementScript[] = [];
  readonly #failures: { failure: FakeFailure; left: number }[] = [];
  readonly #statements = new Map<string, FakeStatement>();
  readonly #revoked = new Set<string>();
  readonly #waiters: { match: (r: RecordedRequest) => boolean; resolve: (r: RecordedRequest) => void }[] = [];
  #url = '';

  private constructor(options: FakeStatementApiOptions) {
    this.#options = {
      pat: options.pat ?? 'dapi-fake-pat',
      clientId: options.clientId ?? 'fake-client-id',
      clientSecret: options.clientSecret ?? 'fake-client-secret',
      tokenLifetimeSeconds: options.tokenLifetimeSeconds ?? 3600,
      warehouses: options.warehouses ?? ['fake-warehouse'],
    };
    this.#server = createServer((request, response) => {
      this.#handle(request, response).catch((error: unknown) => {
        response.writeHead(500).end(String(error));
      });
    });
  }

  /** Starts a fake on 127.0.0.1 on a free port. */
  static async start(options: FakeStatementApiOptions = {}): Promise<FakeStatementApi> {
    const fake = new FakeStatementApi(options);
    await new Promise<void>((resolve) => fake.#server.listen(0, '127.0.0.1', resolve));
    fake.#url = `http://127.0.0.1:${(fake.#server.address() as AddressInfo).port}`;
    return fake;
  }

  /** `http://127.0.0.1:<port>`, the host to configure. */
  get url(): string {
    return this.#url;
  }

  /** The script of the next submitted statement; submissions beyond the queue succeed with no rows. */
  script(script: FakeStatementScript): this {
    this.#scripts.push(script);
    return this;
  }

  /** Answers the next `failure.times` matching requests with `failure.status`. */
  failNext(failure: FakeFailure): this {
    this.#failures.push({ failure, left: failure.times });
    return this;
  }

  /** From now on, every access token issued so far is answered with 401. */
  revokeAccessTokens(): void {
    for (const token of this.issuedTokens) this.#revoked.add(token);
  }

  /** The requests to a path, optionally of one method. */
  requestsTo(path: string, method?: string): RecordedRequest[] {
    return this.requests.filter((r) => r.path === path && (method === undefined || r.method === method));
  }

  /** Resolves with the first request, received or to come, that `match` accepts. */
  waitFor(match: (request: RecordedRequest) => boolean): Promise<RecordedRequest> {
    const seen = this.requests.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve) => this.#waiters.push({ match, resolve }));
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(request.headers)) {
      if (name !== 'authorization' && typeof value === 'string') headers[name] = value;
    }
    const path = new URL(request.url ?? '/', this.#url).pathname;
    const recorded: RecordedRequest = {
      method: request.method ?? '',
      path,
      headers,
      authorization: this.#authorizationOf(request.headers.authorization),
      body: bodyOf(text, headers['content-type']),
      status: 0,
    };
    this.requests.push(recorded);
    const answer = (status: number, body: unknown, extra: Record<string, string> = {}) => {
      recorded.status = status;
      response.writeHead(status, { 'content-type': 'application/json', ...extra }).end(JSON.stringify(body));
      for (const waiter of [...this.#waiters]) {
        if (waiter.match(recorded)) {
          this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
          waiter.resolve(recorded);
        }
      }
    };

    const failure = this.#failures.find(
      ({ failure: f, left }) =>
        left > 0 &&
        (f.method === undefined || f.method === recorded.method) &&
        path.startsWith(f.pathPrefix ?? ''),
    );
    if (failure !== undefined) {
      failure.left--;
      const { status, retryAfter, body } = failure.failure;
      const byStatus: Record<number, Record<string, string>> = {
        403: {
          error_code: 'PERMISSION_DENIED',
          message: 'User does not have permission CAN_USE on warehouse.',
        },
        429: { error_code: 'REQUEST_LIMIT_EXCEEDED', message: 'Too many requests.' },
        503: { error_code: 'TEMPORARILY_UNAVAILABLE', message: 'The service is temporarily unavailable.' },
      };
      answer(
        status,
        body ?? byStatus[status] ?? { error_code: 'BAD_REQUEST', message: 'Scripted failure.' },
        {
          ...(retryAfter === undefined ? {} : { 'retry-after': retryAfter }),
        },
      );
      return;
    }

    if (request.method === 'POST' && path === '/oidc/v1/token') {
      const auth = recorded.authorization;
      const form = recorded.body as Record<string, string> | undefined;
      if (auth?.scheme !== 'Basic' || auth.clientId !== this.#options.clientId || !auth.secretMatches) {
        answer(401, { error: 'invalid_client', error_description: 'Client authentication failed' });
      } else if (form?.['grant_type'] !== 'client_credentials' || form['scope'] !== 'all-apis') {
        answer(400, { error: 'invalid_request', error_description: 'grant_type or scope not supported' });
      } else {
        const token = `fake-access-token-${this.issuedTokens.length + 1}`;
        this.issuedTokens.push(token);
        answer(200, {
          access_token: token,
          token_type: 'Bearer',
          scope: 'all-apis',
          expires_in: this.#options.tokenLifetimeSeconds,
        });
      }
      return;
    }

    const bearer = recorded.authorization?.scheme === 'Bearer' ? recorded.authorization.token : undefined;
    const valid =
      bearer !== undefined &&
      (bearer === this.#options.pat || (this.issuedTokens.includes(bearer) && !this.#revoked.has(bearer)));
    if (!valid) {
      answer(401, { error_code: 'UNAUTHENTICATED', message: 'Invalid access token.' });
      return;
    }

    if (request.method === 'POST' && path === STATEMENTS) {
      const body = recorded.body as { warehouse_id?: unknown };
      if (typeof body?.warehouse_id !== 'string' || !this.#options.warehouses.includes(body.warehouse_id)) {
        answer(404, {
          error_code: 'RESOURCE_DOES_NOT_EXIST',
          message: `SQL warehouse ${String(body?.warehouse_id)} does not exist.`,
        });
        return;
      }
      const statement: FakeStatement = {
        id: `fake-statement-${this.#statements.size + 1}`,
        script: this.#scripts.shift() ?? {},
        polls: 0,
        canceled: false,
      };
      this.#statements.set(statement.id, statement);
      answer(200, this.#statementResponse(statement));
      return;
    }

    const match = /^\/api\/2\.0\/sql\/statements\/([^/]+)(?:\/(cancel)|\/result\/chunks\/(\d+))?$/.exec(path);
    const statement = match === null ? undefined : this.#statements.get(decodeURIComponent(match[1]!));
    if (match === null || statement === undefined) {
      answer(404, { error_code: 'NOT_FOUND', message: `No such endpoint or statement: ${path}` });
      return;
    }
    if (request.method === 'POST' && match[2] === 'cancel') {
      statement.canceled = true;
      answer(200, {});
    } else if (request.method === 'GET' && match[3] !== undefined) {
      answer(200, this.#chunk(statement, Number(match[3])));
    } else if (request.method === 'GET' && match[2] === undefined) {
      statement.polls++;
      answer(200, this.#statementResponse(statement));
    } else {
      answer(405, { error_code: 'BAD_REQUEST', message: `${request.method} ${path} is not supported` });
    }
  }

  #authorizationOf(header: string | undefined): RecordedAuthorization | undefined {
    if (header === undefined) return undefined;
    const [scheme, value = ''] = header.split(' ', 2);
    if (scheme === 'Bearer') return { scheme: 'Bearer', token: value };
    if (scheme === 'Basic') {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      return {
        scheme: 'Basic',
        clientId: decoded.slice(0, colon),
        secretMatches: decoded.slice(colon + 1) === this.#options.clientSecret,
      };
    }
    return { scheme: 'other' };
  }

  #stateOf(statement: FakeStatement): StatementState {
    if (statement.script.runsUntilCanceled) return statement.canceled ? 'CANCELED' : 'RUNNING';
    const states = statement.script.states ?? ['SUCCEEDED'];
    return states[Math.min(statement.polls, states.length - 1)]!;
  }

  #statementResponse(statement: FakeStatement): Record<string, unknown> {
    const state = this.#stateOf(statement);
    const status: Record<string, unknown> = { state };
    if (state === 'FAILED') {
      status['error'] = statement.script.error ?? { error_code: 'BAD_REQUEST', message: 'failed' };
      if (statement.script.sqlState !== undefined) status['sql_state'] = statement.script.sqlState;
    }
    if (state !== 'SUCCEEDED') return { statement_id: statement.id, status };
    const columns = statement.script.columns ?? [];
    const chunks = this.#chunksOf(statement);
    return {
      statement_id: statement.id,
      status,
      manifest: {
        format: 'JSON_ARRAY',
        schema: {
          column_count: columns.length,
          columns: columns.map((column, position) => ({ ...column, position })),
        },
        total_chunk_count: chunks.length,
        total_row_count: statement.script.rows?.length ?? 0,
        chunks: chunks.map(({ chunk_index, row_offset, row_count }) => ({
          chunk_index,
          row_offset,
          row_count,
        })),
        truncated: false,
      },
      ...(chunks.length === 0 ? {} : { result: this.#chunk(statement, 0) }),
    };
  }

  #chunksOf(statement: FakeStatement): { chunk_index: number; row_offset: number; row_count: number }[] {
    const rows = statement.script.rows ?? [];
    const count = rows.length === 0 ? 0 : Math.max(1, statement.script.chunks ?? 1);
    const size = Math.ceil(rows.length / Math.max(count, 1));
    return Array.from({ length: count }, (_, chunk_index) => ({
      chunk_index,
      row_offset: chunk_index * size,
      row_count: Math.max(0, Math.min(size, rows.length - chunk_index * size)),
    }));
  }

  #chunk(statement: FakeStatement, index: number): Record<string, unknown> {
    const chunks = this.#chunksOf(statement);
    const chunk = chunks[index];
    if (chunk === undefined) return { chunk_index: index, row_offset: 0, row_count: 0 };
    const rows = (statement.script.rows ?? []).slice(chunk.row_offset, chunk.row_offset + chunk.row_count);
    const next = index + 1 < chunks.length ? index + 1 : undefined;
    return {
      ...chunk,
      data_array: rows,
      ...(next === undefined ? {} : { next_chunk_index: next }),
      ...(next === undefined || statement.script.nextChunk === 'index-only'
        ? {}
        : { next_chunk_internal_link: `${STATEMENTS}/${statement.id}/result/chunks/${next}` }),
    };
  }
}

function bodyOf(text: string, contentType: string | undefined): unknown {
  if (text === '') return undefined;
  if (contentType?.startsWith('application/x-www-form-urlencoded')) {
    return Object.fromEntries(new URLSearchParams(text));
  }
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
