import { S3ServiceException } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  S3_SERVER_CREDENTIALS,
  S3_SERVER_REGION,
  type S3Server,
  startS3Server,
} from '../../src/local/s3-server.ts';
import { ObjectNotFoundError, StorageError, StoreAccessDeniedError } from '../../src/storage/errors.ts';
import { toStorageError } from '../../src/storage/s3-errors.ts';
import { S3Store } from '../../src/storage/s3-store.ts';

function sdkError(name: string, status: number): S3ServiceException {
  return new S3ServiceException({
    name,
    message: `${name} from S3`,
    $fault: status < 500 ? 'client' : 'server',
    $metadata: { httpStatusCode: status },
  });
}

async function failure(promise: Promise<unknown>): Promise<StorageError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(StorageError);
  return error as StorageError;
}

describe('S3Store against the local S3 server', () => {
  let server: S3Server;
  beforeAll(async () => {
    server = await startS3Server({ buckets: ['s3-store'] });
  });
  afterAll(() => server.stop());

  const open = (
    bucket: string,
    credentials: { accessKeyId: string; secretAccessKey: string } = S3_SERVER_CREDENTIALS,
  ) => new S3Store({ bucket, endpointUrl: server.endpoint, region: S3_SERVER_REGION, credentials });

  test('a missing bucket fails with BUCKET_NOT_FOUND naming the bucket', async () => {
    const store = open('no-such-bucket');
    const error = await failure(store.put('k', 'x'));
    expect(error.code).toBe('BUCKET_NOT_FOUND');
    expect(error.message).toContain('"no-such-bucket"');
    const listing = await failure(
      (async () => {
        for await (const _ of store.list('')) break;
      })(),
    );
    expect(listing.code).toBe('BUCKET_NOT_FOUND');
    await store.close();
  });

  test('credentials the server does not know fail with CREDENTIALS_REJECTED naming the key', async () => {
    const store = open('s3-store', { accessKeyId: 'NOT-A-KEY', secretAccessKey: 'wrong' });
    const error = await failure(store.getBytes('some/key'));
    expect(error.code).toBe('CREDENTIALS_REJECTED');
    expect(error.message).toContain('"some/key" in s3://s3-store');
    await store.close();
  });

  test('a missing key reads as ObjectNotFoundError and heads as undefined', async () => {
    const store = open('s3-store');
    await expect(store.getBytes('absent')).rejects.toBeInstanceOf(ObjectNotFoundError);
    expect(await store.head('absent')).toBeUndefined();
    await store.close();
  });
});

describe('S3 error mapping', () => {
  const context = {
    storeUrl: 's3://lake-bucket/tables/orders',
    bucket: 'lake-bucket',
    storeKey: '_delta_log/00000000000000000003.json',
    s3Key: 'tables/orders/_delta_log/00000000000000000003.json',
  } as const;

  test('AccessDenied on a put names the bucket, the full key and s3:PutObject on the object ARN', () => {
    const error = toStorageError(sdkError('AccessDenied', 403), { ...context, operation: 'putIfAbsent' });
    expect(error).toBeInstanceOf(StoreAccessDeniedError);
    expect(error.code).toBe('ACCESS_DENIED');
    expect((error as StoreAccessDeniedError).permission).toBe('s3:PutObject');
    expect(error.message).toContain('s3://lake-bucket/tables/orders/_delta_log/00000000000000000003.json');
    expect(error.message).toContain(
      'arn:aws:s3:::lake-bucket/tables/orders/_delta_log/00000000000000000003.json',
    );
  });

  test('AccessDenied on a listing asks for s3:ListBucket on the bucket', () => {
    const error = toStorageError(sdkError('AccessDenied', 403), {
      storeUrl: context.storeUrl,
      bucket: context.bucket,
      s3Key: 'tables/orders/_delta_log/',
      operation: 'list',
    });
    expect(error).toBeInstanceOf(StoreAccessDeniedError);
    expect(error.message).toContain('s3:ListBucket on arn:aws:s3:::lake-bucket.');
  });

  test('a 403 on a read asks for s3:GetObject and says a missing key can also answer 403', () => {
    const error = toStorageError(sdkError('Forbidden', 403), { ...context, operation: 'get' });
    expect((error as StoreAccessDeniedError).permission).toBe('s3:GetObject');
    expect(error.message).toContain('s3:ListBucket');
  });

  test('NoSuchKey becomes ObjectNotFoundError and other failures keep the SDK error as their cause', () => {
    const notFound = toStorageError(sdkError('NoSuchKey', 404), { ...context, operation: 'getBytes' });
    expect(notFound).toBeInstanceOf(ObjectNotFoundError);
    expect((notFound as ObjectNotFoundError).key).toBe(context.storeKey);

    const original = sdkError('SlowDown', 503);
    const throttled = toStorageError(original, { ...context, operation: 'put' });
    expect(throttled.code).toBe('S3_REQUEST_FAILED');
    expect(throttled.cause).toBe(original);
    expect(throttled.message).toContain('HTTP 503');
    expect(throttled.message).toContain(context.storeKey);
  });
});
