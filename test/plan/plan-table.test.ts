import {
  CreateTableCommand,
  DeleteTableCommand,
  DescribeContinuousBackupsCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  PutItemCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, describe, expect, it } from 'vitest';
import { storeBatchRecord } from '../../src/apply/batch-record.ts';
import { writeTakenIndex } from '../../src/apply/taken-index.ts';
import { captureQuarantineKey } from '../../src/capture/capture-quarantine.ts';
import { writeCheckpoint } from '../../src/capture/checkpoint.ts';
import { pollStream } from '../../src/capture/stream-poller.ts';
import { streamsApiOf } from '../../src/capture/stream-poller-api.ts';
import { tableStream } from '../../src/capture/stream-poller-table.ts';
import { S3_SERVER_CREDENTIALS, type S3Server, startS3Server } from '../../src/local/s3-server.ts';
import { TableNotFoundError } from '../../src/plan/errors.ts';
import { HandoffProblemCode } from '../../src/plan/handoff-check.ts';
import { planTable } from '../../src/plan/plan-table.ts';
import { PlanFindingCode } from '../../src/plan/readiness.ts';
import { readTableFacts } from '../../src/plan/table-facts.ts';
import type { ObjectStore } from '../../src/storage/object-store.ts';
import { openStore } from '../../src/storage/open-store.ts';
import { FaultyStore } from '../capture/support-faulty-store.ts';
import { newStreamsClient } from '../support/dynamodb-streams.ts';
import {
  createStreamTable,
  dynamoDbClient,
  dynamodbEndpoint,
  newDynamoDbClient,
  type StreamTable,
  uniqueTableName,
} from '../support/local-stack.ts';
import { MINUTE, tempLanding } from './support.ts';

const dropped: (() => Promise<void>)[] = [];
const clients: DynamoDBClient[] = [];
afterAll(async () => {
  await Promise.all(dropped.map((drop) => drop()));
  for (const client of clients) client.destroy();
});

async function streamTable(options: Parameters<typeof createStreamTable>[0] = {}): Promise<StreamTable> {
  const table = await createStreamTable({ prefix: 'plan', ...options });
  dropped.push(() => table.drop());
  return table;
}

async function tableWithoutStream(): Promise<string> {
  const name = uniqueTableName('plan-nostream');
  await dynamoDbClient().send(
    new CreateTableCommand({
      TableName: name,
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  await waitUntilTableExists(
    { client: dynamoDbClient(), maxWaitTime: 30, minDelay: 1, maxDelay: 1 },
    { TableName: name },
  );
  dropped.push(async () => {
    await dynamoDbClient().send(new DeleteTableCommand({ TableName: name }));
  });
  return name;
}

async function putItems(table: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    await dynamoDbClient().send(
      new PutItemCommand({ TableName: table, Item: { pk: { S: `order#${i}` }, total: { N: `${i}.95` } } }),
    );
  }
}

/** Runs the real stream poller over the table's stream until it is idle: capture, as `ddb-lake capture` does. */
async function capture(table: StreamTable, store: ObjectStore): Promise<void> {
  const streams = newStreamsClient(dynamodbEndpoint());
  try {
    await pollStream({
      stream: await tableStream(dynamoDbClient(), table.tableName),
      streams: streamsApiOf(streams),
      store,
      untilIdle: true,
      pollIntervalMs: 100,
    });
  } finally {
    streams.destroy();
  }
}

/**
 * A client whose DescribeContinuousBackups answers `answer` (DynamoDB Local has no point-in-time
 * recovery), while DescribeTable still goes to DynamoDB Local through a second, unmocked client.
 */
function clientWithPitr(answer: () => unknown): DynamoDBClient {
  const client = newDynamoDbClient();
  const real = newDynamoDbClient();
  clients.push(client, real);
  const mock = mockClient(client);
  mock.on(DescribeTableCommand).callsFake((input) => real.send(new DescribeTableCommand(input)));
  mock.on(DescribeContinuousBackupsCommand).callsFake(async () => answer());
  return client;
}

const pitrEnabled = () => ({
  ContinuousBackupsDescription: {
    ContinuousBackupsStatus: 'ENABLED',
    PointInTimeRecoveryDescription: {
      PointInTimeRecoveryStatus: 'ENABLED',
      EarliestRestorableDateTime: new Date('2026-06-01T00:00:00Z'),
      LatestRestorableDateTime: new Date('2026-06-10T11:55:00Z'),
      RecoveryPeriodInDays: 35,
    },
  },
});

describe('table facts', () => {
  it('reads item count, size, stream and view type from DynamoDB Local, where point-in-time recovery is unavailable', async () => {
    const table = await streamTable();
    await putItems(table.tableName, 7);
    const facts = await readTableFacts(dynamoDbClient(), table.tableName);
    expect(facts.name).toBe(table.tableName);
    expect(facts.arn).toBe(table.tableArn);
    expect(facts.itemCount).toBe(7);
    expect(facts.sizeBytes).toBeGreaterThan(0);
    expect(facts.billingMode).toBe('PAY_PER_REQUEST');
    expect(facts.stream).toMatchObject({
      enabled: true,
      viewType: 'NEW_AND_OLD_IMAGES',
      arn: table.streamArn,
    });
    expect(Date.parse(facts.stream.enabledAt ?? '')).toBeGreaterThan(Date.now() - 10 * MINUTE);
    expect(facts.pitr.status).toBe('UNAVAILABLE');
    expect(facts.pitr.note).toContain('DynamoDB Local');
  });

  it('mocked API: reads the point-in-time recovery window from DescribeContinuousBackups', async () => {
    const table = await streamTable();
    const facts = await readTableFacts(clientWithPitr(pitrEnabled), table.tableName);
    expect(facts.pitr).toEqual({
      status: 'ENABLED',
      earliestRestorableTime: '2026-06-01T00:00:00.000Z',
      latestRestorableTime: '2026-06-10T11:55:00.000Z',
      recoveryPeriodInDays: 35,
      note: null,
    });
    expect(facts.stream.enabled).toBe(true);
  });

  it('mocked API: a DescribeContinuousBackups refused for access leaves the status unknown, saying which permission', async () => {
    const table = await streamTable();
    const refused = () => {
      throw Object.assign(new Error('not authorized to perform: dynamodb:DescribeContinuousBackups'), {
        name: 'AccessDeniedException',
        $metadata: { httpStatusCode: 400 },
      });
    };
    const facts = await readTableFacts(clientWithPitr(refused), table.tableName);
    expect(facts.pitr.status).toBe('UNKNOWN');
    expect(facts.pitr.note).toContain('dynamodb:DescribeContinuousBackups');
  });

  it('refuses a table that does not exist, naming it', async () => {
    const name = uniqueTableName('plan-missing');
    const error = await readTableFacts(dynamoDbClient(), name).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TableNotFoundError);
    expect((error as Error).message).toContain(name);
    expect((error as Error).message).toContain('--region');
  });
});

describe('plan of a table', () => {
  it('is ready once capture has run for the margin, and writes its report to the landing area', async () => {
    const table = await streamTable();
    await putItems(table.tableName, 5);
    const landing = await tempLanding();
    await capture(table, landing.store);
    // DynamoDB Local stamps records to the minute: 20 minutes on, the captured changes are 15 minutes old.
    const later = new Date(Date.now() + 20 * MINUTE);
    const plan = await planTable({
      dynamodb: dynamoDbClient(),
      landing: landing.store,
      table: table.tableName,
      now: () => later,
    });
    expect(plan.blockers).toEqual([]);
    expect(plan.ready).toBe(true);
    expect(plan.strategy.strategy).toBe('scan');
    expect(plan.handoff.ok).toBe(true);
    expect(plan.handoff.exportTime).toBe(later.toISOString());
    expect(plan.capture.checkpoints).toBeGreaterThan(0);
    expect(plan.report).toEqual({ key: `_ddb_lake/plan/${table.tableName}/last-plan.json`, written: true });
    const stored = JSON.parse(
      Buffer.from(await landing.store.getBytes(plan.report?.key ?? '')).toString('utf8'),
    );
    expect(stored.ready).toBe(true);
    expect(stored.table.arn).toBe(table.tableArn);
    expect(plan.policies.snapshotLifecycle).toBeNull();
    expect(JSON.stringify(plan.policies.iam)).toContain(`${table.tableArn}/stream/*`);
  });

  it('is not ready right after the stream was enabled and capture started, and says from when it will be', async () => {
    const table = await streamTable();
    await putItems(table.tableName, 3);
    const landing = await tempLanding();
    await capture(table, landing.store);
    const plan = await planTable({
      dynamodb: dynamoDbClient(),
      landing: landing.store,
      table: table.tableName,
    });
    expect(plan.ready).toBe(false);
    expect(plan.blockers.map((b) => b.code)).toEqual([PlanFindingCode.streamEnabledLate]);
    expect(plan.handoff.problems[0]?.code).toBe(HandoffProblemCode.streamEnabledLate);
    const readyAt = plan.handoff.readyAt ?? 'no time';
    expect(Date.parse(readyAt)).toBeGreaterThan(Date.now());
    expect(plan.blockers[0]?.action).toContain(readyAt);
  });

  it('is not ready without a stream, saying how to enable one with new and old images and to start capture', async () => {
    const name = await tableWithoutStream();
    const landing = await tempLanding();
    const plan = await planTable({ dynamodb: dynamoDbClient(), landing: landing.store, table: name });
    expect(plan.ready).toBe(false);
    expect(plan.blockers.map((b) => b.code)).toEqual([
      PlanFindingCode.streamDisabled,
      PlanFindingCode.noCapture,
    ]);
    expect(plan.blockers[0]?.action).toContain('StreamViewType=NEW_AND_OLD_IMAGES');
    expect(plan.blockers[1]?.action).toContain(`ddb-lake capture --table ${name}`);
  });

  it('is not ready with a KEYS_ONLY stream, which cannot rebuild rows', async () => {
    const table = await streamTable({ viewType: 'KEYS_ONLY' });
    const landing = await tempLanding();
    const plan = await planTable({
      dynamodb: dynamoDbClient(),
      landing: landing.store,
      table: table.tableName,
    });
    expect(plan.blockers.map((b) => b.code)).toContain(PlanFindingCode.streamViewType);
  });

  it('mocked API: a native export asked for without point-in-time recovery, or into a local folder, is not ready', async () => {
    const table = await streamTable();
    const landing = await tempLanding();
    const disabled = clientWithPitr(() => ({
      ContinuousBackupsDescription: {
        ContinuousBackupsStatus: 'ENABLED',
        PointInTimeRecoveryDescription: { PointInTimeRecoveryStatus: 'DISABLED' },
      },
    }));
    const plan = await planTable({
      dynamodb: disabled,
      landing: landing.store,
      table: table.tableName,
      strategy: 'export',
    });
    const codes = plan.blockers.map((b) => b.code);
    expect(codes).toContain(PlanFindingCode.pitrDisabled);
    expect(codes).toContain(PlanFindingCode.exportNeedsS3);
    expect(plan.blockers.find((b) => b.code === PlanFindingCode.pitrDisabled)?.action).toContain(
      'PointInTimeRecoveryEnabled=true',
    );
    const enabled = await planTable({
      dynamodb: clientWithPitr(pitrEnabled),
      landing: landing.store,
      table: table.tableName,
      strategy: 'export',
      exportTime: new Date('2026-05-01T00:00:00Z'),
    });
    const enabledCodes = enabled.blockers.map((b) => b.code);
    expect(enabledCodes).not.toContain(PlanFindingCode.pitrDisabled);
    expect(enabledCodes).toContain(PlanFindingCode.exportTimeBeforePitr);
  });

  it('warns about capture that wrote no checkpoint for more than a day; a quarantined record no batch accepted makes it not ready', async () => {
    const table = await streamTable();
    await putItems(table.tableName, 2);
    const landing = await tempLanding();
    await capture(table, landing.store);
    const twoDaysAgo = new Date(Date.now() - 48 * 60 * MINUTE).toISOString();
    await writeCheckpoint(landing.store, table.tableName, {
      shardId: 'shardId-00000001700000000000-00000old',
      parentShardId: null,
      lastSequenceNumber: '100',
      lastApproximateCreationDateTime: twoDaysAgo,
      finished: false,
      updatedAt: twoDaysAgo,
    });
    const quiet = await planTable({
      dynamodb: dynamoDbClient(),
      landing: landing.store,
      table: table.tableName,
    });
    expect(quiet.warnings.map((w) => w.code)).not.toContain(PlanFindingCode.captureStale);

    const stale = await tempLanding();
    await writeCheckpoint(stale.store, table.tableName, {
      shardId: 'shardId-00000001700000000000-00000old',
      parentShardId: null,
      lastSequenceNumber: '100',
      lastApproximateCreationDateTime: twoDaysAgo,
      finished: false,
      updatedAt: twoDaysAgo,
    });
    const record = { eventID: 'bad-1', dynamodb: { SequenceNumber: '4242' } } as never;
    await stale.store.put(captureQuarantineKey(table.tableName, record), '{}');
    const plan = await planTable({
      dynamodb: dynamoDbClient(),
      landing: stale.store,
      table: table.tableName,
    });
    expect(plan.warnings.map((w) => w.code)).toContain(PlanFindingCode.captureStale);
    expect(plan.ready).toBe(false);
    const hole = plan.blockers.find((b) => b.code === PlanFindingCode.captureQuarantine);
    const key = captureQuarantineKey(table.tableName, record);
    expect(hole?.message).toContain(`sequence number 4242 (${key})`);
    expect(hole?.action).toContain('ddb-lake quarantine replay');
    expect(hole?.action).toContain('--accept-capture-quarantine');
    expect(plan.capture).toEqual({
      checkpoints: 1,
      lastCheckpointAt: twoDaysAgo,
      quarantined: 1,
      quarantine: {
        notAccepted: [{ key, shard: null, seq: '4242', reason: expect.stringMatching(/damaged/) }],
        accepted: [],
      },
    });

    // Once a batch of the Delta table accepted it, it is reported as accepted and holds nothing.
    const delta = await tempLanding();
    const accepted = { key, shard: null, seq: '4242', reason: 'damaged' };
    const stored = await storeBatchRecord(delta.store, {
      batch: 1,
      appId: 'ddb-lake-apply',
      createdAt: new Date().toISOString(),
      incrementalExports: [],
      changeFiles: [],
      acceptedCaptureQuarantine: [accepted],
    });
    await writeTakenIndex(delta.store, stored.record);
    const after = await planTable({
      dynamodb: dynamoDbClient(),
      landing: stale.store,
      delta: delta.store,
      table: table.tableName,
    });
    expect(after.blockers.map((b) => b.code)).not.toContain(PlanFindingCode.captureQuarantine);
    expect(after.capture.quarantine).toEqual({
      notAccepted: [],
      accepted: [{ key, shard: null, seq: '4242', reason: expect.stringMatching(/damaged/) }],
    });
  });

  it('is not ready when the landing area refuses writes, and says which permission is needed', async () => {
    const table = await streamTable();
    const landing = await tempLanding();
    const refusing = FaultyStore.failingPutsUnder(landing.store, '_ddb_lake/plan/');
    const plan = await planTable({ dynamodb: dynamoDbClient(), landing: refusing, table: table.tableName });
    expect(plan.blockers.map((b) => b.code)).toContain(PlanFindingCode.landingNotWritable);
    expect(plan.report).toEqual({ key: `_ddb_lake/plan/${table.tableName}/last-plan.json`, written: false });
    expect(plan.blockers.find((b) => b.code === PlanFindingCode.landingNotWritable)?.action).toContain(
      's3:PutObject',
    );
  });

  it('on an S3 landing area: policies name only its bucket prefix, with the snapshot lifecycle rule', async () => {
    const table = await streamTable();
    let server: S3Server | undefined;
    const landing = await (async () => {
      server = await startS3Server({ buckets: ['lake'] });
      return openStore('s3://lake/teams/orders', {
        endpointUrl: server.endpoint,
        region: 'us-east-1',
        credentials: { ...S3_SERVER_CREDENTIALS },
      });
    })();
    try {
      await capture(table, landing);
      const plan = await planTable({
        dynamodb: clientWithPitr(pitrEnabled),
        landing,
        table: table.tableName,
        strategy: 'export',
        bucketOwner: '444455556666',
        snapshotRetentionDays: 14,
      });
      expect(plan.landing).toEqual({
        kind: 's3',
        url: 's3://lake/teams/orders',
        bucket: 'lake',
        prefix: 'teams/orders',
      });
      const iam = JSON.stringify(plan.policies.iam);
      expect(iam).toContain(`arn:aws:s3:::lake/teams/orders/changes/${table.tableName}/*`);
      expect(iam).toContain('arn:aws:s3:::lake/teams/orders/AWSDynamoDB/*');
      expect(iam).toContain('dynamodb:ExportTableToPointInTime');
      for (const match of iam.matchAll(/arn:aws:s3:::([^"]*)/g)) {
        expect(match[1] === 'lake' || match[1]?.startsWith('lake/teams/orders/')).toBe(true);
      }
      expect(plan.policies.exportBucket.needed).toBe('yes');
      expect(plan.policies.exportBucket.policy?.Statement[0]?.Resource).toBe(
        'arn:aws:s3:::lake/teams/orders/AWSDynamoDB/*',
      );
      expect(plan.policies.snapshotLifecycle?.configuration.Rules[0]).toMatchObject({
        Filter: { Prefix: 'teams/orders/AWSDynamoDB/' },
        Expiration: { Days: 14 },
      });
      expect(plan.report?.written).toBe(true);
      expect(await landing.head(`_ddb_lake/plan/${table.tableName}/last-plan.json`)).toBeDefined();
    } finally {
      await landing.close();
      await server?.stop();
    }
  });
});
