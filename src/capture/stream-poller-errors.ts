import { CaptureError } from './errors.ts';

/** Stable codes of the stream poller's errors, for programs and `--json` output. */
export const StreamPollerErrorCode = {
  /** The table has no stream, or the stream ARN names no stream. */
  noStream: 'CAPTURE_NO_STREAM',
  /** A checkpoint object in the landing area cannot be read as a checkpoint. */
  badCheckpoint: 'CAPTURE_BAD_CHECKPOINT',
  /** The handler kept reporting a failed record after every retry. */
  batchFailed: 'CAPTURE_BATCH_FAILED',
  /** DynamoDB Streams kept refusing or failing a call after every retry. */
  streamsUnavailable: 'CAPTURE_STREAMS_UNAVAILABLE',
  /** A DynamoDB or DynamoDB Streams request was refused (access, validation, configuration). */
  requestFailed: 'CAPTURE_REQUEST_FAILED',
  /** DynamoDB Streams answered something the poller cannot follow (no iterator, records out of order). */
  streamsProtocol: 'CAPTURE_STREAMS_PROTOCOL',
} as const;

export type StreamPollerErrorCode = (typeof StreamPollerErrorCode)[keyof typeof StreamPollerErrorCode];

/** An error of the local stream poller (`ddb-lake capture`): a capture error like the handler's. */
export class StreamPollerError extends CaptureError {
  declare readonly code: StreamPollerErrorCode;

  constructor(code: StreamPollerErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** The table has no stream to read (or does not exist); the message says what to do. */
export class NoStreamError extends StreamPollerError {
  readonly table: string;

  /** `next` defaults to how to enable a stream with new and old images. */
  constructor(table: string, reason: string, options?: { cause?: unknown; next?: string }) {
    const next =
      options?.next ??
      `Enable a stream with new and old images (aws dynamodb update-table --table-name ${table} ` +
        '--stream-specification StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES), then run capture again.';
    super(StreamPollerErrorCode.noStream, `Cannot capture table "${table}": ${reason}. ${next}`, {
      cause: options?.cause,
    });
    this.table = table;
  }
}

/** A checkpoint object that is not valid JSON of the checkpoint's shape. */
export class BadCheckpointError extends StreamPollerError {
  readonly key: string;

  constructor(storeUrl: string, key: string, reason: string, options?: { cause?: unknown }) {
    super(
      StreamPollerErrorCode.badCheckpoint,
      `The capture checkpoint ${key} in ${storeUrl} cannot be used: ${reason}. Nothing was read. ` +
        'Delete that object to read its shard again from the oldest record the stream holds ' +
        '(records already captured come again and collapse by (keys, seq) when applied).',
      options,
    );
    this.key = key;
  }
}

/**
 * The handler reported a failed record (`batchItemFailures`) on every attempt. The checkpoint of
 * the shard was not advanced past it, so a rerun starts with that record again.
 */
export class CaptureBatchFailedError extends StreamPollerError {
  readonly shardId: string;
  readonly sequenceNumber: string;
  readonly attempts: number;

  constructor(shardId: string, sequenceNumber: string, attempts: number) {
    super(
      StreamPollerErrorCode.batchFailed,
      `Capture of shard ${shardId} failed at record ${sequenceNumber} after ${attempts} attempts: the ` +
        'handler reported it as failed each time. The checkpoint still points before it, so no change is ' +
        'lost: look at the errors above (landing area reachable and writable?), then run capture again to ' +
        'resume from there.',
    );
    this.shardId = shardId;
    this.sequenceNumber = sequenceNumber;
    this.attempts = attempts;
  }
}

/** A DynamoDB Streams call that was throttled or failed on every retry. */
export class StreamsUnavailableError extends StreamPollerError {
  readonly operation: string;

  constructor(operation: string, where: string, attempts: number, options?: { cause?: unknown }) {
    const reason = options?.cause instanceof Error ? `${options.cause.name}: ${options.cause.message}` : '';
    super(
      StreamPollerErrorCode.streamsUnavailable,
      `DynamoDB Streams ${operation} for ${where} failed ${attempts} times in a row${reason ? ` (${reason})` : ''}. ` +
        'Checkpoints hold what was captured so far; check the endpoint, credentials and throttling, ' +
        'then run capture again to resume.',
      options,
    );
    this.operation = operation;
  }
}

/**
 * A DynamoDB or DynamoDB Streams request refused for a reason that retrying does not cure: access
 * denied, a validation error, no region or credentials. The message names the call and what it
 * was about, and carries the service's own message.
 */
export class CaptureRequestError extends StreamPollerError {
  readonly operation: string;

  constructor(operation: string, where: string, options: { cause: unknown }) {
    const cause = options.cause;
    const reason = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
    super(
      StreamPollerErrorCode.requestFailed,
      `${operation} for ${where} failed (${reason}). Check --region, --profile, --endpoint-url and the ` +
        'credentials (the caller needs dynamodb:DescribeTable, dynamodb:DescribeStream, ' +
        'dynamodb:GetShardIterator and dynamodb:GetRecords), then run capture again: it resumes from its checkpoints.',
      options,
    );
    this.operation = operation;
  }
}

/** An answer of DynamoDB Streams that breaks its own contract (missing iterator, unordered records). */
export class StreamsProtocolError extends StreamPollerError {
  constructor(message: string) {
    super(
      StreamPollerErrorCode.streamsProtocol,
      `${message}. Nothing past the last checkpoint was recorded; run capture again, and report this if it repeats.`,
    );
  }
}

/**
 * The error to throw for a failed AWS request: a `CaptureRequestError` for an error the service
 * answered (it has `$metadata`) or a client-side configuration error of the SDK (no region, no
 * credentials); anything else (a bug) as it is, with its stack.
 */
export function requestError(operation: string, where: string, error: unknown): unknown {
  if (typeof error !== 'object' || error === null) return error;
  const name = (error as { name?: unknown }).name;
  const fromService = '$metadata' in error;
  const configuration =
    name === 'CredentialsProviderError' || /region is missing/i.test(String((error as Error).message));
  return fromService || configuration ? new CaptureRequestError(operation, where, { cause: error }) : error;
}
