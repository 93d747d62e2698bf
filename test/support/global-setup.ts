import type { TestProject } from 'vitest/node';
import { startDynamoDbLocal } from '../../src/local/dynamodb-local.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** `http://127.0.0.1:<port>` of the DynamoDB Local shared by the whole test run. */
    dynamodbEndpoint: string;
  }
}

/**
 * Starts one DynamoDB Local for the whole run (Java takes a second or two to start) and provides
 * its endpoint to the tests (`inject('dynamodbEndpoint')`, or the helpers in local-stack.ts).
 * The returned teardown stops it; if the run is killed, the process hooks and the watchdog of
 * startDynamoDbLocal stop it instead.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dynamodb = await startDynamoDbLocal();
  project.provide('dynamodbEndpoint', dynamodb.endpoint);
  return () => dynamodb.stop();
}
