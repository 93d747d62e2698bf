import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { withoutSdkLogging } from '../backfill/sdk-logging.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import type { StoreOptions } from '../storage/open-store.ts';
import { openLanding } from './landing.ts';
import type { Output } from './output.ts';
import type { AwsFlags } from './program.ts';

/** The DynamoDB client config of the AWS CLI flags: `--endpoint-url` is DynamoDB's. */
export function dynamoDbConfigOf(flags: AwsFlags): DynamoDBClientConfig {
  return {
    ...(flags.endpointUrl === undefined ? {} : { endpoint: flags.endpointUrl }),
    ...(flags.region === undefined ? {} : { region: flags.region }),
    ...(flags.profile === undefined ? {} : { profile: flags.profile }),
  };
}

/**
 * A DynamoDB client for a command that reads a table page after page. The SDK's logger middleware
 * copies every response even when nothing logs, which costs a Scan much of its CPU: it is left out.
 */
export function scanningDynamoDbClient(flags: AwsFlags): DynamoDBClient {
  return withoutSdkLogging(new DynamoDBClient(dynamoDbConfigOf(flags)));
}

/**
 * The S3 options beside a DynamoDB `--endpoint-url`: region and profile only, so an S3-compatible
 * landing area takes its endpoint from `AWS_ENDPOINT_URL_S3` (see `openStore`).
 */
export function storeOptionsBesideDynamoDb(flags: AwsFlags): StoreOptions {
  return {
    ...(flags.region === undefined ? {} : { region: flags.region }),
    ...(flags.profile === undefined ? {} : { profile: flags.profile }),
  };
}

/** The landing area of a command whose `--endpoint-url` is DynamoDB's. */
export function openLandingBesideDynamoDb(flags: AwsFlags & { landing?: string }): ObjectStore {
  return openLanding({
    ...storeOptionsBesideDynamoDb(flags),
    ...(flags.landing === undefined ? {} : { landing: flags.landing }),
  });
}

/**
 * Runs `body` with a signal that SIGINT or SIGTERM aborts (once, after printing `stopping`), so a
 * long command stops at its next safe point; a second Ctrl-C, with our listener gone, ends the
 * process at once.
 */
export async function untilStopped<T>(
  output: Output,
  stopping: string,
  body: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const stop = new AbortController();
  const onSignal = () => {
    output.progress(stopping);
    stop.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await body(stop.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
