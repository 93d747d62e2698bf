import { execFile } from 'node:child_process';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, test } from 'vitest';
import { S3_SERVER_CREDENTIALS, S3_SERVER_REGION, startS3Server } from '../../src/local/s3-server.ts';
import { S3Store } from '../../src/storage/s3-store.ts';
import { listKeys, TempFolders } from './helpers.ts';

const folders = new TempFolders();
afterAll(() => folders.removeAll());

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

function storeOn(endpoint: string, bucket: string): S3Store {
  return new S3Store({
    bucket,
    endpointUrl: endpoint,
    region: S3_SERVER_REGION,
    credentials: S3_SERVER_CREDENTIALS,
  });
}

describe('startS3Server', () => {
  test('binds 127.0.0.1 on a free port, so two servers run side by side', async () => {
    const [first, second] = await Promise.all([startS3Server(), startS3Server()]);
    try {
      for (const server of [first, second]) expect(new URL(server.endpoint).hostname).toBe('127.0.0.1');
      expect(first.endpoint).not.toBe(second.endpoint);
    } finally {
      await Promise.all([first.stop(), second.stop()]);
    }
  });

  test('without a directory it makes a temporary one and removes it on stop; stop is idempotent', async () => {
    const server = await startS3Server({ buckets: ['temp-data'] });
    const store = storeOn(server.endpoint, 'temp-data');
    await store.put('k', 'v');
    await store.close();
    expect(await exists(server.directory)).toBe(true);
    await server.stop();
    expect(await exists(server.directory)).toBe(false);
    await server.stop();
    await expect(fetch(server.endpoint)).rejects.toThrow();
  });

  test('stop returns while a client still holds a keep-alive connection', async () => {
    const server = await startS3Server({ buckets: ['keep-alive'] });
    const store = storeOn(server.endpoint, 'keep-alive');
    await store.put('k', 'v');
    const stopped = await Promise.race([
      server.stop().then(() => 'stopped'),
      new Promise((resolve) => setTimeout(() => resolve('still running'), 3_000)),
    ]);
    expect(stopped).toBe('stopped');
    await store.close();
  });

  test('a given directory is kept on stop, and its objects are served again after a restart', async () => {
    const directory = path.join(await folders.make('s3-server'), 'data');
    const first = await startS3Server({ directory, buckets: ['kept'] });
    const writer = storeOn(first.endpoint, 'kept');
    await writer.put('changes/a.jsonl.gz', 'persisted');
    await writer.close();
    await first.stop();
    expect(await exists(directory)).toBe(true);

    const second = await startS3Server({ directory });
    const reader = storeOn(second.endpoint, 'kept');
    try {
      expect(await listKeys(reader, '')).toEqual(['changes/a.jsonl.gz']);
      expect(Buffer.from(await reader.getBytes('changes/a.jsonl.gz')).toString()).toBe('persisted');
    } finally {
      await reader.close();
      await second.stop();
    }
  });

  test('createBucket is idempotent and refuses names S3 would refuse', async () => {
    const server = await startS3Server();
    try {
      await server.createBucket('made-later');
      await server.createBucket('made-later');
      const store = storeOn(server.endpoint, 'made-later');
      await store.put('k', 'v');
      expect(await listKeys(store, '')).toEqual(['k']);
      await store.close();
      for (const name of ['ab', 'Upper', '-leading', 'trailing-', 'a..b', 'under_score', 'x'.repeat(64)]) {
        await expect(server.createBucket(name), name).rejects.toMatchObject({ code: 'INVALID_BUCKET_NAME' });
      }
    } finally {
      await server.stop();
    }
  });

  test('PutObject with If-None-Match: * answers 412 when the key exists (plain s3rver ignores the header)', async () => {
    const server = await startS3Server({ buckets: ['conditional'] });
    const client = new S3Client({
      endpoint: server.endpoint,
      forcePathStyle: true,
      region: S3_SERVER_REGION,
      credentials: S3_SERVER_CREDENTIALS,
      requestChecksumCalculation: 'WHEN_REQUIRED',
    });
    try {
      const put = (body: string) =>
        client.send(
          new PutObjectCommand({ Bucket: 'conditional', Key: 'c.json', Body: body, IfNoneMatch: '*' }),
        );
      await put('first');
      await expect(put('second')).rejects.toMatchObject({
        name: 'PreconditionFailed',
        $metadata: { httpStatusCode: 412 },
      });
      const store = storeOn(server.endpoint, 'conditional');
      expect(Buffer.from(await store.getBytes('c.json')).toString()).toBe('first');
      await store.close();
    } finally {
      client.destroy();
      await server.stop();
    }
  });

  test('an aws-chunked body (the SDK default for streams) is refused instead of being stored with its framing', async () => {
    const server = await startS3Server({ buckets: ['chunked'] });
    const client = new S3Client({
      endpoint: server.endpoint,
      forcePathStyle: true,
      region: S3_SERVER_REGION,
      credentials: S3_SERVER_CREDENTIALS,
    });
    try {
      const body = Readable.from([Buffer.from('abc'), Buffer.from('def')]);
      await expect(
        client.send(new PutObjectCommand({ Bucket: 'chunked', Key: 'k', Body: body, ContentLength: 6 })),
      ).rejects.toMatchObject({ name: 'NotImplemented' });
      const store = storeOn(server.endpoint, 'chunked');
      expect(await store.head('k')).toBeUndefined();
      await store.close();
    } finally {
      client.destroy();
      await server.stop();
    }
  });

  test('serving requests writes nothing to stdout', async () => {
    const serverModule = path.resolve('src/local/s3-server.ts');
    const storeModule = path.resolve('src/storage/s3-store.ts');
    const script = `
      const { startS3Server, S3_SERVER_CREDENTIALS, S3_SERVER_REGION } = await import(${JSON.stringify(serverModule)});
      const { S3Store } = await import(${JSON.stringify(storeModule)});
      const server = await startS3Server({ buckets: ['quiet'] });
      const store = new S3Store({ bucket: 'quiet', endpointUrl: server.endpoint, region: S3_SERVER_REGION, credentials: S3_SERVER_CREDENTIALS });
      await store.put('k', 'v');
      await store.getBytes('k');
      await store.getBytes('missing').catch(() => undefined);
      for await (const _ of store.list('')) {}
      await store.close();
      await server.stop();
    `;
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script]);
    expect(stdout).toBe('');
  });
});
