import type { TableKeys } from '../lake/key-identity.ts';
import { mapLimited } from '../map-limited.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { ApplyErrorCode, ApplyRunError } from './apply-errors.ts';
import { batchText } from './batch-number.ts';
import { parseReplanFields, type ReplanFields, serializeReplanFields } from './replan-record.ts';
import { parseStateObject } from './state-json.ts';

/*
 * The batch record (DESIGN.md rule 4): the list of a batch's inputs, stored beside the table under
 * `_ddb_lake/apply/batches/<20-digit batch>.json` with put-if-absent BEFORE the batch's commit. A
 * run that finds the record of the batch after the table's latest txn rebuilds exactly that batch
 * from it (same inputs, same table); the change files that records list are never taken again.
 *
 * Which files are new is decided from the previous batch's taken index (taken-index.ts), not from
 * every record: the rule is that a change file's partition `dt=<date of its first record>` stops
 * receiving files once the stream's 24-hour retention has passed, so after a batch created at C
 * every partition dated before the UTC date of C − 48 h is settled: all its files are taken and
 * it is not listed again. A change file restored (or written by hand) into a settled partition is
 * therefore only found by `apply --rescan`, which reads every record and lists every partition; one
 * that `ddb-lake quarantine replay` wrote is found through its marker whatever its partition
 * (replayed-change-files.ts). Batch 1, and a table whose previous batch has no index, take the same
 * full path. (A batch that lists nothing, a quarantine replay, settles nothing.)
 *
 * An uncommitted batch can be re-planned on request (batch-replan.ts): its record is then replaced,
 * the one it replaces kept beside it, and what the re-plan dropped written in the new record
 * (replan-record.ts).
 */

/** The folder of the batch records, in the Delta table's store. */
export const BATCH_RECORDS_FOLDER = '_ddb_lake/apply/batches/';

/** The snapshot a first batch loads. */
export interface BatchSnapshot {
  readonly exportId: string;
  /** `scan` for a Scan export (its summary carries `ddbLakeScan`), else `export`. */
  readonly kind: 'export' | 'scan';
  /** T, ISO 8601 UTC: the export time, or the Scan's start. */
  readonly exportTime: string;
}

/**
 * What a first batch decided about the new table, so that a rebuild after a crash creates the same
 * table whatever flags the rerun passes.
 */
export interface BatchSettings {
  readonly keys: TableKeys;
  readonly marginMs: number;
  readonly deletes: 'hard' | 'soft';
  readonly buckets: number;
  /** Merge-on-read (rule 6); absent in records written before deletion vectors: copy-on-write. */
  readonly deletionVectors?: boolean;
}

export interface BatchRecord extends ReplanFields {
  readonly batch: number;
  readonly appId: string;
  /** ISO 8601 UTC. */
  readonly createdAt: string;
  /** Only on batch 1. */
  readonly snapshot?: BatchSnapshot;
  /** Only on batch 1. */
  readonly settings?: BatchSettings;
  /** Incremental export ids, replayed in this order. */
  readonly incrementalExports: readonly string[];
  /** Keys of change files in the landing area, in the order they are read. */
  readonly changeFiles: readonly string[];
  /** A batch whose quarantined lines (fixed in place) this batch replays; no other input then. */
  readonly replayQuarantine?: number;
  /**
   * Capture quarantine objects (stream records capture could not map) that a person accepted as
   * lost with this batch (DESIGN.md rule 7); absent when none.
   */
  readonly acceptedCaptureQuarantine?: readonly AcceptedCaptureQuarantine[];
  /**
   * Markers of replayed capture quarantine objects (`_ddb_lake/quarantine/capture-replayed/…`)
   * whose change files this batch took (they are in `changeFiles`); absent when none.
   */
  readonly replayedCaptureQuarantine?: readonly string[];
}

/** One capture quarantine object accepted as lost, as the batch record lists it. */
export interface AcceptedCaptureQuarantine {
  /** The object's key in the landing area (`_ddb_lake/quarantine/capture/<table>/<name>.json`). */
  readonly key: string;
  /** The shard the record came from, when the object says. */
  readonly shard: string | null;
  /** The record's SequenceNumber, when known. */
  readonly seq: string | null;
  /** Why capture quarantined it. */
  readonly reason: string;
}

/** `_ddb_lake/apply/batches/<batch padded to 20 digits>.json`. @throws RangeError for a batch below 1. */
export function batchRecordKey(batch: number): string {
  return `${BATCH_RECORDS_FOLDER}${batchText(batch)}.json`;
}

const RECORD_KEY = /^_ddb_lake\/apply\/batches\/(\d{20})\.json$/;

function corrupt(key: string, what: string): ApplyRunError {
  return new ApplyRunError(
    ApplyErrorCode.batchRecordCorrupt,
    `The batch record ${key} beside the table is damaged: ${what}. It is written by apply only (once, or again by a re-plan, which keeps the record it replaces beside it); restore it from a backup of the table's folder (the batch's inputs cannot be known otherwise).`,
  );
}

function stringList(value: unknown, key: string, field: string): string[] {
  if (!Array.isArray(value) || !value.every((entry) => typeof entry === 'string')) {
    throw corrupt(key, `${field} is not a list of strings`);
  }
  return value as string[];
}

/**
 * Parses a stored batch record; `key` names it in errors.
 * @throws ApplyRunError `APPLY_BATCH_RECORD_CORRUPT` naming the field that is wrong.
 */
export function parseBatchRecord(bytes: Uint8Array, key: string): BatchRecord {
  const fields = parseStateObject(bytes, (what) => corrupt(key, what));
  const batch = fields['batch'];
  if (typeof batch !== 'number' || !Number.isSafeInteger(batch) || batch < 1) {
    throw corrupt(key, 'batch is not a whole number from 1 on');
  }
  if (typeof fields['appId'] !== 'string' || fields['appId'] === '') throw corrupt(key, 'appId is missing');
  if (typeof fields['createdAt'] !== 'string') throw corrupt(key, 'createdAt is missing');
  let snapshot: BatchSnapshot | undefined;
  const given = fields['snapshot'];
  if (given !== undefined && given !== null) {
    const s = given as Record<string, unknown>;
    if (
      typeof s['exportId'] !== 'string' ||
      (s['kind'] !== 'export' && s['kind'] !== 'scan') ||
      typeof s['exportTime'] !== 'string' ||
      Number.isNaN(Date.parse(s['exportTime']))
    ) {
      throw corrupt(key, 'snapshot is not {exportId, kind: export|scan, exportTime}');
    }
    snapshot = { exportId: s['exportId'], kind: s['kind'], exportTime: s['exportTime'] };
  }
  let settings: BatchSettings | undefined;
  const givenSettings = fields['settings'];
  if (givenSettings !== undefined && givenSettings !== null) {
    const s = givenSettings as Record<string, unknown>;
    const keys = s['keys'] as Record<string, unknown> | null | undefined;
    if (
      typeof keys !== 'object' ||
      keys === null ||
      typeof keys['partition'] !== 'string' ||
      (keys['sort'] !== undefined && typeof keys['sort'] !== 'string') ||
      typeof s['marginMs'] !== 'number' ||
      (s['deletes'] !== 'hard' && s['deletes'] !== 'soft') ||
      typeof s['buckets'] !== 'number' ||
      (s['deletionVectors'] !== undefined && typeof s['deletionVectors'] !== 'boolean')
    ) {
      throw corrupt(key, 'settings is not {keys: {partition, sort?}, marginMs, deletes, buckets}');
    }
    settings = {
      keys:
        keys['sort'] === undefined
          ? { partition: keys['partition'] }
          : { partition: keys['partition'], sort: keys['sort'] as string },
      marginMs: s['marginMs'],
      deletes: s['deletes'],
      buckets: s['buckets'],
      ...(typeof s['deletionVectors'] === 'boolean' ? { deletionVectors: s['deletionVectors'] } : {}),
    };
  }
  const replay = fields['replayQuarantine'];
  if (replay !== undefined && (typeof replay !== 'number' || !Number.isSafeInteger(replay) || replay < 1)) {
    throw corrupt(key, 'replayQuarantine is not a batch number');
  }
  const accepted = acceptedList(fields['acceptedCaptureQuarantine'], key);
  const replayed = stringList(fields['replayedCaptureQuarantine'] ?? [], key, 'replayedCaptureQuarantine');
  return {
    batch,
    appId: fields['appId'],
    createdAt: fields['createdAt'],
    ...(snapshot === undefined ? {} : { snapshot }),
    ...(settings === undefined ? {} : { settings }),
    incrementalExports: stringList(fields['incrementalExports'] ?? [], key, 'incrementalExports'),
    changeFiles: stringList(fields['changeFiles'], key, 'changeFiles'),
    ...(replay === undefined ? {} : { replayQuarantine: replay as number }),
    ...(accepted.length === 0 ? {} : { acceptedCaptureQuarantine: accepted }),
    ...(replayed.length === 0 ? {} : { replayedCaptureQuarantine: replayed }),
    ...parseReplanFields(fields, (what) => corrupt(key, what)),
  };
}

function nullableString(value: unknown): value is string | null {
  return value === null || typeof value === 'string';
}

/** The `acceptedCaptureQuarantine` field: absent in records written before it existed. */
function acceptedList(value: unknown, key: string): AcceptedCaptureQuarantine[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw corrupt(key, 'acceptedCaptureQuarantine is not a list');
  return value.map((entry: unknown) => {
    const e = entry as Record<string, unknown> | null;
    if (
      typeof e !== 'object' ||
      e === null ||
      typeof e['key'] !== 'string' ||
      !nullableString(e['shard']) ||
      !nullableString(e['seq']) ||
      typeof e['reason'] !== 'string'
    ) {
      throw corrupt(key, 'acceptedCaptureQuarantine holds an entry that is not {key, shard, seq, reason}');
    }
    return { key: e['key'], shard: e['shard'], seq: e['seq'], reason: e['reason'] };
  });
}

/** The record's stored form: one JSON object, fields in a fixed order. */
export function serializeBatchRecord(record: BatchRecord): string {
  return `${JSON.stringify({
    batch: record.batch,
    appId: record.appId,
    createdAt: record.createdAt,
    ...(record.snapshot === undefined ? {} : { snapshot: record.snapshot }),
    ...(record.settings === undefined ? {} : { settings: record.settings }),
    incrementalExports: record.incrementalExports,
    changeFiles: record.changeFiles,
    ...(record.replayQuarantine === undefined ? {} : { replayQuarantine: record.replayQuarantine }),
    ...(record.acceptedCaptureQuarantine === undefined || record.acceptedCaptureQuarantine.length === 0
      ? {}
      : {
          acceptedCaptureQuarantine: record.acceptedCaptureQuarantine.map((entry) => ({
            key: entry.key,
            shard: entry.shard,
            seq: entry.seq,
            reason: entry.reason,
          })),
        }),
    ...(record.replayedCaptureQuarantine === undefined || record.replayedCaptureQuarantine.length === 0
      ? {}
      : { replayedCaptureQuarantine: record.replayedCaptureQuarantine }),
    ...serializeReplanFields(record),
  })}\n`;
}

/**
 * The record of `batch`, or undefined when none is stored.
 * @throws ApplyRunError `APPLY_BATCH_RECORD_CORRUPT` for a damaged record, or one stored under
 *   another batch's number.
 */
export async function readBatchRecord(store: ObjectStore, batch: number): Promise<BatchRecord | undefined> {
  const key = batchRecordKey(batch);
  if ((await store.head(key)) === undefined) return undefined;
  const record = parseBatchRecord(await store.getBytes(key), key);
  if (record.batch !== batch) throw corrupt(key, `it names batch ${record.batch}`);
  return record;
}

/**
 * Stores `record` with put-if-absent. When a record of that batch is already stored (a run that
 * crashed after writing it, or another writer), that one wins and is returned: the batch is what
 * the first record says. Returns the record in force and whether this call created it.
 * @throws ApplyRunError for a damaged stored record; the store's errors.
 */
export async function storeBatchRecord(
  store: ObjectStore,
  record: BatchRecord,
): Promise<{ readonly record: BatchRecord; readonly created: boolean }> {
  const key = batchRecordKey(record.batch);
  const put = await store.putIfAbsent(key, serializeBatchRecord(record));
  if (put.outcome === 'created') return { record, created: true };
  const stored = parseBatchRecord(await store.getBytes(key), key);
  return { record: stored, created: false };
}

/**
 * Every stored batch record with a number up to `upTo` (all when absent), ascending by batch.
 * Reads them 16 at a time.
 * @throws ApplyRunError for a damaged record.
 */
export async function readBatchRecords(store: ObjectStore, upTo?: number): Promise<BatchRecord[]> {
  const keys: string[] = [];
  for await (const object of store.list(BATCH_RECORDS_FOLDER)) {
    const match = RECORD_KEY.exec(object.key);
    if (match === null) continue;
    if (upTo !== undefined && Number(match[1]) > upTo) break;
    keys.push(object.key);
  }
  return mapLimited(keys, 16, async (key) => parseBatchRecord(await store.getBytes(key), key));
}
