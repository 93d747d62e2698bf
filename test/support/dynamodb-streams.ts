import { LOCAL_DYNAMODB_CREDENTIALS, LOCAL_REGION } from '../../src/local/dynamodb-local.ts';

// The project has no DynamoDB Streams SDK client (@aws-sdk/client-dynamodb-streams is not a
// dependency), so tests speak the Streams JSON protocol to DynamoDB Local directly. DynamoDB Local
// checks that an access key is named but never verifies a signature, which is why an unsigned
// Authorization header does here (and would not against AWS).

/** A stream record as GetRecords returns it: DynamoDB JSON images, numbers as strings. */
export interface StreamRecord {
  readonly eventID: string;
  readonly eventName: 'INSERT' | 'MODIFY' | 'REMOVE';
  readonly dynamodb: {
    readonly Keys?: Record<string, unknown>;
    readonly NewImage?: Record<string, unknown>;
    readonly OldImage?: Record<string, unknown>;
    readonly SequenceNumber: string;
    readonly StreamViewType?: string;
    readonly ApproximateCreationDateTime?: number;
  };
}

interface Shard {
  readonly ShardId: string;
  readonly ParentShardId?: string;
  readonly SequenceNumberRange?: {
    readonly StartingSequenceNumber?: string;
    readonly EndingSequenceNumber?: string;
  };
}

/** Sends one DynamoDB Streams API call to DynamoDB Local and returns the parsed answer. */
export async function streamsCall<T>(endpoint: string, operation: string, body: object): Promise<T> {
  const today = new Date().toISOString().slice(0, 10).replaceAll('-', '');
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-amz-json-1.0',
      'X-Amz-Target': `DynamoDBStreams_20120810.${operation}`,
      Authorization:
        `AWS4-HMAC-SHA256 Credential=${LOCAL_DYNAMODB_CREDENTIALS.accessKeyId}/${today}/${LOCAL_REGION}/dynamodb/aws4_request, ` +
        'SignedHeaders=content-type;host;x-amz-target, Signature=0',
    },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok)
    throw new Error(`DynamoDB Streams ${operation} failed (HTTP ${response.status}): ${text}`);
  return JSON.parse(text) as T;
}

/** Every shard of the stream (DescribeStream, all pages). */
export async function listShards(endpoint: string, streamArn: string): Promise<Shard[]> {
  const shards: Shard[] = [];
  let exclusiveStartShardId: string | undefined;
  do {
    const answer = await streamsCall<{
      StreamDescription: { Shards?: Shard[]; LastEvaluatedShardId?: string };
    }>(endpoint, 'DescribeStream', {
      StreamArn: streamArn,
      ...(exclusiveStartShardId === undefined ? {} : { ExclusiveStartShardId: exclusiveStartShardId }),
    });
    shards.push(...(answer.StreamDescription.Shards ?? []));
    exclusiveStartShardId = answer.StreamDescription.LastEvaluatedShardId;
  } while (exclusiveStartShardId !== undefined);
  return shards;
}

/**
 * Every record currently in the stream, shard by shard from TRIM_HORIZON, parents before children,
 * each shard read until GetRecords returns an empty page (an open shard never ends).
 */
export async function readStreamRecords(endpoint: string, streamArn: string): Promise<StreamRecord[]> {
  const shards = await listShards(endpoint, streamArn);
  const ids = new Set(shards.map((shard) => shard.ShardId));
  const ordered = [...shards].sort((a, b) => depth(a, shards, ids) - depth(b, shards, ids));
  const records: StreamRecord[] = [];
  for (const shard of ordered) {
    let { ShardIterator: iterator } = await streamsCall<{ ShardIterator?: string }>(
      endpoint,
      'GetShardIterator',
      {
        StreamArn: streamArn,
        ShardId: shard.ShardId,
        ShardIteratorType: 'TRIM_HORIZON',
      },
    );
    while (iterator !== undefined) {
      const page = await streamsCall<{ Records?: StreamRecord[]; NextShardIterator?: string }>(
        endpoint,
        'GetRecords',
        { ShardIterator: iterator },
      );
      const pageRecords = page.Records ?? [];
      records.push(...pageRecords);
      if (pageRecords.length === 0) break;
      iterator = page.NextShardIterator;
    }
  }
  return records;
}

function depth(shard: Shard, shards: readonly Shard[], ids: ReadonlySet<string>): number {
  let level = 0;
  let current: Shard | undefined = shard;
  while (current?.ParentShardId !== undefined && ids.has(current.ParentShardId)) {
    const parentId: string = current.ParentShardId;
    current = shards.find((candidate) => candidate.ShardId === parentId);
    level++;
  }
  return level;
}
