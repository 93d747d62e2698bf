import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  S3_SERVER_CREDENTIALS,
  S3_SERVER_REGION,
  type S3Server,
  startS3Server,
} from '../../src/local/s3-server.ts';
import { UnsupportedStoreUrlError } from '../../src/storage/errors.ts';
import { LocalFolderStore } from '../../src/storage/local-folder-store.ts';
import { openStore, type StoreOptions } from '../../src/storage/open-store.ts';
import { S3Store } from '../../src/storage/s3-store.ts';
import { listKeys } from './helpers.ts';

describe('openStore URL selection', () => {
  test('s3://bucket/prefix opens an S3Store rooted at the prefix, with or without a trailing slash', () => {
    for (const url of ['s3://my-bucket/landing/area', 's3://my-bucket/landing/area/']) {
      const store = openStore(url, { region: 'eu-west-1' });
      expect(store).toBeInstanceOf(S3Store);
      const s3 = store as S3Store;
      expect(s3.bucket).toBe('my-bucket');
      expect(s3.rootPrefix).toBe('landing/area/');
      expect(s3.url).toBe('s3://my-bucket/landing/area');
    }
  });

  test('s3://bucket opens an S3Store on the whole bucket', () => {
    const store = openStore('s3://my-bucket', { region: 'eu-west-1' }) as S3Store;
    expect(store).toBeInstanceOf(S3Store);
    expect(store.rootPrefix).toBe('');
    expect(store.url).toBe('s3://my-bucket');
  });

  test('file:///abs, an absolute path and a relative path open a LocalFolderStore', () => {
    const absolute = path.resolve('/tmp/ddb-lake/landing');
    const byUrl = openStore(pathToFileURL(absolute).href);
    expect(byUrl).toBeInstanceOf(LocalFolderStore);
    expect((byUrl as LocalFolderStore).rootDir).toBe(absolute);

    const byPath = openStore(absolute);
    expect(byPath).toBeInstanceOf(LocalFolderStore);
    expect((byPath as LocalFolderStore).rootDir).toBe(absolute);
    expect(byPath.url).toBe(pathToFileURL(absolute).href);

    const relative = openStore('lake/orders');
    expect(relative).toBeInstanceOf(LocalFolderStore);
    expect((relative as LocalFolderStore).rootDir).toBe(path.join(process.cwd(), 'lake', 'orders'));
  });

  test('other schemes and malformed S3 URLs are refused with a message listing what is accepted', () => {
    const refused = [
      'http://example.com/lake',
      'gs://bucket/lake',
      's3a://bucket/lake',
      's3://',
      's3:///prefix',
      's3://bucket/a//b',
      's3://bucket/a/../b',
      's3://bucket/lake?versionId=1',
      '',
    ];
    for (const url of refused) {
      let error: unknown;
      try {
        openStore(url);
      } catch (caught) {
        error = caught;
      }
      expect(error, url).toBeInstanceOf(UnsupportedStoreUrlError);
      const message = (error as Error).message;
      expect(message).toContain('s3://bucket/prefix');
      expect(message).toContain('file:///absolute/path');
    }
    expect(() => openStore('s3a://bucket/lake')).toThrow(/write s3a:\/\/… as s3:\/\//);
  });
});

describe('openStore against the local S3 server', () => {
  let server: S3Server;
  let options: StoreOptions;

  beforeAll(async () => {
    server = await startS3Server({ buckets: ['open-store'] });
    options = {
      endpointUrl: server.endpoint,
      region: S3_SERVER_REGION,
      credentials: { ...S3_SERVER_CREDENTIALS },
    };
  });
  afterAll(() => server.stop());

  test('s3:// with a prefix lists and writes only under that prefix, not under its look-alikes', async () => {
    const bucket = openStore('s3://open-store', options);
    for (const key of ['landing/a', 'landing/sub/b', 'landing-old/c', 'landingx', 'landing.txt', 'other/d']) {
      await bucket.put(key, key);
    }
    const landing = openStore('s3://open-store/landing', options);
    expect(await listKeys(landing, '')).toEqual(['a', 'sub/b']);
    expect(await listKeys(landing, 'sub/')).toEqual(['sub/b']);
    expect(Buffer.from(await landing.getBytes('sub/b')).toString()).toBe('landing/sub/b');

    await landing.put('new', 'written through the prefix');
    expect(await listKeys(bucket, 'landing/')).toEqual(['landing/a', 'landing/new', 'landing/sub/b']);
    expect(await listKeys(bucket, '')).toEqual([
      'landing-old/c',
      'landing.txt',
      'landing/a',
      'landing/new',
      'landing/sub/b',
      'landingx',
      'other/d',
    ]);
    await Promise.all([bucket.close(), landing.close()]);
  });

  test('without --endpoint-url, AWS_ENDPOINT_URL_S3 reaches an S3-compatible server with path-style requests', async () => {
    const viaEnv = openStore(
      's3://open-store/env',
      { region: S3_SERVER_REGION, credentials: { ...S3_SERVER_CREDENTIALS } },
      { AWS_ENDPOINT_URL_S3: server.endpoint },
    );
    await viaEnv.put('object', 'through the environment');
    const direct = openStore('s3://open-store', options);
    expect(Buffer.from(await direct.getBytes('env/object')).toString()).toBe('through the environment');
    await Promise.all([viaEnv.close(), direct.close()]);
  });
});
