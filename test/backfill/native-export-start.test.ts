import {
  DescribeContinuousBackupsCommand,
  DescribeExportCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ExportConflictException,
  ExportTableToPointInTimeCommand,
  type ExportTableToPointInTimeCommandInput,
  IdempotentParameterMismatchException,
  InvalidExportTimeException,
  TableNotFoundException,
} from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { watchNativeExport } from '../../src/backfill/export-watch.ts';
import { startNativeExport } from '../../src/backfill/native-export.ts';
import { NativeExportError } from '../../src/backfill/native-export-errors.ts';
import { type NativeExportEvent, NativeExportEventCode } from '../../src/backfill/native-export-events.ts';
import { NATIVE_EXPORT_STATE_FOLDER, readRequestRecord } from '../../src/backfill/native-export-intent.ts';
import type { S3Server } from '../../src/local/s3-server.ts';
import {
  BUCKET,
  instantSleep,
  LANDING,
  PREFIX,
  pitrOff,
  pitrOn,
  s3Opener,
  startedAnswer,
  startLakeServer,
  TABLE_ARN,
} from './native-export-support.ts';

const client = new DynamoDBClient({
  region: 'us-east-1',
  credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
});
const api = mockClient(client);
let server: S3Server;
let landingCount = 0;
/** Each test its own landing prefix, so request records of one test do not meet another's. */
let landing: string;

const EARLIEST = new Date('2026-11-20T00:00:00Z');
const NOW = new Date('2026-11-24T12:00:30.750Z');
const ARN_1 = `${TABLE_ARN}/export/01795608030000-aaaaaaaa`;
const ARN_2 = `${TABLE_ARN}/export/01795608090000-bbbbbbbb`;

beforeAll(async () => {
  server = await startLakeServer();
});
afterAll(async () => {
  await server.stop();
});
beforeEach(() => {
  landing = `${LANDING}/case-${++landingCount}`;
  api.reset();
  api
    .on(DescribeTableCommand, { TableName: 'orders' })
    .resolves({ Table: { TableName: 'orders', TableArn: TABLE_ARN } });
  api.on(DescribeTableCommand, { TableName: 'missing' }).rejects(
    new TableNotFoundException({
      message: 'Requested resource not found: Table: missing not found',
      $metadata: {},
    }),
  );
  api.on(DescribeContinuousBackupsCommand).resolves(pitrOn(EARLIEST));
  api
    .on(ExportTableToPointInTimeCommand)
    .callsFake((input: ExportTableToPointInTimeCommandInput) => startedAnswer(input, ARN_1, NOW));
});
afterEach(() => {
  api.reset();
});

function options(changes: Partial<Parameters<typeof startNativeExport>[0]> = {}) {
  return {
    dynamodb: client,
    table: 'orders',
    landing,
    openStore: s3Opener(server),
    now: () => NOW,
    ...changes,
  };
}

function sentRequests(): ExportTableToPointInTimeCommandInput[] {
  return api.commandCalls(ExportTableToPointInTimeCommand).map((call) => call.args[0].input);
}

async function refusal(promise: Promise<unknown>): Promise<NativeExportError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(NativeExportError);
  return error as NativeExportError;
}

describe('starting a native export (mocked API)', () => {
  it('mocked API: with point-in-time recovery off it refuses, names the command that enables it, and starts nothing', async () => {
    api.on(DescribeContinuousBackupsCommand).resolves(pitrOff());
    const error = await refusal(startNativeExport(options()));
    expect(error.code).toBe('PITR_DISABLED');
    expect(error.message).toContain(
      'aws dynamodb update-continuous-backups --table-name orders --point-in-time-recovery-specification PointInTimeRecoveryEnabled=true',
    );
    expect(error.message).toContain('backfill scan');
    expect(sentRequests()).toEqual([]);
  });

  it('mocked API: sends ExportTime, the bucket and prefix of the landing URL, SSE and owner, and a derived ClientToken', async () => {
    const events: NativeExportEvent[] = [];
    const exportTime = new Date('2026-11-24T10:00:00Z');
    const started = await startNativeExport(
      options({
        exportTime,
        bucketOwner: '444455556666',
        sse: { algorithm: 'KMS', kmsKeyId: 'arn:aws:kms:us-east-1:111122223333:key/k1' },
        onEvent: (event) => events.push(event),
      }),
    );
    expect(api.commandCalls(DescribeTableCommand)[0]?.args[0].input).toEqual({ TableName: 'orders' });
    expect(api.commandCalls(DescribeContinuousBackupsCommand)[0]?.args[0].input).toEqual({
      TableName: 'orders',
    });
    const [request] = sentRequests();
    expect(request).toEqual({
      TableArn: TABLE_ARN,
      ClientToken: started.clientToken,
      S3Bucket: BUCKET,
      S3Prefix: `${PREFIX}/case-${landingCount}`,
      S3BucketOwner: '444455556666',
      S3SseAlgorithm: 'KMS',
      S3SseKmsKeyId: 'arn:aws:kms:us-east-1:111122223333:key/k1',
      ExportFormat: 'DYNAMODB_JSON',
      ExportType: 'FULL_EXPORT',
      ExportTime: exportTime,
    });
    expect(started.clientToken).toMatch(/^ddb-lake-[0-9a-f]{32}$/);
    expect(started.export.exportArn).toBe(ARN_1);
    expect(started.attached).toBe(false);
    expect(events.map((event) => event.code)).toEqual([
      NativeExportEventCode.pitrChecked,
      NativeExportEventCode.started,
    ]);
  });

  it('mocked API: an incremental export sends its window with NEW_AND_OLD_IMAGES', async () => {
    const from = new Date('2026-11-24T09:00:00Z');
    const to = new Date('2026-11-24T11:00:00Z');
    await startNativeExport(options({ incremental: { from, to } }));
    const [request] = sentRequests();
    expect(request?.ExportType).toBe('INCREMENTAL_EXPORT');
    expect(request?.ExportTime).toBeUndefined();
    expect(request?.IncrementalExportSpecification).toEqual({
      ExportFromTime: from,
      ExportToTime: to,
      ExportViewType: 'NEW_AND_OLD_IMAGES',
    });
  });

  it('mocked API: a window shorter than 15 minutes or a local landing folder is refused before any call', async () => {
    const from = new Date('2026-11-24T09:00:00Z');
    await expect(
      startNativeExport(options({ incremental: { from, to: new Date(from.getTime() + 10 * 60_000) } })),
    ).rejects.toThrow(/15 minutes to 24 hours/);
    await expect(startNativeExport(options({ landing: '/tmp/landing' }))).rejects.toThrow(
      /only to an S3 bucket/,
    );
    expect(api.calls()).toEqual([]);
  });

  it('mocked API: an export time before the earliest restorable time is refused after the PITR check, before the export call', async () => {
    await expect(
      startNativeExport(options({ exportTime: new Date('2026-11-19T00:00:00Z') })),
    ).rejects.toThrow(/earliest restorable time/);
    expect(api.commandCalls(DescribeContinuousBackupsCommand)).toHaveLength(1);
    expect(sentRequests()).toEqual([]);
  });

  it('mocked API: the same request sends the same ClientToken on every run; a different one sends another', async () => {
    const exportTime = new Date('2026-11-24T10:00:00Z');
    const first = await startNativeExport(options({ exportTime }));
    // The first export has completed meanwhile (not watched): the rerun asks DynamoDB again.
    api
      .on(DescribeExportCommand)
      .resolves({ ExportDescription: { ExportArn: ARN_1, ExportStatus: 'COMPLETED' } });
    const second = await startNativeExport(
      options({ exportTime, now: () => new Date(NOW.getTime() + 60_000) }),
    );
    const events: NativeExportEvent[] = [];
    const otherTime = await startNativeExport(
      options({ exportTime: new Date('2026-11-24T10:00:01Z'), onEvent: (event) => events.push(event) }),
    );
    // The first request's export was never watched to its end: the user is told, with its ARN.
    expect(events).toContainEqual(
      expect.objectContaining({ code: NativeExportEventCode.earlierRequestReplaced, exportArn: ARN_1 }),
    );
    const otherPrefix = await startNativeExport(options({ exportTime, landing: `${landing}-b` }));
    const otherAttempt = await startNativeExport(options({ exportTime, attempt: 2 }));
    expect(second.clientToken).toBe(first.clientToken);
    const tokens = new Set(
      [first, otherTime, otherPrefix, otherAttempt].map((started) => started.clientToken),
    );
    expect(tokens.size).toBe(4);
    expect(sentRequests().map((request) => request.ClientToken)).toEqual([
      first.clientToken,
      first.clientToken,
      otherTime.clientToken,
      otherPrefix.clientToken,
      otherAttempt.clientToken,
    ]);
  });

  it('mocked API: a rerun after a crash before DynamoDB answered asks for the same time "now" and the same ClientToken', async () => {
    api
      .on(ExportTableToPointInTimeCommand)
      .rejectsOnce(Object.assign(new Error('socket hang up'), { name: 'TimeoutError' }))
      .callsFake((input: ExportTableToPointInTimeCommandInput) => startedAnswer(input, ARN_1, NOW));
    await expect(startNativeExport(options())).rejects.toThrow(/socket hang up/);
    const later = new Date(NOW.getTime() + 20 * 60_000);
    const events: NativeExportEvent[] = [];
    const rerun = await startNativeExport(
      options({ now: () => later, onEvent: (event) => events.push(event) }),
    );
    const [crashed, resumed] = sentRequests();
    expect(crashed?.ExportTime).toEqual(new Date('2026-11-24T12:00:30Z'));
    expect(resumed?.ExportTime).toEqual(crashed?.ExportTime);
    expect(resumed?.ClientToken).toBe(crashed?.ClientToken);
    expect(rerun.attached).toBe(false);
    expect(events.map((event) => event.code)).toContain(NativeExportEventCode.requestResumed);
  });

  it('mocked API: a rerun while the export still runs watches it and sends nothing, even past the 8 hours of the token', async () => {
    const first = await startNativeExport(options());
    api
      .on(DescribeExportCommand, { ExportArn: ARN_1 })
      .resolves({ ExportDescription: { ExportArn: ARN_1, ExportStatus: 'IN_PROGRESS', StartTime: NOW } });
    const nineHoursLater = new Date(NOW.getTime() + 9 * 60 * 60_000);
    const rerun = await startNativeExport(options({ now: () => nineHoursLater }));
    expect(rerun.attached).toBe(true);
    expect(rerun.export.exportArn).toBe(ARN_1);
    expect(rerun.clientToken).toBe(first.clientToken);
    expect(sentRequests()).toHaveLength(1);
  });

  it('mocked API: once the export was watched to its end, a rerun asks for a new time with a new token', async () => {
    const first = await startNativeExport(options());
    const store = s3Opener(server)(landing);
    const records = async () => {
      const keys: string[] = [];
      for await (const object of store.list(NATIVE_EXPORT_STATE_FOLDER)) keys.push(object.key);
      return keys;
    };
    try {
      const [key] = await records();
      expect((await readRequestRecord(store, key ?? ''))?.exportArn).toBe(ARN_1);
      api.on(DescribeExportCommand, { ExportArn: ARN_1 }).resolves({
        ExportDescription: {
          ExportArn: ARN_1,
          ExportStatus: 'FAILED',
          S3Bucket: BUCKET,
          S3Prefix: landing.slice(`s3://${BUCKET}/`.length),
          FailureCode: 'S3NoSuchBucket',
          FailureMessage: 'The specified bucket does not exist',
        },
      });
      const watched = await watchNativeExport({
        dynamodb: client,
        exportArn: ARN_1,
        openStore: s3Opener(server),
        sleep: instantSleep().sleep,
      });
      expect(watched.outcome).toBe('failed');
      expect(await records()).toEqual([]);
    } finally {
      await store.close();
    }
    api
      .on(ExportTableToPointInTimeCommand)
      .callsFake((input: ExportTableToPointInTimeCommandInput) => startedAnswer(input, ARN_2, NOW));
    const later = new Date(NOW.getTime() + 30 * 60_000);
    const rerun = await startNativeExport(options({ now: () => later }));
    expect(rerun.clientToken).not.toBe(first.clientToken);
    expect(sentRequests()[1]?.ExportTime).toEqual(new Date('2026-11-24T12:30:30Z'));
  });

  it('mocked API: ExportConflictException and IdempotentParameterMismatchException are told apart and explained', async () => {
    api
      .on(ExportTableToPointInTimeCommand)
      .rejectsOnce(new ExportConflictException({ message: 'Export already in progress', $metadata: {} }))
      .rejectsOnce(new IdempotentParameterMismatchException({ message: 'token reused', $metadata: {} }));
    const conflict = await refusal(startNativeExport(options()));
    const mismatch = await refusal(startNativeExport(options()));
    expect(conflict.code).toBe('EXPORT_CONFLICT');
    expect(conflict.message).toContain('another export is writing to the same S3 location');
    expect(conflict.message).toContain(landing);
    expect(conflict.message).toContain('Export already in progress');
    expect(mismatch.code).toBe('EXPORT_CLIENT_TOKEN_MISMATCH');
    expect(mismatch.message).toContain(
      'already used in the last 8 hours for an export with other parameters',
    );
    expect(mismatch.message).toContain(sentRequests()[1]?.ClientToken ?? 'no token');
    for (const error of [conflict, mismatch]) expect(error.message).toContain('--attempt');
  });

  it('mocked API: InvalidExportTimeException says the time must lie in the recovery window', async () => {
    api
      .on(ExportTableToPointInTimeCommand)
      .rejects(new InvalidExportTimeException({ message: 'bad time', $metadata: {} }));
    const error = await refusal(startNativeExport(options()));
    expect(error.code).toBe('INVALID_EXPORT_TIME');
    expect(error.message).toContain('point-in-time recovery window');
  });

  it('mocked API: a missing table is TABLE_NOT_FOUND naming it; a table ARN is used without DescribeTable', async () => {
    const missing = await refusal(startNativeExport(options({ table: 'missing' })));
    expect(missing.code).toBe('TABLE_NOT_FOUND');
    expect(missing.message).toContain('missing');
    await startNativeExport(options({ table: TABLE_ARN }));
    expect(api.commandCalls(DescribeTableCommand)).toHaveLength(1);
    expect(sentRequests()[0]?.TableArn).toBe(TABLE_ARN);
  });
});
