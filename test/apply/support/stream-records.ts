import type { DynamoDBRecord } from 'aws-lambda';
import { type CaptureResult, captureBatch } from '../../../src/capture/capture-batch.ts';
import type { ChangeRecord } from '../../../src/formats/change-record.ts';
import type { ObjectStore } from '../../../src/storage/object-store.ts';
import { change, MINUTE, SAMPLE_T, seq, TABLE } from '../run-support.ts';

/*
 * Stream records as Lambda hands them to capture, built from change records, and captured by
 * capture's own code (captureBatch): the change files and quarantine objects a test's landing area
 * holds are exactly what capture writes.
 */

/** The stream ARN of the orders table in these tests. */
export const ORDERS_STREAM_ARN =
  'arn:aws:dynamodb:us-east-1:111122223333:table/orders/stream/2026-11-01T00:00:00.000';

/**
 * The Lambda stream record a change record was mapped from (NEW_AND_OLD_IMAGES). `ts` must be whole
 * seconds: Lambda sends ApproximateCreationDateTime in epoch seconds.
 */
export function lambdaRecord(change: ChangeRecord, streamArn = ORDERS_STREAM_ARN): DynamoDBRecord {
  if (change.ts % 1000 !== 0) throw new Error(`ts ${change.ts} is not whole seconds`);
  return {
    eventID: change.eventId,
    eventName: change.op,
    eventVersion: '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: 'us-east-1',
    eventSourceARN: streamArn,
    dynamodb: {
      ApproximateCreationDateTime: change.ts / 1000,
      Keys: change.keys as never,
      ...(change.new === null ? {} : { NewImage: change.new as never }),
      ...(change.old === null ? {} : { OldImage: change.old as never }),
      SequenceNumber: change.seq,
      SizeBytes: 100,
      StreamViewType: 'NEW_AND_OLD_IMAGES',
    },
    ...(change.ttl ? { userIdentity: { type: 'Service', principalId: 'dynamodb.amazonaws.com' } } : {}),
  };
}

/** A record whose NewImage holds a number DynamoDB never sends: capture quarantines it. */
export function damagedRecord(record: DynamoDBRecord): DynamoDBRecord {
  const copy = structuredClone(record);
  (copy.dynamodb as { NewImage: Record<string, unknown> }).NewImage = {
    ...(copy.dynamodb?.NewImage ?? {}),
    amount: { N: 'twelve' },
  };
  return copy;
}

/**
 * Captures `records` (one shard, ascending seq) with captureBatch as the local poller does, the
 * records at the indexes in `damage` damaged first (they go to quarantine, the rest to one change
 * file).
 */
export async function captureThrough(
  landing: ObjectStore,
  records: readonly ChangeRecord[],
  options: { readonly damage?: readonly number[] } = {},
): Promise<CaptureResult> {
  const damage = new Set(options.damage ?? []);
  const shard = records[0]?.shard;
  const event = {
    Records: records.map((record, index) =>
      damage.has(index) ? damagedRecord(lambdaRecord(record)) : lambdaRecord(record),
    ),
  };
  return captureBatch(event, { store: landing, ...(shard === undefined ? {} : { shardId: shard }) });
}

/**
 * Fixes a quarantined record in place as a person would: reads the object, lets `fix` change its
 * `record` member, writes it back.
 */
export async function fixInPlace(
  landing: ObjectStore,
  key: string,
  fix: (record: DynamoDBRecord) => void,
): Promise<void> {
  const body = JSON.parse(Buffer.from(await landing.getBytes(key)).toString('utf8'));
  fix(body.record as DynamoDBRecord);
  await landing.put(key, `${JSON.stringify(body, null, 2)}\n`);
}

/** Sets the NewImage's `amount` of a record to the number `value`. */
export function setAmount(value: string): (record: DynamoDBRecord) => void {
  return (record) => {
    (record.dynamodb as { NewImage: Record<string, unknown> }).NewImage['amount'] = { N: value };
  };
}

/** When the changes of the quarantine tests were made: an hour after the sample export's T. */
export const CHANGES_WRITTEN_AT = SAMPLE_T + 60 * MINUTE;

/** A MODIFY of order `pk`/`order#1` setting `amount`, with sequence number `seq(n)`. */
export function amountChange(pk: string, n: number, amount: string): ChangeRecord {
  return change({
    op: 'MODIFY',
    pk,
    sk: 'order#1',
    seq: seq(n),
    ts: CHANGES_WRITTEN_AT,
    attributes: { amount: { N: amount } },
  });
}

/** The capture quarantine object of the record with sequence number `seq(n)`. */
export function quarantineObjectKey(n: number): string {
  return `_ddb_lake/quarantine/capture/${TABLE}/${seq(n)}.json`;
}
