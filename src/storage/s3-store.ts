import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { watchEndpoint } from '../aws/endpoint-watch.ts';
import { sdkRequestConfig } from '../aws/request-settings.ts';
import { checkRange, contentRangeMatches, httpRange } from './byte-range.ts';
import { ObjectNotFoundError, StorageError } from './errors.ts';
import { assertValidKey, assertValidPrefix, compareKeys } from './object-key.ts';
import type { ByteRange, ObjectInfo, ObjectStore, PutBody, PutIfAbsentOutcome } from './object-store.ts';
import type { StoreOptions } from './open-store.ts';
import { type S3FailureContext, s3FailureOf, toStorageError } from './s3-errors.ts';

/** Where an `S3Store` is rooted, how it reaches S3, and when it switches to multipart uploads. */
export interface S3StoreOptions extends StoreOptions {
  readonly bucket: string;
  /** The folder inside the bucket that holds the store's keys; `''` or absent for the whole bucket. */
  readonly prefix?: string;
  /** Byte bodies larger than this are uploaded in parts. Default 64 MiB. */
  readonly multipartThresholdBytes?: number;
  /** The part size of multipart uploads (at least 5 MiB, S3's minimum). Default 8 MiB. */
  readonly partSizeBytes?: number;
}

const MIB = 1024 * 1024;
/** Attempts of a conditional put that S3 answers with 409 ConditionalRequestConflict. */
const CONFLICT_ATTEMPTS = 6;
const CONFLICT_BASE_DELAY_MS = 50;
const CONFLICT_MAX_DELAY_MS = 2_000;

/**
 * An object store over an S3 bucket (or an S3-compatible endpoint), rooted at `bucket/prefix/`.
 *
 * Credentials, region and profile follow the AWS SDK's default chain unless given. With an
 * `endpointUrl` the client uses path-style addressing and sends checksums only where S3 requires
 * them, since many S3-compatible servers reject or mis-store the SDK's default trailing checksums.
 * `putIfAbsent` is a PutObject with `If-None-Match: *` (S3 conditional writes). Every request has
 * the connect and read timeouts of `requestSettings` (default `DEFAULT_REQUEST_SETTINGS`), and a
 * failure names the endpoint it went to.
 */
export class S3Store implements ObjectStore {
  readonly url: string;
  readonly bucket: string;
  /** The key prefix of the store's root inside the bucket: `''` or ending in `/`. */
  readonly rootPrefix: string;
  readonly #client: S3Client;
  readonly #multipartThreshold: number;
  readonly #partSize: number;
  #closed = false;

  constructor(options: S3StoreOptions) {
    const prefix = (options.prefix ?? '').replace(/^\/+|\/+$/g, '');
    this.bucket = options.bucket;
    this.rootPrefix = prefix === '' ? '' : `${prefix}/`;
    this.url = prefix === '' ? `s3://${options.bucket}` : `s3://${options.bucket}/${prefix}`;
    this.#multipartThreshold = options.multipartThresholdBytes ?? 64 * MIB;
    this.#partSize = Math.max(options.partSizeBytes ?? 8 * MIB, 5 * MIB);
    const config: S3ClientConfig = {
      ...sdkRequestConfig(options.requestSettings),
      ...(options.region === undefined ? {} : { region: options.region }),
      ...(options.profile === undefined ? {} : { profile: options.profile }),
      ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
      ...(options.endpointUrl === undefined
        ? { followRegionRedirects: true }
        : {
            endpoint: options.endpointUrl,
            forcePathStyle: true,
            requestChecksumCalculation: 'WHEN_REQUIRED',
            responseChecksumValidation: 'WHEN_REQUIRED',
          }),
    };
    this.#client = watchEndpoint(new S3Client(config));
  }

  /**
   * ListObjectsV2, page by page (S3 returns at most 1,000 keys a page), yielding keys relative to
   * the root. Throws `StorageError` `LIST_ORDER_VIOLATED` if the endpoint returns keys out of
   * UTF-8 byte order, since callers rely on the order and a silent misorder would lose data.
   */
  async *list(prefix: string, options?: { readonly startAfter?: string }): AsyncIterable<ObjectInfo> {
    this.#assertOpen();
    assertValidPrefix(this.url, prefix);
    const fullPrefix = this.rootPrefix + prefix;
    const context: S3FailureContext = {
      storeUrl: this.url,
      operation: 'list',
      bucket: this.bucket,
      s3Key: fullPrefix,
    };
    const startAfter = options?.startAfter === undefined ? undefined : this.rootPrefix + options.startAfter;
    let continuationToken: string | undefined;
    let previous: string | undefined;
    do {
      const page = await this.#client
        .send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: fullPrefix,
            // The first page starts after `startAfter`; later pages continue from the token.
            ...(continuationToken !== undefined
              ? { ContinuationToken: continuationToken }
              : startAfter !== undefined
                ? { StartAfter: startAfter }
                : {}),
          }),
        )
        .catch((error: unknown) => {
          throw toStorageError(error, context);
        });
      for (const object of page.Contents ?? []) {
        const key = object.Key;
        if (key === undefined || !key.startsWith(fullPrefix)) continue;
        if (previous !== undefined && compareKeys(previous, key) >= 0) {
          throw new StorageError(
            'LIST_ORDER_VIOLATED',
            `The S3 endpoint listed "${key}" after "${previous}" in ${this.url}; S3 lists keys in ascending UTF-8 ` +
              'byte order. The endpoint is not S3-compatible enough for ddb-lake; use another one.',
          );
        }
        previous = key;
        yield {
          key: key.slice(this.rootPrefix.length),
          size: object.Size ?? 0,
          lastModified: object.LastModified ?? new Date(0),
        };
      }
      continuationToken = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (continuationToken !== undefined);
  }

  /** HeadObject; a 404 is `undefined`. */
  async head(key: string): Promise<ObjectInfo | undefined> {
    this.#assertOpen();
    assertValidKey(this.url, key);
    try {
      const answer = await this.#client.send(
        new HeadObjectCommand({ Bucket: this.bucket, Key: this.#s3Key(key) }),
      );
      return { key, size: answer.ContentLength ?? 0, lastModified: answer.LastModified ?? new Date(0) };
    } catch (error) {
      const { name, status } = s3FailureOf(error);
      if (status === 404 && name !== 'NoSuchBucket') return undefined;
      throw toStorageError(error, this.#context('head', key));
    }
  }

  /**
   * GetObject with a `Range` header when a range is given; the answer's `Content-Range` is checked
   * against the request, so a server that ignores a range fails loudly instead of returning the
   * wrong bytes. A range past the end of the object (HTTP 416) yields no bytes.
   */
  async get(key: string, range?: ByteRange): Promise<Readable> {
    this.#assertOpen();
    assertValidKey(this.url, key);
    checkRange(this.url, key, range);
    if (range?.end !== undefined && range.end <= range.start) {
      // HTTP cannot express an empty range; check existence so a missing key still throws.
      if ((await this.head(key)) === undefined) throw new ObjectNotFoundError(this.url, key);
      return Readable.from([]);
    }
    const answer = await this.#getObject(key, range, 'get');
    return answer === undefined ? Readable.from([]) : toReadable(answer, this.url, key);
  }

  /** The whole object as bytes. Throws `ObjectNotFoundError` for a missing key. */
  async getBytes(key: string): Promise<Uint8Array> {
    this.#assertOpen();
    assertValidKey(this.url, key);
    const answer = await this.#getObject(key, undefined, 'getBytes');
    if (answer === undefined) return new Uint8Array(0);
    try {
      const bytes = Buffer.concat(await toReadable(answer, this.url, key).toArray());
      return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    } catch (error) {
      throw toStorageError(error, this.#context('getBytes', key));
    }
  }

  /** GetObject; `undefined` when the range starts past the end of the object (HTTP 416). */
  async #getObject(
    key: string,
    range: ByteRange | undefined,
    operation: 'get' | 'getBytes',
  ): Promise<GetObjectCommandOutput | undefined> {
    let answer: GetObjectCommandOutput;
    try {
      answer = await this.#client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: this.#s3Key(key),
          ...(range === undefined ? {} : { Range: httpRange(range) }),
        }),
      );
    } catch (error) {
      if (range !== undefined && s3FailureOf(error).status === 416) return undefined;
      throw toStorageError(error, this.#context(operation, key));
    }
    if (range !== undefined) {
      const honoured =
        answer.ContentRange === undefined
          ? answer.ContentLength === 0
          : contentRangeMatches(range, answer.ContentRange);
      if (!honoured) {
        toReadable(answer, this.url, key).destroy();
        throw new StorageError(
          'RANGE_NOT_HONOURED',
          `The S3 endpoint answered the range ${httpRange(range)} of "${key}" in ${this.url} with ` +
            `${answer.ContentRange === undefined ? 'the whole object' : `"${answer.ContentRange}"`}. ` +
            'The endpoint does not handle byte ranges correctly; use another one.',
        );
      }
    }
    return answer;
  }

  /**
   * PutObject for byte bodies up to the multipart threshold; streams and larger bodies go through
   * the SDK's multipart `Upload` (parts of `partSizeBytes`, at most 4 in flight), which aborts the
   * upload on failure. S3 makes the object visible only when the upload completes.
   */
  async put(key: string, body: PutBody): Promise<void> {
    this.#assertOpen();
    assertValidKey(this.url, key);
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    try {
      if (bytes instanceof Uint8Array && bytes.byteLength <= this.#multipartThreshold) {
        await this.#client.send(
          new PutObjectCommand({ Bucket: this.bucket, Key: this.#s3Key(key), Body: bytes }),
        );
        return;
      }
      const upload = new Upload({
        client: this.#client,
        params: { Bucket: this.bucket, Key: this.#s3Key(key), Body: bytes },
        partSize: this.#partSize,
        queueSize: 4,
        leavePartsOnError: false,
      });
      await upload.done();
    } catch (error) {
      throw toStorageError(error, this.#context('put', key));
    }
  }

  /**
   * PutObject with `If-None-Match: *`: 412 Precondition Failed means `exists`; 409
   * ConditionalRequestConflict (another conditional write in flight) is retried with jittered
   * exponential backoff, at most 6 attempts, then throws `CONDITIONAL_WRITE_CONFLICT`. An endpoint
   * that answers 501 has no conditional writes and throws `CONDITIONAL_WRITE_UNSUPPORTED`.
   */
  async putIfAbsent(key: string, body: Uint8Array | string): Promise<PutIfAbsentOutcome> {
    this.#assertOpen();
    assertValidKey(this.url, key);
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#client.send(
          new PutObjectCommand({ Bucket: this.bucket, Key: this.#s3Key(key), Body: bytes, IfNoneMatch: '*' }),
        );
        return { outcome: 'created' };
      } catch (error) {
        const { name, status } = s3FailureOf(error);
        if (status === 412 || name === 'PreconditionFailed') return { outcome: 'exists' };
        if (status === 501 || name === 'NotImplemented') {
          throw new StorageError(
            'CONDITIONAL_WRITE_UNSUPPORTED',
            `The S3 endpoint of ${this.url} does not support conditional writes (If-None-Match), so "${key}" ` +
              'cannot be created exclusively. Use AWS S3 or an endpoint that supports conditional writes.',
            { cause: error },
          );
        }
        if (status !== 409 && name !== 'ConditionalRequestConflict') {
          throw toStorageError(error, this.#context('putIfAbsent', key));
        }
        if (attempt >= CONFLICT_ATTEMPTS) {
          throw new StorageError(
            'CONDITIONAL_WRITE_CONFLICT',
            `Creating "${key}" in ${this.url} kept conflicting with concurrent writes of the same key ` +
              `(${CONFLICT_ATTEMPTS} attempts, HTTP 409). Retry later, and check that only one writer works on this location.`,
            { cause: error },
          );
        }
        const ceiling = Math.min(CONFLICT_MAX_DELAY_MS, CONFLICT_BASE_DELAY_MS * 2 ** (attempt - 1));
        await sleep(Math.random() * ceiling);
      }
    }
  }

  /** DeleteObject; S3 answers success for a missing key, which makes it idempotent. */
  async delete(key: string): Promise<void> {
    this.#assertOpen();
    assertValidKey(this.url, key);
    try {
      await this.#client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.#s3Key(key) }));
    } catch (error) {
      if (s3FailureOf(error).name === 'NoSuchKey') return;
      throw toStorageError(error, this.#context('delete', key));
    }
  }

  /** Destroys the SDK client and its sockets. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#client.destroy();
  }

  #s3Key(key: string): string {
    return this.rootPrefix + key;
  }

  #context(operation: S3FailureContext['operation'], key: string): S3FailureContext {
    return { storeUrl: this.url, operation, bucket: this.bucket, storeKey: key, s3Key: this.#s3Key(key) };
  }

  #assertOpen(): void {
    if (this.#closed)
      throw new StorageError('STORE_CLOSED', `The store ${this.url} was closed; open a new one.`);
  }
}

function toReadable(answer: GetObjectCommandOutput, storeUrl: string, key: string): Readable {
  if (answer.Body instanceof Readable) return answer.Body;
  throw new StorageError(
    'S3_REQUEST_FAILED',
    `GetObject of "${key}" in ${storeUrl} returned no readable body; this runtime's HTTP handler is not supported.`,
  );
}
