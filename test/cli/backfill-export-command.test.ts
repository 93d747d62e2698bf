import {
  DescribeContinuousBackupsCommand,
  DescribeExportCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ExportTableToPointInTimeCommand,
  type ExportTableToPointInTimeCommandInput,
} from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { runCli } from '../../src/cli/program.ts';
import { S3_SERVER_CREDENTIALS, type S3Server } from '../../src/local/s3-server.ts';
import {
  BUCKET,
  FULL_EXPORT_ARN,
  fullExportDescription,
  INCREMENTAL_EXPORT_ARN,
  incrementalExportDescription,
  LANDING,
  PREFIX,
  pitrOff,
  pitrOn,
  startedAnswer,
  startLakeServer,
  TABLE_ARN,
  uploadFixture,
} from '../backfill/native-export-support.ts';

// The command builds its own DynamoDB client, so every instance of the class is mocked; the landing
// area is real, on the local S3 server, reached the way a user reaches an S3-compatible endpoint.
const api = mockClient(DynamoDBClient);
let server: S3Server;
const savedEnv = { ...process.env };

beforeAll(async () => {
  server = await startLakeServer();
  await uploadFixture(server, PREFIX);
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_S3: server.endpoint,
    AWS_ACCESS_KEY_ID: S3_SERVER_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: S3_SERVER_CREDENTIALS.secretAccessKey,
    AWS_REGION: 'us-east-1',
    AWS_EC2_METADATA_DISABLED: 'true',
    CI: '1',
  });
  delete process.env['AWS_PROFILE'];
  delete process.env['DDB_LAKE_LANDING'];
});
afterAll(async () => {
  process.env = savedEnv;
  api.restore();
  await server.stop();
});
beforeEach(() => {
  api.reset();
  api.on(DescribeTableCommand).resolves({ Table: { TableName: 'orders', TableArn: TABLE_ARN } });
  api.on(DescribeContinuousBackupsCommand).resolves(pitrOn(new Date('2026-11-01T00:00:00Z')));
  api
    .on(ExportTableToPointInTimeCommand)
    .callsFake((input: ExportTableToPointInTimeCommandInput) =>
      startedAnswer(
        input,
        input.ExportType === 'INCREMENTAL_EXPORT' ? INCREMENTAL_EXPORT_ARN : FULL_EXPORT_ARN,
        new Date('2026-11-23T00:00:00Z'),
      ),
    );
  api
    .on(DescribeExportCommand, { ExportArn: FULL_EXPORT_ARN })
    .resolvesOnce({
      ExportDescription: fullExportDescription({ ExportStatus: 'IN_PROGRESS', EndTime: undefined }),
    })
    .resolves({ ExportDescription: fullExportDescription() });
  api
    .on(DescribeExportCommand, { ExportArn: INCREMENTAL_EXPORT_ARN })
    .resolves({ ExportDescription: incrementalExportDescription() });
});

/** Runs `ddb-lake …` in this process and collects what it printed. */
async function ddbLake(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  try {
    const code = await runCli(['node', 'ddb-lake', ...args]);
    return { code, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

function sentRequests(): ExportTableToPointInTimeCommandInput[] {
  return api.commandCalls(ExportTableToPointInTimeCommand).map((call) => call.args[0].input);
}

const FAST = ['--poll-interval', '0.001'];

describe('ddb-lake backfill export and status', () => {
  it('export --help says DynamoDB keeps a ClientToken for 8 hours and how to try anew', async () => {
    const run = await ddbLake('backfill', 'export', '--help');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('8 hours');
    expect(run.stdout).toContain('--attempt');
    for (const flag of [
      '--table',
      '--landing',
      '--export-time',
      '--incremental',
      '--from',
      '--to',
      '--bucket-owner',
    ]) {
      expect(run.stdout).toContain(flag);
    }
  });

  it('a local folder as --landing is refused with exit code 2 before any AWS call', async () => {
    const run = await ddbLake('backfill', 'export', '--table', 'orders', '--landing', './landing');
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('only to an S3 bucket');
    expect(run.stderr).toContain('backfill scan');
    expect(api.calls()).toEqual([]);
  });

  it('mocked API: the flags become the request, and the export is watched to COMPLETED and read back', async () => {
    const run = await ddbLake(
      'backfill',
      'export',
      '--table',
      'orders',
      '--landing',
      `${LANDING}/`,
      '--export-time',
      '2026-11-23T00:00:00Z',
      '--bucket-owner',
      '111122223333',
      '--sse',
      'KMS',
      '--kms-key',
      'alias/lake',
      ...FAST,
    );
    expect(run.stderr).not.toContain('ddb-lake:');
    expect(run.code).toBe(0);
    expect(sentRequests()).toEqual([
      {
        TableArn: TABLE_ARN,
        ClientToken: expect.stringMatching(/^ddb-lake-[0-9a-f]{32}$/),
        S3Bucket: BUCKET,
        S3Prefix: PREFIX,
        S3BucketOwner: '111122223333',
        S3SseAlgorithm: 'KMS',
        S3SseKmsKeyId: 'alias/lake',
        ExportFormat: 'DYNAMODB_JSON',
        ExportType: 'FULL_EXPORT',
        ExportTime: new Date('2026-11-23T00:00:00Z'),
      },
    ]);
    expect(api.commandCalls(DescribeExportCommand)).toHaveLength(2);
    expect(run.stdout).toContain(`Export ${FULL_EXPORT_ARN} COMPLETED`);
    expect(run.stdout).toContain('full export as of 2026-11-23T00:00:00.000Z');
    expect(run.stdout).toContain('4 items, billed size 442 bytes');
    expect(run.stdout).toMatch(
      /4 items in 3 data file\(s\); manifests and every file's MD5 and item count match/,
    );
    expect(run.stderr).toContain('Point-in-time recovery is on');
    expect(run.stderr).toContain('IN_PROGRESS');
  });

  it('mocked API: --json prints one document with the ClientToken, the outcome and what was read back', async () => {
    const run = await ddbLake(
      'backfill',
      'export',
      '--table',
      TABLE_ARN,
      '--landing',
      LANDING,
      '--export-time',
      '2026-11-23T01:00:00+01:00',
      '--json',
      ...FAST,
    );
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report.outcome).toBe('completed');
    expect(report.clientToken).toBe(sentRequests()[0]?.ClientToken);
    expect(report.request.ExportTime).toBe('2026-11-23T00:00:00.000Z');
    expect(report.export).toMatchObject({ exportArn: FULL_EXPORT_ARN, itemCount: 4, billedSizeBytes: 442 });
    expect(report.verification).toMatchObject({ records: 4, dataFiles: 3 });
    expect(api.commandCalls(DescribeTableCommand)).toHaveLength(0);
  });

  it('mocked API: --incremental --from --to sends the window and reads back change records', async () => {
    const run = await ddbLake(
      'backfill',
      'export',
      '--table',
      'orders',
      '--landing',
      LANDING,
      '--incremental',
      '--from',
      '2026-11-23T00:00:00Z',
      '--to',
      '2026-11-23T00:15:00Z',
      ...FAST,
    );
    expect(run.code).toBe(0);
    expect(sentRequests()[0]?.IncrementalExportSpecification).toEqual({
      ExportFromTime: new Date('2026-11-23T00:00:00Z'),
      ExportToTime: new Date('2026-11-23T00:15:00Z'),
      ExportViewType: 'NEW_AND_OLD_IMAGES',
    });
    expect(run.stdout).toContain('incremental export of 2026-11-23T00:00:00.000Z → 2026-11-23T00:15:00.000Z');
    expect(run.stdout).toContain('3 change records (1 deletions) in 2 data file(s)');
  });

  it.each([
    [['--from', '2026-11-23T00:00:00Z'], '--from and --to describe the window of an incremental export'],
    [['--incremental', '--from', '2026-11-23T00:00:00Z'], '--incremental needs --from'],
    [
      ['--incremental', '--from', '2026-11-23T00:00:00Z', '--to', '2026-11-23T00:10:00Z'],
      '15 minutes to 24 hours',
    ],
    [['--export-time', '2026-11-23 00:00:00'], 'ISO-8601 time with its zone'],
    [['--kms-key', 'alias/lake'], '--kms-key goes with --sse KMS'],
    [['--sse', 'DES'], 'DES'],
    [['--attempt', '0'], '--attempt must be a whole number of at least 1'],
  ])('%j is a usage error (exit 2) and nothing is sent', async (flags, message) => {
    const run = await ddbLake('backfill', 'export', '--table', 'orders', '--landing', LANDING, ...flags);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(message);
    expect(sentRequests()).toEqual([]);
  });

  it('mocked API: point-in-time recovery off exits 1 naming the command that enables it', async () => {
    api.on(DescribeContinuousBackupsCommand).resolves(pitrOff());
    const run = await ddbLake('backfill', 'export', '--table', 'orders', '--landing', LANDING);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('aws dynamodb update-continuous-backups --table-name orders');
    expect(sentRequests()).toEqual([]);
  });

  it('mocked API: --no-wait prints only the export ARN on stdout, exits 0 and does not describe the export', async () => {
    const run = await ddbLake(
      'backfill',
      'export',
      '--table',
      'orders',
      '--landing',
      `s3://${BUCKET}/no-wait`,
      '--no-wait',
    );
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`${FULL_EXPORT_ARN}\n`);
    expect(run.stderr).toContain(`ddb-lake backfill status ${FULL_EXPORT_ARN}`);
    expect(api.commandCalls(DescribeExportCommand)).toHaveLength(0);
  });

  it('mocked API: status <arn> resumes watching until COMPLETED and checks the files', async () => {
    const run = await ddbLake('backfill', 'status', FULL_EXPORT_ARN, ...FAST);
    expect(run.code).toBe(0);
    expect(api.commandCalls(DescribeExportCommand).map((call) => call.args[0].input)).toEqual([
      { ExportArn: FULL_EXPORT_ARN },
      { ExportArn: FULL_EXPORT_ARN },
    ]);
    expect(run.stdout).toContain(`Export ${FULL_EXPORT_ARN} COMPLETED`);
    expect(run.stdout).toContain('4 items in 3 data file(s)');
    expect(sentRequests()).toEqual([]);
  });

  it('mocked API: status --no-wait describes once and prints the ARN of the running export', async () => {
    const run = await ddbLake('backfill', 'status', FULL_EXPORT_ARN, '--no-wait');
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`${FULL_EXPORT_ARN}\n`);
    expect(run.stderr).toContain('the export is IN_PROGRESS');
  });

  it('mocked API: a FAILED export prints FailureCode and FailureMessage and exits 1', async () => {
    api.on(DescribeExportCommand, { ExportArn: FULL_EXPORT_ARN }).resolves({
      ExportDescription: fullExportDescription({
        ExportStatus: 'FAILED',
        ItemCount: undefined,
        FailureCode: 'S3AccessDenied',
        FailureMessage: 'Access Denied for bucket lake',
      }),
    });
    const run = await ddbLake('backfill', 'status', FULL_EXPORT_ARN, ...FAST);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      `export ${FULL_EXPORT_ARN} FAILED: S3AccessDenied: Access Denied for bucket lake`,
    );
    expect(run.stderr).toContain('--attempt');
    expect(run.stdout).toBe('');
  });
});
