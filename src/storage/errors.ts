import { DdbLakeError } from '../errors.ts';

/**
 * The base of every error the object stores throw. `code` is stable; the message names the store
 * URL and the key, and says what to do next.
 *
 * Codes used directly on this class: `STORAGE_IO` (a local file operation failed),
 * `S3_REQUEST_FAILED`, `BUCKET_NOT_FOUND`, `CREDENTIALS_REJECTED`, `NO_CREDENTIALS`, `NO_REGION`,
 * `INVALID_RANGE`, `RANGE_NOT_HONOURED`, `LIST_ORDER_VIOLATED`, `KEY_CONFLICT`,
 * `CONDITIONAL_WRITE_CONFLICT`, `CONDITIONAL_WRITE_UNSUPPORTED`, `HARD_LINKS_UNSUPPORTED`,
 * `STORE_CLOSED`, `INVALID_STORE_ROOT`.
 */
export class StorageError extends DdbLakeError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** `get` or `getBytes` of a key that holds no object. */
export class ObjectNotFoundError extends StorageError {
  readonly key: string;
  readonly storeUrl: string;

  constructor(storeUrl: string, key: string, options?: { cause?: unknown }) {
    super(
      'OBJECT_NOT_FOUND',
      `No object "${key}" in ${storeUrl}. Check the key and the store location (bucket, prefix or folder).`,
      options,
    );
    this.key = key;
    this.storeUrl = storeUrl;
  }
}

/**
 * A key (or listing prefix) that the stores refuse: empty, with a leading `/`, an empty, `.` or
 * `..` segment, a NUL character, a lone UTF-16 surrogate, or a segment reserved for the local
 * store's temporary files. Refusing these keeps a key meaning the same object on S3 and on disk.
 */
export class InvalidKeyError extends StorageError {
  readonly key: string;
  readonly storeUrl: string;
  readonly reason: string;

  constructor(storeUrl: string, key: string, reason: string) {
    super(
      'INVALID_KEY',
      `Refused the key ${JSON.stringify(key)} for ${storeUrl}: ${reason}. Keys are relative, ` +
        '"/"-separated paths such as "changes/orders/dt=2024-01-31/part.jsonl.gz".',
    );
    this.key = key;
    this.storeUrl = storeUrl;
    this.reason = reason;
  }
}

/** S3 answered 403 for a request; the message names the bucket, the key and the IAM action needed. */
export class StoreAccessDeniedError extends StorageError {
  readonly storeUrl: string;
  readonly bucket: string;
  readonly key: string | undefined;
  /** The IAM action the caller lacks, such as `s3:GetObject`. */
  readonly permission: string;

  constructor(
    storeUrl: string,
    location: {
      readonly bucket: string;
      readonly key?: string;
      readonly permission: string;
      readonly resource: string;
    },
    options?: { cause?: unknown },
  ) {
    const target =
      location.key === undefined ? `bucket "${location.bucket}"` : `s3://${location.bucket}/${location.key}`;
    const notFoundHint =
      location.permission === 's3:GetObject'
        ? ' (S3 also answers 403 instead of 404 for a missing key when the caller lacks s3:ListBucket on the bucket.)'
        : '';
    super(
      'ACCESS_DENIED',
      `Access denied to ${target} (store ${storeUrl}): the caller needs ${location.permission} on ` +
        `${location.resource}. Grant it in the IAM or bucket policy, or use another --profile.${notFoundHint}`,
      options,
    );
    this.storeUrl = storeUrl;
    this.bucket = location.bucket;
    this.key = location.key;
    this.permission = location.permission;
  }
}

/** A store URL that `openStore` cannot open. */
export class UnsupportedStoreUrlError extends StorageError {
  readonly url: string;

  constructor(url: string, reason: string) {
    super(
      'UNSUPPORTED_STORE_URL',
      `Cannot open the store ${JSON.stringify(url)}: ${reason}. Accepted: s3://bucket or s3://bucket/prefix, ` +
        'file:///absolute/path, an absolute path, or a path relative to the current folder.',
    );
    this.url = url;
  }
}
