import { createHash } from 'node:crypto';
import type { DynamoDBRecord } from 'aws-lambda';
import type { MappingProblem } from './stream-record-mapping.ts';

/**
 * Where capture puts stream records it cannot write as change-file lines, relative to the landing
 * area: `_ddb_lake/quarantine/capture/<table>/<name>.json`. Beside the change files rather than
 * beside the Delta table, because capture knows only the landing area.
 */
export const CAPTURE_QUARANTINE_FOLDER = '_ddb_lake/quarantine/capture/';

/**
 * Where `ddb-lake quarantine replay` moves an object once its record is a change file again:
 * `_ddb_lake/quarantine/capture-replayed/<table>/<name>.json`, the object as replayed plus the key
 * of the change file it became (capture-quarantine-replay.ts).
 */
export const CAPTURE_REPLAYED_FOLDER = '_ddb_lake/quarantine/capture-replayed/';

/** The folder of `table`'s capture quarantine (a name, not an ARN), ending with `/`. */
export function captureQuarantineFolder(table: string): string {
  return `${CAPTURE_QUARANTINE_FOLDER}${table}/`;
}

/**
 * The key of the object a person names by its key (`_ddb_lake/quarantine/capture/<table>/x.json`)
 * or by its name in the table's folder (`x.json`, or `x`: a SequenceNumber or eventID). Pure; says
 * nothing about whether the object exists.
 */
export function namedCaptureQuarantineKey(table: string, given: string): string {
  if (given.includes('/')) return given;
  return `${captureQuarantineFolder(table)}${given.endsWith('.json') ? given : `${given}.json`}`;
}

const SEQUENCE_NUMBER = /^[0-9]{1,40}$/;
/** An eventID usable as it is in an object key: no `/`, no leading dot (no `.` or `..` segment). */
const KEY_SAFE_EVENT_ID = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$/;

/** What a quarantine object holds: enough to see what went wrong and to replay the record. */
export interface CaptureQuarantineObject {
  /** What is wrong with the record. */
  readonly reason: string;
  /** Where in the record (`dynamodb.NewImage.total`), when known. */
  readonly path: string | null;
  readonly table: string;
  readonly streamArn: string;
  /** The shard (or Lambda batch label) of the batch the record came in. */
  readonly shard: string;
  /** The stream record exactly as it was received. */
  readonly record: unknown;
}

/**
 * The quarantine object key of a record of `table`: named by its SequenceNumber when it has a valid
 * one, else by its eventID, else by the SHA-256 of its JSON text. A pure function of the record, so
 * a retried batch rewrites the same object instead of adding another.
 */
export function captureQuarantineKey(table: string, record: DynamoDBRecord): string {
  const seq = record?.dynamodb?.SequenceNumber;
  const eventId = record?.eventID;
  const name =
    typeof seq === 'string' && SEQUENCE_NUMBER.test(seq)
      ? seq
      : typeof eventId === 'string' && KEY_SAFE_EVENT_ID.test(eventId)
        ? eventId
        : `sha256-${createHash('sha256').update(jsonText(record), 'utf8').digest('hex')}`;
  return `${CAPTURE_QUARANTINE_FOLDER}${table}/${name}.json`;
}

/**
 * The body of a quarantine object: `CaptureQuarantineObject` as indented JSON. A record that is not
 * JSON (only a caller other than Lambda can hand one over) is kept as its string form.
 */
export function captureQuarantineBody(
  record: DynamoDBRecord,
  problem: MappingProblem,
  where: { readonly table: string; readonly streamArn: string; readonly shard: string },
): string {
  const body: CaptureQuarantineObject = {
    reason: problem.reason,
    path: problem.path ?? null,
    table: where.table,
    streamArn: where.streamArn,
    shard: where.shard,
    record,
  };
  try {
    return `${JSON.stringify(body, null, 2)}\n`;
  } catch {
    return `${JSON.stringify({ ...body, record: String(record) }, null, 2)}\n`;
  }
}

/** JSON text of a record that came from JSON; whatever else (a cycle, a BigInt) becomes a string. */
function jsonText(value: unknown): string {
  try {
    return JSON.stringify(value) ?? 'null';
  } catch {
    return String(value);
  }
}
