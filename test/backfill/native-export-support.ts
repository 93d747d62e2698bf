import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type {
  DescribeContinuousBackupsCommandOutput,
  ExportDescription,
  ExportTableToPointInTimeCommandInput,
} from '@aws-sdk/client-dynamodb';
import { S3_SERVER_CREDENTIALS, type S3Server, startS3Server } from '../../src/local/s3-server.ts';
import type { ObjectStore } from '../../src/storage/object-store.ts';
import { openStore } from '../../src/storage/open-store.ts';
import { SAMPLE_EXPORT } from '../support/fixtures.ts';

/** The sample export's table and exports (test/fixtures/README.md): their ARNs are in the manifests. */
export const TABLE_ARN = 'arn:aws:dynamodb:us-east-1:111122223333:table/orders';
export const FULL_EXPORT_ID = '01795392000000-5a1c9e20';
export const INCREMENTAL_EXPORT_ID = '01795392900000-c07e5b19';
export const FULL_EXPORT_ARN = `${TABLE_ARN}/export/${FULL_EXPORT_ID}`;
export const INCREMENTAL_EXPORT_ARN = `${TABLE_ARN}/export/${INCREMENTAL_EXPORT_ID}`;

/** The bucket and prefix the mocked exports name; the fixture tree is uploaded there. */
export const BUCKET = 'lake';
export const PREFIX = 'landing/orders';
export const LANDING = `s3://${BUCKET}/${PREFIX}`;

/** What the SDK needs to sign requests to the local S3 server. */
export function s3Options(server: S3Server) {
  return { endpointUrl: server.endpoint, region: 'us-east-1', credentials: { ...S3_SERVER_CREDENTIALS } };
}

/** Opens `s3://…` URLs on the local S3 server, as the CLI opens them on AWS. */
export function s3Opener(server: S3Server): (url: string) => ObjectStore {
  return (url) => openStore(url, s3Options(server));
}

/** A local S3 server holding the empty bucket `lake`. */
export function startLakeServer(): Promise<S3Server> {
  return startS3Server({ buckets: [BUCKET] });
}

/**
 * Uploads the sample export tree (`AWSDynamoDB/…`) under `prefix` of the bucket, as DynamoDB would
 * have written it there. `change` may alter a file's bytes on the way (key relative to the tree).
 */
export async function uploadFixture(
  server: S3Server,
  prefix: string,
  change?: (key: string, bytes: Buffer) => Buffer,
): Promise<void> {
  const store = openStore(`s3://${BUCKET}/${prefix}`, s3Options(server));
  try {
    const entries = await readdir(SAMPLE_EXPORT, { recursive: true, withFileTypes: true });
    for (const entry of entries.filter((e) => e.isFile())) {
      const full = path.join(entry.parentPath, entry.name);
      const key = path.relative(SAMPLE_EXPORT, full).split(path.sep).join('/');
      if (!key.startsWith('AWSDynamoDB/')) continue;
      const bytes = await readFile(full);
      await store.put(key, change === undefined ? bytes : change(key, bytes));
    }
  } finally {
    await store.close();
  }
}

/** DescribeContinuousBackups with point-in-time recovery on, restorable from `earliest`. */
export function pitrOn(earliest: Date): DescribeContinuousBackupsCommandOutput {
  return {
    $metadata: {},
    ContinuousBackupsDescription: {
      ContinuousBackupsStatus: 'ENABLED',
      PointInTimeRecoveryDescription: {
        PointInTimeRecoveryStatus: 'ENABLED',
        EarliestRestorableDateTime: earliest,
        LatestRestorableDateTime: new Date(earliest.getTime() + 60 * 60_000),
        RecoveryPeriodInDays: 35,
      },
    },
  };
}

/** DescribeContinuousBackups of a table whose point-in-time recovery is off. */
export function pitrOff(): DescribeContinuousBackupsCommandOutput {
  return {
    $metadata: {},
    ContinuousBackupsDescription: {
      ContinuousBackupsStatus: 'ENABLED',
      PointInTimeRecoveryDescription: { PointInTimeRecoveryStatus: 'DISABLED' },
    },
  };
}

/** The description of the sample full export as DescribeExport tells it, with `changes` applied. */
export function fullExportDescription(changes: Partial<ExportDescription> = {}): ExportDescription {
  return {
    ExportArn: FULL_EXPORT_ARN,
    ExportStatus: 'COMPLETED',
    StartTime: new Date('2026-11-23T00:00:00.000Z'),
    EndTime: new Date('2026-11-23T00:06:12.480Z'),
    TableArn: TABLE_ARN,
    TableId: '0b6a7c2e-9f1d-4c55-8e3a-5d2f1c0e9a77',
    ExportTime: new Date('2026-11-23T00:00:00.000Z'),
    S3Bucket: BUCKET,
    S3Prefix: PREFIX,
    S3SseAlgorithm: 'AES256',
    ExportFormat: 'DYNAMODB_JSON',
    ExportType: 'FULL_EXPORT',
    BilledSizeBytes: 442,
    ItemCount: 4,
    ...changes,
  };
}

/** The description of the sample incremental export (00:00 to 00:15, NEW_AND_OLD_IMAGES). */
export function incrementalExportDescription(changes: Partial<ExportDescription> = {}): ExportDescription {
  return {
    ExportArn: INCREMENTAL_EXPORT_ARN,
    ExportStatus: 'COMPLETED',
    StartTime: new Date('2026-11-23T00:15:00.000Z'),
    EndTime: new Date('2026-11-23T00:19:40.101Z'),
    TableArn: TABLE_ARN,
    S3Bucket: BUCKET,
    S3Prefix: PREFIX,
    ExportFormat: 'DYNAMODB_JSON',
    ExportType: 'INCREMENTAL_EXPORT',
    IncrementalExportSpecification: {
      ExportFromTime: new Date('2026-11-23T00:00:00.000Z'),
      ExportToTime: new Date('2026-11-23T00:15:00.000Z'),
      ExportViewType: 'NEW_AND_OLD_IMAGES',
    },
    BilledSizeBytes: 460,
    ItemCount: 3,
    ...changes,
  };
}

/**
 * The answer of ExportTableToPointInTime as DynamoDB gives it for a new request: the request's
 * own parameters echoed, IN_PROGRESS, under `exportArn`.
 */
export function startedAnswer(
  input: ExportTableToPointInTimeCommandInput,
  exportArn: string,
  startTime: Date,
) {
  return {
    ExportDescription: {
      ExportArn: exportArn,
      ExportStatus: 'IN_PROGRESS' as const,
      StartTime: startTime,
      TableArn: input.TableArn,
      ExportTime: input.ExportTime,
      ClientToken: input.ClientToken,
      S3Bucket: input.S3Bucket,
      S3Prefix: input.S3Prefix,
      ExportType: input.ExportType,
      IncrementalExportSpecification: input.IncrementalExportSpecification,
    },
  };
}

/** A sleep that does not wait, and counts what it was asked to wait. */
export function instantSleep(): { readonly sleep: (ms: number) => Promise<void>; readonly waits: number[] } {
  const waits: number[] = [];
  return {
    waits,
    sleep: async (ms: number) => {
      waits.push(ms);
    },
  };
}
