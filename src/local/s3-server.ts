import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, type Dirent } from 'node:fs';
import { mkdir, mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StorageError } from '../storage/errors.ts';
import { compareKeys } from '../storage/object-key.ts';

/** An S3-compatible server on loopback, for the demo stack and the tests. */
export interface S3Server {
  /** `http://127.0.0.1:<port>`: pass it as `endpointUrl` (path-style addressing). */
  readonly endpoint: string;
  /** The folder holding the buckets' data. */
  readonly directory: string;
  /** Creates a bucket (idempotent). Throws `StorageError` `INVALID_BUCKET_NAME` for a name S3 would refuse. */
  createBucket(name: string): Promise<void>;
  /** Closes the server, cutting open connections, and removes its folder if it made one. Idempotent. */
  stop(): Promise<void>;
}

/** The credentials the server accepts (it checks request signatures against them). */
export const S3_SERVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

/** The region for clients of the server to sign with (the server accepts any; this is the usual one). */
export const S3_SERVER_REGION = 'us-east-1';

// s3rver ships without types: these describe the parts of it used here.
type Metadata = Record<string, string | number | undefined>;
interface S3ObjectLike {
  readonly bucket: string;
  readonly key: string;
  readonly content: Readable | Buffer | null;
  readonly metadata: Metadata;
  readonly size: number;
  readonly lastModifiedDate: Date;
  range?: { start: number; end: number };
}
interface FilesystemStoreBase {
  getBucketPath(bucket: string): string;
  getResourcePath(bucket: string, key: string | undefined, resource: string): string;
  getMetadata(bucket: string, key: string): Promise<Metadata>;
  putMetadata(bucket: string, key: string, metadata: Metadata, md5?: string): Promise<void>;
  existsObject(bucket: string, key: string): Promise<boolean>;
  putBucket(bucket: string): Promise<unknown>;
}
interface KoaContext {
  readonly params: Record<string, string>;
  readonly query: Record<string, string | undefined>;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly store: unknown;
  body: unknown;
}
type Controller = (ctx: KoaContext) => Promise<void>;
interface S3rverInstance {
  store: unknown;
  readonly logger: { silent: boolean };
  readonly context: { store: unknown };
  readonly httpServer?: Server;
  run(): Promise<AddressInfo>;
}

const require = createRequire(import.meta.url);
const S3rver = require('s3rver') as new (options: Record<string, unknown>) => S3rverInstance;
const FilesystemStore = require('s3rver/lib/stores/filesystem') as new (
  rootDirectory: string,
) => FilesystemStoreBase;
const S3Object = require('s3rver/lib/models/object') as new (
  bucket: string,
  key: string,
  content: Readable | Buffer | null,
  metadata: Metadata,
) => S3ObjectLike;
const S3Error = require('s3rver/lib/models/error') as new (
  code: string,
  message: string,
  detail?: object,
) => Error;
const bucketController = require('s3rver/lib/controllers/bucket') as { getBucket: Controller };
const objectController = require('s3rver/lib/controllers/object') as {
  putObject: Controller;
  uploadPart: Controller;
};

const OBJECT_SUFFIX = '._S3rver_object';
const UPLOADS_FOLDER_SUFFIX = '._S3rver_uploads';

/**
 * s3rver's file store, corrected where it departs from S3 in ways the object store contract
 * depends on: listings in UTF-8 byte order of keys (s3rver walks folders, listing `a/b` before
 * `a-b`), a `Range: bytes=0-0` that selects one byte (s3rver returns the whole object), and
 * atomic, fully flushed puts (s3rver writes in place and answers before the bytes reach the file).
 * It also serializes conditional puts per key so `If-None-Match: *` is exclusive.
 */
class LocalS3Store extends FilesystemStore {
  readonly #locks = new Map<string, Promise<void>>();

  async listObjects(
    bucket: string,
    options: { prefix?: string; delimiter?: string; startAfter?: string; maxKeys?: number },
  ): Promise<{
    objects: S3ObjectLike[];
    commonPrefixes: string[];
    isTruncated: boolean;
    lastEntry?: string;
  }> {
    const { prefix = '', delimiter = '', startAfter = '', maxKeys = Number.POSITIVE_INFINITY } = options;
    const keys: string[] = [];
    await this.#collectKeys(this.getBucketPath(bucket), '', prefix, keys);
    keys.sort(compareKeys);
    const chosen: string[] = [];
    const commonPrefixes: string[] = [];
    let lastEntry: string | undefined;
    let isTruncated = false;
    for (const key of keys) {
      if (startAfter !== '' && compareKeys(key, startAfter) <= 0) continue;
      const cut = delimiter === '' ? -1 : key.indexOf(delimiter, prefix.length);
      const entry = cut < 0 ? key : key.slice(0, cut + delimiter.length);
      if (cut >= 0 && (entry === lastEntry || (startAfter !== '' && compareKeys(entry, startAfter) <= 0)))
        continue;
      if (chosen.length + commonPrefixes.length >= maxKeys) {
        isTruncated = true;
        break;
      }
      (cut < 0 ? chosen : commonPrefixes).push(entry);
      lastEntry = entry;
    }
    const objects: S3ObjectLike[] = [];
    for (const key of chosen) {
      const metadata = await this.getMetadata(bucket, key).catch((error: unknown) => {
        if (isNotFound(error)) return undefined;
        throw error;
      });
      if (metadata !== undefined) objects.push(new S3Object(bucket, key, null, metadata));
    }
    return { objects, commonPrefixes, isTruncated, ...(lastEntry === undefined ? {} : { lastEntry }) };
  }

  async #collectKeys(folder: string, folderKey: string, prefix: string, into: string[]): Promise<void> {
    let entries: Dirent[];
    try {
      entries = await readdir(folder, { withFileTypes: true });
    } catch (error) {
      if (isNotFound(error)) return;
      throw error;
    }
    for (const entry of entries) {
      if (entry.isDirectory()) {
        const subKey = `${folderKey}${entry.name}/`;
        if (entry.name.endsWith(UPLOADS_FOLDER_SUFFIX)) continue;
        if (subKey.startsWith(prefix) || prefix.startsWith(subKey)) {
          await this.#collectKeys(path.join(folder, entry.name), subKey, prefix, into);
        }
      } else if (entry.name.endsWith(OBJECT_SUFFIX)) {
        const key = folderKey + entry.name.slice(0, -OBJECT_SUFFIX.length);
        if (key.startsWith(prefix)) into.push(key);
      }
    }
  }

  async getObject(
    bucket: string,
    key: string,
    options?: { start?: number; end?: number },
  ): Promise<S3ObjectLike | null> {
    let metadata: Metadata;
    try {
      metadata = await this.getMetadata(bucket, key);
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
    const file = this.getResourcePath(bucket, key, 'object');
    if (options?.start === undefined && options?.end === undefined) {
      return new S3Object(bucket, key, createReadStream(file), metadata);
    }
    const lastByte = Number(metadata['content-length']) - 1;
    const range = {
      start: options.start ?? 0,
      end: Math.min(options.end ?? Number.POSITIVE_INFINITY, lastByte),
    };
    const satisfiable = range.start >= 0 && range.end >= range.start;
    // Without content the controller answers 416 InvalidRange, as S3 does.
    const object = new S3Object(bucket, key, satisfiable ? createReadStream(file, range) : null, metadata);
    object.range = range;
    return object;
  }

  async putObject(object: S3ObjectLike): Promise<{ size: number; md5: string }> {
    const target = this.getResourcePath(object.bucket, object.key, 'object');
    const folder = path.dirname(target);
    await mkdir(folder, { recursive: true });
    // The name does not end in the object suffix, so no listing sees a half-written upload.
    const temp = path.join(folder, `.ddb-lake-upload-${randomBytes(8).toString('hex')}`);
    const md5 = createHash('md5');
    let size = 0;
    const source =
      object.content === null || Buffer.isBuffer(object.content)
        ? Readable.from([object.content ?? Buffer.alloc(0)])
        : object.content;
    try {
      await pipeline(
        source,
        async function* (chunks: AsyncIterable<Buffer>) {
          for await (const chunk of chunks) {
            md5.update(chunk);
            size += chunk.length;
            yield chunk;
          }
        },
        createWriteStream(temp),
      );
      await rename(temp, target);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
    const digest = md5.digest('hex');
    await this.putMetadata(object.bucket, object.key, object.metadata, digest);
    return { size, md5: digest };
  }

  /** Runs `action` after every earlier action on the same key has finished. */
  async withKeyLock<T>(bucket: string, key: string, action: () => Promise<T>): Promise<T> {
    const id = `${bucket}/${key}`;
    const previous = this.#locks.get(id) ?? Promise.resolve();
    let release = (): void => {};
    const mine = previous.then(() => new Promise<void>((resolve) => (release = resolve)));
    this.#locks.set(id, mine);
    await previous;
    try {
      return await action();
    } finally {
      release();
      if (this.#locks.get(id) === mine) this.#locks.delete(id);
    }
  }
}

function isNotFound(error: unknown): boolean {
  return typeof error === 'object' && error !== null && 'code' in error && error.code === 'ENOENT';
}

/**
 * Wraps three s3rver controllers, only for servers using `LocalS3Store`: ListObjectsV2 with
 * continuation tokens that work on Node 22 (s3rver encrypts them with DES, which OpenSSL 3 no
 * longer offers, so every truncated listing failed with a 500); PUT with `If-None-Match: *`
 * (s3rver ignores the header and overwrites); and a refusal of `aws-chunked` bodies, which s3rver
 * would store with the chunk framing included.
 */
function installControllerFixes(): void {
  const original = { getBucket: bucketController.getBucket, putObject: objectController.putObject };
  const uploadPart = objectController.uploadPart;
  if ((original.getBucket as { fixed?: boolean }).fixed === true) return;

  const getBucket: Controller = async (ctx) => {
    if (!(ctx.store instanceof LocalS3Store) || ctx.query['list-type'] !== '2')
      return original.getBucket(ctx);
    await listObjectsV2(ctx, ctx.store);
  };
  const putObject: Controller = async (ctx) => {
    if (!(ctx.store instanceof LocalS3Store)) return original.putObject(ctx);
    refuseChunkedBody(ctx);
    const condition = ctx.headers['if-none-match'];
    if (condition === undefined) return original.putObject(ctx);
    if (condition !== '*') throw new S3Error('NotImplemented', 'Only If-None-Match: * is supported on PUT.');
    const store = ctx.store;
    const { bucket, key } = ctx.params;
    if (bucket === undefined || key === undefined) return original.putObject(ctx);
    await store.withKeyLock(bucket, key, async () => {
      if (await store.existsObject(bucket, key)) {
        throw new S3Error(
          'PreconditionFailed',
          'At least one of the pre-conditions you specified did not hold',
          {
            Condition: 'If-None-Match',
          },
        );
      }
      await original.putObject(ctx);
    });
  };
  const checkedUploadPart: Controller = async (ctx) => {
    if (ctx.store instanceof LocalS3Store) refuseChunkedBody(ctx);
    return uploadPart(ctx);
  };
  Object.assign(getBucket, { fixed: true });
  bucketController.getBucket = getBucket;
  objectController.putObject = putObject;
  objectController.uploadPart = checkedUploadPart;
}

function refuseChunkedBody(ctx: KoaContext): void {
  const encoding = String(ctx.headers['content-encoding'] ?? '');
  const payload = String(ctx.headers['x-amz-content-sha256'] ?? '');
  if (encoding.includes('aws-chunked') || payload.startsWith('STREAMING-')) {
    throw new S3Error(
      'NotImplemented',
      'This local S3 server does not accept aws-chunked bodies. Configure the client with ' +
        "requestChecksumCalculation: 'WHEN_REQUIRED' (or give stream bodies a known length).",
    );
  }
}

async function listObjectsV2(ctx: KoaContext, store: LocalS3Store): Promise<void> {
  const bucket = ctx.params['bucket'] ?? '';
  const query = ctx.query;
  const maxKeysText = query['max-keys'] ?? '1000';
  if (!/^\d+$/.test(maxKeysText)) {
    throw new S3Error('InvalidArgument', 'Provided max-keys not an integer or within integer range', {
      ArgumentName: 'max-keys',
      ArgumentValue: maxKeysText,
    });
  }
  const maxKeys = Math.min(1000, Number(maxKeysText));
  const token = query['continuation-token'];
  const startAfter =
    token === undefined || token === '' ? (query['start-after'] ?? '') : decodeToken(token, bucket);
  const prefix = query['prefix'] ?? '';
  const delimiter = query['delimiter'] ?? '';
  const result =
    maxKeys === 0
      ? { objects: [], commonPrefixes: [], isTruncated: false, lastEntry: undefined }
      : await store.listObjects(bucket, { prefix, delimiter, startAfter, maxKeys });
  ctx.body = {
    ListBucketResult: {
      '@': { xmlns: 'http://s3.amazonaws.com/doc/2006-03-01/' },
      Name: bucket,
      Prefix: prefix,
      StartAfter: token === undefined ? query['start-after'] : undefined,
      ContinuationToken: token,
      NextContinuationToken:
        result.isTruncated && result.lastEntry !== undefined
          ? encodeToken(bucket, result.lastEntry)
          : undefined,
      KeyCount: result.objects.length + result.commonPrefixes.length,
      MaxKeys: maxKeys,
      Delimiter: delimiter === '' ? undefined : delimiter,
      IsTruncated: result.isTruncated,
      Contents: result.objects.map((object) => ({
        Key: object.key,
        LastModified: object.lastModifiedDate.toISOString(),
        ETag: object.metadata['etag'],
        Size: object.size,
        StorageClass: 'STANDARD',
      })),
      CommonPrefixes: result.commonPrefixes.map((commonPrefix) => ({ Prefix: commonPrefix })),
    },
  };
}

function encodeToken(bucket: string, lastEntry: string): string {
  return Buffer.from(JSON.stringify([bucket, lastEntry]), 'utf8').toString('base64');
}

function decodeToken(token: string, bucket: string): string {
  try {
    const decoded: unknown = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
    if (Array.isArray(decoded) && decoded[0] === bucket && typeof decoded[1] === 'string') return decoded[1];
  } catch {
    // Falls through to the S3 error below.
  }
  throw new S3Error('InvalidArgument', 'The continuation token provided is incorrect', {
    ArgumentName: 'continuation-token',
  });
}

const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/**
 * Starts an S3-compatible server (s3rver, in this process) on 127.0.0.1 and a free port, storing
 * buckets under `directory` (created if missing) or a fresh temporary folder that `stop()` removes.
 * It logs nothing. It accepts `S3_SERVER_CREDENTIALS`, lists keys in S3's order and honours
 * `If-None-Match: *` on PutObject; it has no versioning, no policies and no multipart abort.
 */
export async function startS3Server(
  options: { directory?: string; buckets?: readonly string[] } = {},
): Promise<S3Server> {
  installControllerFixes();
  const ownsDirectory = options.directory === undefined;
  const directory =
    options.directory === undefined
      ? await mkdtemp(path.join(os.tmpdir(), 'ddb-lake-s3-'))
      : path.resolve(options.directory);
  await mkdir(directory, { recursive: true });
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, vhostBuckets: false });
  // s3rver's `silent` mutes its console transport only; once stopped, winston would still complain
  // on stderr about requests logged after its transports were closed.
  server.logger.silent = true;
  const store = new LocalS3Store(directory);
  server.store = store;
  server.context.store = store;
  let address: AddressInfo;
  try {
    address = await server.run();
  } catch (error) {
    if (ownsDirectory) await rm(directory, { recursive: true, force: true });
    throw new StorageError('S3_SERVER_START_FAILED', `The local S3 server could not start in ${directory}.`, {
      cause: error,
    });
  }
  const createBucket = async (name: string): Promise<void> => {
    if (!BUCKET_NAME.test(name) || name.includes('..')) {
      throw new StorageError(
        'INVALID_BUCKET_NAME',
        `"${name}" is not a valid S3 bucket name: use 3 to 63 lowercase letters, digits, dots and hyphens, ` +
          'starting and ending with a letter or digit.',
      );
    }
    await store.putBucket(name);
  };
  for (const bucket of options.buckets ?? []) await createBucket(bucket);

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      const httpServer = server.httpServer;
      if (httpServer !== undefined) {
        const closed = new Promise<void>((resolve) => httpServer.close(() => resolve()));
        httpServer.closeAllConnections();
        await closed;
      }
      if (ownsDirectory) await rm(directory, { recursive: true, force: true });
    })();
    return stopping;
  };
  return { endpoint: `http://127.0.0.1:${address.port}`, directory, createBucket, stop };
}
