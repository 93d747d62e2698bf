import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { DynamoDBRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LAMBDA_FOLDER, LAMBDA_HANDLER } from '../../deploy/build-lambda.ts';
import { captureBatch } from '../../src/capture/capture-batch.ts';
import { CAPTURE_METRICS, type EmbeddedMetrics } from '../../src/capture/capture-metrics.ts';
import { createCaptureHandler } from '../../src/capture/lambda-handler.ts';
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
const TOPIC_ARN = 'arn:aws:sns:eu-west-1:111122223333:ddb-lake-alarms';
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
      FailureQueueAlarm: 'AWS::CloudWatch::Alarm',
      QuarantineAlarm: 'AWS::CloudWatch::Alarm',
      LagAlarm: 'AWS::CloudWatch::Alarm',
    });
    // Every reference resolves (the evaluator throws on an unknown Ref, parameter or condition).
    for (const prefix of ['ddb-lake/prod', '']) {
      const withPrefix = deployment({
        LandingPrefix: prefix,
        LandingKmsKeyArn: prefix === '' ? '' : 'arn:aws:kms:eu-west-1:111122223333:key/1',
        AlarmTopicArn: prefix === '' ? '' : TOPIC_ARN,
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

  it('alarms when the failure queue holds a message: ApproximateNumberOfMessagesVisible above 0', () => {
    expect(resource('FailureQueueAlarm')).toMatchObject({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: '<GetAtt:CaptureFailureQueue.QueueName>' }],
      Statistic: 'Maximum',
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
    });
  });

  it('alarms on exactly the metrics the handler embeds in its log: namespace, dimension, names and units', async () => {
    const { folder } = await tempLanding();
    const saved = process.env['DDB_LAKE_LANDING'];
    process.env['DDB_LAKE_LANDING'] = folder;
    const lines: string[] = [];
    // The batch's records were created at 1_767_225_600 s; the clock says 20 minutes later.
    const now = 1_767_225_600_000 + 20 * 60_000;
    try {
      const handler = createCaptureHandler({ now: () => now, write: (line) => lines.push(line) });
      await handler({ Records: ordersBatch() });
    } finally {
      if (saved === undefined) delete process.env['DDB_LAKE_LANDING'];
      else process.env['DDB_LAKE_LANDING'] = saved;
    }
    const withMetrics = lines.map((line) => JSON.parse(line)).filter((entry) => '_aws' in entry);
    expect(withMetrics).toHaveLength(1);
    const emitted = withMetrics[0] as Record<string, unknown> & { _aws: EmbeddedMetrics['_aws'] };
    expect(emitted['event']).toBe('batch-captured');
    const directive = emitted._aws.CloudWatchMetrics[0]!;

    const alarmed = [
      { alarm: 'QuarantineAlarm', metric: CAPTURE_METRICS.quarantinedRecords },
      { alarm: 'LagAlarm', metric: CAPTURE_METRICS.captureLag },
    ];
    for (const { alarm, metric } of alarmed) {
      const properties = resource(alarm) as {
        Namespace?: string;
        MetricName?: string;
        Dimensions?: { Name: string; Value: string }[];
        Metrics?: { MetricStat?: { Metric: typeof properties; Unit?: string } }[];
      };
      const stat = properties.Metrics?.find((query) => query.MetricStat !== undefined)?.MetricStat;
      const watched = stat?.Metric ?? properties;
      expect(watched.Namespace, alarm).toBe(directive.Namespace);
      expect(watched.MetricName, alarm).toBe(metric.name);
      expect(directive.Metrics, alarm).toContainEqual({ Name: metric.name, Unit: metric.unit });
      if (stat?.Unit !== undefined) expect(stat.Unit, alarm).toBe(metric.unit);
      // The alarm's dimension is the one dimension set of the line, with the value the line carries.
      expect(directive.Dimensions).toEqual([[CAPTURE_METRICS.dimension]]);
      expect(watched.Dimensions, alarm).toEqual([
        { Name: CAPTURE_METRICS.dimension, Value: emitted[CAPTURE_METRICS.dimension] },
      ]);
    }
    expect(emitted[CAPTURE_METRICS.dimension]).toBe('orders');
    expect(emitted[CAPTURE_METRICS.quarantinedRecords.name]).toBe(1);
    expect(emitted[CAPTURE_METRICS.captureLag.name]).toBe(20 * 60_000);
  });

  it('fires the quarantine alarm on any quarantined record and the lag alarm above LagAlarmMinutes (default 15)', () => {
    expect(resource('QuarantineAlarm')).toMatchObject({
      Statistic: 'Sum',
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
    });
    const lag = resource('LagAlarm') as {
      Metrics: { Id: string; Expression?: string; ReturnData: boolean; MetricStat?: { Stat: string } }[];
      Threshold: string;
      ComparisonOperator: string;
    };
    expect(template.Parameters?.['LagAlarmMinutes']?.Default).toBe(15);
    expect(lag.Threshold).toBe('15');
    expect(lag.ComparisonOperator).toBe('GreaterThanThreshold');
    // The metric is in milliseconds and the parameter in minutes: the alarm compares lag / 60000.
    const [raw, minutes] = lag.Metrics;
    expect(raw).toMatchObject({ Id: 'lag', ReturnData: false, MetricStat: { Stat: 'Maximum' } });
    expect(minutes).toMatchObject({ Expression: 'lag / 60000', ReturnData: true });
    expect(CAPTURE_METRICS.captureLag.unit).toBe('Milliseconds');
    expect((resource('LagAlarm', { LagAlarmMinutes: '45' }) as typeof lag).Threshold).toBe('45');
  });

  it('notifies the SNS topic AlarmTopicArn names, and no one when it is empty', () => {
    const alarms = ['FailureQueueAlarm', 'QuarantineAlarm', 'LagAlarm'];
    for (const alarm of alarms) {
      const silent = resource(alarm);
      expect(silent, alarm).not.toHaveProperty('AlarmActions');
      expect(silent, alarm).not.toHaveProperty('OKActions');
      expect(resource(alarm, { AlarmTopicArn: TOPIC_ARN }), alarm).toMatchObject({
        AlarmActions: [TOPIC_ARN],
        OKActions: [TOPIC_ARN],
      });
    }
    const pattern = new RegExp(template.Parameters?.['AlarmTopicArn']?.AllowedPattern ?? '(?!)');
    expect(pattern.test('')).toBe(true);
    expect(pattern.test(TOPIC_ARN)).toBe(true);
    expect(pattern.test('arn:aws:sqs:eu-west-1:111122223333:queue')).toBe(false);
  });
});
