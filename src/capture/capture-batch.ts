import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { encodeParsedChangeRecords } from '../formats/change-file-encoder.ts';
import { changeFileKey, tableNameOf } from '../formats/change-file-key.ts';
import type { ChangeRecord } from '../formats/change-record.ts';
import { BadInputError } from '../formats/errors.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { type CaptureLogEntry, errorSummary } from './capture-log.ts';
import { captureQuarantineBody, captureQuarantineKey } from './capture-quarantine.ts';
import {
  CaptureWriteError,
  InvalidCaptureBatchError,
  SUPPORTED_STREAM_VIEW_TYPES,
  UnsupportedStreamViewTypeError,
} from './errors.ts';
import { lambdaShardLabel } from './lambda-shard-label.ts';
import {
  creationTimeMs,
  type MappingProblem,
  mapStreamRecord,
  recordField,
} from './stream-record-mapping.ts';

export interface CaptureOptions {
  /** The landing area. */
  readonly store: ObjectStore;
  /**
   * The shard the batch was read from. The local poller knows it; Lambda events do not carry it,
   * and without it the batch is labelled by `lambdaShardLabel`.
   */
  readonly shardId?: string;
  /** Structured log sink; default: none (the library never prints). */
  readonly log?: (entry: CaptureLogEntry) => void;
  /** The clock (epoch ms) the batch's lag is measured against; default `Date.now`. */
  readonly now?: () => number;
}

/** A record written to quarantine instead of a change file. */
export interface QuarantinedRecord {
  /** The quarantine object, relative to the landing area. */
  readonly key: string;
  readonly seq: string | undefined;
  readonly eventId: string | undefined;
  readonly reason: string;
  readonly path: string | undefined;
}

export interface CaptureResult {
  /**
   * Lambda's partial batch response: empty when every record is durably written (in a change file
   * or in quarantine), else the SequenceNumber to retry from.
   */
  readonly batchItemFailures: { itemIdentifier: string }[];
  /** The change files written (none for an empty batch, or when the write failed). */
  readonly files: readonly { key: string; records: number; bytes: number }[];
  /** Stream records in the batch. */
  readonly records: number;
  /** Records durably written to quarantine. */
  readonly quarantined: readonly QuarantinedRecord[];
}

/** Quarantine writes in flight at once: a batch of bad records must not open thousands of sockets. */
const QUARANTINE_WRITES_IN_FLIGHT = 8;

/** A batch checked, mapped and encoded: everything decided before the first write. */
interface BatchPlan {
  readonly streamArn: string;
  readonly table: string;
  readonly shard: string;
  readonly changeFile:
    | { readonly key: string; readonly body: Buffer; readonly records: readonly ChangeRecord[] }
    | undefined;
  /** Index in the batch of the change file's first record. */
  readonly firstCapturedIndex: number;
  readonly rejected: readonly { readonly index: number; readonly problem: MappingProblem }[];
}

/**
 * Captures one batch of DynamoDB stream records (one shard, stream order) into the landing area
 * (DESIGN.md, Formats: Change file): every record that maps to a change-file line goes, in the
 * order received, into one change file at `changeFileKey(...)`; a record that cannot be mapped (no
 * SequenceNumber, invalid DynamoDB JSON, …) goes with its reason to a quarantine object under
 * `_ddb_lake/quarantine/capture/<table>/`, is logged, and the batch goes on. The quarantine objects
 * are written before the change file, which is written only once they all are: a change file in the
 * landing area implies that its batch's quarantined records are visible too.
 *
 * Idempotent: keys and bytes are pure functions of the batch, so a retried batch rewrites the same
 * objects with the same bytes; records that a differently cut retry writes twice share
 * `(keys, seq)` and collapse in apply.
 *
 * Partial failure is a value, not an exception: when a write fails, `batchItemFailures` holds the
 * SequenceNumber of the first record (in batch order) that is not durably written, so Lambda
 * retries from there and skips nothing; since the change file holds the batch whole, its failed
 * (or, after a failed quarantine write, skipped) write names its first record. Everything before
 * that point is already durable.
 *
 * The last log entry, `batch-captured` (or `batch-failed`), carries the batch's lag: `options.now`
 * minus the newest ApproximateCreationDateTime of its records, which the Lambda publishes as a
 * metric (capture-metrics.ts).
 *
 * Throws, before writing anything: `UnsupportedStreamViewTypeError` for a KEYS_ONLY or OLD_IMAGE
 * stream; `InvalidCaptureBatchError` for sequence numbers that do not increase (a batch is never
 * reordered silently), records of several streams, none naming its stream, or an unusable
 * `shardId`. Throws `CaptureWriteError` when a write failed and no record at or before it has a
 * SequenceNumber to retry from. Each of these is logged as `batch-failed` first.
 */
export async function captureBatch(
  event: DynamoDBStreamEvent,
  options: CaptureOptions,
): Promise<CaptureResult> {
  const started = performance.now();
  const log = options.log ?? (() => {});
  const records: readonly DynamoDBRecord[] = event?.Records ?? [];
  if (records.length === 0) return { batchItemFailures: [], files: [], records: 0, quarantined: [] };
  const lagMs = batchLagMs(records, (options.now ?? Date.now)());
  const failed = (error: unknown): void =>
    log({
      level: 'error',
      event: 'batch-failed',
      table: tableOfBatch(records),
      records: records.length,
      lagMs,
      error: errorSummary(error),
    });

  let plan: BatchPlan;
  try {
    plan = planBatch(records, options.shardId);
  } catch (error) {
    failed(error);
    throw error;
  }

  const failures: { index: number; key: string; error: unknown }[] = [];
  // Quarantine first, the change file after, and only when every quarantine object is durable:
  // apply lists change files before the quarantine, so whatever change file it sees, it also sees
  // the holes of the same batch and commits nothing past them (DESIGN.md rule 7).
  const quarantined = await writeQuarantine(plan, records, options.store, log, failures);
  const written =
    failures.length === 0 ? await writeChangeFile(plan, options.store, log, failures) : undefined;
  if (written === undefined && plan.changeFile !== undefined && failures.length > 0) {
    // Not written: its records are retried with the quarantined one (failures name the earliest).
    failures.push({ index: plan.firstCapturedIndex, key: plan.changeFile.key, error: failures[0]?.error });
  }

  let retryFrom: string | undefined;
  const firstFailure = failures.reduce<(typeof failures)[number] | undefined>(
    (first, failure) => (first === undefined || failure.index < first.index ? failure : first),
    undefined,
  );
  if (firstFailure !== undefined) {
    retryFrom = retryPoint(records, firstFailure.index);
    if (retryFrom === undefined) {
      const error = new CaptureWriteError(firstFailure.key, { cause: firstFailure.error });
      failed(error);
      throw error;
    }
  }
  const files = written === undefined ? [] : [written];
  log({
    level: retryFrom === undefined ? 'info' : 'error',
    event: 'batch-captured',
    table: plan.table,
    shard: plan.shard,
    records: records.length,
    captured: written?.records ?? 0,
    quarantined: quarantined.length,
    files: files.length,
    bytes: written?.bytes ?? 0,
    retryFrom,
    lagMs,
    durationMs: elapsed(started),
  });
  return {
    batchItemFailures: retryFrom === undefined ? [] : [{ itemIdentifier: retryFrom }],
    files,
    records: records.length,
    quarantined,
  };
}

/**
 * The batch's lag: `now` minus the newest ApproximateCreationDateTime of its records (the newest,
 * not the last: a record without one, or a quarantined one, does not hide the others), never below
 * 0; undefined when no record carries a usable one.
 */
function batchLagMs(records: readonly DynamoDBRecord[], now: number): number | undefined {
  let newest: number | undefined;
  for (const record of records) {
    const created = creationTimeMs(record?.dynamodb?.ApproximateCreationDateTime);
    if (created !== undefined && (newest === undefined || created > newest)) newest = created;
  }
  return newest === undefined ? undefined : Math.max(0, now - newest);
}

/** The table the batch's first record names, for the log of a batch refused before planning it. */
function tableOfBatch(records: readonly DynamoDBRecord[]): string | undefined {
  for (const record of records) {
    const arn = record?.eventSourceARN;
    if (typeof arn !== 'string' || arn === '') continue;
    try {
      return tableNameOf(arn);
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** Checks, maps and encodes the batch; throws the refusals of `captureBatch`, writes nothing. */
function planBatch(records: readonly DynamoDBRecord[], shardId: string | undefined): BatchPlan {
  for (const record of records) {
    const viewType = record?.dynamodb?.StreamViewType;
    if (viewType !== undefined && !(SUPPORTED_STREAM_VIEW_TYPES as readonly string[]).includes(viewType)) {
      throw new UnsupportedStreamViewTypeError(viewType, record.eventSourceARN);
    }
  }
  const streamArn = streamArnOf(records);
  let table: string;
  try {
    table = tableNameOf(streamArn);
  } catch (error) {
    throw new InvalidCaptureBatchError(
      streamArn,
      'its eventSourceARN is not the ARN of a DynamoDB stream',
      'Feed capture with events whose eventSourceARN is the stream ARN, as Lambda and toLambdaEvent do.',
      { cause: error },
    );
  }
  const shard = shardId ?? lambdaShardLabel(records[0] as DynamoDBRecord);
  checkShard(streamArn, table, shard);

  const captured: ChangeRecord[] = [];
  let firstCapturedIndex = -1;
  let previousIndex = -1;
  let previousSeq = 0n;
  const rejected: { index: number; problem: MappingProblem }[] = [];
  for (let index = 0; index < records.length; index++) {
    const mapped = mapStreamRecord(records[index] as DynamoDBRecord, shard);
    if (!mapped.ok) {
      // Quarantined, not thrown: one bad record must neither stall the shard (Lambda would retry the
      // batch until it expires) nor vanish (it is written, with its reason, beside the change files).
      rejected.push({ index, problem: mapped.problem });
      continue;
    }
    // A Lambda batch holds one shard's records in stream order, but that is checked, not assumed:
    // sorting here would hide whatever merged or reordered them, so the batch is refused instead.
    const seq = BigInt(mapped.record.seq);
    if (previousIndex >= 0 && seq <= previousSeq) {
      throw new InvalidCaptureBatchError(
        streamArn,
        `record ${index} (eventID ${mapped.record.eventId}) has SequenceNumber ${mapped.record.seq}, ` +
          `not greater than ${records[previousIndex]?.dynamodb?.SequenceNumber} of record ${previousIndex}`,
        'DynamoDB Streams delivers the records of a shard in order, and capture does not reorder them ' +
          'silently: check what builds the events (the event source mapping, or the poller) for merged ' +
          'shards or reordered records.',
      );
    }
    if (firstCapturedIndex < 0) firstCapturedIndex = index;
    previousIndex = index;
    previousSeq = seq;
    captured.push(mapped.record);
  }
  return {
    streamArn,
    table,
    shard,
    changeFile: captured.length === 0 ? undefined : encodePlanned(streamArn, table, shard, captured),
    firstCapturedIndex,
    rejected,
  };
}

function encodePlanned(
  streamArn: string,
  table: string,
  shard: string,
  records: ChangeRecord[],
): { key: string; body: Buffer; records: readonly ChangeRecord[] } {
  const first = records[0] as ChangeRecord;
  const last = records[records.length - 1] as ChangeRecord;
  try {
    const key = changeFileKey({ table, shard, firstSeq: first.seq, lastSeq: last.seq, firstTs: first.ts });
    return { key, body: encodeParsedChangeRecords(records), records };
  } catch (error) {
    if (!(error instanceof BadInputError)) throw error;
    // Every record passed parseChangeRecord and the order was checked: this is a batch-level rule.
    throw new InvalidCaptureBatchError(
      streamArn,
      `the change-file encoder refused it${error.path === undefined ? '' : ` at ${error.path}`}`,
      'Report this with the batch: records that map one by one should always encode together.',
      { cause: error },
    );
  }
}

/** The one stream every record of the batch names; Lambda and the poller always set it. */
function streamArnOf(records: readonly DynamoDBRecord[]): string {
  let streamArn: string | undefined;
  for (let index = 0; index < records.length; index++) {
    const arn = records[index]?.eventSourceARN;
    if (arn === undefined || arn === '') continue;
    if (streamArn === undefined) streamArn = arn;
    else if (arn !== streamArn) {
      throw new InvalidCaptureBatchError(
        streamArn,
        `record ${index} comes from another stream, ${arn}`,
        'A batch holds the records of one shard of one stream; give each stream its own event source.',
      );
    }
  }
  if (streamArn === undefined) {
    throw new InvalidCaptureBatchError(
      undefined,
      'no record names its stream (eventSourceARN)',
      'Feed capture with events whose eventSourceARN is the stream ARN, as Lambda and toLambdaEvent do.',
    );
  }
  return streamArn;
}

function checkShard(streamArn: string, table: string, shard: string): void {
  try {
    changeFileKey({ table, shard, firstSeq: '0', lastSeq: '0', firstTs: 0 });
  } catch (error) {
    throw new InvalidCaptureBatchError(
      streamArn,
      `the shard id ${JSON.stringify(shard)} cannot be part of an object key`,
      'Pass the ShardId exactly as DescribeStream returns it.',
      { cause: error },
    );
  }
}

async function writeChangeFile(
  plan: BatchPlan,
  store: ObjectStore,
  log: (entry: CaptureLogEntry) => void,
  failures: { index: number; key: string; error: unknown }[],
): Promise<{ key: string; records: number; bytes: number } | undefined> {
  const file = plan.changeFile;
  if (file === undefined) return undefined;
  const started = performance.now();
  const records = file.records.length;
  try {
    await store.put(file.key, file.body);
  } catch (error) {
    failures.push({ index: plan.firstCapturedIndex, key: file.key, error });
    log({
      level: 'error',
      event: 'write-failed',
      table: plan.table,
      key: file.key,
      records,
      error: errorSummary(error),
      durationMs: elapsed(started),
    });
    return undefined;
  }
  const first = file.records[0] as ChangeRecord;
  const last = file.records[records - 1] as ChangeRecord;
  log({
    level: 'info',
    event: 'change-file-written',
    table: plan.table,
    shard: plan.shard,
    key: file.key,
    records,
    bytes: file.body.length,
    firstSeq: first.seq,
    lastSeq: last.seq,
    durationMs: elapsed(started),
  });
  return { key: file.key, records, bytes: file.body.length };
}

async function writeQuarantine(
  plan: BatchPlan,
  records: readonly DynamoDBRecord[],
  store: ObjectStore,
  log: (entry: CaptureLogEntry) => void,
  failures: { index: number; key: string; error: unknown }[],
): Promise<QuarantinedRecord[]> {
  const written: (QuarantinedRecord | undefined)[] = new Array(plan.rejected.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let at = next++; at < plan.rejected.length; at = next++) {
      const { index, problem } = plan.rejected[at] as (typeof plan.rejected)[number];
      const record = records[index] as DynamoDBRecord;
      const key = captureQuarantineKey(plan.table, record);
      const started = performance.now();
      try {
        await store.put(key, captureQuarantineBody(record, problem, plan));
      } catch (error) {
        failures.push({ index, key, error });
        log({
          level: 'error',
          event: 'write-failed',
          table: plan.table,
          key,
          records: 1,
          error: errorSummary(error),
          durationMs: elapsed(started),
        });
        continue;
      }
      const seq = stringOrUndefined(record?.dynamodb?.SequenceNumber);
      const eventId = stringOrUndefined(record?.eventID);
      log({
        level: 'warn',
        event: 'record-quarantined',
        table: plan.table,
        key,
        seq,
        eventId,
        problem: problem.problem,
        field: recordField(problem.path),
      });
      written[at] = { key, seq, eventId, reason: problem.reason, path: problem.path };
    }
  };
  const workers = Math.min(QUARANTINE_WRITES_IN_FLIGHT, plan.rejected.length);
  await Promise.all(Array.from({ length: workers }, worker));
  return written.filter((entry) => entry !== undefined);
}

/**
 * The SequenceNumber Lambda retries from when record `index` is not durable: its own, or the
 * nearest earlier record's when it has none (rewriting durable records is harmless). Lambda takes
 * only SequenceNumbers of the batch as item identifiers; `undefined` when there is none to give.
 */
function retryPoint(records: readonly DynamoDBRecord[], index: number): string | undefined {
  for (let at = index; at >= 0; at--) {
    const seq = records[at]?.dynamodb?.SequenceNumber;
    if (typeof seq === 'string' && seq !== '') return seq;
  }
  return undefined;
}

function stringOrUndefined(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 10) / 10;
}
