import { join } from 'node:path';
import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import {
  type DynamoDbLocal,
  LOCAL_DYNAMODB_CREDENTIALS,
  LOCAL_REGION,
  startDynamoDbLocal,
} from './dynamodb-local.ts';
import { LocalStackError, LocalStackErrorCode } from './errors.ts';
import { S3_SERVER_CREDENTIALS, type S3Server, startS3Server } from './s3-server.ts';

export interface LocalStackOptions {
  /** Start DynamoDB Local (default true). */
  readonly dynamodb?: boolean;
  /** Start the S3-compatible server (default true). */
  readonly s3?: boolean;
  /**
   * A folder that keeps the data across restarts: DynamoDB Local's database in `dynamodb/`, the
   * buckets in `s3/`. Without it DynamoDB Local runs in memory and the S3 server picks its folder.
   */
  readonly dataDir?: string;
  /** Buckets to create on the S3 server (existing ones are kept). */
  readonly buckets?: readonly string[];
}

/** The embedded local stack: DynamoDB Local and an S3-compatible server on loopback ports. */
export interface LocalStack {
  readonly region: string;
  /** DynamoDB Local, or `undefined` when started with `dynamodb: false`. */
  readonly dynamodb: DynamoDbLocal | undefined;
  /** The S3 server, or `undefined` when started with `s3: false`. */
  readonly s3: S3Server | undefined;
  /** Endpoint, region and credentials for a DynamoDB (or DynamoDB Streams) client of this stack. */
  dynamoDbClientConfig(): DynamoDBClientConfig;
  /** A new DynamoDB client of this stack; `stop()` destroys it. */
  dynamoDbClient(): DynamoDBClient;
  /** Endpoint, region, credentials and path-style addressing for an S3 client of this stack. */
  s3ClientConfig(): S3ClientConfig;
  /** A new S3 client of this stack; `stop()` destroys it. */
  s3Client(): S3Client;
  /** Stops every server the stack started and destroys the clients it made. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts DynamoDB Local and the S3-compatible server (either can be left out) side by side, each
 * on a free loopback port, and creates `buckets`. If one fails to start, the other is stopped
 * before the error is thrown, so nothing is left running.
 *
 * Each server also stops when our process exits or gets SIGINT/SIGTERM (DynamoDB Local even when
 * our process is killed outright), so a forgotten `stop()` leaves no process behind.
 *
 * @throws JavaRuntimeError, DynamoDbLocalStartError (see startDynamoDbLocal), or what the S3
 *   server throws.
 */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const wantDynamoDb = options.dynamodb ?? true;
  const wantS3 = options.s3 ?? true;
  const [dynamodb, s3] = await Promise.allSettled([
    wantDynamoDb
      ? startDynamoDbLocal(
          options.dataDir === undefined ? {} : { dataDir: join(options.dataDir, 'dynamodb') },
        )
      : Promise.resolve(undefined),
    wantS3
      ? startS3Server({
          ...(options.dataDir === undefined ? {} : { directory: join(options.dataDir, 's3') }),
          ...(options.buckets === undefined ? {} : { buckets: options.buckets }),
        })
      : Promise.resolve(undefined),
  ]);
  if (dynamodb.status === 'rejected' || s3.status === 'rejected') {
    await Promise.allSettled([
      dynamodb.status === 'fulfilled' ? dynamodb.value?.stop() : undefined,
      s3.status === 'fulfilled' ? s3.value?.stop() : undefined,
    ]);
    throw dynamodb.status === 'rejected' ? dynamodb.reason : (s3 as PromiseRejectedResult).reason;
  }
  return new RunningStack(dynamodb.value, s3.value);
}

class RunningStack implements LocalStack {
  readonly region = LOCAL_REGION;
  readonly dynamodb: DynamoDbLocal | undefined;
  readonly s3: S3Server | undefined;
  readonly #clients: { destroy(): void }[] = [];
  #stopping: Promise<void> | undefined;

  constructor(dynamodb: DynamoDbLocal | undefined, s3: S3Server | undefined) {
    this.dynamodb = dynamodb;
    this.s3 = s3;
  }

  dynamoDbClientConfig(): DynamoDBClientConfig {
    const dynamodb = this.dynamodb ?? notStarted('DynamoDB Local', 'dynamodb');
    return {
      endpoint: dynamodb.endpoint,
      region: this.region,
      credentials: { ...LOCAL_DYNAMODB_CREDENTIALS },
    };
  }

  dynamoDbClient(): DynamoDBClient {
    const client = new DynamoDBClient(this.dynamoDbClientConfig());
    this.#clients.push(client);
    return client;
  }

  s3ClientConfig(): S3ClientConfig {
    const s3 = this.s3 ?? notStarted('the S3 server', 's3');
    return {
      endpoint: s3.endpoint,
      region: this.region,
      credentials: { ...S3_SERVER_CREDENTIALS },
      // Bucket names in the path: a loopback address has no per-bucket host names.
      forcePathStyle: true,
      // The server refuses aws-chunked bodies, which the SDK sends for checksums it computes itself.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    };
  }

  s3Client(): S3Client {
    const client = new S3Client(this.s3ClientConfig());
    this.#clients.push(client);
    return client;
  }

  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      for (const client of this.#clients.splice(0)) client.destroy();
      const results = await Promise.allSettled([this.dynamodb?.stop(), this.s3?.stop()]);
      const failure = results.find((result) => result.status === 'rejected');
      if (failure !== undefined) throw failure.reason;
    })();
    return this.#stopping;
  }
}

function notStarted(server: string, option: string): never {
  throw new LocalStackError(
    LocalStackErrorCode.serverNotStarted,
    `This local stack was started without ${server} (${option}: false); start it with ${option}: true to get a client for it.`,
  );
}
