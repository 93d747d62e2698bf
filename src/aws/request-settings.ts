/**
 * How long an AWS request may wait, and how often it is tried: the AWS CLI's
 * `--cli-connect-timeout` and `--cli-read-timeout`, and its `AWS_MAX_ATTEMPTS`.
 *
 * The read timeout is the AWS CLI's: the longest wait for the next byte on an open connection
 * (the SDK's `socketTimeout`, an inactivity timeout). It stops a request to an endpoint that
 * accepts connections and never answers, and never cuts a large upload or download that is still
 * moving. The SDK's `requestTimeout` would bound the whole request instead, upload included, and
 * since @smithy/node-http-handler 4.4 it only logs a warning unless `throwOnRequestTimeout` is set.
 */
export interface AwsRequestSettings {
  /** The longest wait for a connection (DNS and TCP), in milliseconds; 0 waits forever. */
  readonly connectTimeoutMs: number;
  /** The longest wait for the next byte once connected, in milliseconds; 0 waits forever. */
  readonly readTimeoutMs: number;
  /**
   * Attempts per call, the first included (the SDK retries timeouts, refused connections,
   * throttling and server errors). Absent: the SDK's own setting (`AWS_MAX_ATTEMPTS`, the
   * profile's `max_attempts`, else its default of 3 or 4).
   */
  readonly maxAttempts?: number;
}

/**
 * The command line's defaults. AWS endpoints connect in milliseconds and DynamoDB answers a Scan
 * page within a second or two, so 10 s and 30 s leave wide margins, while an endpoint that never
 * answers is reported after a few attempts instead of the SDK's five minutes each.
 */
export const DEFAULT_REQUEST_SETTINGS: AwsRequestSettings = {
  connectTimeoutMs: 10_000,
  readTimeoutMs: 30_000,
};

/**
 * The capture Lambda's: three attempts of at most 2 s to connect and 5 s of silence each end a
 * stalled S3 call in about 20 s, well below the function's own 60 s timeout, so it fails as a
 * write failure (Lambda retries from the first unwritten record) instead of timing the whole
 * invocation out. (From 6 s on, the SDK arms an inactivity timeout 3 s late: 5 s is armed at once.)
 */
export const LAMBDA_REQUEST_SETTINGS: AwsRequestSettings = {
  connectTimeoutMs: 2_000,
  readTimeoutMs: 5_000,
  maxAttempts: 3,
};

/** The part of an SDK client's configuration that `AwsRequestSettings` sets. */
export interface SdkRequestConfig {
  /** The options-object form of `requestHandler`: the SDK builds its NodeHttpHandler from it. */
  readonly requestHandler: { readonly connectionTimeout: number; readonly socketTimeout: number };
  readonly maxAttempts?: number;
}

/** The client configuration of `settings`, to spread into any AWS SDK v3 client's config. */
export function sdkRequestConfig(settings: AwsRequestSettings = DEFAULT_REQUEST_SETTINGS): SdkRequestConfig {
  return {
    requestHandler: { connectionTimeout: settings.connectTimeoutMs, socketTimeout: settings.readTimeoutMs },
    ...(settings.maxAttempts === undefined ? {} : { maxAttempts: settings.maxAttempts }),
  };
}
