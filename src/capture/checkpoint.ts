import { tableNameOf } from '../formats/change-file-key.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { BadCheckpointError } from './stream-poller-errors.ts';

/**
 * How far capture got in one shard, stored in the landing area at
 * `_ddb_lake/capture/<table>/shards/<shardId>.json`. Written after each batch the handler took,
 * so a restarted poller resumes after `lastSequenceNumber` (at-least-once: a batch handled but not
 * yet checkpointed is read again).
 */
export interface ShardCheckpoint {
  readonly shardId: string;
  readonly parentShardId: string | null;
  /** SequenceNumber of the last record handed to the handler successfully, as DynamoDB wrote it. */
  readonly lastSequenceNumber: string | null;
  /**
   * ApproximateCreationDateTime (ISO 8601) of that record: the earliest time a change lost after it
   * can have, should the stream trim the shard before capture resumes.
   */
  readonly lastApproximateCreationDateTime: string | null;
  /** The end of the (closed) shard was read: a restart skips it. */
  readonly finished: boolean;
  /** When this checkpoint was written (ISO 8601). */
  readonly updatedAt: string;
}

const CAPTURE_FOLDER = '_ddb_lake/capture/';
const SHARD_ID = /^[A-Za-z0-9_.-]{1,128}$/;
const SEQUENCE_NUMBER = /^[0-9]{1,40}$/;

/** The folder of one table's capture state (`_ddb_lake/capture/<table>/`). */
export function captureStatePrefix(tableOrArn: string): string {
  return `${CAPTURE_FOLDER}${tableNameOf(tableOrArn)}/`;
}

/** The key of a shard's checkpoint. Throws `BadCheckpointError` for a shard id that cannot be a key. */
export function checkpointKey(tableOrArn: string, shardId: string): string {
  if (!SHARD_ID.test(shardId)) {
    throw new BadCheckpointError('the landing area', shardId, `"${shardId}" is not a shard id`);
  }
  return `${captureStatePrefix(tableOrArn)}shards/${shardId}.json`;
}

/**
 * Every checkpoint of the table's capture, by shard id. Throws `BadCheckpointError` (naming the key)
 * for an object that is not a checkpoint: a damaged checkpoint must stop capture, not restart the
 * shard silently.
 */
export async function readCheckpoints(
  store: ObjectStore,
  tableOrArn: string,
): Promise<Map<string, ShardCheckpoint>> {
  const prefix = `${captureStatePrefix(tableOrArn)}shards/`;
  const checkpoints = new Map<string, ShardCheckpoint>();
  for await (const object of store.list(prefix)) {
    if (!object.key.endsWith('.json')) continue;
    const bytes = await store.getBytes(object.key);
    const checkpoint = parseCheckpoint(Buffer.from(bytes).toString('utf8'), store.url, object.key);
    if (`${prefix}${checkpoint.shardId}.json` !== object.key) {
      throw new BadCheckpointError(
        store.url,
        object.key,
        `it names shard ${checkpoint.shardId}, not the shard its key names`,
      );
    }
    checkpoints.set(checkpoint.shardId, checkpoint);
  }
  return checkpoints;
}

/**
 * Writes (replaces) a shard's checkpoint. Idempotent; a single poller per table is assumed, so the
 * last write wins.
 */
export async function writeCheckpoint(
  store: ObjectStore,
  tableOrArn: string,
  checkpoint: ShardCheckpoint,
): Promise<string> {
  const key = checkpointKey(tableOrArn, checkpoint.shardId);
  const body: ShardCheckpoint = {
    shardId: checkpoint.shardId,
    parentShardId: checkpoint.parentShardId,
    lastSequenceNumber: checkpoint.lastSequenceNumber,
    lastApproximateCreationDateTime: checkpoint.lastApproximateCreationDateTime,
    finished: checkpoint.finished,
    updatedAt: checkpoint.updatedAt,
  };
  await store.put(key, `${JSON.stringify(body, null, 2)}\n`);
  return key;
}

/** Parses and checks a checkpoint's JSON text; throws `BadCheckpointError` naming `key`. */
export function parseCheckpoint(text: string, storeUrl: string, key: string): ShardCheckpoint {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new BadCheckpointError(storeUrl, key, 'it is not JSON', { cause: error });
  }
  const bad = (reason: string): never => {
    throw new BadCheckpointError(storeUrl, key, reason);
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return bad('it is not an object');
  const record = value as Record<string, unknown>;
  const shardId = record['shardId'];
  if (typeof shardId !== 'string' || !SHARD_ID.test(shardId)) return bad('"shardId" is not a shard id');
  const parentShardId = record['parentShardId'] ?? null;
  if (parentShardId !== null && (typeof parentShardId !== 'string' || !SHARD_ID.test(parentShardId))) {
    return bad('"parentShardId" is neither null nor a shard id');
  }
  const lastSequenceNumber = record['lastSequenceNumber'] ?? null;
  if (
    lastSequenceNumber !== null &&
    (typeof lastSequenceNumber !== 'string' || !SEQUENCE_NUMBER.test(lastSequenceNumber))
  ) {
    return bad('"lastSequenceNumber" is neither null nor a sequence number (decimal digits)');
  }
  const lastTime = record['lastApproximateCreationDateTime'] ?? null;
  if (lastTime !== null && (typeof lastTime !== 'string' || Number.isNaN(Date.parse(lastTime)))) {
    return bad('"lastApproximateCreationDateTime" is neither null nor an ISO 8601 time');
  }
  const finished = record['finished'];
  if (typeof finished !== 'boolean') return bad('"finished" is not true or false');
  const updatedAt = record['updatedAt'];
  if (typeof updatedAt !== 'string' || Number.isNaN(Date.parse(updatedAt))) {
    return bad('"updatedAt" is not an ISO 8601 time');
  }
  return {
    shardId,
    parentShardId,
    lastSequenceNumber,
    lastApproximateCreationDateTime: lastTime,
    finished,
    updatedAt,
  };
}
