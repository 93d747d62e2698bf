import { gunzipSync, gzipSync } from 'node:zlib';
import {
  DescribeContinuousBackupsCommand,
  DescribeExportCommand,
  DynamoDBClient,
  ExportNotFoundException,
  ExportTableToPointInTimeCommand,
  type ExportTableToPointInTimeCommandInput,
} from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { watchNativeExport } from '../../src/backfill/export-watch.ts';
import { runNativeExport } from '../../src/backfill/native-export.ts';
import { NativeExportError } from '../../src/backfill/native-export-errors.ts';
import { type NativeExportEvent, NativeExportEventCode } from '../../src/backfill/native-export-events.ts';
import { NATIVE_EXPORT_STATE_FOLDER } from '../../src/backfill/native-export-intent.ts';
import { BadManifestError, ChecksumMismatchError } from '../../src/formats/errors.ts';
import type { S3Server } from '../../src/local/s3-server.ts';
import {
  FULL_EXPORT_ARN,
  FULL_EXPORT_ID,
  fullExportDescription,
  INCREMENTAL_EXPORT_ARN,
  incrementalExportDescription,
  instantSleep,
  LANDING,
  PREFIX,
  pitrOn,
  s3Opener,
  startedAnswer,
  startLakeServer,
  TABLE_ARN,
  uploadFixture,
} from './native-export-support.ts';

const client = new DynamoDBClient({
  region: 'us-east-1',
  credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
});
const api = mockClient(client);
let server: S3Server;

beforeAll(async () => {
  server = await startLakeServer();
  await uploadFixture(server, PREFIX);
  // The same export, with one data file changed after DynamoDB wrote it.
  await uploadFixture(server, `${PREFIX}-damaged`, (key, bytes) => {
    if (!key.endsWith('q9vw2ytb6hk5m3xzr7c4sdn8pa.json.gz')) return bytes;
    return gzipSync(
      Buffer.from(gunzipSync(bytes).toString('utf8').replace('customer#', 'customer#9'), 'utf8'),
    );
  });
});
afterAll(async () => {
  await server.stop();
});
beforeEach(() => {
  api.reset();
});

function watch(changes: Partial<Parameters<typeof watchNativeExport>[0]> = {}) {
  return watchNativeExport({
    dynamodb: client,
    exportArn: FULL_EXPORT_ARN,
    openStore: s3Opener(server),
    pollIntervalMs: 25,
    sleep: instantSleep().sleep,
    ...changes,
  });
}

describe('watching a native export (mocked API, real files on the local S3 server)', () => {
  it('mocked API: polls DescribeExport until COMPLETED, then reads the sample export back and checks every file', async () => {
    api
      .on(DescribeExportCommand, { ExportArn: FULL_EXPORT_ARN })
      .resolvesOnce({
        ExportDescription: fullExportDescription({ ExportStatus: 'IN_PROGRESS', EndTime: undefined }),
      })
      .resolvesOnce({
        ExportDescription: fullExportDescription({ ExportStatus: 'IN_PROGRESS', EndTime: undefined }),
      })
      .resolves({ ExportDescription: fullExportDescription() });
    const events: NativeExportEvent[] = [];
    const clock = instantSleep();
    const now = Date.parse('2026-11-23T00:02:00Z');
    const outcome = await watch({
      sleep: clock.sleep,
      now: () => now,
      onEvent: (event) => events.push(event),
    });

    expect(api.commandCalls(DescribeExportCommand)).toHaveLength(3);
    expect(clock.waits).toEqual([25, 25]);
    const statuses = events.filter((event) => event.code === NativeExportEventCode.status);
    expect(statuses.map((event) => [event.export.status, event.elapsedMs])).toEqual([
      ['IN_PROGRESS', 120_000],
      ['IN_PROGRESS', 120_000],
      ['COMPLETED', 372_480],
    ]);
    expect(outcome.outcome).toBe('completed');
    if (outcome.outcome !== 'completed') return;
    expect(outcome.export.itemCount).toBe(4);
    expect(outcome.export.billedSizeBytes).toBe(442);
    expect(outcome.verification).toMatchObject({
      landing: LANDING,
      exportDir: `AWSDynamoDB/${FULL_EXPORT_ID}/`,
      dataFiles: 3,
      records: 4,
      deletions: 0,
    });
    expect(outcome.verification.summary.exportArn).toBe(FULL_EXPORT_ARN);
  });

  it('mocked API: an incremental export is read back as change records, deletions counted', async () => {
    api.on(DescribeExportCommand).resolves({ ExportDescription: incrementalExportDescription() });
    const outcome = await watch({ exportArn: INCREMENTAL_EXPORT_ARN });
    expect(outcome.outcome).toBe('completed');
    if (outcome.outcome !== 'completed') return;
    expect(outcome.verification).toMatchObject({ dataFiles: 2, records: 3, deletions: 1 });
  });

  it('mocked API: a data file changed after the export fails the check with its MD5, naming the file', async () => {
    api
      .on(DescribeExportCommand)
      .resolves({ ExportDescription: fullExportDescription({ S3Prefix: `${PREFIX}-damaged` }) });
    const error = await watch().then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(ChecksumMismatchError);
    expect((error as ChecksumMismatchError).file).toContain('q9vw2ytb6hk5m3xzr7c4sdn8pa.json.gz');
  });

  it('mocked API: manifests that disagree with DescribeExport (item count, or another export) are refused', async () => {
    api.on(DescribeExportCommand).resolves({ ExportDescription: fullExportDescription({ ItemCount: 5 }) });
    await expect(watch()).rejects.toThrow(/counts 4 items, but DescribeExport counts 5/);
    const otherArn = `${TABLE_ARN}/export/${FULL_EXPORT_ID}`.replace('orders', 'invoices');
    api
      .on(DescribeExportCommand)
      .resolves({ ExportDescription: fullExportDescription({ ExportArn: otherArn }) });
    const error = await watch({ exportArn: otherArn }).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(BadManifestError);
    expect((error as Error).message).toContain(`it belongs to the export ${FULL_EXPORT_ARN}`);
  });

  it('mocked API: FAILED is an outcome carrying FailureCode and FailureMessage; nothing is read', async () => {
    api.on(DescribeExportCommand).resolves({
      ExportDescription: fullExportDescription({
        ExportStatus: 'FAILED',
        S3Prefix: 'nowhere',
        ItemCount: undefined,
        FailureCode: 'S3AccessDenied',
        FailureMessage: 'Access Denied for bucket lake',
      }),
    });
    const outcome = await watch();
    expect(outcome.outcome).toBe('failed');
    expect(outcome.export.failureCode).toBe('S3AccessDenied');
    expect(outcome.export.failureMessage).toBe('Access Denied for bucket lake');
  });

  it('mocked API: without waiting it describes once and returns the running export', async () => {
    api
      .on(DescribeExportCommand)
      .resolves({ ExportDescription: fullExportDescription({ ExportStatus: 'IN_PROGRESS' }) });
    const outcome = await watch({ wait: false });
    expect(outcome).toMatchObject({ outcome: 'running', reason: 'no-wait' });
    expect(outcome.export.exportArn).toBe(FULL_EXPORT_ARN);
    expect(api.commandCalls(DescribeExportCommand)).toHaveLength(1);
  });

  it('mocked API: an aborted watch returns the running export after the poll in hand', async () => {
    api
      .on(DescribeExportCommand)
      .resolves({ ExportDescription: fullExportDescription({ ExportStatus: 'IN_PROGRESS' }) });
    const stop = new AbortController();
    const outcome = await watch({
      signal: stop.signal,
      sleep: async () => {
        stop.abort();
      },
    });
    expect(outcome).toMatchObject({ outcome: 'running', reason: 'signal' });
    expect(api.commandCalls(DescribeExportCommand)).toHaveLength(1);
  });

  it('mocked API: an unknown ARN is EXPORT_NOT_FOUND', async () => {
    api
      .on(DescribeExportCommand)
      .rejects(new ExportNotFoundException({ message: 'Export not found', $metadata: {} }));
    const error = await watch().then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(NativeExportError);
    expect((error as NativeExportError).code).toBe('EXPORT_NOT_FOUND');
  });

  it('mocked API: start then watch: --no-wait makes no DescribeExport call; waiting reads the export back', async () => {
    api.on(DescribeContinuousBackupsCommand).resolves(pitrOn(new Date('2026-11-01T00:00:00Z')));
    api
      .on(ExportTableToPointInTimeCommand)
      .callsFake((input: ExportTableToPointInTimeCommandInput) =>
        startedAnswer(input, FULL_EXPORT_ARN, new Date('2026-11-23T00:00:00Z')),
      );
    const base = {
      dynamodb: client,
      table: TABLE_ARN,
      landing: LANDING,
      openStore: s3Opener(server),
      exportTime: new Date('2026-11-23T00:00:00Z'),
      now: () => new Date('2026-11-23T00:01:00Z'),
      sleep: instantSleep().sleep,
    };
    const notWaiting = await runNativeExport({ ...base, wait: false });
    expect(notWaiting.outcome).toMatchObject({ outcome: 'running', reason: 'no-wait' });
    expect(notWaiting.outcome.export.exportArn).toBe(FULL_EXPORT_ARN);
    expect(api.commandCalls(DescribeExportCommand)).toHaveLength(0);

    api
      .on(DescribeExportCommand)
      .resolvesOnce({ ExportDescription: fullExportDescription({ ExportStatus: 'IN_PROGRESS' }) })
      .resolves({ ExportDescription: fullExportDescription() });
    const waited = await runNativeExport(base);
    // The rerun found the export of the same request still running: it watched it, sent nothing.
    expect(waited.started.attached).toBe(true);
    expect(waited.started.clientToken).toBe(notWaiting.started.clientToken);
    expect(api.commandCalls(ExportTableToPointInTimeCommand)).toHaveLength(1);
    expect(waited.outcome.outcome).toBe('completed');
    if (waited.outcome.outcome === 'completed') expect(waited.outcome.verification.records).toBe(4);
    // Watched to its end: the request's record is gone, so the next run asks for a new export.
    const store = s3Opener(server)(LANDING);
    try {
      const left: string[] = [];
      for await (const object of store.list(NATIVE_EXPORT_STATE_FOLDER)) left.push(object.key);
      expect(left).toEqual([]);
    } finally {
      await store.close();
    }
  });
});
