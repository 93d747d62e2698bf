import type { DynamoDBRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { runFolder } from '../../src/backfill/backfill-run.ts';
import { NATIVE_EXPORT_STATE_FOLDER as BACKFILL_NATIVE_EXPORT_STATE_FOLDER } from '../../src/backfill/native-export-intent.ts';
import { captureQuarantineKey } from '../../src/capture/capture-quarantine.ts';
import { captureReplayedFolder } from '../../src/capture/capture-quarantine-replay.ts';
import { checkpointKey } from '../../src/capture/checkpoint.ts';
import { changeFileKey } from '../../src/formats/change-file-key.ts';
import { ExportWriter } from '../../src/formats/export-writer.ts';
import { exportBucketPolicy, snapshotLifecycleRule } from '../../src/plan/bucket-policies.ts';
import { InvalidPlanOptionError } from '../../src/plan/errors.ts';
import { callerPolicy, type PolicyDocument, type PolicyStatement } from '../../src/plan/iam-policy.ts';
import { landingFoldersOf, storeLocationOf } from '../../src/plan/landing-location.ts';
import { BACKFILL_STRATEGIES } from '../../src/plan/strategy.ts';
import { recordGap, tempLanding } from './support.ts';

const TABLE_ARN = 'arn:aws:dynamodb:eu-west-1:111122223333:table/orders';
const TABLE = { arn: TABLE_ARN, partition: 'aws' };
const LANDING = s3Location('s3://lake-bucket/landing/area');
const FOLDERS = landingFoldersOf('orders');

function s3Location(url: string) {
  const location = storeLocationOf(url);
  if (location.kind !== 's3') throw new Error(`${url} is not on S3`);
  return location;
}

const resources = (statement: PolicyStatement): string[] =>
  typeof statement.Resource === 'string' ? [statement.Resource] : [...statement.Resource];
const actions = (policy: PolicyDocument): string[] => policy.Statement.flatMap((s) => [...s.Action]);

/** Every resource the policy names is the table, its streams or exports, or under the landing prefix. */
function expectOnlyTableStreamAndPrefix(policy: PolicyDocument, bucket: string, prefix: string): void {
  for (const statement of policy.Statement) {
    for (const resource of resources(statement)) {
      if (resource.startsWith('arn:aws:dynamodb:')) {
        expect([TABLE_ARN, `${TABLE_ARN}/stream/*`, `${TABLE_ARN}/export/*`]).toContain(resource);
      } else if (resource === `arn:aws:s3:::${bucket}`) {
        expect(statement.Action).toEqual(['s3:ListBucket']);
        const prefixes = statement.Condition?.['StringLike']?.['s3:prefix'] ?? [];
        expect(prefixes.length).toBeGreaterThan(0);
        for (const listed of prefixes) expect(listed.startsWith(prefix)).toBe(true);
      } else {
        expect(resource.startsWith(`arn:aws:s3:::${bucket}/${prefix}`)).toBe(true);
        expect(resource.endsWith('*')).toBe(true);
      }
    }
  }
}

describe('IAM policy for the caller', () => {
  for (const strategy of BACKFILL_STRATEGIES) {
    it(`for ${strategy}: valid JSON naming only the table, its stream and the landing prefix`, () => {
      const policy = callerPolicy({ table: TABLE, strategy, landing: LANDING, folders: FOLDERS });
      const text = JSON.stringify(policy, null, 2);
      expect(JSON.parse(text)).toEqual(policy);
      expect(policy.Version).toBe('2012-10-17');
      expect(new Set(policy.Statement.map((s) => s.Sid)).size).toBe(policy.Statement.length);
      expectOnlyTableStreamAndPrefix(policy, 'lake-bucket', 'landing/area/');
      // Capture and apply are always covered.
      expect(actions(policy)).toEqual(
        expect.arrayContaining([
          'dynamodb:DescribeTable',
          'dynamodb:GetRecords',
          'dynamodb:GetShardIterator',
          'dynamodb:DescribeStream',
          's3:PutObject',
          's3:GetObject',
          's3:ListBucket',
        ]),
      );
      expect(text).toContain('arn:aws:s3:::lake-bucket/landing/area/changes/orders/*');
      // Apply's gate reads the capture quarantine; the replay moves objects out of it.
      const read = policy.Statement.find((s) => s.Sid === 'DdbLakeLandingRead');
      expect(resources(read as PolicyStatement)).toContain(
        'arn:aws:s3:::lake-bucket/landing/area/_ddb_lake/quarantine/capture/orders/*',
      );
      const removes = policy.Statement.find((s) => s.Sid === 'DdbLakeLandingDelete');
      expect(resources(removes as PolicyStatement)).toContain(
        'arn:aws:s3:::lake-bucket/landing/area/_ddb_lake/quarantine/capture/orders/*',
      );
    });
  }

  it('grants each strategy its own calls and nothing of the others', () => {
    const of = (strategy: (typeof BACKFILL_STRATEGIES)[number]) =>
      actions(callerPolicy({ table: TABLE, strategy, landing: LANDING, folders: FOLDERS }));
    expect(of('export')).toEqual(
      expect.arrayContaining([
        'dynamodb:ExportTableToPointInTime',
        'dynamodb:DescribeExport',
        's3:PutObjectAcl',
      ]),
    );
    expect(of('export')).not.toContain('dynamodb:Scan');
    expect(of('scan')).toContain('dynamodb:Scan');
    expect(of('scan')).not.toContain('dynamodb:UpdateItem');
    expect(of('scan')).not.toContain('dynamodb:ExportTableToPointInTime');
    expect(of('touch')).toEqual(expect.arrayContaining(['dynamodb:Scan', 'dynamodb:UpdateItem']));
    const touch = callerPolicy({ table: TABLE, strategy: 'touch', landing: LANDING, folders: FOLDERS });
    // Touch writes no snapshot.
    expect(JSON.stringify(touch.Statement.find((s) => s.Sid === 'DdbLakeLandingWrite'))).not.toContain(
      'AWSDynamoDB',
    );
  });

  it('names no S3 resource for a local landing area, and the Delta table’s prefix when it is on S3', () => {
    const local = callerPolicy({
      table: TABLE,
      strategy: 'scan',
      landing: storeLocationOf('file:///tmp/landing'),
      folders: FOLDERS,
    });
    expect(actions(local).filter((a) => a.startsWith('s3:'))).toEqual([]);
    const withDelta = callerPolicy({
      table: TABLE,
      strategy: 'scan',
      landing: storeLocationOf('s3://lake-bucket'),
      folders: FOLDERS,
      delta: storeLocationOf('s3://lake-bucket/tables/orders'),
    });
    expect(JSON.stringify(withDelta)).toContain('arn:aws:s3:::lake-bucket/tables/orders/*');
    expect(JSON.stringify(withDelta)).toContain('arn:aws:s3:::lake-bucket/changes/orders/*');
    for (const statement of withDelta.Statement) {
      for (const resource of resources(statement)) {
        expect(resource === '*' || resource === 'arn:aws:s3:::*').toBe(false);
      }
    }
  });
});

describe('bucket policy and lifecycle rule', () => {
  it('lets the exporting account write only the snapshot folder of the landing prefix', () => {
    const policy = exportBucketPolicy({
      landing: LANDING,
      folders: FOLDERS,
      partition: 'aws',
      principal: '444455556666',
    });
    expect(JSON.parse(JSON.stringify(policy))).toEqual(policy);
    expect(policy.Statement).toHaveLength(1);
    const [statement] = policy.Statement;
    expect(statement?.Principal).toEqual({ AWS: 'arn:aws:iam::444455556666:root' });
    expect([...(statement?.Action ?? [])].sort()).toEqual([
      's3:AbortMultipartUpload',
      's3:PutObject',
      's3:PutObjectAcl',
    ]);
    expect(statement?.Resource).toBe('arn:aws:s3:::lake-bucket/landing/area/AWSDynamoDB/*');
    const role = 'arn:aws:iam::444455556666:role/exporter';
    expect(
      exportBucketPolicy({ landing: LANDING, folders: FOLDERS, partition: 'aws', principal: role })
        .Statement[0]?.Principal,
    ).toEqual({ AWS: role });
  });

  it('expires snapshot files under the landing prefix after the days given', () => {
    const rule = snapshotLifecycleRule(LANDING, FOLDERS, 45);
    expect(JSON.parse(JSON.stringify(rule))).toEqual(rule);
    expect(rule.Rules).toHaveLength(1);
    expect(rule.Rules[0]?.Filter).toEqual({ Prefix: 'landing/area/AWSDynamoDB/' });
    expect(rule.Rules[0]?.Expiration).toEqual({ Days: 45 });
    expect(rule.Rules[0]?.Status).toBe('Enabled');
    expect(() => snapshotLifecycleRule(LANDING, FOLDERS, 0)).toThrow(InvalidPlanOptionError);
  });
});

describe('landing folders named by the policies', () => {
  it('hold what capture, the backfills and the export writer write', async () => {
    const key = changeFileKey({
      table: 'orders',
      shard: 'shardId-1',
      firstSeq: '1',
      lastSeq: '2',
      firstTs: 0,
    });
    expect(key.startsWith(FOLDERS.changes)).toBe(true);
    expect(checkpointKey('orders', 'shardId-1').startsWith(FOLDERS.captureState)).toBe(true);
    const landing = await tempLanding();
    expect(
      (await recordGap(landing.store, 'orders', { from: 0, until: 1000 })).key.startsWith(
        FOLDERS.captureState,
      ),
    ).toBe(true);
    const record = { eventID: 'e1', dynamodb: { SequenceNumber: '100' } } as DynamoDBRecord;
    expect(captureQuarantineKey('orders', record).startsWith(FOLDERS.captureQuarantine)).toBe(true);
    expect(captureReplayedFolder('orders')).toBe(FOLDERS.captureReplayed);
    const writer = await ExportWriter.start(landing.store, { tableArn: TABLE_ARN, exportTime: new Date(0) });
    expect(writer.dir.startsWith(FOLDERS.exports)).toBe(true);
    await writer.abort();
    expect(runFolder('scan', 'run-1').startsWith(FOLDERS.scanState)).toBe(true);
    expect(runFolder('touch', 'run-1').startsWith(FOLDERS.touchState)).toBe(true);
    expect(FOLDERS.nativeExportState).toBe(BACKFILL_NATIVE_EXPORT_STATE_FOLDER);
  });
});
