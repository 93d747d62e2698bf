import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_REGION } from '../../src/local/dynamodb-local.ts';
import { S3_SERVER_CREDENTIALS, type S3Server, startS3Server } from '../../src/local/s3-server.ts';
import { expectParses } from '../databricks/grammar/databricks-sql-grammar.ts';
import {
  createStreamTable,
  dynamoDbClient,
  dynamodbEndpoint,
  type StreamTable,
} from '../support/local-stack.ts';
import { runDdbLake } from '../support/run-cli.ts';

/*
 * plan's Databricks section through the real program: DynamoDB Local for the table, an S3-compatible
 * server on loopback for the landing area and the Delta table (reached through AWS_ENDPOINT_URL_S3,
 * as plan's --endpoint-url is DynamoDB's). Both servers accept the same made-up keys.
 */

let s3: S3Server;
let table: StreamTable;
beforeAll(async () => {
  s3 = await startS3Server({ buckets: ['ddb-lake-data', 'ddb-lake-tables'] });
  table = await createStreamTable({ prefix: 'plan-databricks' });
  await dynamoDbClient().send(
    new PutItemCommand({ TableName: table.tableName, Item: { pk: { S: 'order#1' }, total: { N: '1.5' } } }),
  );
});
afterAll(async () => {
  await table.drop();
  await s3.stop();
});

function plan(...args: string[]) {
  return runDdbLake(
    [
      'plan',
      '--table',
      table.tableName,
      '--landing',
      's3://ddb-lake-data/landing',
      '--endpoint-url',
      dynamodbEndpoint(),
      '--no-write-report',
      ...args,
    ],
    {
      AWS_REGION: LOCAL_REGION,
      // s3rver checks signatures against its own keys; DynamoDB Local takes any.
      AWS_ACCESS_KEY_ID: S3_SERVER_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3_SERVER_CREDENTIALS.secretAccessKey,
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_ENDPOINT_URL_S3: s3.endpoint,
    },
  );
}

describe('ddb-lake plan --databricks-name', () => {
  it('prints the Databricks section: SQL that parses, grants on both paths, the estimate and its assumptions', async () => {
    const run = await plan(
      '--delta',
      's3://ddb-lake-tables/tables/orders',
      '--databricks-name',
      'main.sales.orders',
      '--databricks-principal',
      'etl@example.com',
      '--warehouse',
      'abc123',
      '--databricks-mb-per-second',
      '250',
    );
    expect(run.stderr).not.toContain('ddb-lake:');
    expect([0, 4]).toContain(run.code);
    const out = run.stdout;
    expect(out).toContain(
      'Databricks: Unity Catalog table `main`.`sales`.`orders`, apply running as etl@example.com',
    );
    expect(out).toContain('Catalog Explorer');
    expect(out).toContain("URL 's3://ddb-lake-data/landing'");
    expect(out).toContain("URL 's3://ddb-lake-tables/tables/orders'");
    expect(out).toContain(
      'GRANT CREATE EXTERNAL TABLE, READ FILES, WRITE FILES ON EXTERNAL LOCATION `ddb-lake-landing-ddb-lake-data` TO `etl@example.com`;',
    );
    expect(out).toContain(
      'GRANT CREATE EXTERNAL TABLE, READ FILES, WRITE FILES ON EXTERNAL LOCATION `ddb-lake-delta-ddb-lake-tables` TO `etl@example.com`;',
    );
    expect(out).toContain('SQL Warehouses > abc123 > Permissions');
    expect(out).toContain('250 MB/s');
    expect(out).toContain('--databricks-statement-seconds');
    expect(out).toMatch(/first load\s+~\d+ s/);

    const json = await plan(
      '--delta',
      's3://ddb-lake-tables/tables/orders',
      '--databricks-name',
      'main.sales.orders',
      '--json',
    );
    const report = JSON.parse(json.stdout);
    expect(report.databricks.principal).toEqual({ name: '<user-or-service-principal>', placeholder: true });
    expect(report.databricks.estimate.assumptions).toMatchObject({ mbPerSecond: 100, statementSeconds: 2 });
    expect(report.databricks.estimate.firstLoad.durationMs).toBeGreaterThan(0);
    expect(report.databricks.externalLocations.map((l: { url: string }) => l.url)).toEqual([
      's3://ddb-lake-data/landing',
      's3://ddb-lake-tables/tables/orders',
    ]);
    await expectParses(report.databricks.statements);
  });

  it('has no Databricks section without the flag, and refuses it without --delta on S3 (exit 2)', async () => {
    const without = JSON.parse((await plan('--json')).stdout);
    expect(without.databricks).toBeNull();
    const noDelta = await plan('--databricks-name', 'main.sales.orders');
    expect(noDelta.code).toBe(2);
    expect(noDelta.stderr).toContain('--databricks-name needs --delta s3://');
    const badName = await plan('--delta', 's3://ddb-lake-tables/t', '--databricks-name', 'orders');
    expect(badName.code).toBe(2);
    expect(badName.stderr).toContain('--databricks-name');
    const stray = await plan('--warehouse', 'abc123');
    expect(stray.code).toBe(2);
  });
});
