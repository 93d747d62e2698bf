import type { StreamShard } from './stream-poller-api.ts';

/**
 * Which shards of a listing may be read now. Records of one item move from a parent shard to its
 * children when DynamoDB splits or rolls a shard, so a child is read only after its parent was read
 * to its end (DESIGN.md rule 1: per key, stream order holds within the shard lineage).
 */
export interface ShardLineage {
  /** Unfinished shards whose parent is finished or no longer listed, oldest first. */
  readonly readable: readonly StreamShard[];
  /** Unfinished shards whose parent is listed and not yet finished. */
  readonly waiting: readonly StreamShard[];
}

/**
 * Splits the unfinished shards of a listing into those readable now and those waiting for their
 * parent. A parent missing from the listing has left the stream (past its 24 hours), so its child
 * is readable; whether that lost changes is for the caller to judge from its checkpoints.
 * Readable shards come in StartingSequenceNumber order (compared as integers), then by id.
 * Pure: the same listing and finished set give the same answer.
 */
export function shardLineage(shards: readonly StreamShard[], finished: ReadonlySet<string>): ShardLineage {
  const listed = new Set(shards.map((shard) => shard.shardId));
  const readable: StreamShard[] = [];
  const waiting: StreamShard[] = [];
  for (const shard of shards) {
    if (finished.has(shard.shardId)) continue;
    const parent = shard.parentShardId;
    if (parent === undefined || finished.has(parent) || !listed.has(parent)) readable.push(shard);
    else waiting.push(shard);
  }
  readable.sort(compareShards);
  waiting.sort(compareShards);
  return { readable, waiting };
}

/** Orders shards by their first sequence number as integers (an absent one first), then by id. */
export function compareShards(a: StreamShard, b: StreamShard): number {
  const first = sequenceOf(a.startingSequenceNumber);
  const second = sequenceOf(b.startingSequenceNumber);
  if (first !== second) return first < second ? -1 : 1;
  return a.shardId < b.shardId ? -1 : a.shardId > b.shardId ? 1 : 0;
}

function sequenceOf(text: string | undefined): bigint {
  return text !== undefined && /^[0-9]{1,40}$/.test(text) ? BigInt(text) : -1n;
}
