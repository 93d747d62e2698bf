import type { DynamoDBRecord } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import { captureBatch } from '../../src/capture/capture-batch.ts';
import type { CaptureLogEntry } from '../../src/capture/capture-log.ts';
import { CAPTURE_METRICS } from '../../src/capture/capture-metrics.ts';
import { createCaptureHandler } from '../../src/capture/lambda-handler.ts';
import { tempLanding } from './support-stream.ts';

/*
 * The capture Lambda's log lines carry CloudWatch metrics in the Embedded Metric Format. CloudWatch
 * cannot be reached from here, so each line is checked against the format's specification (its
 * rules and its JSON schema, "Specification: Embedded metric format" in the CloudWatch user guide).
 */

const STREAM_ARN = 'arn:aws:dynamodb:eu-west-1:111122223333:table/orders/stream/2026-01-01T00:00:00.000';
/** ApproximateCreationDateTime of the records, epoch seconds. */
const CREATED = 1_767_225_600;
const SECRET = 'customer-secret-value';

function record(
  seq: string,
  options: { created?: number; total?: string; arn?: string } = {},
): DynamoDBRecord {
  return {
    eventID: `event-${seq}`,
    eventName: 'INSERT',
    eventSourceARN: options.arn ?? STREAM_ARN,
    dynamodb: {
      ...(options.created === undefined ? {} : { ApproximateCreationDateTime: options.created }),
      Keys: { pk: { S: SECRET } },
      NewImage: { pk: { S: SECRET }, total: { N: options.total ?? '12.50' } },
      SequenceNumber: seq,
      StreamViewType: 'NEW_AND_OLD_IMAGES',
    },
  };
}

const UNITS = new Set(
  'Seconds Microseconds Milliseconds Bytes Kilobytes Megabytes Gigabytes Terabytes Bits Kilobits Megabits Gigabits Terabits Percent Count Bytes/Second Kilobytes/Second Megabytes/Second Gigabytes/Second Terabytes/Second Bits/Second Kilobits/Second Megabits/Second Gigabits/Second Terabits/Second Count/Second None'.split(
    ' ',
  ),
);

/** The specification's rules for one EMF document; returns what breaks them (empty when valid). */
function emfViolations(line: string): string[] {
  const problems: string[] = [];
  const root = JSON.parse(line) as Record<string, unknown>;
  if (typeof root !== 'object' || root === null || Array.isArray(root)) return ['the root is not an object'];
  if (line.trim() !== line || line.includes('\n')) problems.push('data around the JSON object');
  const aws = root['_aws'] as Record<string, unknown> | undefined;
  if (typeof aws !== 'object' || aws === null) return ['no _aws object'];
  const extra = Object.keys(aws).filter((key) => key !== 'Timestamp' && key !== 'CloudWatchMetrics');
  if (extra.length > 0) problems.push(`_aws has members the specification does not define: ${extra}`);
  if (!Number.isSafeInteger(aws['Timestamp'])) problems.push('Timestamp is not an integer of milliseconds');
  const directives = aws['CloudWatchMetrics'];
  if (!Array.isArray(directives)) return [...problems, 'CloudWatchMetrics is not an array'];
  for (const directive of directives as Record<string, unknown>[]) {
    const namespace = directive['Namespace'];
    if (typeof namespace !== 'string' || namespace.length < 1 || namespace.length > 255)
      problems.push('Namespace is not a string of 1 to 255 characters');
    const dimensions = directive['Dimensions'];
    if (!Array.isArray(dimensions) || dimensions.length < 1)
      problems.push('Dimensions is not a non-empty array');
    for (const set of (dimensions ?? []) as unknown[]) {
      if (!Array.isArray(set) || set.length > 30)
        problems.push('a DimensionSet is not an array of at most 30 keys');
      for (const key of set as unknown[]) {
        if (typeof key !== 'string' || typeof root[key] !== 'string')
          problems.push(`dimension ${String(key)} has no string target member`);
      }
    }
    const metrics = directive['Metrics'];
    if (!Array.isArray(metrics) || metrics.length > 100)
      problems.push('Metrics is not an array of at most 100');
    for (const metric of (metrics ?? []) as Record<string, unknown>[]) {
      const name = metric['Name'];
      if (typeof name !== 'string' || name.length < 1 || name.length > 255)
        problems.push('a metric Name is bad');
      else if (typeof root[name] !== 'number' || !Number.isFinite(root[name]))
        problems.push(`metric ${name} has no numeric target member`);
      if (metric['Unit'] !== undefined && !UNITS.has(metric['Unit'] as string))
        problems.push(`unit ${String(metric['Unit'])} is not a CloudWatch unit`);
      const extraMembers = Object.keys(metric).filter(
        (key) => !['Name', 'Unit', 'StorageResolution'].includes(key),
      );
      if (extraMembers.length > 0) problems.push(`a MetricDefinition has extra members ${extraMembers}`);
    }
  }
  return problems;
}

const saved = process.env['DDB_LAKE_LANDING'];
afterEach(() => {
  if (saved === undefined) delete process.env['DDB_LAKE_LANDING'];
  else process.env['DDB_LAKE_LANDING'] = saved;
});

/** Runs a fresh handler with the clock at `now` over `records`; returns its log lines, parsed. */
async function handle(records: DynamoDBRecord[], now: number) {
  const { folder } = await tempLanding();
  process.env['DDB_LAKE_LANDING'] = folder;
  const lines: string[] = [];
  const handler = createCaptureHandler({ now: () => now, write: (line) => lines.push(line) });
  let error: unknown;
  try {
    await handler({ Records: records });
  } catch (thrown) {
    error = thrown;
  }
  return { lines: lines.map((line) => line.replace(/\n$/, '')), error };
}

describe('the capture Lambda’s metrics (CloudWatch embedded metric format)', () => {
  it('each batch publishes records, bytes, quarantined records and lag in one valid EMF line, timed by the clock given', async () => {
    const now = CREATED * 1000 + 90_000;
    const { lines } = await handle(
      [
        record('100000000000000000001', { created: CREATED - 60 }),
        record('100000000000000000002', { created: CREATED, total: 'not a number' }),
        record('100000000000000000003', { created: CREATED - 30 }),
      ],
      now,
    );
    const withMetrics = lines.filter((line) => line.includes('"_aws"'));
    expect(withMetrics).toHaveLength(1);
    const line = withMetrics[0]!;
    expect(emfViolations(line)).toEqual([]);
    const document = JSON.parse(line);
    expect(document).toMatchObject({
      event: 'batch-captured',
      time: new Date(now).toISOString(),
      _aws: {
        Timestamp: now,
        CloudWatchMetrics: [
          {
            Namespace: 'ddb-lake',
            Dimensions: [['TableName']],
            Metrics: [
              { Name: 'StreamRecords', Unit: 'Count' },
              { Name: 'ChangeFileBytes', Unit: 'Bytes' },
              { Name: 'QuarantinedRecords', Unit: 'Count' },
              { Name: 'CaptureLag', Unit: 'Milliseconds' },
            ],
          },
        ],
      },
      TableName: 'orders',
      StreamRecords: 3,
      QuarantinedRecords: 1,
      // The newest record (the quarantined one, created at CREATED) sets the lag, not the last one.
      CaptureLag: 90_000,
    });
    expect(document.ChangeFileBytes).toBe(document.bytes);
    expect(document.ChangeFileBytes).toBeGreaterThan(0);
    expect(lines.join('\n')).not.toContain(SECRET);
  });

  it('a batch refused as a whole still publishes its lag, so a stuck shard shows how far behind it falls', async () => {
    const now = CREATED * 1000 + 3_600_000;
    const { lines, error } = await handle(
      [
        record('100000000000000000009', { created: CREATED }),
        record('100000000000000000001', { created: CREATED }),
      ],
      now,
    );
    expect(error).toMatchObject({ code: 'INVALID_CAPTURE_BATCH' });
    expect(lines).toHaveLength(1);
    expect(emfViolations(lines[0]!)).toEqual([]);
    const document = JSON.parse(lines[0]!);
    expect(document).toMatchObject({ event: 'batch-failed', table: 'orders', lagMs: 3_600_000 });
    expect(document._aws.CloudWatchMetrics[0].Metrics).toEqual([
      { Name: 'CaptureLag', Unit: 'Milliseconds' },
    ]);
    expect(document[CAPTURE_METRICS.captureLag.name]).toBe(3_600_000);
  });

  it('publishes no lag for a batch whose records carry no creation time, and never a negative one', async () => {
    const { lines } = await handle([record('100000000000000000001')], CREATED * 1000);
    const document = JSON.parse(lines.find((line) => line.includes('"_aws"'))!);
    expect(emfViolations(JSON.stringify(document))).toEqual([]);
    expect(document).toMatchObject({ StreamRecords: 1, QuarantinedRecords: 1, ChangeFileBytes: 0 });
    expect(document).not.toHaveProperty('CaptureLag');

    const entries: CaptureLogEntry[] = [];
    const { store } = await tempLanding();
    // A clock behind the records' time (skew) gives lag 0, not a negative lag.
    await captureBatch(
      { Records: [record('100000000000000000001', { created: CREATED })] },
      { store, log: (entry) => entries.push(entry), now: () => CREATED * 1000 - 5000 },
    );
    expect(entries.at(-1)).toMatchObject({ event: 'batch-captured', lagMs: 0 });
  });
});
