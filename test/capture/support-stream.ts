import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBRecord } from 'aws-lambda';
import { afterAll } from 'vitest';
import { LocalFolderStore } from '../../src/storage/local-folder-store.ts';
import type { ObjectStore } from '../../src/storage/object-store.ts';
import {
  newStreamsClient,
  readShards as readShardsWith,
  type ShardRecords,
} from '../support/dynamodb-streams.ts';
import { dynamodbEndpoint } from '../support/local-stack.ts';

let client: DynamoDBStreamsClient | undefined;

/** One DynamoDB Streams client of the run's DynamoDB Local per test file. */
export function streamsClient(): DynamoDBStreamsClient {
  client ??= newStreamsClient(dynamodbEndpoint());
  return client;
}

export type { ShardRecords };

/** Every record now in the stream, shard by shard (see `readShards` in test/support). */
export function readShards(streamArn: string): Promise<ShardRecords[]> {
  return readShardsWith(streamsClient(), streamArn);
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
