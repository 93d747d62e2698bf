import type { Context, DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { LAMBDA_REQUEST_SETTINGS } from '../aws/request-settings.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { openStore } from '../storage/open-store.ts';
import { captureBatch } from './capture-batch.ts';
import type { CaptureLogEntry } from './capture-log.ts';
import { LandingNotSetError } from './errors.ts';

/** Opened on the first invocation and kept for the container's life: one S3 client, warm sockets. */
let landing: ObjectStore | undefined;

/**
 * The capture Lambda (DESIGN.md, capture): writes each DynamoDB Streams batch as one change file to
 * the landing area named by `DDB_LAKE_LANDING` and answers with Lambda's partial batch response
 * (the event source mapping needs `ReportBatchItemFailures`). Logs one JSON object per line on
 * stdout, never item contents. Throws (failing the invocation, so Lambda retries or bisects) when
 * `DDB_LAKE_LANDING` is unset or the batch is refused; see `captureBatch`.
 */
export async function handler(event: DynamoDBStreamEvent, context?: Context): Promise<DynamoDBBatchResponse> {
  landing ??= openLanding();
  const requestId = context?.awsRequestId;
  const log = (entry: CaptureLogEntry): void => {
    process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), requestId, ...entry })}\n`);
  };
  const { batchItemFailures } = await captureBatch(event, { store: landing, log });
  return { batchItemFailures };
}

function openLanding(): ObjectStore {
  const url = process.env['DDB_LAKE_LANDING'];
  if (url === undefined || url.trim() === '') throw new LandingNotSetError();
  // Timeouts well below the function's own, so a stalled S3 call is a write failure Lambda retries.
  return openStore(url, { requestSettings: LAMBDA_REQUEST_SETTINGS });
}
