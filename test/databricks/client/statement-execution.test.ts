import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  DatabricksRequestError,
  DatabricksStatementEndedError,
  DatabricksStatementError,
} from '../../../src/databricks/databricks-errors.ts';
import { harness, patEnv, rejectionOf } from './client-harness.ts';
import { FakeStatementApi } from './fake-statement-api.ts';

const STATEMENTS = '/api/2.0/sql/statements';
const COLUMNS = [
  { name: 'id', type_name: 'LONG', type_text: 'bigint' },
  { name: 'amount', type_name: 'DECIMAL', type_text: 'decimal(38,0)' },
  { name: 'note', type_name: 'STRING', type_text: 'string' },
];

let fake: FakeStatementApi;
beforeEach(async () => {
  fake = await FakeStatementApi.start();
});
afterEach(async () => {
  await fake.close();
});

describe('StatementExecutionClient against a loopback fake of the Statement Execution API', () => {
  it('submits once, polls PENDING and RUNNING with growing waits, and returns the SUCCEEDED rows', async () => {
    fake.script({ states: ['PENDING', 'RUNNING', 'SUCCEEDED'], columns: COLUMNS, rows: [['1', '10', 'a']] });
    const { client, waits, events } = harness(patEnv(fake));

    const result = await client.execute('SELECT id, amount, note FROM t');

    expect(result).toEqual({
      statementId: 'fake-statement-1',
      state: 'SUCCEEDED',
      columns: [
        { name: 'id', position: 0, typeName: 'LONG', typeText: 'bigint' },
        { name: 'amount', position: 1, typeName: 'DECIMAL', typeText: 'decimal(38,0)' },
        { name: 'note', position: 2, typeName: 'STRING', typeText: 'string' },
      ],
      rows: [['1', '10', 'a']],
    });
    expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      `POST ${STATEMENTS}`,
      `GET ${STATEMENTS}/fake-statement-1`,
      `GET ${STATEMENTS}/fake-statement-1`,
    ]);
    expect(waits).toEqual([250, 500]);
    const submit = fake.requests[0]!;
    expect(submit.authorization).toEqual({ scheme: 'Bearer', token: 'dapi-fake-pat' });
    expect(submit.body).toEqual({
      warehouse_id: 'fake-warehouse',
      statement: 'SELECT id, amount, note FROM t',
      wait_timeout: '30s',
      on_wait_timeout: 'CONTINUE',
      disposition: 'INLINE',
      format: 'JSON_ARRAY',
    });
    expect(events).toEqual([
      {
        code: 'statement-submitted',
        statementId: 'fake-statement-1',
        state: 'PENDING',
        warehouseId: 'fake-warehouse',
        firstLine: 'SELECT id, amount, note FROM t',
      },
      {
        code: 'statement-finished',
        statementId: 'fake-statement-1',
        state: 'SUCCEEDED',
        durationMs: 750,
        rowCount: 1,
      },
    ]);
  });

  it('sends parameters named and typed, a null one without a value, and never in the statement text', async () => {
    const { client } = harness(patEnv(fake), { waitTimeout: '0s' });
    await client.execute('UPDATE t SET amount = :amount, note = :note WHERE id = :id', {
      parameters: [
        { name: 'id', value: '9223372036854775807', type: 'BIGINT' },
        { name: 'amount', value: '99999999999999999999999999999999999999', type: 'DECIMAL(38,0)' },
        { name: 'note', value: null, type: 'STRING' },
      ],
      catalog: 'main',
      schema: 'lake',
    });

    const body = fake.requests[0]!.body as Record<string, unknown>;
    expect(body['statement']).toBe('UPDATE t SET amount = :amount, note = :note WHERE id = :id');
    expect(body['parameters']).toEqual([
      { name: 'id', type: 'BIGINT', value: '9223372036854775807' },
      { name: 'amount', type: 'DECIMAL(38,0)', value: '99999999999999999999999999999999999999' },
      { name: 'note', type: 'STRING' },
    ]);
    expect(body).toMatchObject({ catalog: 'main', schema: 'lake', wait_timeout: '0s' });
  });

  it('refuses a parameter value that is not a string, before sending anything', async () => {
    const { client } = harness(patEnv(fake));
    const error = await rejectionOf(
      client.execute('SELECT :n', { parameters: [{ name: 'n', value: 12 as unknown as string }] }),
    );
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toBe('parameter n must be a string or null, not number');
    expect(fake.requests).toEqual([]);
  });

  it('a result in 3 chunks gives every row in order, following next_chunk_internal_link', async () => {
    const rows = Array.from({ length: 7 }, (_, i) => [String(i), `${i}0`, i === 3 ? null : `n${i}`]);
    fake.script({ columns: COLUMNS, rows, chunks: 3 });
    const { client, events } = harness(patEnv(fake));

    const result = await client.execute('SELECT * FROM t');

    expect(result.rows).toEqual(rows);
    expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      `POST ${STATEMENTS}`,
      `GET ${STATEMENTS}/fake-statement-1/result/chunks/1`,
      `GET ${STATEMENTS}/fake-statement-1/result/chunks/2`,
    ]);
    expect(events.at(-1)).toMatchObject({ code: 'statement-finished', rowCount: 7 });
  });

  it('follows next_chunk_index when a chunk has no internal link', async () => {
    const rows = [['1'], ['2'], ['3']];
    fake.script({ columns: COLUMNS.slice(0, 1), rows, chunks: 3, nextChunk: 'index-only' });
    const { client } = harness(patEnv(fake));
    expect((await client.execute('SELECT id FROM t')).rows).toEqual(rows);
    expect(fake.requestsTo(`${STATEMENTS}/fake-statement-1/result/chunks/2`, 'GET')).toHaveLength(1);
  });

  it('large integers and decimals stay the exact strings the API sent', async () => {
    const rows = [
      ['9007199254740993', '99999999999999999999999999999999999999', null],
      ['-9223372036854775808', '-0.000000000000000000000000000000000001', '1e400'],
    ];
    fake.script({ columns: COLUMNS, rows, chunks: 2 });
    const { client } = harness(patEnv(fake));
    const result = await client.execute('SELECT * FROM t');
    expect(result.rows).toEqual(rows);
    expect(result.rows[0]![0]).toBe('9007199254740993');
  });

  it('a statement with no rows returns none', async () => {
    fake.script({ states: ['RUNNING', 'SUCCEEDED'] });
    const { client } = harness(patEnv(fake));
    expect(await client.execute('CREATE TABLE t (id BIGINT)')).toMatchObject({ columns: [], rows: [] });
  });

  it('FAILED carries the API error code and message, the statement id and the first line', async () => {
    fake.script({
      states: ['RUNNING', 'FAILED'],
      error: {
        error_code: 'BAD_REQUEST',
        message: '[TABLE_OR_VIEW_NOT_FOUND] The table `main`.`lake`.`t` cannot be found.',
      },
      sqlState: '42P01',
    });
    const { client, events } = harness(patEnv(fake));

    const error = await rejectionOf(
      client.execute('MERGE INTO main.lake.t AS target\nUSING changes AS source\nON ...'),
    );

    expect(error).toBeInstanceOf(DatabricksStatementError);
    expect(error).toMatchObject({
      code: 'DATABRICKS_STATEMENT_FAILED',
      statementId: 'fake-statement-1',
      errorCode: 'BAD_REQUEST',
      sqlState: '42P01',
    });
    expect(error.message).toBe(
      'Databricks statement fake-statement-1 failed (BAD_REQUEST, SQLSTATE 42P01): [TABLE_OR_VIEW_NOT_FOUND] The ' +
        'table `main`.`lake`.`t` cannot be found.. The statement began: MERGE INTO main.lake.t AS target. Look it up ' +
        'by its id in the warehouse query history for details.',
    );
    expect(events.at(-1)).toMatchObject({
      code: 'statement-finished',
      state: 'FAILED',
      statementId: 'fake-statement-1',
    });
  });

  it('CANCELED by someone else and CLOSED each end in their own error', async () => {
    fake.script({ states: ['RUNNING', 'CANCELED'] }).script({ states: ['CLOSED'] });
    const { client } = harness(patEnv(fake));

    const canceled = await rejectionOf(client.execute('SELECT 1'));
    expect(canceled).toBeInstanceOf(DatabricksStatementEndedError);
    expect(canceled).toMatchObject({ code: 'DATABRICKS_STATEMENT_CANCELED', state: 'CANCELED' });
    expect(canceled.message).toMatch(
      /^Databricks statement fake-statement-1 was canceled before it finished .*not by this process/,
    );

    const closed = await rejectionOf(client.execute('SELECT 2'));
    expect(closed).toMatchObject({ code: 'DATABRICKS_STATEMENT_CLOSED', statementId: 'fake-statement-2' });
    expect(fake.requests.filter((r) => r.path.endsWith('/cancel'))).toEqual([]);
  });
});

describe('StatementExecutionClient retries against a loopback fake of the Statement Execution API', () => {
  it('429 twice, then success: waits as Retry-After says, reports each retry, submits one statement', async () => {
    fake.failNext({ status: 429, times: 2, method: 'POST', pathPrefix: STATEMENTS, retryAfter: '3' });
    const { client, waits, events } = harness(patEnv(fake));

    const result = await client.execute('SELECT 1');

    expect(result.statementId).toBe('fake-statement-1');
    expect(waits).toEqual([3000, 3000]);
    expect(fake.requestsTo(STATEMENTS, 'POST').map((r) => r.status)).toEqual([429, 429, 200]);
    expect(events.filter((e) => e.code === 'retrying')).toEqual([
      {
        code: 'retrying',
        statementId: undefined,
        method: 'POST',
        path: STATEMENTS,
        reason: 'HTTP 429',
        attempt: 1,
        delayMs: 3000,
      },
      {
        code: 'retrying',
        statementId: undefined,
        method: 'POST',
        path: STATEMENTS,
        reason: 'HTTP 429',
        attempt: 2,
        delayMs: 3000,
      },
    ]);
  });

  it('429 without Retry-After backs off exponentially, half of each wait random', async () => {
    fake.failNext({ status: 429, times: 3, method: 'POST' });
    const { client, waits } = harness(patEnv(fake), { random: () => 0 });
    await client.execute('SELECT 1');
    expect(waits).toEqual([500, 1000, 2000]);
  });

  it('503 on a poll is retried; the statement is not submitted again', async () => {
    fake.script({ states: ['RUNNING', 'SUCCEEDED'] });
    fake.failNext({ status: 503, times: 1, method: 'GET', retryAfter: '1' });
    const { client, waits, events } = harness(patEnv(fake));
    await client.execute('SELECT 1');
    expect(waits).toEqual([250, 1000]);
    expect(fake.requestsTo(STATEMENTS, 'POST')).toHaveLength(1);
    expect(events.find((e) => e.code === 'retrying')).toMatchObject({
      statementId: 'fake-statement-1',
      method: 'GET',
    });
  });

  it('503 on every attempt ends in DATABRICKS_UNAVAILABLE naming the endpoint, the status and the attempts', async () => {
    fake.failNext({ status: 503, times: 100 });
    const { client } = harness(patEnv(fake), { retry: { maxAttempts: 4 } });

    const error = await rejectionOf(client.execute('SELECT 1'));

    expect(error).toBeInstanceOf(DatabricksRequestError);
    expect((error as DatabricksRequestError).code).toBe('DATABRICKS_UNAVAILABLE');
    expect(error.message).toBe(
      `Databricks at ${fake.url} was unavailable for POST ${STATEMENTS} on every attempt (HTTP 503 ` +
        'TEMPORARILY_UNAVAILABLE: The service is temporarily unavailable.; 4 attempts). The workspace may be under ' +
        'maintenance or overloaded: check its status, then retry.',
    );
    expect(fake.requests).toHaveLength(4);
  });

  it('a poll that fails for good asks for a cancel before throwing, so the statement does not run unwatched', async () => {
    fake.script({ runsUntilCanceled: true });
    fake.failNext({ status: 503, times: 100, method: 'GET' });
    const { client, events } = harness(patEnv(fake), { retry: { maxAttempts: 2 } });

    const error = await rejectionOf(client.execute('SELECT * FROM forever'));

    expect((error as DatabricksRequestError).code).toBe('DATABRICKS_UNAVAILABLE');
    expect(error.message).toContain(`GET ${STATEMENTS}/fake-statement-1 on every attempt`);
    expect(fake.requestsTo(`${STATEMENTS}/fake-statement-1/cancel`, 'POST')).toHaveLength(1);
    expect(events.at(-1)).toEqual({
      code: 'statement-cancel-requested',
      statementId: 'fake-statement-1',
      sent: true,
    });
  });

  it('retries stop when the time budget would be passed, even with attempts left', async () => {
    fake.failNext({ status: 429, times: 100, retryAfter: '40' });
    const { client, waits } = harness(patEnv(fake), { retry: { budgetMs: 100_000 } });
    const error = await rejectionOf(client.execute('SELECT 1'));
    expect((error as DatabricksRequestError).code).toBe('DATABRICKS_THROTTLED');
    expect(waits).toEqual([40_000, 40_000]);
    expect(fake.requests).toHaveLength(3);
  });

  it('403: not retried; says which permission to check on which warehouse', async () => {
    fake.failNext({ status: 403, times: 1 });
    const { client } = harness(patEnv(fake));
    const error = await rejectionOf(client.execute('SELECT 1'));
    expect((error as DatabricksRequestError).code).toBe('DATABRICKS_PERMISSION_DENIED');
    expect(error.message).toBe(
      `Databricks denied POST ${STATEMENTS} to the personal access token from DATABRICKS_TOKEN (HTTP 403 ` +
        'PERMISSION_DENIED: User does not have permission CAN_USE on warehouse.). The identity needs CAN USE on SQL ' +
        'warehouse fake-warehouse, and the Unity Catalog privileges the statement uses (USE CATALOG, USE SCHEMA, and ' +
        'SELECT or MODIFY on its tables): grant them, or use another identity.',
    );
    expect(fake.requests).toHaveLength(1);
  });

  it('404 for an unknown warehouse says to check --warehouse', async () => {
    const { client } = harness(patEnv(fake), { warehouseId: 'no-such-warehouse' });
    const error = await rejectionOf(client.execute('SELECT 1'));
    expect((error as DatabricksRequestError).code).toBe('DATABRICKS_NOT_FOUND');
    expect(error.message).toBe(
      `Databricks at ${fake.url} found no SQL warehouse no-such-warehouse for POST ${STATEMENTS} (HTTP 404 ` +
        'RESOURCE_DOES_NOT_EXIST: SQL warehouse no-such-warehouse does not exist.). Check --warehouse (the id is on ' +
        "the warehouse's Connection details page) and that the host (from DATABRICKS_HOST) is the workspace that has it.",
    );
  });

  it('a network error on a poll is retried; on the submission it is not, and the message says it may have run', async () => {
    fake.script({ states: ['RUNNING', 'SUCCEEDED'] });
    let failGets = 1;
    const flaky: typeof fetch = async (input, init) => {
      if (init?.method === 'GET' && failGets-- > 0) {
        throw new TypeError('fetch failed', {
          cause: Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }),
        });
      }
      return fetch(input, init);
    };
    const { client, events } = harness(patEnv(fake), { fetch: flaky });
    await client.execute('SELECT 1');
    expect(events.find((e) => e.code === 'retrying')).toMatchObject({
      reason: 'ECONNRESET',
      method: 'GET',
      attempt: 1,
    });

    const down: typeof fetch = async () => {
      throw new TypeError('fetch failed', {
        cause: Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }),
      });
    };
    const error = await rejectionOf(harness(patEnv(fake), { fetch: down }).client.execute('SELECT 1'));
    expect((error as DatabricksRequestError).code).toBe('DATABRICKS_UNREACHABLE');
    expect(error.message).toBe(
      `Databricks at ${fake.url} did not answer POST ${STATEMENTS} (ECONNREFUSED). Check the host (from ` +
        'DATABRICKS_HOST) and the network path to it (proxy, firewall, VPN), then retry. The statement may or may not ' +
        'have been submitted: check the warehouse query history before running it again.',
    );
  });
});
