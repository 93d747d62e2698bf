import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AwsRequestError, awsFailureOf, awsRequestError } from '../../src/aws/aws-request-error.ts';
import { watchEndpoint } from '../../src/aws/endpoint-watch.ts';
import { sdkRequestConfig } from '../../src/aws/request-settings.ts';
import { DdbLakeError } from '../../src/errors.ts';
import { LOCAL_DYNAMODB_CREDENTIALS, LOCAL_REGION } from '../../src/local/dynamodb-local.ts';
import { openStore } from '../../src/storage/open-store.ts';
import { refusedPort, type SilentServer, startSilentServer } from '../support/silent-server.ts';

let silent: SilentServer;
beforeAll(async () => {
  silent = await startSilentServer();
});
afterAll(async () => {
  await silent?.close();
});

function client(endpoint: string, connectTimeoutMs = 1000, readTimeoutMs = 1000): DynamoDBClient {
  return watchEndpoint(
    new DynamoDBClient({
      endpoint,
      region: LOCAL_REGION,
      credentials: { ...LOCAL_DYNAMODB_CREDENTIALS },
      ...sdkRequestConfig({ connectTimeoutMs, readTimeoutMs, maxAttempts: 2 }),
    }),
  );
}

async function thrown(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

/** An error shaped as the SDK throws a service's answer. */
function serviceError(name: string, status: number): Error {
  return Object.assign(new Error(`${name} said no`), { name, $metadata: { httpStatusCode: status } });
}

describe('a request to an endpoint that never answers', () => {
  it('ends after the read timeout times the attempts, as ENDPOINT_TIMEOUT naming service, operation and endpoint', async () => {
    const dynamodb = client(silent.endpoint);
    const started = Date.now();
    const error = await thrown(dynamodb.send(new DescribeTableCommand({ TableName: 'orders' })));
    dynamodb.destroy();

    expect(Date.now() - started).toBeLessThan(20_000);
    const wrapped = awsRequestError(error, { about: 'table orders' });
    expect(wrapped).toBeInstanceOf(AwsRequestError);
    expect((wrapped as AwsRequestError).code).toBe('ENDPOINT_TIMEOUT');
    expect((wrapped as AwsRequestError).cause).toBe(error);
    expect((wrapped as Error).message).toMatch(
      new RegExp(
        `^DynamoDB DescribeTable for table orders at ${silent.endpoint} did not answer in time .*; 2 attempts\\)`,
      ),
    );
  });

  it('an aborted request is not a failure: it stays an AbortError', async () => {
    const dynamodb = client(silent.endpoint, 0, 0);
    const stop = new AbortController();
    const sent = dynamodb.send(new DescribeTableCommand({ TableName: 'orders' }), {
      abortSignal: stop.signal,
    });
    await silent.connected();
    stop.abort();
    const error = await thrown(sent);
    dynamodb.destroy();

    expect((error as Error).name).toBe('AbortError');
    expect(awsFailureOf(error)).toBeUndefined();
    expect(awsRequestError(error)).toBe(error);
  });
});

describe('sorting SDK and network errors', () => {
  it('a refused connection is ENDPOINT_UNREACHABLE with the endpoint', async () => {
    const endpoint = `http://127.0.0.1:${await refusedPort()}`;
    const dynamodb = client(endpoint);
    const error = await thrown(dynamodb.send(new DescribeTableCommand({ TableName: 'orders' })));
    dynamodb.destroy();
    const failure = awsFailureOf(error);
    expect(failure).toMatchObject({
      kind: 'unreachable',
      code: 'ENDPOINT_UNREACHABLE',
      request: { service: 'DynamoDB', operation: 'DescribeTable', endpoint },
    });
  });

  it('an S3 store times out the same way, as a StorageError naming the key and the endpoint', async () => {
    const store = openStore('s3://ddb-lake-landing/orders', {
      endpointUrl: silent.endpoint,
      region: LOCAL_REGION,
      credentials: { accessKeyId: 'any', secretAccessKey: 'any' },
      requestSettings: { connectTimeoutMs: 1000, readTimeoutMs: 1000, maxAttempts: 1 },
    });
    const error = await thrown(store.getBytes('changes/x.jsonl.gz'));
    await store.close();
    expect(error).toBeInstanceOf(DdbLakeError);
    expect((error as DdbLakeError).code).toBe('ENDPOINT_TIMEOUT');
    expect((error as Error).message).toContain(
      `S3 GetObject for "changes/x.jsonl.gz" in s3://ddb-lake-landing/orders at ${silent.endpoint} did not answer`,
    );
  });

  it.each([
    ['UnrecognizedClientException', 400, 'CREDENTIALS_REJECTED'],
    ['ExpiredTokenException', 400, 'CREDENTIALS_EXPIRED'],
    ['AccessDeniedException', 400, 'ACCESS_DENIED'],
    ['ResourceNotFoundException', 400, 'RESOURCE_NOT_FOUND'],
    ['ProvisionedThroughputExceededException', 400, 'THROTTLED'],
    ['InternalServerError', 500, 'AWS_REQUEST_FAILED'],
  ])('a service answer %s (HTTP %i) is %s', (name, status, code) => {
    expect(awsFailureOf(serviceError(name, status))?.code).toBe(code);
  });

  it('access denied names the permissions the caller gave, else the operation', () => {
    const denied = serviceError('AccessDeniedException', 400);
    const named = awsRequestError(denied, { service: 'DynamoDB', operation: 'Scan', about: 'table orders' });
    expect((named as Error).message).toContain('The caller needs dynamodb:Scan');
    const listed = awsRequestError(denied, {
      permissions: ['dynamodb:GetRecords', 'dynamodb:DescribeStream'],
    });
    expect((listed as Error).message).toContain(
      'The caller needs dynamodb:GetRecords, dynamodb:DescribeStream',
    );
  });

  it('missing credentials and a missing region say where they come from', () => {
    const noCredentials = Object.assign(new Error('Could not load credentials from any providers'), {
      name: 'CredentialsProviderError',
    });
    expect((awsRequestError(noCredentials) as Error).message).toContain('AWS_ACCESS_KEY_ID');
    const noRegion = new Error('Region is missing');
    expect((awsRequestError(noRegion) as Error).message).toContain('Pass --region, set AWS_REGION');
  });

  it('errors of ours and bugs pass through unchanged', () => {
    const ours = new DdbLakeError('SOMETHING', 'ours');
    const bug = new TypeError('x is undefined');
    expect(awsRequestError(ours)).toBe(ours);
    expect(awsRequestError(bug)).toBe(bug);
  });
});
