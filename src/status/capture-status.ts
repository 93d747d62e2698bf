import { readCheckpoints, type ShardCheckpoint } from '../capture/checkpoint.ts';
import { LAMBDA_SHARD_LABEL_PREFIX } from '../capture/lambda-shard-label.ts';
import { readShardGaps } from '../capture/shard-gap.ts';
import {
  changeFilesPrefix,
  type ParsedChangeFileKey,
  parseChangeFileKey,
} from '../formats/change-file-key.ts';
import { readChangeFile } from '../formats/change-file-reader.ts';
import type { ChangeRecord } from '../formats/change-record.ts';
import { mapLimited } from '../map-limited.ts';
import { recoveredBy, STREAM_RETENTION_MS } from '../plan/handoff-check.ts';
import type { ObjectInfo, ObjectStore } from '../storage/object-store.ts';
import type { CaptureStatus, GapStatus, ShardPosition } from './status-report.ts';

/*
 * The capture side of `ddb-lake status`, read from the landing area alone. The local poller keeps a
 * checkpoint per shard (`_ddb_lake/capture/<table>/shards/`): position and time of the last record
 * it captured. The Lambda keeps none: its position is the newest change file, and the age of that
 * file's last record. Gaps are the poller's records of what the stream trimmed before capture read it.
 */

/** The name of the one line that stands for every Lambda batch (their labels are per batch). */
export const LAMBDA_GROUP = 'lambda';

/**
 * Change-file partitions younger than this are listed to find each shard's newest file: capture can
 * only write a record the stream still holds (24 hours), and a file's partition is the date of its
 * first record, so a shard that still receives records has files in them. Older partitions are
 * listed only when these hold none.
 */
export const RECENT_PARTITIONS_MS = 2 * STREAM_RETENTION_MS;

/** Shards (change-file source) whose newest file is read for its last record; the others are counted. */
export const SHARDS_READ = 16;

/** A shard's newest change file while listing. */
interface NewestFile {
  readonly info: ObjectInfo;
  readonly parsed: ParsedChangeFileKey;
  files: number;
}

/**
 * Capture's position and lag: per shard from the poller's checkpoints when the landing area holds
 * any, else from the newest change file of each shard folder (the Lambda's batches as one group),
 * read for its last record. `windowStartMs` (the Delta table's T − margin, when known) tells which
 * gaps ended before the snapshot. Ages are `now` minus the record times. Read-only.
 * @throws BadCheckpointError for a damaged checkpoint; CorruptGzipError for a change file that is
 *   not gzip; the store's errors.
 */
export async function readCaptureStatus(
  landing: ObjectStore,
  table: string,
  options: { readonly now: number; readonly windowStartMs?: number | undefined },
): Promise<Omit<CaptureStatus, 'quarantine'>> {
  const { now } = options;
  const checkpoints = await readCheckpoints(landing, table);
  let source: CaptureStatus['source'];
  let shards: ShardPosition[];
  let shardsNotRead = 0;
  let listedFrom: string | null = null;
  if (checkpoints.size > 0) {
    source = 'checkpoints';
    shards = [...checkpoints.values()].map((checkpoint) => fromCheckpoint(checkpoint, now));
  } else {
    const found = await newestChangeFiles(landing, table, now);
    listedFrom = found.listedFrom;
    const groups = [...found.groups].sort(([, a], [, b]) => byNewest(a, b));
    const read = groups.slice(0, SHARDS_READ);
    shardsNotRead = groups.length - read.length;
    source = groups.length === 0 ? 'none' : 'change-files';
    shards = await mapLimited(read, 4, async ([shard, newest]) =>
      fromChangeFile(shard, newest, await lastRecordOf(landing, newest.info.key), now),
    );
  }
  shards.sort((a, b) => newerFirst(a.lastRecordTime, b.lastRecordTime) || compare(a.shard, b.shard));
  const newest = shards.find((shard) => shard.lastRecordTime !== null)?.lastRecordTime ?? null;
  return {
    source,
    shards,
    shardsNotRead,
    listedFrom,
    newestRecordTime: newest,
    lagMs: newest === null ? null : Math.max(0, now - Date.parse(newest)),
    gaps: await gapStatus(landing, table, options.windowStartMs),
  };
}

function fromCheckpoint(checkpoint: ShardCheckpoint, now: number): ShardPosition {
  const time = checkpoint.lastApproximateCreationDateTime;
  return {
    shard: checkpoint.shardId,
    source: 'checkpoint',
    parentShardId: checkpoint.parentShardId,
    finished: checkpoint.finished,
    lastSequenceNumber: checkpoint.lastSequenceNumber,
    lastRecordTime: time === null ? null : new Date(Date.parse(time)).toISOString(),
    lastRecordAgeMs: time === null ? null : Math.max(0, now - Date.parse(time)),
    writtenAt: checkpoint.updatedAt,
    file: null,
    files: 0,
  };
}

function fromChangeFile(
  shard: string,
  newest: NewestFile,
  last: ChangeRecord | undefined,
  now: number,
): ShardPosition {
  return {
    shard,
    source: 'change-file',
    parentShardId: null,
    finished: false,
    lastSequenceNumber: last?.seq ?? newest.parsed.lastSeq,
    lastRecordTime: last === undefined ? null : new Date(last.ts).toISOString(),
    lastRecordAgeMs: last === undefined ? null : Math.max(0, now - last.ts),
    writtenAt: newest.info.lastModified.toISOString(),
    file: newest.info.key,
    files: newest.files,
  };
}

/**
 * The newest change file (by the time it was written, then by last sequence number) of each shard
 * folder, Lambda labels as one group, in the partitions from two days before `now` on; every
 * partition when those hold none.
 */
async function newestChangeFiles(
  landing: ObjectStore,
  table: string,
  now: number,
): Promise<{ groups: Map<string, NewestFile>; listedFrom: string | null }> {
  const prefix = changeFilesPrefix(table);
  const from = new Date(now - RECENT_PARTITIONS_MS).toISOString().slice(0, 10);
  const recent = await newestPerShard(landing.list(prefix, { startAfter: `${prefix}dt=${from}` }), from);
  if (recent.size > 0) return { groups: recent, listedFrom: from };
  return { groups: await newestPerShard(landing.list(prefix), null), listedFrom: null };
}

async function newestPerShard(
  listing: AsyncIterable<ObjectInfo>,
  from: string | null,
): Promise<Map<string, NewestFile>> {
  const groups = new Map<string, NewestFile>();
  for await (const info of listing) {
    const parsed = parseChangeFileKey(info.key);
    if (parsed === undefined || (from !== null && parsed.date < from)) continue;
    const group = parsed.shard.startsWith(LAMBDA_SHARD_LABEL_PREFIX) ? LAMBDA_GROUP : parsed.shard;
    const known = groups.get(group);
    const candidate: NewestFile = { info, parsed, files: (known?.files ?? 0) + 1 };
    if (known === undefined || byNewest(candidate, known) < 0) groups.set(group, candidate);
    else known.files = candidate.files;
  }
  return groups;
}

/** Newest first: by write time, then by last sequence number (as integers). */
function byNewest(a: NewestFile, b: NewestFile): number {
  const written = b.info.lastModified.getTime() - a.info.lastModified.getTime();
  if (written !== 0) return written;
  const x = BigInt(a.parsed.lastSeq);
  const y = BigInt(b.parsed.lastSeq);
  return x === y ? 0 : x > y ? -1 : 1;
}

/** The last record of a change file; lines that are not change records are passed over (apply quarantines them). */
async function lastRecordOf(landing: ObjectStore, key: string): Promise<ChangeRecord | undefined> {
  let last: ChangeRecord | undefined;
  for await (const { record } of readChangeFile(landing, key, { onBadLine: () => {} })) last = record;
  return last;
}

/** The recorded gaps, oldest first, with the export that recovers each and whether it precedes the snapshot. */
async function gapStatus(
  landing: ObjectStore,
  table: string,
  windowStartMs: number | undefined,
): Promise<GapStatus[]> {
  const gaps = await readShardGaps(landing, table);
  if (gaps.length === 0) return [];
  const recovered = new Map(
    (await recoveredBy(landing, table, gaps)).map((entry) => [entry.gap.key, entry.exportId]),
  );
  return gaps.map((gap) => ({
    ...gap,
    recoveredBy: recovered.get(gap.key) ?? null,
    beforeSnapshot: windowStartMs !== undefined && Date.parse(gap.toTime) <= windowStartMs,
  }));
}

/** Newest first; an unknown time last. */
function newerFirst(a: string | null, b: string | null): number {
  const x = a === null ? Number.NEGATIVE_INFINITY : Date.parse(a);
  const y = b === null ? Number.NEGATIVE_INFINITY : Date.parse(b);
  return x === y ? 0 : x > y ? -1 : 1;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
