import { createHash } from 'node:crypto';
import type { DynamoDBRecord } from 'aws-lambda';

/** What every label of a Lambda batch starts with, so that no real shard id is mistaken for one. */
export const LAMBDA_SHARD_LABEL_PREFIX = 'lambda-';

/**
 * The shard label of a Lambda batch: `lambda-` and the first 16 hex digits of the SHA-256 of the
 * batch's first record's eventID.
 *
 * Why: a Lambda event carries no shard id (the DynamoDB Streams record format has none), yet the
 * change file's key and its lines need one. The label is a pure function of the batch, so a retried
 * batch maps to the same key and rewrites the same bytes; and since eventIDs are unique, batches of
 * different shards never share a label, so their files cannot collide. Retries cut differently
 * (bisected, or resumed from a `batchItemFailures` point) get another label, and their duplicate
 * records collapse in apply by `(keys, seq)`. What the label cannot give is the shard lineage: apply
 * orders by SequenceNumber per key, never by shard.
 *
 * A record without an eventID (never from Lambda) is labelled by its SequenceNumber, and one without
 * both by its JSON text, so the label stays deterministic. Throws nothing.
 */
export function lambdaShardLabel(firstRecord: DynamoDBRecord): string {
  const eventId = firstRecord?.eventID;
  const seed =
    typeof eventId === 'string' && eventId !== ''
      ? eventId
      : typeof firstRecord?.dynamodb?.SequenceNumber === 'string'
        ? `SequenceNumber:${firstRecord.dynamodb.SequenceNumber}`
        : `record:${JSON.stringify(firstRecord) ?? ''}`;
  return LAMBDA_SHARD_LABEL_PREFIX + createHash('sha256').update(seed, 'utf8').digest('hex').slice(0, 16);
}
