export {
  type DynamoDbLocal,
  type DynamoDbLocalOptions,
  LOCAL_DYNAMODB_CREDENTIALS,
  LOCAL_REGION,
  startDynamoDbLocal,
} from './dynamodb-local.ts';
export {
  DynamoDbLocalStartError,
  JavaRuntimeError,
  LocalStackError,
  LocalStackErrorCode,
} from './errors.ts';
export { checkJavaRuntime, MINIMUM_JAVA_VERSION } from './java-runtime.ts';
export { S3_SERVER_CREDENTIALS, S3_SERVER_REGION, type S3Server, startS3Server } from './s3-server.ts';
export { type LocalStack, type LocalStackOptions, startLocalStack } from './stack.ts';
