import type { Item } from '../dynamo/attribute-value.ts';

/** The three kinds of stream record, spelled as DynamoDB Streams spells `eventName`. */
export type ChangeOp = 'INSERT' | 'MODIFY' | 'REMOVE';

/**
 * One line of a change file (DESIGN.md, Formats): one DynamoDB Streams record, with DynamoDB JSON
 * values. `seq` is the stream `SequenceNumber` as decimal text (21 to 40 digits): compare as BigInt,
 * never as text of different lengths or as a JS number.
 */
export interface ChangeRecord {
  readonly op: ChangeOp;
  readonly keys: Item;
  readonly new: Item | null;
  readonly old: Item | null;
  readonly seq: string;
  readonly shard: string;
  /** ApproximateCreationDateTime, epoch milliseconds. Never order by it. */
  readonly ts: number;
  /** True when the service deleted the item because its TTL expired. */
  readonly ttl: boolean;
  readonly eventId: string;
}
