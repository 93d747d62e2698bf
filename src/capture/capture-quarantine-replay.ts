import type { DynamoDBRecord } from 'aws-lambda';
import { encodeParsedChangeRecords } from '../formats/change-file-encoder.ts';
import { changeFileKey, tableNameOf } from '../formats/change-file-key.ts';
import { BadInputError } from '../formats/errors.ts';
import { mapLimited } from '../map-limited.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import {
  CAPTURE_REPLAYED_FOLDER,
  captureQuarantineFolder,
  namedCaptureQuarantineKey,
} from './capture-quarantine.ts';
import { CaptureError, CaptureErrorCode } from './errors.ts';
import { mapStreamRecord } from './stream-record-mapping.ts';

/*
 * Replaying the capture quarantine (DESIGN.md rule 7): a stream record capture could not map, fixed
 * in place by a person (or valid as it is, say after a fix of capture), becomes a change file of its
 * own through capture's own mapping and writer, and its object leaves the live quarantine folder for
 * `_ddb_lake/quarantine/capture-replayed/<table>/`, where it names the change file it became.
 *
 * Order of the writes, so that a kill at any point is repaired by running again and apply never
 * misses the change file: (1) the marker in capture-replayed/ (the object plus `changeFile`),
 * (2) the change file, (3) the delete of the live object. Apply lists the change files, then the
 * markers, then the live quarantine: a change file it sees has its marker seen too (so the batch
 * records the marker as taken and no later batch takes the file again), and a marker whose change
 * file is not there yet belongs to an object still live (the gate holds the batch).
 */

/** The marker of a replayed object: `_ddb_lake/quarantine/capture-replayed/<table>/<name>.json`. */
export function captureReplayedFolder(table: string): string {
  return `${CAPTURE_REPLAYED_FOLDER}${table}/`;
}

/** What a marker holds beyond the quarantine object it was. */
export interface CaptureReplayedMarker {
  /** The change file the record became, in the landing area. */
  readonly changeFile: string;
  /** When it was replayed, ISO 8601 UTC. */
  readonly replayedAt: string;
}

/** What became of one quarantine object. */
export type CaptureReplayOutcome =
  | {
      /** `replayed`: written as a change file and moved; `would-replay`: the same, in a dry run. */
      readonly outcome: 'replayed' | 'would-replay';
      readonly key: string;
      readonly shard: string;
      readonly seq: string;
      readonly changeFile: string;
      /** The marker the object moved to (or would). */
      readonly marker: string;
    }
  | {
      /** Still not a valid record (or not readable): left in place. */
      readonly outcome: 'invalid';
      readonly key: string;
      readonly shard: string | null;
      readonly seq: string | null;
      readonly reason: string;
      readonly path: string | null;
    }
  | {
      /** Named, but already replayed by an earlier run: its marker is there, nothing to do. */
      readonly outcome: 'already-replayed';
      readonly key: string;
      readonly marker: string;
      readonly changeFile: string | null;
    };

export interface CaptureReplayOptions {
  /** The landing area. */
  readonly landing: ObjectStore;
  /** The DynamoDB table (name or ARN). */
  readonly table: string;
  /**
   * The objects to replay, by key or by name in the table's folder; absent: every object in the
   * table's capture quarantine.
   */
  readonly keys?: readonly string[];
  /** Check and report, write nothing. */
  readonly dryRun?: boolean;
  /** The clock (epoch ms) for the markers' `replayedAt`; default `Date.now`. */
  readonly now?: () => number;
  /** Called once per object as it is done, in no particular order. */
  readonly onOutcome?: (outcome: CaptureReplayOutcome) => void;
}

export interface CaptureReplayResult {
  readonly table: string;
  readonly dryRun: boolean;
  /** One per object, in the order of the listing (or of `keys`). */
  readonly outcomes: readonly CaptureReplayOutcome[];
}

/** Objects replayed at once. */
const IN_FLIGHT = 8;

/** A named object that is neither in the table's quarantine nor replayed. */
export class CaptureQuarantineObjectUnknownError extends CaptureError {
  readonly keys: readonly string[];

  constructor(table: string, landing: string, keys: readonly string[]) {
    super(
      CaptureErrorCode.quarantineObjectUnknown,
      `${keys.join(', ')} ${keys.length === 1 ? 'is' : 'are'} not in the capture quarantine of table ${table} in ${landing} (${captureQuarantineFolder(table)}), nor replayed from it. Check the name: ddb-lake quarantine list --table ${table} --landing ${landing} shows the objects.`,
    );
    this.keys = keys;
  }
}

/**
 * Turns capture quarantine objects of `table` back into change files (DESIGN.md, Formats: Change
 * file) with capture's own mapping (`mapStreamRecord`, with the shard the object names) and encoder:
 * one change file per record, at the key capture would give a batch of that one record, dated by
 * its `ts`; then moves each object to its marker. A record that still does not map, or an object
 * that is damaged, is reported `invalid` with the reason and left in place. Idempotent, and safe to
 * run again after a kill: keys and bytes are pure functions of the object; an object already
 * replayed under another content is reported `invalid` rather than overwriting a change file a
 * batch may have taken.
 * @throws CaptureQuarantineObjectUnknownError (before anything is written) for a named object
 *   that is neither live nor replayed; BadInputError for a bad table name; the store's errors.
 */
export async function replayCaptureQuarantine(options: CaptureReplayOptions): Promise<CaptureReplayResult> {
  const { landing } = options;
  const table = tableNameOf(options.table);
  const clock = options.now ?? Date.now;
  const dryRun = options.dryRun === true;
  const folder = captureQuarantineFolder(table);
  const live: string[] = [];
  for await (const object of landing.list(folder)) {
    if (!object.key.slice(folder.length).includes('/')) live.push(object.key);
  }
  const liveSet = new Set(live);
  let targets: readonly { key: string; replayed: boolean }[];
  if (options.keys === undefined) {
    targets = live.map((key) => ({ key, replayed: false }));
  } else {
    const named = [...new Set(options.keys.map((given) => namedCaptureQuarantineKey(table, given)))];
    const resolved = await mapLimited(named, IN_FLIGHT, async (key) => ({
      key,
      replayed: !liveSet.has(key) && (await landing.head(markerKeyOf(table, key))) !== undefined,
    }));
    const unknown = resolved.filter((target) => !liveSet.has(target.key) && !target.replayed);
    if (unknown.length > 0) {
      throw new CaptureQuarantineObjectUnknownError(
        table,
        landing.url,
        unknown.map((target) => target.key),
      );
    }
    targets = resolved;
  }
  const outcomes = await mapLimited(targets, IN_FLIGHT, async (target) => {
    const outcome = target.replayed
      ? await alreadyReplayed(landing, table, target.key)
      : await replayOne(landing, table, target.key, dryRun, clock);
    options.onOutcome?.(outcome);
    return outcome;
  });
  return { table, dryRun, outcomes };
}

/** The marker key of the live object `key` of `table`. */
function markerKeyOf(table: string, key: string): string {
  return `${captureReplayedFolder(table)}${key.slice(key.lastIndexOf('/') + 1)}`;
}

async function alreadyReplayed(
  landing: ObjectStore,
  table: string,
  key: string,
): Promise<CaptureReplayOutcome> {
  const marker = markerKeyOf(table, key);
  const read = await readMarker(landing, marker);
  return { outcome: 'already-replayed', key, marker, changeFile: read?.changeFile ?? null };
}

/**
 * The `changeFile` a marker names, or undefined when there is no marker (or it is not readable:
 * it is then rewritten).
 */
export async function readMarker(
  landing: ObjectStore,
  marker: string,
): Promise<CaptureReplayedMarker | undefined> {
  let bytes: Uint8Array;
  try {
    bytes = await landing.getBytes(marker);
  } catch (error) {
    if ((error as { code?: unknown }).code === 'OBJECT_NOT_FOUND') return undefined;
    throw error;
  }
  try {
    const body = JSON.parse(Buffer.from(bytes).toString('utf8')) as Record<string, unknown>;
    if (typeof body['changeFile'] !== 'string') return undefined;
    return {
      changeFile: body['changeFile'],
      replayedAt: typeof body['replayedAt'] === 'string' ? body['replayedAt'] : '',
    };
  } catch {
    return undefined;
  }
}

async function replayOne(
  landing: ObjectStore,
  table: string,
  key: string,
  dryRun: boolean,
  clock: () => number,
): Promise<CaptureReplayOutcome> {
  let bytes: Uint8Array;
  try {
    bytes = await landing.getBytes(key);
  } catch (error) {
    // Replayed by another run meanwhile.
    if ((error as { code?: unknown }).code === 'OBJECT_NOT_FOUND')
      return alreadyReplayed(landing, table, key);
    throw error;
  }
  const invalid = (reason: string, shard: string | null, seq: string | null, path: string | null = null) =>
    ({ outcome: 'invalid', key, shard, seq, reason, path }) as const;
  let body: Record<string, unknown>;
  try {
    const parsed = JSON.parse(Buffer.from(bytes).toString('utf8')) as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      return invalid('the quarantine object is not a JSON object', null, null);
    }
    body = parsed as Record<string, unknown>;
  } catch (error) {
    return invalid(`the quarantine object is not JSON: ${(error as Error).message}`, null, null);
  }
  const shard = typeof body['shard'] === 'string' ? body['shard'] : null;
  const record = body['record'] as DynamoDBRecord;
  const rawSeq = (record as { dynamodb?: { SequenceNumber?: unknown } } | null)?.dynamodb?.SequenceNumber;
  const seq = typeof rawSeq === 'string' ? rawSeq : null;
  if (shard === null) return invalid('the quarantine object names no shard (its "shard" field)', null, seq);
  if (typeof body['table'] === 'string' && body['table'] !== table) {
    return invalid(`the quarantine object is of table ${body['table']}, not ${table}`, shard, seq);
  }
  const mapped = mapStreamRecord(record, shard);
  if (!mapped.ok) return invalid(mapped.problem.reason, shard, seq, mapped.problem.path ?? null);
  const change = mapped.record;
  let changeFile: string;
  let fileBody: Buffer;
  try {
    changeFile = changeFileKey({
      table,
      shard,
      firstSeq: change.seq,
      lastSeq: change.seq,
      firstTs: change.ts,
    });
    fileBody = encodeParsedChangeRecords([change]);
  } catch (error) {
    if (!(error instanceof BadInputError)) throw error;
    return invalid(error.message, shard, change.seq);
  }
  const marker = markerKeyOf(table, key);
  const earlier = await readMarker(landing, marker);
  if (earlier !== undefined) {
    // Replayed before (a rerun after a kill, or the record quarantined again): the change file it
    // became may be taken by a batch already, so it is never replaced by other bytes.
    const existing = await landing.head(earlier.changeFile);
    if (existing !== undefined) {
      const same =
        earlier.changeFile === changeFile &&
        Buffer.from(await landing.getBytes(earlier.changeFile)).equals(fileBody);
      if (!same) {
        return invalid(
          `this record was replayed before, as ${earlier.changeFile} (see ${marker}), with other content; a batch may have taken that file, so it is not replaced. Accept this object as lost (apply --accept-capture-quarantine ${key}) if the earlier replay holds the change, or restore the object as it was replayed`,
          shard,
          change.seq,
        );
      }
    }
  }
  if (!dryRun) {
    const markerBody = { ...body, changeFile, replayedAt: new Date(clock()).toISOString() };
    await landing.put(marker, `${JSON.stringify(markerBody, null, 2)}\n`);
    await landing.put(changeFile, fileBody);
    await landing.delete(key);
  }
  return {
    outcome: dryRun ? 'would-replay' : 'replayed',
    key,
    shard,
    seq: change.seq,
    changeFile,
    marker,
  };
}
