import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type _Record as SdkStreamRecord,
  type Shard,
} from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBRecord } from 'aws-lambda';
import { afterAll } from 'vitest';
import { LOCAL_DYNAMODB_CREDENTIALS, LOCAL_REGION } from '../../src/local/dynamodb-local.ts';
import { LocalFolderStore } from '../../src/storage/local-folder-store.ts';
import type { ObjectStore } from '../../src/storage/object-store.ts';
import { dynamodbEndpoint } from '../support/local-stack.ts';

let client: DynamoDBStreamsClient | undefined;

/** One DynamoDB Streams client of the run's DynamoDB Local per test file. */
export function streamsClient(): DynamoDBStreamsClient {
  client ??= new DynamoDBStreamsClient({
    endpoint: dynamodbEndpoint(),
    region: LOCAL_REGION,
    credentials: { ...LOCAL_DYNAMODB_CREDENTIALS },
  });
  return client;
}

/** The records of one shard as GetRecords returned them, in stream order. */
export interface ShardRecords {
  readonly shardId: string;
  readonly records: SdkStreamRecord[];
}

/**
 * Every record now in the stream, shard by shard (in DescribeStream order), each shard read from
 * TRIM_HORIZON until GetRecords returns an empty page: what the stream holds, exactly as the SDK
 * returns it.
 */
export async function readShards(streamArn: string): Promise<ShardRecords[]> {
  const shards: Shard[] = [];
  let exclusiveStartShardId: string | undefined;
  do {
    const page = await streamsClient().send(
      new DescribeStreamCommand({ StreamArn: streamArn, ExclusiveStartShardId: exclusiveStartShardId }),
    );
    shards.push(...(page.StreamDescription?.Shards ?? []));
    exclusiveStartShardId = page.StreamDescription?.LastEvaluatedShardId;
  } while (exclusiveStartShardId !== undefined);

  const result: ShardRecords[] = [];
  for (const shard of shards) {
    const shardId = shard.ShardId as string;
    let { ShardIterator: iterator } = await streamsClient().send(
      new GetShardIteratorCommand({
        StreamArn: streamArn,
        ShardId: shardId,
        ShardIteratorType: 'TRIM_HORIZON',
      }),
    );
    const records: SdkStreamRecord[] = [];
    while (iterator !== undefined) {
      const page = await streamsClient().send(new GetRecordsCommand({ ShardIterator: iterator }));
      const got = page.Records ?? [];
      records.push(...got);
      if (got.length === 0) break;
      iterator = page.NextShardIterator;
    }
    if (records.length > 0) result.push({ shardId, records });
  }
  return result;
}

/** The records of a stream that has exactly one shard with records (DynamoDB Local's usual case). */
export async function readOnlyShard(streamArn: string): Promise<ShardRecords> {
  const shards = await readShards(streamArn);
  if (shards.length !== 1) {
    throw new Error(
      `expected records in one shard of ${streamArn}, found ${shards.length} shards with records`,
    );
  }
  return shards[0] as ShardRecords;
}

const landings: string[] = [];
afterAll(async () => {
  await Promise.all(landings.map((dir) => rm(dir, { recursive: true, force: true })));
});

/** A fresh landing area in a temporary folder, removed after the test file. */
export async function tempLanding(): Promise<{ folder: string; store: ObjectStore }> {
  const folder = await mkdtemp(path.join(tmpdir(), 'ddb-lake-capture-'));
  landings.push(folder);
  return { folder, store: new LocalFolderStore(folder) };
}

/** Every key under a prefix of the store, in listing order. */
export async function keysUnder(store: ObjectStore, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const info of store.list(prefix)) keys.push(info.key);
  return keys;
}

/** A deep copy of a Lambda record with `change` applied to it: a factory of damaged or TTL records. */
export function alteredRecord(
  record: DynamoDBRecord,
  change: (copy: DynamoDBRecord) => void,
): DynamoDBRecord {
  const copy = structuredClone(record);
  change(copy);
  return copy;
}

/** The REMOVE record as DynamoDB writes it when it deletes an expired item (TTL). */
export function asTtlDeletion(record: DynamoDBRecord): DynamoDBRecord {
  return alteredRecord(record, (copy) => {
    copy.userIdentity = { type: 'Service', principalId: 'dynamodb.amazonaws.com' };
  });
}
