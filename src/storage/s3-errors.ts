import { type AwsFailureKind, awsFailureOf, describeAwsFailure } from '../aws/aws-request-error.ts';
import { ObjectNotFoundError, StorageError, StoreAccessDeniedError } from './errors.ts';

/** The S3 request that failed, in terms a reader of the error message can act on. */
export interface S3FailureContext {
  readonly storeUrl: string;
  readonly operation: 'list' | 'head' | 'get' | 'getBytes' | 'put' | 'putIfAbsent' | 'delete';
  readonly bucket: string;
  /** The key relative to the store's root, as the caller wrote it. */
  readonly storeKey?: string;
  /** The full key in the bucket (root prefix included), or the listing prefix for `list`. */
  readonly s3Key?: string;
}

/** The failures worded as everywhere else in ddb-lake; S3's own (bucket, key, permission) are worded here. */
const SHARED_KINDS: ReadonlySet<AwsFailureKind> = new Set<AwsFailureKind>([
  'timeout',
  'unreachable',
  'unknown-host',
  'no-credentials',
  'credentials-rejected',
  'credentials-expired',
  'no-region',
]);

/** The IAM action each operation needs, and whether it applies to the bucket or to the object. */
const PERMISSIONS: Record<
  S3FailureContext['operation'],
  { readonly action: string; readonly on: 'bucket' | 'object' }
> = {
  list: { action: 's3:ListBucket', on: 'bucket' },
  head: { action: 's3:GetObject', on: 'object' },
  get: { action: 's3:GetObject', on: 'object' },
  getBytes: { action: 's3:GetObject', on: 'object' },
  put: { action: 's3:PutObject', on: 'object' },
  putIfAbsent: { action: 's3:PutObject', on: 'object' },
  delete: { action: 's3:DeleteObject', on: 'object' },
};

/** The S3 error code (`NoSuchKey`, `AccessDenied`, …) and HTTP status of an SDK error, if any. */
export function s3FailureOf(error: unknown): { readonly name: string; readonly status: number | undefined } {
  if (typeof error !== 'object' || error === null) return { name: String(error), status: undefined };
  const name = 'name' in error && typeof error.name === 'string' ? error.name : 'Error';
  const metadata =
    '$metadata' in error ? (error.$metadata as { httpStatusCode?: unknown } | undefined) : undefined;
  const status = typeof metadata?.httpStatusCode === 'number' ? metadata.httpStatusCode : undefined;
  return { name, status };
}

/**
 * Translates an AWS SDK error into our error hierarchy: `NoSuchKey` → `ObjectNotFoundError`,
 * 403 `AccessDenied` → `StoreAccessDeniedError` naming the bucket, key and IAM action needed, an
 * unknown bucket → `BUCKET_NOT_FOUND`, and the endpoint, network and credential failures
 * (`awsFailureOf`: timeouts, refused connections, rejected, expired or missing credentials, no
 * region) into `StorageError`s with the code and message `describeAwsFailure` gives them.
 * Anything else becomes `S3_REQUEST_FAILED` with the SDK error as its cause. Errors that are
 * already ours pass through unchanged.
 */
export function toStorageError(error: unknown, context: S3FailureContext): StorageError {
  if (error instanceof StorageError) return error;
  const { name, status } = s3FailureOf(error);
  const message = error instanceof Error ? error.message : String(error);
  const { storeUrl, operation, bucket, storeKey, s3Key } = context;
  const where = storeKey === undefined ? storeUrl : `"${storeKey}" in ${storeUrl}`;
  const failure = awsFailureOf(error);
  const endpoint = failure?.request?.endpoint;

  if (name === 'NoSuchKey' && storeKey !== undefined)
    return new ObjectNotFoundError(storeUrl, storeKey, { cause: error });
  if (name === 'NoSuchBucket') {
    return new StorageError(
      'BUCKET_NOT_FOUND',
      `The bucket "${bucket}" of ${storeUrl} does not exist${endpoint === undefined ? '' : ` at ${endpoint}`} (or lives behind another endpoint). ` +
        'Create it, or check the bucket name, --endpoint-url and --region.',
      { cause: error },
    );
  }
  // Endpoint, network and credential failures read the same in every part of ddb-lake.
  if (failure !== undefined && SHARED_KINDS.has(failure.kind)) {
    return new StorageError(failure.code, describeAwsFailure(failure, { about: where }), { cause: error });
  }
  if (name === 'AccessDenied' || status === 403) {
    const permission = PERMISSIONS[operation];
    const resource =
      permission.on === 'bucket' ? `arn:aws:s3:::${bucket}` : `arn:aws:s3:::${bucket}/${s3Key ?? ''}`;
    return new StoreAccessDeniedError(
      storeUrl,
      {
        bucket,
        ...(permission.on === 'object' && s3Key !== undefined ? { key: s3Key } : {}),
        permission: permission.action,
        resource,
      },
      { cause: error },
    );
  }
  const statusText = status === undefined ? '' : ` (HTTP ${status})`;
  return new StorageError(
    'S3_REQUEST_FAILED',
    `S3 ${operation} of ${where}${endpoint === undefined ? '' : ` at ${endpoint}`} failed${statusText}: ${name}: ${message}. Retry; if it persists, check ` +
      '--endpoint-url, --region and the bucket configuration.',
    { cause: error },
  );
}
