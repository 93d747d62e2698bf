import { CAPTURE_QUARANTINE_FOLDER, namedCaptureQuarantineKey } from '../../capture/capture-quarantine.ts';
import { tableNameOf } from '../../formats/change-file-key.ts';
import { mapLimited } from '../../map-limited.ts';
import type { ObjectStore } from '../../storage/object-store.ts';
import type { BatchContext } from '../batch-context.ts';
import {
  type AcceptedCaptureQuarantine,
  type BatchRecord,
  batchRecordKey,
  serializeBatchRecord,
} from '../batch-record.ts';
import { takenIndexBefore } from '../taken-index.ts';
import {
  CaptureQuarantineBlockedError,
  CaptureQuarantineUnknownError,
  type CaptureQuarantineWhere,
} from './capture-quarantine-errors.ts';
import { compareChangeFiles } from './input-discovery.ts';
import { findReplayedChangeFiles } from './replayed-change-files.ts';

/*
 * The capture quarantine as apply sees it (DESIGN.md rule 7): a stream record capture could not
 * map sits in the landing area under `_ddb_lake/quarantine/capture/<table>/<name>.json`, and is a
 * hole in its shard's changes. No batch is committed while one of the table's objects there is
 * neither replayed (it then leaves that folder, see capture-quarantine-replay.ts) nor accepted as
 * lost by a batch (batch-record.ts `acceptedCaptureQuarantine`, kept cumulatively by the taken
 * index). One listing of the folder per batch; only objects no batch accepted are read.
 *
 * Where the gate sits in a batch: after the change files are listed (and the markers of replayed
 * records, replayed-change-files.ts) and before the batch record is stored, so that a refused run
 * writes nothing beside the table and a rerun after the repair plans afresh. Capture writes a
 * batch's quarantine objects before its change file (capture-batch.ts), so the holes of every
 * change file the batch takes are in the listing. A batch whose record is already stored (a rerun
 * after a crash) passes the same gate before its commit; an acceptance given then is added to its
 * record, whose inputs stay as they are.
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

/** The objects `options.acceptCaptureQuarantine` accepts now: live, not accepted before. */
async function acceptanceAsked(
  context: BatchContext,
  where: CaptureQuarantineWhere,
  live: readonly string[],
  acceptedBefore: ReadonlySet<string>,
): Promise<AcceptedCaptureQuarantine[]> {
  const asked = context.options.acceptCaptureQuarantine ?? [];
  if (asked.length === 0) return [];
  const liveKeys = new Set(live);
  const named = [
    ...new Set(
      asked.filter((given) => given !== 'all').map((given) => namedCaptureQuarantineKey(context.name, given)),
    ),
  ];
  const unknown = named.filter((key) => !liveKeys.has(key));
  if (unknown.length > 0) throw new CaptureQuarantineUnknownError(where, unknown);
  const keys = (asked.includes('all') ? live : named).filter((key) => !acceptedBefore.has(key));
  const entries = await readCaptureQuarantineEntries(context.options.landing, keys);
  return entries.map((entry) => ({
    key: entry.key,
    shard: entry.shard,
    seq: entry.seq,
    reason: entry.reason,
  }));
}

/** Throws when an object of `live` (still there when read) is in none of `accepted`. */
async function holdOnHoles(
  context: BatchContext,
  where: CaptureQuarantineWhere,
  batch: number,
  live: readonly string[],
  accepted: ReadonlySet<string>,
): Promise<void> {
  const open = live.filter((key) => !accepted.has(key));
  if (open.length === 0) return;
  const entries = await readCaptureQuarantineEntries(context.options.landing, open);
  if (entries.length > 0) throw new CaptureQuarantineBlockedError(batch, where, entries);
}

function whereOf(context: BatchContext): CaptureQuarantineWhere {
  return { table: context.name, landing: context.options.landing.url, delta: context.options.delta.url };
}

/**
 * The gate of a new batch (DESIGN.md rule 7), run after `planned` was planned (undefined: nothing
 * new) and before its record is stored. Adds the change files of records replayed from the capture
 * quarantine that no earlier batch took, whatever their partition (with their markers), and the
 * objects `acceptCaptureQuarantine` accepts; returns the record to store, or undefined when there
 * is still nothing new (nothing replayed, nothing accepted).
 * @throws CaptureQuarantineBlockedError when an object of the table's capture quarantine is neither
 *   accepted by an earlier batch nor by this one: nothing is written.
 * @throws CaptureQuarantineUnknownError for an accepted object that is not in the quarantine.
 */
export async function gateNewBatch(
  context: BatchContext,
  batch: number,
  appId: string,
  planned: BatchRecord | undefined,
): Promise<BatchRecord | undefined> {
  const { landing, delta } = context.options;
  const where = whereOf(context);
  const previous = await takenIndexBefore(delta, batch);
  const replayed =
    planned?.replayQuarantine === undefined
      ? await findReplayedChangeFiles(landing, context.name, previous?.replayedCaptureQuarantine ?? new Set())
      : [];
  // Listed after the change files and the markers: see the top of this file.
  const live = await listCaptureQuarantineKeys(landing, context.name);
  const acceptedBefore = previous?.acceptedCaptureQuarantine ?? new Set<string>();
  const accepting = await acceptanceAsked(context, where, live, acceptedBefore);
  await holdOnHoles(
    context,
    where,
    batch,
    live,
    new Set([...acceptedBefore, ...accepting.map((entry) => entry.key)]),
  );
  const listed = new Set([...(planned?.changeFiles ?? []), ...(previous?.changeFiles ?? [])]);
  const added = replayed.map((entry) => entry.changeFile).filter((key) => !listed.has(key));
  if (planned === undefined && added.length === 0 && accepting.length === 0) return undefined;
  const base: BatchRecord = planned ?? {
    batch,
    appId,
    // The batch's listing started when the run did: the taken index settles partitions by it.
    createdAt: new Date(context.started).toISOString(),
    incrementalExports: [],
    changeFiles: [],
  };
  return {
    ...base,
    changeFiles:
      added.length === 0 ? base.changeFiles : [...base.changeFiles, ...added].sort(compareChangeFiles),
    ...(replayed.length === 0 ? {} : { replayedCaptureQuarantine: replayed.map((entry) => entry.marker) }),
    ...(accepting.length === 0 ? {} : { acceptedCaptureQuarantine: accepting }),
  };
}

/**
 * The gate of a batch whose record is already stored (rebuilt after a crash), run before its taken
 * index and its commit. An acceptance asked now is added to the stored record (its inputs stay the
 * same, so the rebuilt batch is the same batch) and the amended record is returned.
 * @throws CaptureQuarantineBlockedError / CaptureQuarantineUnknownError as `gateNewBatch`.
 */
export async function gateStoredBatch(context: BatchContext, record: BatchRecord): Promise<BatchRecord> {
  const { landing, delta } = context.options;
  const where = whereOf(context);
  const previous = await takenIndexBefore(delta, record.batch);
  const live = await listCaptureQuarantineKeys(landing, context.name);
  const acceptedBefore = new Set([
    ...(previous?.acceptedCaptureQuarantine ?? []),
    ...(record.acceptedCaptureQuarantine ?? []).map((entry) => entry.key),
  ]);
  const accepting = await acceptanceAsked(context, where, live, acceptedBefore);
  await holdOnHoles(
    context,
    where,
    record.batch,
    live,
    new Set([...acceptedBefore, ...accepting.map((entry) => entry.key)]),
  );
  if (accepting.length === 0) return record;
  const amended: BatchRecord = {
    ...record,
    acceptedCaptureQuarantine: [...(record.acceptedCaptureQuarantine ?? []), ...accepting],
  };
  await delta.put(batchRecordKey(record.batch), serializeBatchRecord(amended));
  return amended;
}
