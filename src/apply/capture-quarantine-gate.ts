import { CAPTURE_QUARANTINE_FOLDER } from '../capture/capture-quarantine.ts';
import { tableNameOf } from '../formats/change-file-key.ts';
import { mapLimited } from '../map-limited.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { takenIndexBefore } from './taken-index.ts';

/*
 * The capture quarantine as apply sees it (DESIGN.md rule 7): a stream record capture could not
 * map sits in the landing area under `_ddb_lake/quarantine/capture/<table>/<name>.json`, and is a
 * hole in its shard's changes. No batch is committed while one of the table's objects there is
 * neither replayed (it then leaves that folder, see capture-quarantine-replay.ts) nor accepted as
 * lost by a batch (batch-record.ts `acceptedCaptureQuarantine`, kept cumulatively by the taken
 * index). One listing of the folder per batch; only objects no batch accepted are read.
 */

/** What one capture quarantine object says, as far as it can be read. */
export interface CaptureQuarantineEntry {
  /** The object's key in the landing area. */
  readonly key: string;
  /** The shard (or Lambda batch label) the record came in, when the object says. */
  readonly shard: string | null;
  /** The record's SequenceNumber, when known (from the record, else from the object's name). */
  readonly seq: string | null;
  /** The record's eventID, when known. */
  readonly eventId: string | null;
  /** Why capture quarantined it; for a damaged object, what is damaged. */
  readonly reason: string;
  /** Where in the record (`dynamodb.NewImage.total`), when known. */
  readonly path: string | null;
  /** True when the object is not what capture writes (not JSON, fields missing). */
  readonly damaged: boolean;
  /** Size of the object in bytes. */
  readonly size: number;
  /** When the object was last written, ISO 8601 UTC (its age tells how long the hole has been open). */
  readonly lastModified: string;
}

/** Objects read at once when a listing's entries are read. */
const READS_IN_FLIGHT = 16;

const SEQUENCE_NAME = /^([0-9]{1,40})\.json$/;
const HASH_NAME = /^sha256-[0-9a-f]{64}\.json$/;

/** The folder of `table`'s capture quarantine in the landing area, ending with `/`. @throws BadInputError for a bad table name. */
export function captureQuarantinePrefix(table: string): string {
  return `${CAPTURE_QUARANTINE_FOLDER}${tableNameOf(table)}/`;
}

/**
 * The keys of `table`'s capture quarantine objects (a name or ARN), in listing order: one listing,
 * nothing read. Only objects directly in the table's folder count (capture writes nothing deeper).
 */
export async function listCaptureQuarantineKeys(landing: ObjectStore, table: string): Promise<string[]> {
  const prefix = captureQuarantinePrefix(table);
  const keys: string[] = [];
  for await (const object of landing.list(prefix)) {
    if (!object.key.slice(prefix.length).includes('/')) keys.push(object.key);
  }
  return keys;
}

/**
 * Reads one capture quarantine object. Never throws for its content: a damaged object comes back
 * with `damaged: true`, what its name tells (the SequenceNumber or eventID capture named it by),
 * and a reason saying what is wrong. A missing object (replayed meanwhile) is `undefined`.
 * @throws the store's errors other than a missing object.
 */
export async function readCaptureQuarantineEntry(
  landing: ObjectStore,
  key: string,
): Promise<CaptureQuarantineEntry | undefined> {
  const info = await landing.head(key);
  if (info === undefined) return undefined;
  let bytes: Uint8Array;
  try {
    bytes = await landing.getBytes(key);
  } catch (error) {
    if ((error as { code?: unknown }).code === 'OBJECT_NOT_FOUND') return undefined;
    throw error;
  }
  const name = key.slice(key.lastIndexOf('/') + 1);
  const fromName = {
    seq: SEQUENCE_NAME.exec(name)?.[1] ?? null,
    eventId: SEQUENCE_NAME.test(name) || HASH_NAME.test(name) ? null : name.replace(/\.json$/, ''),
  };
  const base = { key, size: info.size, lastModified: info.lastModified.toISOString() };
  const damaged = (what: string): CaptureQuarantineEntry => ({
    ...base,
    shard: null,
    ...fromName,
    reason: `the quarantine object is damaged (${what}); capture writes {reason, path, table, streamArn, shard, record}`,
    path: null,
    damaged: true,
  });
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (error) {
    return damaged(`not JSON: ${(error as Error).message}`);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return damaged('not a JSON object');
  const fields = body as Record<string, unknown>;
  const record = fields['record'] as { dynamodb?: { SequenceNumber?: unknown }; eventID?: unknown } | null;
  const recordSeq =
    typeof record === 'object' && record !== null ? record.dynamodb?.SequenceNumber : undefined;
  const recordEventId = typeof record === 'object' && record !== null ? record.eventID : undefined;
  const known = {
    ...base,
    shard: typeof fields['shard'] === 'string' ? fields['shard'] : null,
    seq: typeof recordSeq === 'string' ? recordSeq : fromName.seq,
    eventId: typeof recordEventId === 'string' ? recordEventId : fromName.eventId,
    path: typeof fields['path'] === 'string' ? fields['path'] : null,
  };
  if (typeof fields['reason'] !== 'string') {
    return { ...known, reason: damaged('it has no reason').reason, damaged: true };
  }
  if (!('record' in fields)) {
    return {
      ...known,
      reason: `${fields['reason']}; and ${damaged('it holds no record').reason}`,
      damaged: true,
    };
  }
  return { ...known, reason: fields['reason'], damaged: false };
}

/**
 * Every capture quarantine object of `table` (a name or ARN), each read for what it says, in
 * listing order. One listing; the objects are read 16 at a time. A damaged object is listed with
 * what is known and a reason saying it is damaged, never skipped; one removed between the listing
 * and its reading (replayed meanwhile) is left out.
 * @throws the store's errors.
 */
export async function listCaptureQuarantine(
  landing: ObjectStore,
  table: string,
): Promise<CaptureQuarantineEntry[]> {
  return readCaptureQuarantineEntries(landing, await listCaptureQuarantineKeys(landing, table));
}

/** Reads the objects `keys`, 16 at a time, leaving out those gone meanwhile; in the order given. */
export async function readCaptureQuarantineEntries(
  landing: ObjectStore,
  keys: readonly string[],
): Promise<CaptureQuarantineEntry[]> {
  const entries = await mapLimited(keys, READS_IN_FLIGHT, (key) => readCaptureQuarantineEntry(landing, key));
  return entries.filter((entry) => entry !== undefined);
}

/**
 * The keys of the capture quarantine objects that the batches up to and including `throughBatch`
 * accepted as lost (`apply --accept-capture-quarantine`): the taken index of that batch, else the
 * batch records folded. Empty for `throughBatch` below 1.
 * @throws StateFileError / ApplyRunError for a damaged index or batch record.
 */
export async function acceptedCaptureQuarantine(
  delta: ObjectStore,
  throughBatch: number,
): Promise<ReadonlySet<string>> {
  if (!Number.isSafeInteger(throughBatch) || throughBatch < 1) return new Set();
  const index = await takenIndexBefore(delta, throughBatch + 1);
  return index?.acceptedCaptureQuarantine ?? new Set();
}
