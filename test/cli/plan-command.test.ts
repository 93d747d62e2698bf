import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_DYNAMODB_CREDENTIALS, LOCAL_REGION } from '../../src/local/dynamodb-local.ts';
import {
  createStreamTable,
  dynamoDbClient,
  dynamodbEndpoint,
  type StreamTable,
  uniqueTableName,
} from '../support/local-stack.ts';
import { runDdbLake } from '../support/run-cli.ts';

/** What the SDK's default chain needs to reach DynamoDB Local, whatever the machine's AWS setup. */
const AWS_ENV = {
  AWS_REGION: LOCAL_REGION,
  AWS_ACCESS_KEY_ID: LOCAL_DYNAMODB_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: LOCAL_DYNAMODB_CREDENTIALS.secretAccessKey,
  AWS_EC2_METADATA_DISABLED: 'true',
};

const NOT_READY = 4;

function plan(...args: string[]) {
  return runDdbLake(['plan', '--endpoint-url', dynamodbEndpoint(), ...args], AWS_ENV);
}

describe('ddb-lake plan', () => {
  let scratch: string;
  let table: StreamTable;
  let landing: string;
  beforeAll(async () => {
    scratch = await mkdtemp(path.join(tmpdir(), 'ddb-lake-plan-cli-'));
    landing = path.join(scratch, 'landing');
    table = await createStreamTable({ prefix: 'plan-cli' });
    for (let i = 0; i < 4; i++) {
      await dynamoDbClient().send(
        new PutItemCommand({
          TableName: table.tableName,
          Item: { pk: { S: `order#${i}` }, total: { N: `${i}.5` } },
        }),
      );
    }
    const captured = await runDdbLake(
      [
        'capture',
        '--table',
        table.tableName,
        '--landing',
        landing,
        '--endpoint-url',
        dynamodbEndpoint(),
        '--until-idle',
      ],
      AWS_ENV,
    );
    expect(captured.code).toBe(0);
  });
  afterAll(async () => {
    await table.drop();
    await rm(scratch, { recursive: true, force: true });
  });

  it('is listed in --help, and its own --help shows the not-ready exit code and the pricing assumptions', async () => {
    const top = await runDdbLake(['--help']);
    expect(top.stdout).toMatch(/^\s+plan\b/m);
    expect(top.stdout).toContain(`${NOT_READY}  not ready`);
    const run = await runDdbLake(['plan', '--help']);
    expect(run.code).toBe(0);
    for (const flag of [
      '--table',
      '--landing',
      '--export-time',
      '--margin',
      '--strategy',
      '--read-price',
      '--json',
    ]) {
      expect(run.stdout).toContain(flag);
    }
    expect(run.stdout).toContain('aws.amazon.com/dynamodb/pricing');
    expect(run.stdout).toContain('10 MB');
  });

  it('exits 4 right after capture started, with the reasons and the time from which it is ready, as one JSON document', async () => {
    const run = await plan('--table', table.tableName, '--landing', landing, '--json');
    expect(run.code).toBe(NOT_READY);
    const report = JSON.parse(run.stdout);
    expect(report.ready).toBe(false);
    expect(report.table).toMatchObject({ name: table.tableName, arn: table.tableArn, itemCount: 4 });
    expect(report.table.stream).toMatchObject({ enabled: true, viewType: 'NEW_AND_OLD_IMAGES' });
    expect(report.table.pitr.status).toBe('UNAVAILABLE');
    expect(report.strategy.strategy).toBe('scan');
    expect(report.blockers.map((b: { code: string }) => b.code)).toEqual(['STREAM_ENABLED_LATE']);
    expect(typeof report.blockers[0].action).toBe('string');
    expect(report.handoff.ok).toBe(false);
    expect(Date.parse(report.handoff.readyAt)).toBeGreaterThan(Date.now());
    expect(report.handoff.earliestChange.key).toMatch(new RegExp(`^changes/${table.tableName}/dt=`));
    for (const strategy of ['export', 'scan', 'touch']) {
      expect(report.costs[strategy]).toEqual({
        usd: expect.any(Number),
        durationMs: expect.any(Number),
        readUnits: expect.any(Number),
        writeUnits: expect.any(Number),
        basis: expect.any(String),
      });
    }
    expect(report.policies.iam.Version).toBe('2012-10-17');
    expect(report.policies.exportBucket.needed).toBe('no');
  });

  it('exits 0 for an export time the captured changes cover, printing the policies', async () => {
    const readyAt = new Date(Date.now() + 20 * 60_000).toISOString();
    const run = await plan('--table', table.tableName, '--landing', landing, '--export-time', readyAt);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('READY for scan');
    expect(run.stdout).toContain('IAM policy for the caller');
    expect(run.stdout).toContain(`${table.tableArn}/stream/*`);
    expect(existsSync(path.join(landing, '_ddb_lake/plan', table.tableName, 'last-plan.json'))).toBe(true);
  });

  it('--no-write-report leaves the landing area untouched and reports no report', async () => {
    const other = path.join(scratch, 'untouched');
    const run = await plan('--table', table.tableName, '--landing', other, '--no-write-report', '--json');
    expect(run.code).toBe(NOT_READY);
    expect(JSON.parse(run.stdout).report).toBeNull();
    expect(existsSync(other)).toBe(false);
  });

  it('exits 1 for a table that does not exist, naming it', async () => {
    const name = uniqueTableName('plan-cli-missing');
    const run = await plan('--table', name, '--landing', landing, '--json');
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(name);
    expect(JSON.parse(run.stdout).error.code).toBe('TABLE_NOT_FOUND');
  });

  it('exits 2 for a missing table flag or malformed values', async () => {
    expect((await plan('--landing', landing)).code).toBe(2);
    const margin = await plan('--table', table.tableName, '--landing', landing, '--margin', 'soon');
    expect(margin.code).toBe(2);
    expect(margin.stderr).toContain('--margin');
    expect((await plan('--table', table.tableName, '--landing', landing, '--strategy', 'copy')).code).toBe(2);
    expect((await plan('--table', table.tableName, '--landing', landing, '--read-percent', '0')).code).toBe(
      2,
    );
    expect(
      (await plan('--table', table.tableName, '--landing', landing, '--export-time', 'yesterday')).code,
    ).toBe(2);
  });
});
