import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { DynamoDBRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LAMBDA_FOLDER, LAMBDA_HANDLER } from '../../deploy/build-lambda.ts';
import { captureBatch } from '../../src/capture/capture-batch.ts';
import { openStore } from '../../src/storage/open-store.ts';
import {
  type Deployment,
  evaluate,
  iamMatches,
  roleStatements,
  type Template,
} from './support-cloudformation.ts';
import { keysUnder, tempLanding } from './support-stream.ts';

// The template cannot be deployed from here (no AWS account, no network): these tests read it as
// CloudFormation would, with its parameters filled in, and check what it grants and configures.

const DEPLOY = path.resolve(import.meta.dirname, '../../deploy');
const template = JSON.parse(await readFile(path.join(DEPLOY, 'template.json'), 'utf8')) as Template;

const STREAM_ARN = 'arn:aws:dynamodb:eu-west-1:111122223333:table/orders/stream/2026-01-01T00:00:00.000';
const deployment = (parameters: Record<string, string> = {}): Deployment => ({
  region: 'eu-west-1',
  accountId: '111122223333',
  partition: 'aws',
  parameters: {
    StreamArn: STREAM_ARN,
    LandingBucket: 'lake-landing',
    LandingPrefix: 'ddb-lake/prod',
    ...parameters,
  },
});

function resource(name: string, parameters?: Record<string, string>): Record<string, unknown> {
  return evaluate(template, deployment(parameters), template.Resources[name]?.Properties) as Record<
    string,
    unknown
  >;
}

/** A small Lambda-shaped batch of the `orders` table: one good record, one that goes to quarantine. */
function ordersBatch(): DynamoDBRecord[] {
  const record = (seq: string, total: string): DynamoDBRecord => ({
    eventID: `event-${seq}`,
    eventName: 'INSERT',
    eventSourceARN: STREAM_ARN,
    dynamodb: {
      ApproximateCreationDateTime: 1_767_225_600,
      Keys: { pk: { S: 'order#1' } },
      NewImage: { pk: { S: 'order#1' }, total: { N: total } },
      SequenceNumber: seq,
      StreamViewType: 'NEW_AND_OLD_IMAGES',
    },
  });
  return [record('100000000000000000001', '12.50'), record('100000000000000000002', 'not a number')];
}

describe('deploy/template.json', () => {
  it('is well-formed JSON that declares only what capture needs, and refers only to what it declares', () => {
    expect(template).toMatchObject({ AWSTemplateFormatVersion: '2010-09-09' });
    expect(
      Object.fromEntries(Object.entries(template.Resources).map(([name, value]) => [name, value.Type])),
    ).toEqual({
      CaptureFailureQueue: 'AWS::SQS::Queue',
      CaptureLogGroup: 'AWS::Logs::LogGroup',
      CaptureRole: 'AWS::IAM::Role',
      CaptureFunction: 'AWS::Lambda::Function',
      CaptureEventSourceMapping: 'AWS::Lambda::EventSourceMapping',
    });
    // Every reference resolves (the evaluator throws on an unknown Ref, parameter or condition).
    for (const prefix of ['ddb-lake/prod', '']) {
      const withPrefix = deployment({
        LandingPrefix: prefix,
        LandingKmsKeyArn: prefix === '' ? '' : 'arn:aws:kms:eu-west-1:111122223333:key/1',
      });
      evaluate(template, withPrefix, template.Resources);
      evaluate(template, withPrefix, template.Outputs);
    }
    const getAtts = JSON.stringify(template).match(/"Fn::GetAtt":\s*\["([^"]+)"/g) ?? [];
    expect(getAtts.length).toBeGreaterThan(0);
    for (const getAtt of getAtts) expect(Object.keys(template.Resources)).toContain(getAtt.split('"')[3]);

    const pattern = (name: string) => new RegExp(template.Parameters?.[name]?.AllowedPattern ?? '(?!)');
    expect(pattern('StreamArn').test(STREAM_ARN)).toBe(true);
    expect(pattern('StreamArn').test('arn:aws:dynamodb:eu-west-1:111122223333:table/orders')).toBe(false);
    expect(pattern('LandingPrefix').test('ddb-lake/prod')).toBe(true);
    expect(pattern('LandingPrefix').test('')).toBe(true);
    for (const bad of ['/ddb-lake', 'ddb-lake/', 'a//b'])
      expect(pattern('LandingPrefix').test(bad)).toBe(false);
  });

  it('runs the bundle build:lambda writes, with DDB_LAKE_LANDING the landing URL of bucket and prefix', () => {
    const fn = resource('CaptureFunction') as {
      Handler: string;
      Code: string;
      Runtime: string;
      Environment: { Variables: Record<string, string> };
    };
    expect(fn.Handler).toBe(LAMBDA_HANDLER);
    expect(path.resolve(DEPLOY, fn.Code)).toBe(DEFAULT_LAMBDA_FOLDER);
    expect(fn.Runtime).toBe('nodejs22.x');
    expect(fn.Environment.Variables['DDB_LAKE_LANDING']).toBe('s3://lake-landing/ddb-lake/prod');
    expect(openStore(fn.Environment.Variables['DDB_LAKE_LANDING']!).url).toBe(
      's3://lake-landing/ddb-lake/prod',
    );
    const atRoot = resource('CaptureFunction', { LandingPrefix: '' }) as typeof fn;
    expect(atRoot.Environment.Variables['DDB_LAKE_LANDING']).toBe('s3://lake-landing');
  });

  it('lets the role write only under its table’s change and quarantine prefixes, and read only its stream', () => {
    const statements = roleStatements(template, deployment(), 'CaptureRole');
    expect(statements.every((statement) => statement.Effect === 'Allow')).toBe(true);
    const actions = statements.flatMap((statement) => statement.Action);
    for (const action of actions) expect(action).not.toContain('*');
    expect(new Set(actions)).toEqual(
      new Set([
        'dynamodb:DescribeStream',
        'dynamodb:GetRecords',
        'dynamodb:GetShardIterator',
        'dynamodb:ListStreams',
        's3:PutObject',
        'sqs:SendMessage',
        'logs:CreateLogStream',
        'logs:PutLogEvents',
      ]),
    );
    const resourcesOf = (prefix: string) =>
      statements.flatMap((statement) =>
        statement.Action.some((action) => action.startsWith(prefix)) ? statement.Resource : [],
      );
    expect(resourcesOf('s3:')).toEqual([
      'arn:aws:s3:::lake-landing/ddb-lake/prod/changes/orders/*',
      'arn:aws:s3:::lake-landing/ddb-lake/prod/_ddb_lake/quarantine/capture/orders/*',
    ]);
    expect(resourcesOf('dynamodb:')).toEqual([
      STREAM_ARN,
      'arn:aws:dynamodb:eu-west-1:111122223333:table/orders/stream/*',
    ]);
    expect(resourcesOf('sqs:')).toEqual(['<GetAtt:CaptureFailureQueue.Arn>']);
    expect(resourcesOf('logs:')).toEqual(['<GetAtt:CaptureLogGroup.Arn>']);

    const s3 = resourcesOf('s3:');
    const allowed = (arn: string) => s3.some((pattern) => iamMatches(pattern, arn));
    for (const outside of [
      'arn:aws:s3:::lake-landing/ddb-lake/prod/changes/orders2/dt=2026-01-01/x.jsonl.gz',
      'arn:aws:s3:::lake-landing/ddb-lake/prod/changes/other/dt=2026-01-01/x.jsonl.gz',
      'arn:aws:s3:::lake-landing/ddb-lake/prod/AWSDynamoDB/01795392000000-5a1c9e20/manifest-summary.json',
      'arn:aws:s3:::lake-landing/ddb-lake/prod/_ddb_lake/checkpoints/orders.json',
      'arn:aws:s3:::lake-landing/changes/orders/dt=2026-01-01/x.jsonl.gz',
      'arn:aws:s3:::other-bucket/ddb-lake/prod/changes/orders/x.jsonl.gz',
    ]) {
      expect(allowed(outside), outside).toBe(false);
    }
    const dynamodb = resourcesOf('dynamodb:');
    expect(
      dynamodb.some((pattern) =>
        iamMatches(pattern, 'arn:aws:dynamodb:eu-west-1:111122223333:table/other/stream/x'),
      ),
    ).toBe(false);

    const statementsAtRoot = roleStatements(template, deployment({ LandingPrefix: '' }), 'CaptureRole');
    expect(
      statementsAtRoot.flatMap((statement) =>
        statement.Action.includes('s3:PutObject') ? statement.Resource : [],
      ),
    ).toEqual([
      'arn:aws:s3:::lake-landing/changes/orders/*',
      'arn:aws:s3:::lake-landing/_ddb_lake/quarantine/capture/orders/*',
    ]);
  });

  it('grants the KMS key only when one is given, and only that key', () => {
    const kmsActions = (statements: ReturnType<typeof roleStatements>) =>
      statements.filter((statement) => statement.Action.some((action) => action.startsWith('kms:')));
    expect(kmsActions(roleStatements(template, deployment(), 'CaptureRole'))).toEqual([]);
    const key = 'arn:aws:kms:eu-west-1:111122223333:key/0a1b2c3d';
    expect(
      kmsActions(roleStatements(template, deployment({ LandingKmsKeyArn: key }), 'CaptureRole')),
    ).toEqual([{ Effect: 'Allow', Action: ['kms:GenerateDataKey'], Resource: [key] }]);
  });

  it('allows every key capture writes, change files and quarantine alike', async () => {
    const { store } = await tempLanding();
    const result = await captureBatch({ Records: ordersBatch() }, { store });
    expect(result.files).toHaveLength(1);
    expect(result.quarantined).toHaveLength(1);
    const written = await keysUnder(store, '');
    expect(written).toHaveLength(2);
    for (const prefix of ['ddb-lake/prod', '']) {
      const statements = roleStatements(template, deployment({ LandingPrefix: prefix }), 'CaptureRole');
      const s3 = statements.flatMap((statement) =>
        statement.Action.includes('s3:PutObject') ? statement.Resource : [],
      );
      for (const key of written) {
        const arn = `arn:aws:s3:::lake-landing/${prefix === '' ? '' : `${prefix}/`}${key}`;
        expect(
          s3.some((pattern) => iamMatches(pattern, arn)),
          arn,
        ).toBe(true);
      }
    }
  });

  it('maps the stream with partial batch responses, bisection, bounded retries and a failure queue, from TRIM_HORIZON', () => {
    const mapping = resource('CaptureEventSourceMapping');
    expect(mapping).toMatchObject({
      EventSourceArn: STREAM_ARN,
      FunctionName: '<Ref:CaptureFunction>',
      StartingPosition: 'TRIM_HORIZON',
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BisectBatchOnFunctionError: true,
      ParallelizationFactor: 1,
      DestinationConfig: { OnFailure: { Destination: '<GetAtt:CaptureFailureQueue.Arn>' } },
    });
    const retries = template.Parameters?.['MaximumRetryAttempts'];
    expect(Number(mapping['MaximumRetryAttempts'])).toBeGreaterThan(0);
    // -1 would mean "retry until the records expire": the bound must be a real number of retries.
    expect(retries?.MinValue).toBeGreaterThanOrEqual(0);
    expect(retries?.MaxValue).toBeLessThanOrEqual(10_000);
    expect(template.Parameters?.['BatchSize']?.MaxValue).toBeLessThanOrEqual(10_000);
  });
});
