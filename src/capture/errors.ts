import { DdbLakeError } from '../errors.ts';
import type { StreamPollerErrorCode } from './stream-poller-errors.ts';

/** Stable codes of capture's errors, for programs, logs and `--json` output. */
export const CaptureErrorCode = {
  /** The stream's records carry no new image (`KEYS_ONLY`, `OLD_IMAGE`): rows cannot be rebuilt. */
  unsupportedStreamViewType: 'UNSUPPORTED_STREAM_VIEW_TYPE',
  /** The batch cannot be one change file: records out of order, or from more than one stream. */
  invalidBatch: 'INVALID_CAPTURE_BATCH',
  /** A write failed and no record of the batch can name where Lambda should retry from. */
  writeFailed: 'CAPTURE_WRITE_FAILED',
  /** The Lambda function was deployed without `DDB_LAKE_LANDING`. */
  landingNotSet: 'LANDING_NOT_SET',
  /** A capture quarantine object named on the command line is not in the table's quarantine. */
  quarantineObjectUnknown: 'CAPTURE_QUARANTINE_OBJECT_UNKNOWN',
} as const;

export type CaptureErrorCode = (typeof CaptureErrorCode)[keyof typeof CaptureErrorCode];

/** An error of capture (stream records → change files), the handler's or the poller's. */
export class CaptureError extends DdbLakeError {
  declare readonly code: CaptureErrorCode | StreamPollerErrorCode;

  constructor(
    code: CaptureErrorCode | StreamPollerErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

/** The stream view types whose records hold the item as it is after the change. */
export const SUPPORTED_STREAM_VIEW_TYPES = ['NEW_AND_OLD_IMAGES', 'NEW_IMAGE'] as const;

/**
 * A stream whose records cannot rebuild the table's rows: `KEYS_ONLY` records carry only the key,
 * `OLD_IMAGE` records only the item as it was before the change. Thrown before anything of the
 * batch is written. A stream's view type cannot be changed in place, hence the advice to disable
 * and re-enable it.
 */
export class UnsupportedStreamViewTypeError extends CaptureError {
  readonly viewType: string;
  readonly streamArn: string | undefined;

  constructor(viewType: string, streamArn: string | undefined) {
    const stream = streamArn === undefined ? 'The stream' : `The stream ${streamArn}`;
    super(
      CaptureErrorCode.unsupportedStreamViewType,
      `${stream} has the view type ${viewType}: its records do not carry the item as it is after each ` +
        'change, so the table cannot be rebuilt from them. Nothing of this batch was written. Switch the ' +
        'stream to NEW_AND_OLD_IMAGES (or NEW_IMAGE): a view type cannot be changed in place, so disable ' +
        'the stream and enable it again with the new view type (aws dynamodb update-table ' +
        '--stream-specification StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES), point the capture ' +
        'at the new stream ARN, and take a new export for the handoff since the new stream starts empty.',
    );
    this.viewType = viewType;
    this.streamArn = streamArn;
  }
}

/**
 * A batch that cannot be written as one change file as it stands: sequence numbers that do not
 * increase (capture never reorders a batch silently), records of more than one stream, no stream
 * ARN at all, or a shard id that cannot be part of an object key. Thrown before anything of the
 * batch is written.
 */
export class InvalidCaptureBatchError extends CaptureError {
  readonly streamArn: string | undefined;
  readonly reason: string;

  constructor(streamArn: string | undefined, reason: string, next: string, options?: { cause?: unknown }) {
    super(
      CaptureErrorCode.invalidBatch,
      `The batch of stream records${streamArn === undefined ? '' : ` from ${streamArn}`} cannot be captured: ` +
        `${reason}. Nothing of this batch was written. ${next}`,
      options,
    );
    this.streamArn = streamArn;
    this.reason = reason;
  }
}

/**
 * A write to the landing area failed and Lambda cannot be told where to retry from (no record at
 * or before the failed one has a SequenceNumber), so the whole batch must be retried: the error
 * fails the invocation. Rewriting what was already written is harmless (same keys, same bytes).
 */
export class CaptureWriteError extends CaptureError {
  readonly key: string;

  constructor(key: string, options: { cause: unknown }) {
    const detail = options.cause instanceof Error ? `: ${options.cause.message}` : '';
    super(
      CaptureErrorCode.writeFailed,
      `Writing ${key} to the landing area failed${detail}. No record before it has a sequence number ` +
        'to retry from, so the whole batch fails and is retried.',
      options,
    );
    this.key = key;
  }
}

/** The capture Lambda has no landing area configured. */
export class LandingNotSetError extends CaptureError {
  constructor() {
    super(
      CaptureErrorCode.landingNotSet,
      'DDB_LAKE_LANDING is not set: the capture function does not know where to write change files. ' +
        'Set it on the function to the landing URL (s3://bucket/prefix), as deploy/template.json does.',
    );
  }
}
