import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DatabricksStatementInterruptedError } from '../../../src/databricks/databricks-errors.ts';
import { harness, patEnv, rejectionOf } from './client-harness.ts';
import { FakeStatementApi } from './fake-statement-api.ts';

const STATEMENTS = '/api/2.0/sql/statements';
const NODE = fileURLToPath(new URL('../../../node_modules/.bin/node', import.meta.url));
const CHILD = fileURLToPath(new URL('./sigint-child.ts', import.meta.url));

let fake: FakeStatementApi;
beforeEach(async () => {
  fake = await FakeStatementApi.start();
});
afterEach(async () => {
  await fake.close();
});

describe('cancelling a statement against a loopback fake of the Statement Execution API', () => {
  it('a signal aborted while the statement runs sends the cancel and rejects as interrupted', async () => {
    fake.script({ runsUntilCanceled: true });
    const stop = new AbortController();
    const { client, events } = harness(patEnv(fake), {
      beforeSleep: () => {
        if (fake.requestsTo(`${STATEMENTS}/fake-statement-1`, 'GET').length === 2)
          stop.abort(new Error('stop'));
      },
    });

    const error = await rejectionOf(client.execute('SELECT * FROM forever', { signal: stop.signal }));

    expect(error).toBeInstanceOf(DatabricksStatementInterruptedError);
    expect(error).toMatchObject({
      code: 'DATABRICKS_STATEMENT_INTERRUPTED',
      statementId: 'fake-statement-1',
      phase: 'running',
      cancelSent: true,
    });
    expect(error.message).toBe(
      'Interrupted: canceled Databricks statement fake-statement-1 (SELECT * FROM forever). Cancellation is best ' +
        'effort: check the warehouse query history in case it was about to finish.',
    );
    expect((error as Error).cause).toEqual(new Error('stop'));
    expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      `POST ${STATEMENTS}`,
      `GET ${STATEMENTS}/fake-statement-1`,
      `GET ${STATEMENTS}/fake-statement-1`,
      `POST ${STATEMENTS}/fake-statement-1/cancel`,
    ]);
    expect(fake.requests.at(-1)!.authorization).toEqual({ scheme: 'Bearer', token: 'dapi-fake-pat' });
    expect(events.at(-1)).toEqual({
      code: 'statement-cancel-requested',
      statementId: 'fake-statement-1',
      sent: true,
    });
  });

  it('a signal already aborted submits nothing', async () => {
    const { client } = harness(patEnv(fake));
    const error = await rejectionOf(client.execute('DELETE FROM t', { signal: AbortSignal.abort() }));
    expect(error).toMatchObject({
      code: 'DATABRICKS_STATEMENT_INTERRUPTED',
      phase: 'before-submit',
      statementId: undefined,
    });
    expect(error.message).toBe(
      'Interrupted before the statement was submitted to Databricks; nothing ran. The statement began: DELETE FROM t.',
    );
    expect(fake.requests).toEqual([]);
  });

  it('a signal aborted while a throttled submission waits to be retried submits nothing more', async () => {
    fake.failNext({ status: 429, times: 1, retryAfter: '5' });
    const stop = new AbortController();
    const { client } = harness(patEnv(fake), { beforeSleep: () => stop.abort() });
    const error = await rejectionOf(client.execute('DELETE FROM t', { signal: stop.signal }));
    expect(error).toMatchObject({ code: 'DATABRICKS_STATEMENT_INTERRUPTED', phase: 'before-submit' });
    expect(fake.requests.map((r) => r.status)).toEqual([429]);
  });

  it('a cancel Databricks does not accept is said in the message: the statement may still run', async () => {
    fake.script({ runsUntilCanceled: true });
    fake.failNext({ status: 403, times: 1, pathPrefix: `${STATEMENTS}/fake-statement-1/cancel` });
    const stop = new AbortController();
    const { client, events } = harness(patEnv(fake), { beforeSleep: () => stop.abort() });
    const error = await rejectionOf(client.execute('SELECT * FROM forever', { signal: stop.signal }));
    expect(error).toMatchObject({ phase: 'running', cancelSent: false, statementId: 'fake-statement-1' });
    expect(error.message).toMatch(
      /^Interrupted, but the cancellation of Databricks statement fake-statement-1 \(SELECT \* FROM forever\) was not accepted \(Databricks denied POST .*HTTP 403.*\): it may still be running\./,
    );
    expect(events.at(-1)).toEqual({
      code: 'statement-cancel-requested',
      statementId: 'fake-statement-1',
      sent: false,
    });
  });

  it('SIGINT to a process running a statement cancels it, and the process exits 130', async () => {
    fake.script({ runsUntilCanceled: true });
    const child = spawn(NODE, [CHILD], {
      env: { ...process.env, FAKE_DATABRICKS_URL: fake.url },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        if (stdout.includes('submitted fake-statement-1')) resolve();
      });
      child.on('exit', () => reject(new Error(`the child exited before submitting: ${stderr}`)));
    });
    // Polled at least once, so the statement is known to be running.
    await fake.waitFor((r) => r.method === 'GET' && r.path === `${STATEMENTS}/fake-statement-1`);

    child.kill('SIGINT');

    expect(await exited).toBe(130);
    expect(fake.requestsTo(`${STATEMENTS}/fake-statement-1/cancel`, 'POST')).toHaveLength(1);
    expect(stderr).toContain('Interrupted: canceled Databricks statement fake-statement-1');
  });
});
