import { parseChangeFileKey } from '../formats/change-file-key.ts';
import { StateFileError } from '../lake/model-errors.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { batchText } from './batch-number.ts';
import { type BatchRecord, readBatchRecords } from './batch-record.ts';
import { changeFilesTaken } from './replan-record.ts';
import { parseStateObject } from './state-json.ts';

/*
 * The taken index (DESIGN.md rule 4): what the batches up to and including one batch took, kept
 * small so that planning the next batch reads one object instead of every batch record, and lists
 * only the change-file partitions that can still receive files.
 *
 *   _ddb_lake/apply/taken/<20-digit batch>.json
 *   {"batch":N,"settledBefore":"yyyy-mm-dd"|null,
 *    "changeFiles":{"changes/<table>/dt=<date>/<shard>/":["<first>-<last>.jsonl.gz",…],…},
 *    "incrementalExports":["<export id>",…],
 *    "acceptedCaptureQuarantine":["_ddb_lake/quarantine/capture/<table>/<name>.json",…],
 *    "replayedCaptureQuarantine":["_ddb_lake/quarantine/capture-replayed/<table>/<name>.json",…]}
 *
 * `acceptedCaptureQuarantine` (absent when empty, and in indexes written before it existed) holds
 * every capture quarantine object some batch up to this one accepted as lost (DESIGN.md rule 7),
 * so that the gate of the next batch (capture-quarantine-gate.ts) needs this one object, not every
 * batch record; `replayedCaptureQuarantine` the markers of replayed objects whose change files a
 * batch took, so that a replayed change file dated in a settled partition is taken once, and only
 * once. Neither settles.
 *
 * Settled partitions. A change file lands in `dt=<UTC date of its first record's ts>`, and capture
 * (Lambda or the poller, both fed by DynamoDB Streams) can only write a record the stream still
 * holds: at most 24 hours after its `ts`. A batch that listed the change files at `createdAt`
 * therefore saw every file of every partition dated before `createdAt − 24 h`; one more day covers
 * clock skew, the stream's late trimming and `ts` rounded down to the minute (DynamoDB Local). So
 * after batch N, every partition with a date before `settledBefore` = the UTC date of
 * `createdAt − 48 h`, or the previous index's `settledBefore` when later, is fully taken, and the
 * index keeps only the files of later partitions. A batch that lists nothing (a quarantine replay)
 * does not move it. It never moves back, whatever the clock says.
 *
 * A change file a re-plan dropped while it was in the landing area counts as taken (replan-record.ts).
 *
 * Deterministic: index N is a pure function of index N − 1 (or, when that is missing — batch 1, a
 * table written before the index existed — of every record up to N − 1) and record N, both
 * immutable, and is written with sorted lists; a rebuilt batch rewrites its index with the same
 * bytes. It is written after the batch record and before anything else of the batch.
 *
 * Restored change files dated in a settled partition are not seen by the index: `apply --rescan`
 * lists every partition and reads every record, as before the index existed.
 */

export const TAKEN_INDEX_FOLDER = '_ddb_lake/apply/taken/';

/** How long after its first record's `ts` capture can still write a change file: the stream's retention. */
export const STREAM_RETENTION_MS = 24 * 60 * 60 * 1000;

/** The margin on top of the retention before a partition counts as settled. */
export const SETTLE_SAFETY_MS = 24 * 60 * 60 * 1000;

/** What the batches up to `batch` took. Immutable. */
export interface TakenIndex {
  readonly batch: number;
  /**
   * `yyyy-mm-dd`: every change-file partition dated before it is fully taken and is neither listed
   * nor kept here. Null while no batch has settled any.
   */
  readonly settledBefore: string | null;
  /** Keys of the taken change files in partitions from `settledBefore` on. */
  readonly changeFiles: ReadonlySet<string>;
  /** Every incremental export id taken (they are few). */
  readonly incrementalExports: ReadonlySet<string>;
  /** Keys of the capture quarantine objects accepted as lost by the batches up to `batch`. */
  readonly acceptedCaptureQuarantine: ReadonlySet<string>;
  /** Markers of replayed capture quarantine objects whose change files the batches up to `batch` took. */
  readonly replayedCaptureQuarantine: ReadonlySet<string>;
}

/** `_ddb_lake/apply/taken/<batch padded to 20 digits>.json`. @throws RangeError for a batch below 1. */
export function takenIndexKey(batch: number): string {
  return `${TAKEN_INDEX_FOLDER}${batchText(batch)}.json`;
}

/** The `settledBefore` a batch created at `createdAt` (ISO 8601) can claim, or null for a bad date. Pure. */
export function settledBeforeAt(createdAt: string): string | null {
  const ms = Date.parse(createdAt);
  if (Number.isNaN(ms)) return null;
  return new Date(ms - STREAM_RETENTION_MS - SETTLE_SAFETY_MS).toISOString().slice(0, 10);
}

/** True when the change file `key` sits in a partition dated before `settledBefore`. Pure. */
export function isSettled(key: string, settledBefore: string | null): boolean {
  if (settledBefore === null) return false;
  const parsed = parseChangeFileKey(key);
  // A key that does not follow the layout has no date: keep it rather than guess.
  return parsed !== undefined && parsed.date < settledBefore;
}

/**
 * The index after `record`, from the index before it (undefined: nothing taken yet). Pure and
 * deterministic; `settledBefore` never moves back, and only a batch that listed change files (not a
 * quarantine replay) moves it forward.
 */
export function advanceTakenIndex(previous: TakenIndex | undefined, record: BatchRecord): TakenIndex {
  let settledBefore = previous?.settledBefore ?? null;
  if (record.replayQuarantine === undefined) {
    const claimed = settledBeforeAt(record.createdAt);
    if (claimed !== null && (settledBefore === null || claimed > settledBefore)) settledBefore = claimed;
  }
  const changeFiles = new Set<string>();
  for (const key of [...(previous?.changeFiles ?? []), ...changeFilesTaken(record)]) {
    if (!isSettled(key, settledBefore)) changeFiles.add(key);
  }
  return {
    batch: record.batch,
    settledBefore,
    changeFiles,
    incrementalExports: new Set([...(previous?.incrementalExports ?? []), ...record.incrementalExports]),
    acceptedCaptureQuarantine: new Set([
      ...(previous?.acceptedCaptureQuarantine ?? []),
      ...(record.acceptedCaptureQuarantine ?? []).map((entry) => entry.key),
    ]),
    replayedCaptureQuarantine: new Set([
      ...(previous?.replayedCaptureQuarantine ?? []),
      ...(record.replayedCaptureQuarantine ?? []),
    ]),
  };
}

const byText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** The index's stored form: fixed field order, folders and names sorted. Pure. */
export function serializeTakenIndex(index: TakenIndex): string {
  const folders = new Map<string, string[]>();
  for (const key of index.changeFiles) {
    const cut = key.lastIndexOf('/') + 1;
    const folder = key.slice(0, cut);
    const names = folders.get(folder) ?? [];
    names.push(key.slice(cut));
    folders.set(folder, names);
  }
  const changeFiles: Record<string, string[]> = {};
  for (const folder of [...folders.keys()].sort(byText)) {
    changeFiles[folder] = (folders.get(folder) as string[]).sort(byText);
  }
  return `${JSON.stringify({
    batch: index.batch,
    settledBefore: index.settledBefore,
    changeFiles,
    incrementalExports: [...index.incrementalExports].sort(byText),
    ...(index.acceptedCaptureQuarantine.size === 0
      ? {}
      : { acceptedCaptureQuarantine: [...index.acceptedCaptureQuarantine].sort(byText) }),
    ...(index.replayedCaptureQuarantine.size === 0
      ? {}
      : { replayedCaptureQuarantine: [...index.replayedCaptureQuarantine].sort(byText) }),
  })}\n`;
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;

function corrupt(key: string, what: string): StateFileError {
  return new StateFileError(
    key,
    `The taken index ${key} beside the table is damaged: ${what}. Delete it and run apply again: without it, apply reads every batch record instead (and writes the next index from them).`,
  );
}

/**
 * Parses a stored index; `key` names it in errors.
 * @throws StateFileError naming the field that is wrong.
 */
export function parseTakenIndex(bytes: Uint8Array, key: string): TakenIndex {
  const fields = parseStateObject(bytes, (what) => corrupt(key, what));
  const batch = fields['batch'];
  if (typeof batch !== 'number' || !Number.isSafeInteger(batch) || batch < 1)
    throw corrupt(key, 'batch is not a whole number from 1 on');
  const settledBefore = fields['settledBefore'];
  if (settledBefore !== null && (typeof settledBefore !== 'string' || !DATE.test(settledBefore)))
    throw corrupt(key, 'settledBefore is neither null nor a yyyy-mm-dd date');
  const folders = fields['changeFiles'];
  if (typeof folders !== 'object' || folders === null || Array.isArray(folders))
    throw corrupt(key, 'changeFiles is not an object of folders');
  const changeFiles = new Set<string>();
  for (const [folder, names] of Object.entries(folders as Record<string, unknown>)) {
    if (!Array.isArray(names) || !names.every((name) => typeof name === 'string'))
      throw corrupt(key, `changeFiles[${JSON.stringify(folder)}] is not a list of names`);
    for (const name of names as string[]) changeFiles.add(`${folder}${name}`);
  }
  const exports = fields['incrementalExports'];
  if (!Array.isArray(exports) || !exports.every((id) => typeof id === 'string'))
    throw corrupt(key, 'incrementalExports is not a list of export ids');
  const accepted = fields['acceptedCaptureQuarantine'] ?? [];
  if (!Array.isArray(accepted) || !accepted.every((key) => typeof key === 'string'))
    throw corrupt(key, 'acceptedCaptureQuarantine is not a list of object keys');
  const replayed = fields['replayedCaptureQuarantine'] ?? [];
  if (!Array.isArray(replayed) || !replayed.every((key) => typeof key === 'string'))
    throw corrupt(key, 'replayedCaptureQuarantine is not a list of object keys');
  return {
    batch,
    settledBefore,
    changeFiles,
    incrementalExports: new Set(exports as string[]),
    acceptedCaptureQuarantine: new Set(accepted as string[]),
    replayedCaptureQuarantine: new Set(replayed as string[]),
  };
}

/**
 * The stored index of `batch`, or undefined when none is stored (batch 0, a table written before
 * the index existed).
 * @throws StateFileError for a damaged index or one stored under another batch's number.
 */
export async function readTakenIndex(store: ObjectStore, batch: number): Promise<TakenIndex | undefined> {
  if (batch < 1) return undefined;
  const key = takenIndexKey(batch);
  if ((await store.head(key)) === undefined) return undefined;
  const index = parseTakenIndex(await store.getBytes(key), key);
  if (index.batch !== batch) throw corrupt(key, `it names batch ${index.batch}`);
  return index;
}

/**
 * The index before `batch`: the stored index of `batch − 1`, else the one folded from every batch
 * record below `batch` (the same index, by construction). Undefined for batch 1.
 * @throws StateFileError / ApplyRunError for a damaged index or record.
 */
export async function takenIndexBefore(store: ObjectStore, batch: number): Promise<TakenIndex | undefined> {
  const stored = await readTakenIndex(store, batch - 1);
  if (stored !== undefined || batch <= 1) return stored;
  let folded: TakenIndex | undefined;
  for (const record of await readBatchRecords(store, batch - 1)) folded = advanceTakenIndex(folded, record);
  return folded;
}

/**
 * Writes the index after `record` (a plain put: a rebuilt batch writes the same bytes). Must run
 * after the record is stored and before the batch's commit. Returns the index.
 * @throws as `takenIndexBefore`; the store's errors.
 */
export async function writeTakenIndex(store: ObjectStore, record: BatchRecord): Promise<TakenIndex> {
  const index = advanceTakenIndex(await takenIndexBefore(store, record.batch), record);
  await store.put(takenIndexKey(record.batch), serializeTakenIndex(index));
  return index;
}
