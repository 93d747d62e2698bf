import { changeFilesPrefix, parseChangeFileKey, tableNameOf } from '../formats/change-file-key.ts';
import { mapLimited } from '../map-limited.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { readFirstChangeRecord } from './change-file-first-record.ts';

/** The earliest captured change found: the first record of a change file. */
export interface CapturedChange {
  /** Its `ts` (ApproximateCreationDateTime, epoch ms). */
  readonly ts: number;
  /** Its SequenceNumber (decimal text; compare as BigInt). */
  readonly seq: string;
  readonly shard: string;
  /** The change file it opens, relative to the landing area. */
  readonly key: string;
}

/** What `findCaptureStart` found, and what it cost. */
export interface CaptureStart {
  /** The earliest captured change with `ts >= notBefore`, or undefined when there is none. */
  readonly earliest: CapturedChange | undefined;
  /** Whether the table has any change file at all, at any date. */
  readonly anyChangeFiles: boolean;
  /**
   * The earliest time one of the change files examined was written (the store's lastModified), or
   * undefined when none was examined: roughly when capture first wrote the changes it starts from.
   */
  readonly firstWrittenAt: Date | undefined;
  /** Change files listed (only the `dt=` days that had to be looked at). */
  readonly filesListed: number;
  /** Change files whose first record was read. */
  readonly firstRecordsRead: number;
}

interface ListedFile {
  readonly key: string;
  readonly shard: string;
  readonly firstSeq: bigint;
  readonly lastModified: Date;
}

/** First records read at once: enough to hide latency, few enough not to flood the store. */
const READS_IN_FLIGHT = 8;

/**
 * Finds the earliest change captured for a table at or after `notBefore` (epoch ms; everything when
 * undefined), reading as little of the landing area as it can:
 *
 * - Keys are `changes/<table>/dt=<day>/<shard>/<firstSeq>-<lastSeq>.jsonl.gz`, `day` being the UTC
 *   date of the file's first record, and the store lists in key order. So the listing starts at the
 *   day of `notBefore` (`startAfter`), goes day by day, and stops after the first day that holds a
 *   change at or after `notBefore`: later days cannot hold an earlier one.
 * - Within a shard, records come in SequenceNumber order and so, near enough, in `ts` order; a
 *   file's first record is its earliest. Per shard, files are sorted by `firstSeq` as BigInt, so
 *   only the shard's first file of the day is read, or, on the day of `notBefore`, the first file
 *   whose first record is not before it, found by binary search. Only that first record is read
 *   (`readFirstChangeRecord`: one ranged get of 64 KiB).
 * - Lambda batches carry a label per batch instead of a shard id, so each of their files is its own
 *   group and each file of the day examined is read once.
 *
 * Conservative where the layout cannot be exact: a file that starts before `notBefore` but holds
 * later records is passed over, and `ts` (whole seconds on AWS) is taken as it is, so the change
 * found may be a little later than the true earliest, never earlier. Read-only and idempotent.
 * Throws `BadInputError` or `CorruptGzipError` for a change file whose first line cannot be read,
 * and the store's errors.
 */
export async function findCaptureStart(
  store: ObjectStore,
  tableOrArn: string,
  notBefore: number | undefined,
): Promise<CaptureStart> {
  const table = tableNameOf(tableOrArn);
  const prefix = changeFilesPrefix(table);
  let anyChangeFiles = false;
  for await (const object of store.list(prefix)) {
    if (parseChangeFileKey(object.key)?.table !== table) continue;
    anyChangeFiles = true;
    break;
  }
  if (!anyChangeFiles) {
    return {
      earliest: undefined,
      anyChangeFiles,
      firstWrittenAt: undefined,
      filesListed: 0,
      firstRecordsRead: 0,
    };
  }

  const counters = { filesListed: 0, firstRecordsRead: 0 };
  let firstWrittenAt: Date | undefined;
  let day: string | undefined;
  let files: ListedFile[] = [];
  const finishDay = async (): Promise<CapturedChange | undefined> => {
    if (day === undefined || files.length === 0) return undefined;
    for (const file of files) {
      if (firstWrittenAt === undefined || file.lastModified < firstWrittenAt)
        firstWrittenAt = file.lastModified;
    }
    const dayStart = Date.parse(`${day}T00:00:00.000Z`);
    const filter = notBefore !== undefined && dayStart <= notBefore ? notBefore : undefined;
    return earliestOfDay(store, files, filter, counters);
  };

  const startAfter = notBefore === undefined ? undefined : `${prefix}dt=${utcDay(notBefore)}`;
  let earliest: CapturedChange | undefined;
  for await (const object of store.list(prefix, startAfter === undefined ? {} : { startAfter })) {
    const parsed = parseChangeFileKey(object.key);
    if (parsed === undefined || parsed.table !== table) continue;
    counters.filesListed++;
    if (parsed.date !== day) {
      earliest = await finishDay();
      if (earliest !== undefined) break;
      day = parsed.date;
      files = [];
    }
    files.push({
      key: object.key,
      shard: parsed.shard,
      firstSeq: BigInt(parsed.firstSeq),
      lastModified: object.lastModified,
    });
  }
  if (earliest === undefined) earliest = await finishDay();
  return { earliest, anyChangeFiles, firstWrittenAt, ...counters };
}

/** The earliest change among one day's files, at or after `notBefore` when given. */
async function earliestOfDay(
  store: ObjectStore,
  files: readonly ListedFile[],
  notBefore: number | undefined,
  counters: { firstRecordsRead: number },
): Promise<CapturedChange | undefined> {
  const byShard = new Map<string, ListedFile[]>();
  for (const file of files) {
    const group = byShard.get(file.shard);
    if (group === undefined) byShard.set(file.shard, [file]);
    else group.push(file);
  }
  const groups = [...byShard.values()].map((group) =>
    group.sort((a, b) => (a.firstSeq < b.firstSeq ? -1 : a.firstSeq > b.firstSeq ? 1 : 0)),
  );
  const read = async (file: ListedFile): Promise<CapturedChange | undefined> => {
    counters.firstRecordsRead++;
    const record = await readFirstChangeRecord(store, file.key);
    return record === undefined
      ? undefined
      : { ts: record.ts, seq: record.seq, shard: file.shard, key: file.key };
  };
  const candidates = await mapLimited(groups, READS_IN_FLIGHT, (group) =>
    notBefore === undefined ? firstReadable(group, read) : firstAtOrAfter(group, notBefore, read),
  );
  let best: CapturedChange | undefined;
  for (const candidate of candidates) {
    if (candidate === undefined) continue;
    if (
      best === undefined ||
      candidate.ts < best.ts ||
      (candidate.ts === best.ts && candidate.key < best.key)
    ) {
      best = candidate;
    }
  }
  return best;
}

/** The first record of the group's first file that has one (change files are never empty). */
async function firstReadable(
  group: readonly ListedFile[],
  read: (file: ListedFile) => Promise<CapturedChange | undefined>,
): Promise<CapturedChange | undefined> {
  for (const file of group) {
    const change = await read(file);
    if (change !== undefined) return change;
  }
  return undefined;
}

/**
 * The first record, in sequence order, of the first file whose first record is at or after
 * `notBefore`: a binary search, since first-record times grow with the files' sequence numbers.
 */
async function firstAtOrAfter(
  group: readonly ListedFile[],
  notBefore: number,
  read: (file: ListedFile) => Promise<CapturedChange | undefined>,
): Promise<CapturedChange | undefined> {
  let low = 0;
  let high = group.length;
  let found: CapturedChange | undefined;
  while (low < high) {
    const middle = (low + high) >>> 1;
    const change = await read(group[middle] as ListedFile);
    if (change !== undefined && change.ts >= notBefore) {
      found = change;
      high = middle;
    } else {
      low = middle + 1;
    }
  }
  return found;
}

function utcDay(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(0, 10);
}
