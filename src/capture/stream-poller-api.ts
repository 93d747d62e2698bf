import {
  DescribeStreamCommand,
  type DescribeStreamInput,
  type DescribeStreamOutput,
  type DynamoDBStreamsClient,
  GetRecordsCommand,
  type GetRecordsInput,
  type GetRecordsOutput,
  GetShardIteratorCommand,
  type GetShardIteratorInput,
  type GetShardIteratorOutput,
} from '@aws-sdk/client-dynamodb-streams';
import { sleep } from '../sleep.ts';
import { backoffDelay, type RetryPolicy } from './stream-poller-backoff.ts';
import { captureRequestError, NoStreamError, StreamsUnavailableError } from './stream-poller-errors.ts';

/**
 * The three DynamoDB Streams calls the poller makes, with the SDK's inputs, outputs and errors
 * (`ExpiredIteratorException`, `TrimmedDataAccessException`, … by `name`). `streamsApiOf` adapts
 * an SDK client; anything with the same behaviour plugs in.
 */
export interface StreamsApi {
  /** One page of the stream's description: status, view type and shards. */
  describeStream(input: DescribeStreamInput): Promise<DescribeStreamOutput>;
  /** An iterator into one shard; it expires 15 minutes after it was issued. */
  getShardIterator(input: GetShardIteratorInput): Promise<GetShardIteratorOutput>;
  /** Up to `Limit` records (at most 1000) from an iterator, and the iterator after them (absent at a closed shard's end). */
  getRecords(input: GetRecordsInput): Promise<GetRecordsOutput>;
}

/**
 * The `StreamsApi` of an SDK client. When `signal` aborts, calls in flight reject at once (with
 * an `AbortError`) and new ones are not sent: a stopped poller does not wait for an endpoint.
 */
export function streamsApiOf(client: DynamoDBStreamsClient, signal?: AbortSignal): StreamsApi {
  const options = signal === undefined ? {} : { abortSignal: signal };
  return {
    describeStream: (input) => client.send(new DescribeStreamCommand(input), options),
    getShardIterator: (input) => client.send(new GetShardIteratorCommand(input), options),
    getRecords: (input) => client.send(new GetRecordsCommand(input), options),
  };
}

/** One shard as DescribeStream lists it. */
export interface StreamShard {
  readonly shardId: string;
  readonly parentShardId: string | undefined;
  readonly startingSequenceNumber: string | undefined;
  /** Present once the shard is closed: no record comes after it. */
  readonly endingSequenceNumber: string | undefined;
}

/** What DescribeStream says about the stream, all pages read. */
export interface StreamListing {
  /** `ENABLED`, `ENABLING`, `DISABLED` or `DISABLING`. */
  readonly status: string;
  /** `NEW_AND_OLD_IMAGES`, `NEW_IMAGE`, `OLD_IMAGE` or `KEYS_ONLY`. */
  readonly viewType: string | undefined;
  /** Every shard the stream still holds, in the order DynamoDB listed them. */
  readonly shards: readonly StreamShard[];
}

/**
 * Lists every shard of the stream (DescribeStream, following `LastEvaluatedShardId`). Errors pass
 * through as the SDK throws them (`ResourceNotFoundException` for a stream that does not exist).
 */
export async function listStream(api: StreamsApi, streamArn: string): Promise<StreamListing> {
  const shards: StreamShard[] = [];
  let status = 'ENABLED';
  let viewType: string | undefined;
  let exclusiveStartShardId: string | undefined;
  do {
    const page = await api.describeStream({
      StreamArn: streamArn,
      ...(exclusiveStartShardId === undefined ? {} : { ExclusiveStartShardId: exclusiveStartShardId }),
    });
    const description = page.StreamDescription;
    status = description?.StreamStatus ?? status;
    viewType = description?.StreamViewType ?? viewType;
    for (const shard of description?.Shards ?? []) {
      if (shard.ShardId === undefined) continue;
      shards.push({
        shardId: shard.ShardId,
        parentShardId: shard.ParentShardId,
        startingSequenceNumber: shard.SequenceNumberRange?.StartingSequenceNumber,
        endingSequenceNumber: shard.SequenceNumberRange?.EndingSequenceNumber,
      });
    }
    const next = description?.LastEvaluatedShardId;
    // A page that ends where it started would loop forever.
    exclusiveStartShardId = next !== undefined && next !== exclusiveStartShardId ? next : undefined;
  } while (exclusiveStartShardId !== undefined);
  return { status, viewType, shards };
}

/** A throttled or failed Streams call about to be made again (`shardId` null for DescribeStream). */
export interface StreamsRetryReport {
  readonly operation: string;
  readonly shardId: string | null;
  readonly attempt: number;
  readonly delayMs: number;
  readonly error: unknown;
}

/**
 * `listStream`, retried with backoff while DescribeStream is throttled or failing (then
 * `StreamsUnavailableError`). Throws `NoStreamError` when the stream does not exist, the shared
 * `AwsRequestError` when the request is refused or the endpoint cannot be reached, and the
 * `AbortError` of a call cut short by `signal`.
 */
export async function listStreamWithRetry(
  api: StreamsApi,
  options: {
    readonly table: string;
    readonly streamArn: string;
    readonly retry: RetryPolicy;
    readonly onRetry?: (retry: StreamsRetryReport) => void;
    readonly signal?: AbortSignal;
  },
): Promise<StreamListing> {
  const { table, streamArn, retry } = options;
  for (let attempt = 1; ; attempt++) {
    try {
      return await listStream(api, streamArn);
    } catch (error) {
      if (options.signal?.aborted) throw error;
      const kind = streamsErrorKind(error);
      if (kind === 'not-found') {
        throw new NoStreamError(table, `its stream ${streamArn} does not exist (any more)`, {
          cause: error,
          next: 'Run capture with the table name to read its latest stream.',
        });
      }
      if (kind !== 'retry') throw captureRequestError('DynamoDB Streams', 'DescribeStream', streamArn, error);
      if (attempt >= retry.attempts) {
        throw new StreamsUnavailableError('DescribeStream', streamArn, attempt, { cause: error });
      }
      const delayMs = backoffDelay(attempt, retry);
      options.onRetry?.({ operation: 'DescribeStream', shardId: null, attempt, delayMs, error });
      await sleep(delayMs, options.signal);
    }
  }
}

/** How the poller treats a failed Streams call. */
export type StreamsErrorKind =
  /** Throttled or a server-side failure: wait and try again (the endpoint answered). */
  | 'retry'
  /** The shard iterator is older than 15 minutes: get a new one from the last position. */
  | 'expired-iterator'
  /** The position asked for is older than the stream's oldest record: changes may be lost. */
  | 'trimmed'
  /** The shard (or stream) is gone. */
  | 'not-found'
  /**
   * Anything else: stop. Timeouts and refused connections are here too: the SDK has already
   * retried them (`AWS_MAX_ATTEMPTS`), and waiting on an endpoint that does not answer would
   * only hide it.
   */
  | 'fatal';

const RETRY_NAMES: ReadonlySet<string> = new Set([
  'LimitExceededException',
  'ThrottlingException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'InternalServerError',
  'ServiceUnavailable',
  'RequestTimeout',
  'RequestTimeoutException',
]);

/** Sorts a Streams error by what to do about it (by the SDK error's `name` or HTTP status). */
export function streamsErrorKind(error: unknown): StreamsErrorKind {
  if (typeof error !== 'object' || error === null) return 'fatal';
  const { name, $metadata } = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  if (name === 'ExpiredIteratorException') return 'expired-iterator';
  if (name === 'TrimmedDataAccessException') return 'trimmed';
  if (name === 'ResourceNotFoundException') return 'not-found';
  if (name !== undefined && RETRY_NAMES.has(name)) return 'retry';
  const status = $metadata?.httpStatusCode;
  if (status !== undefined && (status >= 500 || status === 429)) return 'retry';
  return 'fatal';
}
