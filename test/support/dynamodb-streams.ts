import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type _Record as SdkStreamRecord,
  type Shard,
} from '@aws-sdk/client-dynamodb-streams';
import { LOCAL_DYNAMODB_CREDENTIALS, LOCAL_REGION } from '../../src/local/dynamodb-local.ts';

/** A DynamoDB Streams client of a DynamoDB Local; the caller destroys it. */
export function newStreamsClient(endpoint: string): DynamoDBStreamsClient {
  return new DynamoDBStreamsClient({
    endpoint,
    region: LOCAL_REGION,
    credentials: { ...LOCAL_DYNAMODB_CREDENTIALS },
  });
}

/** The records of one shard as GetRecords returned them, in stream order. */
export interface ShardRecords {
  readonly shardId: string;
  readonly records: SdkStreamRecord[];
}

/**
 * Every record now in the stream, shard by shard (in DescribeStream order), each shard read from
 * TRIM_HORIZON until GetRecords returns an empty page: what the stream holds, exactly as the SDK
 * returns it. Shards without records are left out.
 */
export async function readShards(client: DynamoDBStreamsClient, streamArn: string): Promise<ShardRecords[]> {
  const shards: Shard[] = [];
  let exclusiveStartShardId: string | undefined;
  do {
    const page = await client.send(
      new DescribeStreamCommand({ StreamArn: streamArn, ExclusiveStartShardId: exclusiveStartShardId }),
    );
    shards.push(...(page.StreamDescription?.Shards ?? []));
    exclusiveStartShardId = page.StreamDescription?.LastEvaluatedShardId;
  } while (exclusiveStartShardId !== undefined);

  const result: ShardRecords[] = [];
  for (const shard of shards) {
    const shardId = shard.ShardId as string;
    let { ShardIterator: iterator } = await client.send(
      new GetShardIteratorCommand({
        StreamArn: streamArn,
        ShardId: shardId,
        ShardIteratorType: 'TRIM_HORIZON',
      }),
    );
    const records: SdkStreamRecord[] = [];
    while (iterator !== undefined) {
      const page = await client.send(new GetRecordsCommand({ ShardIterator: iterator }));
      const got = page.Records ?? [];
      records.push(...got);
      if (got.length === 0) break;
      iterator = page.NextShardIterator;
    }
    if (records.length > 0) result.push({ shardId, records });
  }
  return result;
}

/** Every record now in the stream of the DynamoDB Local at `endpoint`, shard after shard. */
export async function readStreamRecords(endpoint: string, streamArn: string): Promise<SdkStreamRecord[]> {
  const client = newStreamsClient(endpoint);
  try {
    return (await readShards(client, streamArn)).flatMap((shard) => shard.records);
  } finally {
    client.destroy();
  }
}
