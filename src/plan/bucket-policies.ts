import { InvalidPlanOptionError } from './errors.ts';
import type { PolicyDocument } from './iam-policy.ts';
import { bucketKeyOf, type LandingFolders, type StoreLocation } from './landing-location.ts';

/** Default age, in days, at which the lifecycle rule removes snapshot files. */
export const DEFAULT_SNAPSHOT_RETENTION_DAYS = 30;

/** An S3 lifecycle configuration, as `aws s3api put-bucket-lifecycle-configuration` takes it. */
export interface LifecycleConfiguration {
  readonly Rules: readonly {
    readonly ID: string;
    readonly Filter: { readonly Prefix: string };
    readonly Status: 'Enabled';
    readonly Expiration: { readonly Days: number };
    readonly NoncurrentVersionExpiration: { readonly NoncurrentDays: number };
    readonly AbortIncompleteMultipartUpload: { readonly DaysAfterInitiation: number };
  }[];
}

export interface ExportBucketPolicyInput {
  readonly landing: StoreLocation & { readonly kind: 's3' };
  readonly folders: LandingFolders;
  readonly partition: string;
  /**
   * Who requests the export: an IAM role or user ARN, or an account id (then the account's root,
   * which lets the account delegate to its own identities).
   */
  readonly principal: string;
}

/**
 * The bucket policy that lets the exporting identity write a native export into the landing area
 * (DynamoDB writes the export with the requester's permissions: `s3:PutObject`, `s3:PutObjectAcl`
 * and `s3:AbortMultipartUpload`), restricted to the snapshot folder `<prefix>/AWSDynamoDB/`. Needed
 * when the bucket belongs to another account than the caller's; within one account the caller's
 * identity policy is enough. Pure.
 */
export function exportBucketPolicy(input: ExportBucketPolicyInput): PolicyDocument {
  const principal = /^\d{12}$/.test(input.principal)
    ? `arn:${input.partition}:iam::${input.principal}:root`
    : input.principal;
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'DdbLakeNativeExportWrite',
        Effect: 'Allow',
        Principal: { AWS: principal },
        Action: ['s3:AbortMultipartUpload', 's3:PutObject', 's3:PutObjectAcl'],
        Resource: `arn:${input.partition}:s3:::${input.landing.bucket}/${bucketKeyOf(input.landing, input.folders.exports)}*`,
      },
    ],
  };
}

/**
 * A lifecycle rule that removes snapshot files (`<prefix>/AWSDynamoDB/`, full and incremental
 * exports, native or Scan) `days` after they were written, their older versions a day after they
 * are replaced, and uploads left unfinished after 7 days. A snapshot is needed until apply has
 * applied it (and, to rebuild the lake table, until a newer one exists), so `days` must exceed the
 * time between an export and its apply. `put-bucket-lifecycle-configuration` replaces the bucket's
 * whole configuration: merge this rule into any rules already there. Pure; throws `InvalidPlanOptionError`
 * for a `days` that is not a whole number of at least 1.
 */
export function snapshotLifecycleRule(
  landing: StoreLocation & { readonly kind: 's3' },
  folders: LandingFolders,
  days: number = DEFAULT_SNAPSHOT_RETENTION_DAYS,
): LifecycleConfiguration {
  if (!Number.isInteger(days) || days < 1) {
    throw new InvalidPlanOptionError(
      'snapshotRetentionDays',
      `must be a whole number of days, at least 1, not ${days}`,
    );
  }
  return {
    Rules: [
      {
        ID: 'ddb-lake-expire-old-snapshots',
        Filter: { Prefix: bucketKeyOf(landing, folders.exports) },
        Status: 'Enabled',
        Expiration: { Days: days },
        NoncurrentVersionExpiration: { NoncurrentDays: 1 },
        AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 },
      },
    ],
  };
}
