import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  S3_SERVER_CREDENTIALS,
  S3_SERVER_REGION,
  type S3Server,
  startS3Server,
} from '../../src/local/s3-server.ts';
import { FakeStatementApi } from '../databricks/client/fake-statement-api.ts';
import { detail, lakeTableOn, notFound, otherTableOn } from '../databricks/register/register-support.ts';
import { runDdbLake } from '../support/run-cli.ts';

const STATEMENTS = '/api/2.0/sql/statements';
const NAME_SQL = '`main`.`sales`.`orders`';

/** Reaches the S3-compatible server only; no Databricks variable from the machine leaks in. */
const BASE_ENV = {
  AWS_ACCESS_KEY_ID: S3_SERVER_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: S3_SERVER_CREDENTIALS.secretAccessKey,
  AWS_REGION: S3_SERVER_REGION,
  AWS_EC2_METADATA_DISABLED: 'true',
  DATABRICKS_HOST: undefined,
  DATABRICKS_TOKEN: undefined,
  DATABRICKS_CLIENT_ID: undefined,
  DATABRICKS_CLIENT_SECRET: undefined,
  DATABRICKS_CONFIG_PROFILE: undefined,
  DATABRICKS_WAREHOUSE_ID: undefined,
  DATABRICKS_CONFIG_FILE: path.join(tmpdir(), 'ddb-lake-no-such-databrickscfg'),
};

let server: S3Server;
beforeAll(async () => {
  server = await startS3Server({ buckets: ['lake'] });
});
afterAll(async () => {
  await server.stop();
});

let fake: FakeStatementApi;
beforeEach(async () => {
  fake = await FakeStatementApi.start();
});
afterEach(async () => {
  await fake.close();
});

function register(args: string[], env: NodeJS.ProcessEnv = {}) {
  return runDdbLake(['table', 'register', '--endpoint-url', server.endpoint, ...args], {
    ...BASE_ENV,
    ...env,
  });
}

/** Points the command at the fake workspace with its personal access token. */
function workspace(): NodeJS.ProcessEnv {
  return { DATABRICKS_HOST: fake.url, DATABRICKS_TOKEN: 'dapi-fake-pat' };
}

function submitted(): string[] {
  return fake.requestsTo(STATEMENTS, 'POST').map((r) => (r.body as { statement: string }).statement);
}

describe('ddb-lake table register (against a loopback fake of the Statement Execution API)', () => {
  it('is listed under table, and its --help says what it runs, gives an example and the prerequisites', async () => {
    const table = await runDdbLake(['table', '--help']);
    expect(table.stdout).toMatch(/^\s+register\b/m);
    const help = await runDdbLake(['table', 'register', '--help']);
    expect(help.code).toBe(0);
    for (const text of [
      '--delta',
      '--name',
      '--warehouse',
      'DATABRICKS_WAREHOUSE_ID',
      '--databricks-profile',
      '--dry-run',
      '--json',
      'USING DELTA LOCATION',
      'external location whose URL covers the --delta path',
      'CREATE EXTERNAL TABLE on the external location',
      'CAN USE on the SQL warehouse',
      '12.2',
      'ddb-lake table register --delta s3://lake/orders --name main.sales.orders',
    ]) {
      expect(help.stdout).toContain(text);
    }
  });

  it('--dry-run needs no workspace: it reads the table and prints the statement', async () => {
    const delta = await lakeTableOn(server, 'cli/orders-dry', { deletionVectors: true });
    const run = await register(['--delta', delta.url, '--name', 'main.sales.orders', '--dry-run']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(
      `CREATE TABLE IF NOT EXISTS ${NAME_SQL}\nUSING DELTA\nLOCATION 's3://lake/cli/orders-dry';`,
    );
    expect(run.stderr).toContain('Nothing was submitted (--dry-run)');
    expect(run.stderr).toContain('Databricks Runtime 12.2 LTS');
    expect(fake.requests).toEqual([]);
  });

  it('registers the table at --delta, then a rerun finds it and creates nothing (--json)', async () => {
    const delta = await lakeTableOn(server, 'cli/orders', { deletionVectors: false });
    fake.script(notFound(NAME_SQL)).script({}).script(detail(delta.url));
    const first = await register(
      ['--delta', delta.url, '--name', 'main.sales.orders', '--warehouse', 'fake-warehouse', '--json'],
      workspace(),
    );
    expect(first.stderr).not.toContain('ddb-lake:');
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({
      outcome: 'registered',
      name: NAME_SQL,
      location: 's3://lake/cli/orders',
      warehouseId: 'fake-warehouse',
      deletionVectors: false,
    });
    expect(submitted()).toEqual([
      `DESCRIBE DETAIL ${NAME_SQL}`,
      `CREATE TABLE IF NOT EXISTS ${NAME_SQL}\nUSING DELTA\nLOCATION 's3://lake/cli/orders'`,
      `DESCRIBE DETAIL ${NAME_SQL}`,
    ]);
    expect(fake.requests[0]?.authorization).toEqual({ scheme: 'Bearer', token: 'dapi-fake-pat' });

    fake.script(detail(delta.url));
    const again = await register(['--delta', delta.url, '--name', 'main.sales.orders'], {
      ...workspace(),
      DATABRICKS_WAREHOUSE_ID: 'fake-warehouse',
    });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('already names the Delta table at s3://lake/cli/orders');
    expect(submitted()).toHaveLength(4);
  });

  it('refuses, exit code 1, a name that a table at another location already has', async () => {
    const delta = await lakeTableOn(server, 'cli/orders-taken', { deletionVectors: false });
    fake.script(detail('s3://elsewhere/orders'));
    const run = await register(
      ['--delta', delta.url, '--name', 'main.sales.orders', '--warehouse', 'fake-warehouse'],
      workspace(),
    );
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('already exists in Unity Catalog at s3://elsewhere/orders');
    expect(submitted()).toEqual([`DESCRIBE DETAIL ${NAME_SQL}`]);
  });

  it('refuses a table ddb-lake did not write and a local folder, submitting nothing', async () => {
    const other = await otherTableOn(server, 'cli/not-ours');
    const notOurs = await register(
      ['--delta', other.url, '--name', 'main.sales.orders', '--warehouse', 'fake-warehouse'],
      workspace(),
    );
    expect(notOurs.code).toBe(1);
    expect(notOurs.stderr).toContain('was not written by ddb-lake apply');

    const folder = await mkdtemp(path.join(tmpdir(), 'ddb-lake-register-cli-'));
    try {
      const local = await register(['--delta', folder, '--name', 'main.sales.orders', '--dry-run']);
      expect(local.code).toBe(1);
      expect(local.stderr).toContain('is not on S3');
      expect(local.stderr).toContain('a local folder cannot be registered');
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
    expect(fake.requests).toEqual([]);
  });

  it('exits 2 for a malformed --name or a missing warehouse', async () => {
    const delta = await lakeTableOn(server, 'cli/orders-usage', { deletionVectors: false });
    const badName = await register(['--delta', delta.url, '--name', 'sales.orders', '--dry-run']);
    expect(badName.code).toBe(2);
    expect(badName.stderr).toContain('it has 2 parts, not 3');
    const noWarehouse = await register(['--delta', delta.url, '--name', 'main.sales.orders'], workspace());
    expect(noWarehouse.code).toBe(2);
    expect(noWarehouse.stderr).toContain('--warehouse');
    expect(fake.requests).toEqual([]);
  });
});
