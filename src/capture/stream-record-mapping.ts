import type { DynamoDBRecord } from 'aws-lambda';
import type { ChangeRecord } from '../formats/change-record.ts';
import { BadInputError } from '../formats/errors.ts';
import { parseChangeRecord } from '../formats/parse-change-record.ts';
import type { QuarantineProblem } from './capture-log.ts';

/** Why a stream record cannot be a change-file line, with the member of the record at fault. */
export interface MappingProblem {
  readonly problem: QuarantineProblem;
  /** What is wrong; may quote values of the record, so it goes to quarantine, never to the log. */
  readonly reason: string;
  /** Where in the stream record (`dynamodb.NewImage.lines[1].price`), when known. */
  readonly path: string | undefined;
}

/** A mapped record, or why it could not be mapped: a value, so the batch goes on with the rest. */
export type MappedStreamRecord =
  | { readonly ok: true; readonly record: ChangeRecord }
  | { readonly ok: false; readonly problem: MappingProblem };

/**
 * The `userIdentity` DynamoDB puts on the REMOVE records of items it deleted because their TTL
 * expired (DynamoDB Streams and TTL, in the DynamoDB developer guide).
 */
export const TTL_USER_IDENTITY = { type: 'Service', principalId: 'dynamodb.amazonaws.com' } as const;

/**
 * Above this, an ApproximateCreationDateTime is not epoch seconds (it would be past the year 5000):
 * most likely milliseconds handed over by mistake, which must not become dates 1000 times too far.
 */
const MAX_EPOCH_SECONDS = 1e11;

/** Where each change-record field comes from in a Lambda stream record, for paths in reasons. */
const SOURCE_OF_FIELD: Readonly<Record<string, string>> = {
  op: 'eventName',
  keys: 'dynamodb.Keys',
  new: 'dynamodb.NewImage',
  old: 'dynamodb.OldImage',
  seq: 'dynamodb.SequenceNumber',
  shard: 'shard',
  ts: 'dynamodb.ApproximateCreationDateTime',
  ttl: 'userIdentity',
  eventId: 'eventID',
};

/**
 * Maps one record of a Lambda `DynamoDBStreamEvent` to a change-file line (DESIGN.md, Formats:
 * Change file) of the given shard: eventName → `op`, Keys/NewImage/OldImage → `keys`/`new`/`old`
 * (an absent image is `null`, as under the NEW_IMAGE view type), SequenceNumber → `seq`,
 * ApproximateCreationDateTime (epoch seconds as Lambda sends it, or a Date as the Streams SDK gives
 * it) → `ts` in epoch milliseconds, the TTL service identity → `ttl`, eventID → `eventId`. The
 * result is validated and normalized by `parseChangeRecord` (canonical numbers and base64).
 *
 * Never throws for bad data: a record that cannot be mapped comes back as a `MappingProblem`
 * naming the record member at fault, for the caller to quarantine.
 */
export function mapStreamRecord(record: DynamoDBRecord, shard: string): MappedStreamRecord {
  if (typeof record !== 'object' || record === null || Array.isArray(record)) {
    return problem('not-a-stream-record', 'a stream record must be a JSON object', undefined);
  }
  const change = record.dynamodb;
  if (typeof change !== 'object' || change === null) {
    return problem('not-a-stream-record', 'the record has no dynamodb member', 'dynamodb');
  }
  const seq = change.SequenceNumber;
  if (typeof seq !== 'string' || seq === '') {
    return problem('no-sequence-number', 'the record has no SequenceNumber', 'dynamodb.SequenceNumber');
  }
  const ts = creationTimeMs(change.ApproximateCreationDateTime);
  if (ts === undefined) {
    const value = change.ApproximateCreationDateTime;
    return problem(
      'no-creation-time',
      value === undefined
        ? 'the record has no ApproximateCreationDateTime'
        : `ApproximateCreationDateTime ${JSON.stringify(value)} is not epoch seconds`,
      'dynamodb.ApproximateCreationDateTime',
    );
  }
  const identity = record.userIdentity as { type?: unknown; principalId?: unknown } | undefined;
  const line = {
    op: record.eventName,
    keys: change.Keys,
    new: change.NewImage ?? null,
    old: change.OldImage ?? null,
    seq,
    shard,
    ts,
    ttl: identity?.type === TTL_USER_IDENTITY.type && identity.principalId === TTL_USER_IDENTITY.principalId,
    eventId: record.eventID,
  };
  try {
    return { ok: true, record: parseChangeRecord(line) };
  } catch (error) {
    if (!(error instanceof BadInputError)) throw error;
    return problem('invalid-record', error.reason, sourcePath(error.path));
  }
}

/**
 * ApproximateCreationDateTime in epoch milliseconds: Lambda sends epoch seconds (whole seconds on
 * AWS, whole minutes on DynamoDB Local), the Streams SDK a Date. `undefined` when it is neither.
 */
export function creationTimeMs(value: unknown): number | undefined {
  if (value instanceof Date) {
    const ms = value.getTime();
    return Number.isSafeInteger(ms) && ms >= 0 ? ms : undefined;
  }
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0 && value < MAX_EPOCH_SECONDS) {
    return Math.round(value * 1000);
  }
  return undefined;
}

/** The member of the stream record at fault: `dynamodb.NewImage.total` → `dynamodb.NewImage`. */
export function recordField(path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  for (const source of Object.values(SOURCE_OF_FIELD)) {
    if (path === source || path.startsWith(`${source}.`) || path.startsWith(`${source}[`)) return source;
  }
  return path.split(/[.[]/, 1)[0];
}

/** A change-record path (`new.lines[1].price`) as a path into the stream record. */
function sourcePath(path: string | undefined): string | undefined {
  if (path === undefined || path === '') return undefined;
  const end = path.search(/[.[]/);
  const field = end < 0 ? path : path.slice(0, end);
  const source = SOURCE_OF_FIELD[field];
  return source === undefined ? path : source + (end < 0 ? '' : path.slice(end));
}

function problem(kind: QuarantineProblem, reason: string, path: string | undefined): MappedStreamRecord {
  return { ok: false, problem: { problem: kind, reason, path } };
}
