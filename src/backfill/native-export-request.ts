import { createHash } from 'node:crypto';
import type { ExportTableToPointInTimeCommandInput } from '@aws-sdk/client-dynamodb';
import { InvalidExportRequestError } from './native-export-errors.ts';

/** The length an incremental export's window may have, as DynamoDB allows it: 15 minutes to 24 hours. */
export const INCREMENTAL_WINDOW_MS = { min: 15 * 60_000, max: 24 * 60 * 60_000 } as const;

/**
 * How long DynamoDB remembers an export's ClientToken: 8 hours after the first request that used it
 * completed (ExportTableToPointInTime, ClientToken). Within it, the same request with the same token
 * answers with the export already started; after it, the same token starts a new export.
 */
export const CLIENT_TOKEN_WINDOW_MS = 8 * 60 * 60_000;

/** Where a native export lands: an S3 bucket and the prefix under which `AWSDynamoDB/` appears. */
export interface S3Destination {
  readonly bucket: string;
  /** The prefix without leading or trailing `/`; `''` for the bucket root. */
  readonly prefix: string;
  /** `s3://bucket` or `s3://bucket/prefix`: the landing area the export's files appear in. */
  readonly url: string;
}

/** Server-side encryption of the exported files. KMS without a key id uses the AWS managed key. */
export type ExportSse =
  | { readonly algorithm: 'AES256' }
  | { readonly algorithm: 'KMS'; readonly kmsKeyId?: string };

/** Which export: the table as of one point in time, or the changes of a window. */
export type ExportKind =
  | { readonly type: 'FULL_EXPORT'; readonly exportTime: Date }
  | { readonly type: 'INCREMENTAL_EXPORT'; readonly from: Date; readonly to: Date };

/** Everything one ExportTableToPointInTime request says; the ClientToken is derived from it. */
export interface NativeExportSpec {
  readonly tableArn: string;
  readonly destination: S3Destination;
  readonly kind: ExportKind;
  /** The 12-digit account id owning the bucket, when it is not the caller's account. */
  readonly bucketOwner?: string;
  readonly sse?: ExportSse;
  /**
   * A number folded into the ClientToken (default 1). Within DynamoDB's 8 hours, the same request
   * answers with the same export, even a failed one; a new attempt number makes it a new request.
   */
  readonly attempt?: number;
}

const BUCKET_NAME = /^[a-z0-9A-Z]+[.\-\w]*[a-z0-9A-Z]+$/;
const ACCOUNT_ID = /^\d{12}$/;

/**
 * Parses `--landing` for a native export. DynamoDB's Export to S3 writes only to S3, so anything
 * but `s3://bucket[/prefix]` (a local folder, a `file://` URL, another scheme) throws
 * `InvalidExportRequestError` naming the alternative. Trailing slashes are dropped.
 */
export function parseS3Landing(url: string): S3Destination {
  const match = /^s3:\/\/([^/]*)(?:\/(.*))?$/i.exec(url.trim());
  if (match === null) {
    throw new InvalidExportRequestError(
      `DynamoDB's Export to S3 writes only to an S3 bucket, and --landing is "${url}". Pass --landing ` +
        's3://bucket/prefix (then read it from there, or copy it), or use `ddb-lake backfill scan`, which ' +
        'writes the same layout to a local folder.',
    );
  }
  const bucket = match[1] ?? '';
  const prefix = (match[2] ?? '').replace(/^\/+|\/+$/g, '');
  if (bucket.length < 3 || bucket.length > 255 || !BUCKET_NAME.test(bucket)) {
    throw new InvalidExportRequestError(`--landing ${url} does not name a valid S3 bucket ("${bucket}").`);
  }
  if (
    prefix !== '' &&
    prefix.split('/').some((segment) => segment === '' || segment === '.' || segment === '..')
  ) {
    throw new InvalidExportRequestError(`--landing ${url} has an empty, "." or ".." segment in its prefix.`);
  }
  return { bucket, prefix, url: prefix === '' ? `s3://${bucket}` : `s3://${bucket}/${prefix}` };
}

/**
 * Checks what can be checked without DynamoDB: the bucket owner's form, `--kms-key` only with KMS,
 * the attempt number, and the times: a full export's time not in the future; an incremental
 * window that starts before it ends, lasts 15 minutes to 24 hours and ends by `now`. With the
 * table's point-in-time recovery window, also that no time lies before its earliest restorable
 * time. Throws `InvalidExportRequestError` for the first problem found.
 */
export function validateExportSpec(
  spec: NativeExportSpec,
  now: Date,
  pitr?: { readonly earliestRestorable: Date | null },
): void {
  if (spec.bucketOwner !== undefined && !ACCOUNT_ID.test(spec.bucketOwner)) {
    throw new InvalidExportRequestError(
      `--bucket-owner must be the 12-digit AWS account id owning the bucket, got "${spec.bucketOwner}".`,
    );
  }
  if (spec.sse?.algorithm === 'KMS' && spec.sse.kmsKeyId === '') {
    throw new InvalidExportRequestError('--kms-key is empty: name a KMS key id or ARN, or leave it out.');
  }
  const attempt = spec.attempt ?? 1;
  if (!Number.isSafeInteger(attempt) || attempt < 1) {
    throw new InvalidExportRequestError(`--attempt must be a whole number of at least 1, got ${attempt}.`);
  }
  const earliest = pitr?.earliestRestorable ?? null;
  const tooEarly = (time: Date, flag: string) => {
    if (earliest !== null && time.getTime() < earliest.getTime()) {
      throw new InvalidExportRequestError(
        `${flag} ${time.toISOString()} is before the earliest restorable time of ${spec.tableArn}, ` +
          `${earliest.toISOString()} (point-in-time recovery holds nothing older): choose a later time.`,
      );
    }
  };
  if (spec.kind.type === 'FULL_EXPORT') {
    const time = spec.kind.exportTime;
    if (Number.isNaN(time.getTime()))
      throw new InvalidExportRequestError('--export-time is not a valid time.');
    if (time.getTime() > now.getTime()) {
      throw new InvalidExportRequestError(
        `--export-time ${time.toISOString()} is in the future (now is ${now.toISOString()}): an export copies the table as it was.`,
      );
    }
    tooEarly(time, '--export-time');
    return;
  }
  const { from, to } = spec.kind;
  if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime())) {
    throw new InvalidExportRequestError('--from and --to must both be valid times.');
  }
  const length = to.getTime() - from.getTime();
  if (length <= 0) {
    throw new InvalidExportRequestError(
      `--from ${from.toISOString()} must come before --to ${to.toISOString()}: the window holds the changes from one to the other.`,
    );
  }
  if (length < INCREMENTAL_WINDOW_MS.min || length > INCREMENTAL_WINDOW_MS.max) {
    throw new InvalidExportRequestError(
      `An incremental export's window lasts 15 minutes to 24 hours; --from ${from.toISOString()} to --to ` +
        `${to.toISOString()} is ${describeLength(length)}. For a longer span take several consecutive ` +
        'windows, or a full export.',
    );
  }
  if (to.getTime() > now.getTime()) {
    throw new InvalidExportRequestError(
      `--to ${to.toISOString()} is in the future (now is ${now.toISOString()}): the window must have passed.`,
    );
  }
  tooEarly(from, '--from');
}

/**
 * The ExportTableToPointInTime input for a spec, with the ClientToken derived from it and the
 * format fixed to DYNAMODB_JSON (the format ddb-lake reads). Pure: the same spec gives the same
 * input, byte for byte.
 */
export function exportRequestOf(spec: NativeExportSpec): ExportTableToPointInTimeCommandInput {
  const { destination, kind } = spec;
  return {
    TableArn: spec.tableArn,
    ClientToken: clientTokenOf(spec),
    S3Bucket: destination.bucket,
    ...(destination.prefix === '' ? {} : { S3Prefix: destination.prefix }),
    ...(spec.bucketOwner === undefined ? {} : { S3BucketOwner: spec.bucketOwner }),
    ...(spec.sse === undefined ? {} : { S3SseAlgorithm: spec.sse.algorithm }),
    ...(spec.sse?.algorithm === 'KMS' && spec.sse.kmsKeyId !== undefined
      ? { S3SseKmsKeyId: spec.sse.kmsKeyId }
      : {}),
    ExportFormat: 'DYNAMODB_JSON',
    ExportType: kind.type,
    ...(kind.type === 'FULL_EXPORT'
      ? { ExportTime: kind.exportTime }
      : {
          IncrementalExportSpecification: {
            ExportFromTime: kind.from,
            ExportToTime: kind.to,
            ExportViewType: 'NEW_AND_OLD_IMAGES',
          },
        }),
  };
}

/**
 * The ClientToken of a request: `ddb-lake-` and 32 hex digits of a SHA-256 over every parameter
 * (table ARN, export time or window, bucket, prefix, owner, encryption, attempt). The same request
 * gets the same token on every run and machine, so a rerun within DynamoDB's 8 hours attaches to
 * the export already started instead of paying for a second one; any other request gets another.
 */
export function clientTokenOf(spec: NativeExportSpec): string {
  return `ddb-lake-${digest(canonical(spec, true))}`;
}

/**
 * What identifies a request apart from a full export's time: the same digest without
 * `exportTime`. Requests that differ only in that time share it, which lets a rerun that asks for
 * "now" find the time an earlier, interrupted run chose.
 */
export function requestIdentityOf(spec: NativeExportSpec): string {
  return digest(canonical(spec, false));
}

function canonical(spec: NativeExportSpec, withTime: boolean): string {
  const kind =
    spec.kind.type === 'FULL_EXPORT'
      ? ['FULL_EXPORT', withTime ? spec.kind.exportTime.toISOString() : null]
      : [
          'INCREMENTAL_EXPORT',
          spec.kind.from.toISOString(),
          spec.kind.to.toISOString(),
          'NEW_AND_OLD_IMAGES',
        ];
  // An array, not an object, so that the order of the fields is fixed by this code.
  return JSON.stringify([
    'ddb-lake native export v1',
    spec.tableArn,
    spec.destination.bucket,
    spec.destination.prefix,
    spec.bucketOwner ?? null,
    spec.sse?.algorithm ?? null,
    spec.sse?.algorithm === 'KMS' ? (spec.sse.kmsKeyId ?? null) : null,
    'DYNAMODB_JSON',
    kind,
    spec.attempt ?? 1,
  ]);
}

function digest(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex').slice(0, 32);
}

function describeLength(ms: number): string {
  const minutes = ms / 60_000;
  return minutes < 120
    ? `${Math.round(minutes * 10) / 10} minutes`
    : `${Math.round((minutes / 60) * 10) / 10} hours`;
}
