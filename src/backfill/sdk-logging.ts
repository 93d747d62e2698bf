import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

/** The name under which the SDK adds its logger middleware to every client's stack. */
const SDK_LOGGER_MIDDLEWARE = 'loggerMiddleware';

/**
 * Removes the SDK's logger middleware from a client and returns the same client. That middleware
 * builds a copy of every response with sensitive members filtered out and hands it to the
 * client's logger, also when the logger throws it away (the default): on a Scan, that copy is
 * about 40 % of the process's CPU time. ddb-lake never gives the SDK a logger, so its commands
 * that read whole tables drop it. Idempotent; do not use it on a client whose `logger` you read.
 */
export function withoutSdkLogging(client: DynamoDBClient): DynamoDBClient {
  client.middlewareStack.remove(SDK_LOGGER_MIDDLEWARE);
  return client;
}
