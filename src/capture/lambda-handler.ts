import type { Context, DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { LAMBDA_REQUEST_SETTINGS } from '../aws/request-settings.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { openStore } from '../storage/open-store.ts';
import { captureBatch } from './capture-batch.ts';
import type { CaptureLogEntry } from './capture-log.ts';
import { captureMetrics } from './capture-metrics.ts';
import { LandingNotSetError } from './errors.ts';

/** A capture Lambda handler: a Streams event in, Lambda's partial batch response out. */
export type CaptureHandler = (
  event: DynamoDBStreamEvent,
  context?: Context,
) => Promise<DynamoDBBatchResponse>;

export interface CaptureHandlerOptions {
  /** The clock (epoch ms) of log times, metric timestamps and lag; default `Date.now`. */
  readonly now?: () => number;
  /** Where log lines go, one JSON object each with its newline; default stdout. */
  readonly write?: (line: string) => void;
}

/**
 * A capture handler (DESIGN.md, capture): writes each DynamoDB Streams batch as one change file to
 * the landing area named by `DDB_LAKE_LANDING` and answers with Lambda's partial batch response
 * (the event source mapping needs `ReportBatchItemFailures`). Logs one JSON object per line, never
 * item contents; the `batch-captured` and `batch-failed` lines carry CloudWatch metrics in the
 * Embedded Metric Format (capture-metrics.ts). The landing area is opened on the first invocation
 * and kept for the container's life (one S3 client, warm sockets). Throws (failing the invocation,
 * so Lambda retries or bisects) when `DDB_LAKE_LANDING` is unset or the batch is refused; see
 * `captureBatch`.
 */
export function createCaptureHandler(options: CaptureHandlerOptions = {}): CaptureHandler {
  const now = options.now ?? Date.now;
  const write = options.write ?? ((line: string) => process.stdout.write(line));
  let landing: ObjectStore | undefined;
  return async (event, context) => {
    landing ??= openLanding();
    const requestId = context?.awsRequestId;
    const log = (entry: CaptureLogEntry): void => {
      const at = now();
      const metrics = captureMetrics(entry, at);
      write(`${JSON.stringify({ time: new Date(at).toISOString(), requestId, ...entry, ...metrics })}\n`);
    };
    const { batchItemFailures } = await captureBatch(event, { store: landing, log, now });
    return { batchItemFailures };
  };
}

/** The capture Lambda's entry point (`index.handler`): `createCaptureHandler` with the real clock and stdout. */
export const handler: CaptureHandler = createCaptureHandler();

function openLanding(): ObjectStore {
  const url = process.env['DDB_LAKE_LANDING'];
  if (url === undefined || url.trim() === '') throw new LandingNotSetError();
  // Timeouts well below the function's own, so a stalled S3 call is a write failure Lambda retries.
  return openStore(url, { requestSettings: LAMBDA_REQUEST_SETTINGS });
}
