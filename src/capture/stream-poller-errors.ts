import { awsRequestError } from '../aws/aws-request-error.ts';
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

/** An answer of DynamoDB Streams that breaks its own contract (missing iterator, unordered records). */
export class StreamsProtocolError extends StreamPollerError {
  constructor(message: string) {
    super(
      StreamPollerErrorCode.streamsProtocol,
      `${message}. Nothing past the last checkpoint was recorded; run capture again, and report this if it repeats.`,
    );
  }
}

/** What capture's messages add to a failed AWS request's: the permissions it needs, and that it resumes. */
export const CAPTURE_REQUEST_CONTEXT = {
  permissions: [
    'dynamodb:DescribeTable',
    'dynamodb:DescribeStream',
    'dynamodb:GetShardIterator',
    'dynamodb:GetRecords',
  ],
  next: 'Then run capture again: it resumes from its checkpoints.',
} as const;

/**
 * The error to throw for a failed DynamoDB or DynamoDB Streams call of capture: the shared
 * `AwsRequestError` (service, endpoint, what to check), with capture's permissions and next step.
 */
export function captureRequestError(
  service: 'DynamoDB' | 'DynamoDB Streams',
  operation: string,
  about: string,
  error: unknown,
): unknown {
  return awsRequestError(error, { service, operation, about, ...CAPTURE_REQUEST_CONTEXT });
}
