import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { watchEndpoint } from '../aws/endpoint-watch.ts';
import {
  type AwsRequestSettings,
  DEFAULT_REQUEST_SETTINGS,
  sdkRequestConfig,
} from '../aws/request-settings.ts';
import { withoutSdkLogging } from '../backfill/sdk-logging.ts';
import { UsageError } from '../errors.ts';
import type { StoreOptions } from '../storage/open-store.ts';
import type { AwsFlags } from './program.ts';

/**
 * The request settings of `--cli-connect-timeout` and `--cli-read-timeout` (seconds, as in the
 * AWS CLI; 0 waits forever; fractions allowed), the defaults for those not given.
 * @throws UsageError naming the flag for a value that is not a number of 0 or more.
 */
export function requestSettingsOf(flags: AwsFlags): AwsRequestSettings {
  return {
    connectTimeoutMs: seconds(
      '--cli-connect-timeout',
      flags.cliConnectTimeout,
      DEFAULT_REQUEST_SETTINGS.connectTimeoutMs,
    ),
    readTimeoutMs: seconds(
      '--cli-read-timeout',
      flags.cliReadTimeout,
      DEFAULT_REQUEST_SETTINGS.readTimeoutMs,
    ),
  };
}

function seconds(flag: string, text: string | undefined, defaultMs: number): number {
  if (text === undefined) return defaultMs;
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < 0) {
    throw new UsageError(`${flag} must be a number of seconds, 0 or more (0 waits forever), got "${text}"`);
  }
  return Math.round(value * 1000);
}

/** The DynamoDB (and DynamoDB Streams) client config of the AWS CLI flags: `--endpoint-url` is DynamoDB's. */
export function dynamoDbConfigOf(flags: AwsFlags): DynamoDBClientConfig {
  return {
    ...(flags.endpointUrl === undefined ? {} : { endpoint: flags.endpointUrl }),
    ...(flags.region === undefined ? {} : { region: flags.region }),
    ...(flags.profile === undefined ? {} : { profile: flags.profile }),
    ...sdkRequestConfig(requestSettingsOf(flags)),
  };
}

/**
 * A DynamoDB client of the AWS CLI flags, with their timeouts, whose failures name the endpoint
 * (`watchEndpoint`). The caller destroys it.
 */
export function dynamoDbClientOf(flags: AwsFlags): DynamoDBClient {
  return watchEndpoint(new DynamoDBClient(dynamoDbConfigOf(flags)));
}

/** A DynamoDB Streams client of the AWS CLI flags, as `dynamoDbClientOf`. */
export function streamsClientOf(flags: AwsFlags): DynamoDBStreamsClient {
  return watchEndpoint(new DynamoDBStreamsClient(dynamoDbConfigOf(flags)));
}

/**
 * A DynamoDB client for a command that reads a table page after page. The SDK's logger middleware
 * copies every response even when nothing logs, which costs a Scan much of its CPU: it is left out.
 */
export function scanningDynamoDbClient(flags: AwsFlags): DynamoDBClient {
  return withoutSdkLogging(dynamoDbClientOf(flags));
}

/** The S3 options of the AWS CLI flags, for a command whose `--endpoint-url` is S3's. */
export function storeOptionsOf(flags: AwsFlags): StoreOptions {
  return {
    ...storeOptionsBesideDynamoDb(flags),
    ...(flags.endpointUrl === undefined ? {} : { endpointUrl: flags.endpointUrl }),
  };
}

/**
 * The S3 options beside a DynamoDB `--endpoint-url`: region, profile and timeouts only, so an
 * S3-compatible landing area takes its endpoint from `AWS_ENDPOINT_URL_S3` (see `openStore`).
 */
export function storeOptionsBesideDynamoDb(flags: AwsFlags): StoreOptions {
  return {
    ...(flags.region === undefined ? {} : { region: flags.region }),
    ...(flags.profile === undefined ? {} : { profile: flags.profile }),
    requestSettings: requestSettingsOf(flags),
  };
}
