import { randomBytes } from 'node:crypto';
import {
  type AttributeDefinition,
  CreateTableCommand,
  DeleteTableCommand,
  DynamoDBClient,
  type KeySchemaElement,
  type ScalarAttributeType,
  type StreamViewType,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import { inject } from 'vitest';
import { LOCAL_DYNAMODB_CREDENTIALS, LOCAL_REGION } from '../../src/local/dynamodb-local.ts';

/** The endpoint of the DynamoDB Local that test/support/global-setup.ts started for this run. */
export function dynamodbEndpoint(): string {
  return inject('dynamodbEndpoint');
}

/** A new client of the given DynamoDB Local (the run's shared one by default); the caller destroys it. */
export function newDynamoDbClient(endpoint: string = dynamodbEndpoint()): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: LOCAL_REGION,
    credentials: { ...LOCAL_DYNAMODB_CREDENTIALS },
  });
}

let sharedClient: DynamoDBClient | undefined;

/** One client of the run's shared DynamoDB Local per test file (do not destroy it). */
export function dynamoDbClient(): DynamoDBClient {
  sharedClient ??= newDynamoDbClient();
  return sharedClient;
}

/** A table name no other test (in this run or a previous one on the same data) uses. */
export function uniqueTableName(prefix = 'test'): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

export interface KeyAttribute {
  readonly name: string;
  readonly type: ScalarAttributeType;
}

export interface StreamTableOptions {
  /** What each stream record carries (default NEW_AND_OLD_IMAGES). */
  readonly viewType?: StreamViewType;
  /** Default `pk` of type S. */
  readonly partitionKey?: KeyAttribute;
  /** No sort key by default. */
  readonly sortKey?: KeyAttribute;
  /** Prefix of the generated table name. */
  readonly prefix?: string;
  /** Default: the run's shared client. */
  readonly client?: DynamoDBClient;
}

export interface StreamTable {
  readonly tableName: string;
  readonly tableArn: string;
  readonly streamArn: string;
  /** Deletes the table (and with it its stream); a table already gone is not an error. */
  drop(): Promise<void>;
}

/**
 * Creates a uniquely named on-demand table with a stream of the given view type and waits until it
 * is ACTIVE.
 */
export async function createStreamTable(options: StreamTableOptions = {}): Promise<StreamTable> {
  const client = options.client ?? dynamoDbClient();
  const tableName = uniqueTableName(options.prefix);
  const keys = [
    options.partitionKey ?? { name: 'pk', type: 'S' },
    ...(options.sortKey ? [options.sortKey] : []),
  ];
  const keySchema: KeySchemaElement[] = keys.map((key, index) => ({
    AttributeName: key.name,
    KeyType: index === 0 ? 'HASH' : 'RANGE',
  }));
  const attributeDefinitions: AttributeDefinition[] = keys.map((key) => ({
    AttributeName: key.name,
    AttributeType: key.type,
  }));
  const created = await client.send(
    new CreateTableCommand({
      TableName: tableName,
      KeySchema: keySchema,
      AttributeDefinitions: attributeDefinitions,
      BillingMode: 'PAY_PER_REQUEST',
      StreamSpecification: { StreamEnabled: true, StreamViewType: options.viewType ?? 'NEW_AND_OLD_IMAGES' },
    }),
  );
  await waitUntilTableExists({ client, maxWaitTime: 30, minDelay: 1, maxDelay: 1 }, { TableName: tableName });
  const description = created.TableDescription;
  if (description?.TableArn === undefined || description.LatestStreamArn === undefined) {
    throw new Error(`CreateTable of ${tableName} returned no table or stream ARN`);
  }
  return {
    tableName,
    tableArn: description.TableArn,
    streamArn: description.LatestStreamArn,
    async drop() {
      try {
        await client.send(new DeleteTableCommand({ TableName: tableName }));
      } catch (error) {
        if ((error as { name?: string }).name !== 'ResourceNotFoundException') throw error;
      }
    },
  };
}
