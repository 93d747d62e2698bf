import { afterEach, describe, expect, it } from 'vitest';
import { DatabricksRequestError } from '../../../src/databricks/databricks-errors.ts';
import { harness, oauthEnv, patEnv, rejectionOf } from './client-harness.ts';
import { FakeStatementApi } from './fake-statement-api.ts';

const STATEMENTS = '/api/2.0/sql/statements';
const TOKEN = '/oidc/v1/token';

let fake: FakeStatementApi;
afterEach(async () => {
  await fake.close();
});

function bearerTokensSentTo(path: string): string[] {
  return fake
    .requestsTo(path)
    .map((r) =>
      r.authorization?.scheme === 'Bearer' ? r.authorization.token : `${r.authorization?.scheme}`,
    );
}

describe('OAuth M2M against a loopback fake of the Statement Execution API and its token endpoint', () => {
  it('fetches a token with basic auth and client_credentials, sends it as a bearer token, and reuses it', async () => {
    fake = await FakeStatementApi.start();
    const { client } = harness(oauthEnv(fake));

    await client.execute('SELECT 1');
    await client.execute('SELECT 2');

    const tokenRequests = fake.requestsTo(TOKEN, 'POST');
    expect(tokenRequests).toHaveLength(1);
    expect(tokenRequests[0]!.authorization).toEqual({
      scheme: 'Basic',
      clientId: 'fake-client-id',
      secretMatches: true,
    });
    expect(tokenRequests[0]!.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(tokenRequests[0]!.body).toEqual({ grant_type: 'client_credentials', scope: 'all-apis' });
    expect(bearerTokensSentTo(STATEMENTS)).toEqual(['fake-access-token-1', 'fake-access-token-1']);
  });

  it('statements started together share one token request', async () => {
    fake = await FakeStatementApi.start();
    const { client } = harness(oauthEnv(fake));
    await Promise.all([client.execute('SELECT 1'), client.execute('SELECT 2'), client.execute('SELECT 3')]);
    expect(fake.requestsTo(TOKEN)).toHaveLength(1);
  });

  it('keeps a token until 40 s before expires_in, then fetches a new one before sending', async () => {
    fake = await FakeStatementApi.start({ tokenLifetimeSeconds: 3600 });
    const { client, clock } = harness(oauthEnv(fake));

    await client.execute('SELECT 1');
    clock.now += 3500_000;
    await client.execute('SELECT 2');
    clock.now += 70_000;
    await client.execute('SELECT 3');

    expect(fake.requestsTo(TOKEN)).toHaveLength(2);
    expect(bearerTokensSentTo(STATEMENTS)).toEqual([
      'fake-access-token-1',
      'fake-access-token-1',
      'fake-access-token-2',
    ]);
    expect(fake.requests.filter((r) => r.status === 401)).toEqual([]);
  });

  it('a 401 to a token fetches a new one once and sends the request once more', async () => {
    fake = await FakeStatementApi.start();
    const { client } = harness(oauthEnv(fake));
    await client.execute('SELECT 1');
    fake.revokeAccessTokens();

    const result = await client.execute('SELECT 2');

    expect(result.statementId).toBe('fake-statement-2');
    expect(fake.requestsTo(STATEMENTS, 'POST').map((r) => r.status)).toEqual([200, 401, 200]);
    expect(bearerTokensSentTo(STATEMENTS)).toEqual([
      'fake-access-token-1',
      'fake-access-token-1',
      'fake-access-token-2',
    ]);
    expect(fake.requestsTo(TOKEN)).toHaveLength(2);
  });

  it('a second 401 after the refresh fails, without a third attempt', async () => {
    fake = await FakeStatementApi.start();
    fake.failNext({
      status: 401,
      times: 2,
      pathPrefix: STATEMENTS,
      body: { error_code: 'UNAUTHENTICATED', message: 'Invalid access token.' },
    });
    const { client } = harness(oauthEnv(fake));

    const error = await rejectionOf(client.execute('SELECT 1'));

    expect((error as DatabricksRequestError).code).toBe('DATABRICKS_UNAUTHENTICATED');
    expect(error.message).toBe(
      `Databricks at ${fake.url} did not accept service principal fake-client-id (OAuth secret from ` +
        `DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET) for POST ${STATEMENTS} (HTTP 401 UNAUTHENTICATED: ` +
        'Invalid access token.). A freshly fetched OAuth token was refused too: check that the service principal ' +
        'belongs to this workspace.',
    );
    expect(fake.requestsTo(STATEMENTS)).toHaveLength(2);
    expect(fake.requestsTo(TOKEN)).toHaveLength(2);
  });

  it('a refused client secret: the message names the client id and where the secret came from, never the secret', async () => {
    fake = await FakeStatementApi.start();
    const { client } = harness(oauthEnv(fake, 'wrong-secret-value'));

    const error = await rejectionOf(client.execute('SELECT 1'));

    expect(error).toBeInstanceOf(DatabricksRequestError);
    expect((error as DatabricksRequestError).code).toBe('DATABRICKS_UNAUTHENTICATED');
    expect(error.message).toBe(
      `The OAuth token endpoint of ${fake.url} refused service principal fake-client-id (OAuth secret from ` +
        'DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET) (HTTP 401 invalid_client: Client authentication failed). ' +
        'Check the client id, and create a new OAuth secret for the service principal if this one expired or was deleted.',
    );
    expect(error.message).not.toContain('wrong-secret-value');
    expect(fake.requestsTo(STATEMENTS)).toEqual([]);
  });

  it('a personal access token answered 401 is not retried, and the message names its source, not the token', async () => {
    fake = await FakeStatementApi.start({ pat: 'dapi-another-token' });
    const { client } = harness(patEnv(fake));

    const error = await rejectionOf(client.execute('SELECT 1'));

    expect((error as DatabricksRequestError).code).toBe('DATABRICKS_UNAUTHENTICATED');
    expect(error.message).toContain('did not accept the personal access token from DATABRICKS_TOKEN');
    expect(error.message).not.toContain('dapi-fake-pat');
    expect(fake.requests).toHaveLength(1);
  });
});
