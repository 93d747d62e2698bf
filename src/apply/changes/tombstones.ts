import { gzipSync } from 'node:zlib';
import { readGzipJsonLines } from '../../formats/gzip-json-lines.ts';
import {
  CHANGE_SOURCES,
  type ChangeOrder,
  type ChangeSource,
  compareChangeOrder,
} from '../../lake/change-order.ts';
import { StateFileError } from '../../lake/model-errors.ts';
import { isPaddedSeq } from '../../lake/sequence-number.ts';
import { mapLimited } from '../../map-limited.ts';
import type { ObjectStore } from '../../storage/object-store.ts';
import { batchText, parseBatchText } from '../batch-number.ts';
import type { ReducedChange } from './change-reduction.ts';

/*
 * Tombstones (DESIGN.md rule 3): the keys a batch deleted, with the version (change-order.ts) of
 * the delete, kept beside the table so that an older record of a deleted key arriving in a later
 * batch does not bring the row back. One gzip JSON-lines file per batch that deleted anything,
 * written before the batch's commit:
 *
 *   _ddb_lake/apply/tombstones/<20-digit batch>.jsonl.gz
 *   {"key":"<_ddb_key>","seq":"<40 digits>","source":"stream","ts":"<epoch µs>"}
 *
 * `source` and `ts` sit beside `seq` because an incremental-export version is ordered against a
 * stream version by time (change-order.ts, rule 4). Lines are sorted by key, then seq, and the gzip
 * header carries no time, so the same deletes always give the same bytes: a rebuilt batch rewrites
 * its file identically.
 *
 * Every 16th batch also writes a compacted file of all tombstones so far (tombstone-compaction.ts),
 * so that a read takes the newest compacted file and the few per-batch files after it instead of
 * every file of the history.
 */

export const TOMBSTONES_FOLDER = '_ddb_lake/apply/tombstones/';

/**
 * Compacted tombstone files (tombstone-compaction.ts): `<20-digit batch>.jsonl.gz` holds the newest
 * tombstone of every key deleted in batches 1 to that batch, in the same line format.
 */
export const COMPACTED_TOMBSTONES_FOLDER = '_ddb_lake/apply/tombstones-compacted/';

/** Every this many batches, the batch writes a compacted tombstone file. */
export const TOMBSTONE_COMPACTION_INTERVAL = 16;

/** A deleted key and the version of its delete. */
export interface Tombstone {
  readonly key: string;
  readonly order: ChangeOrder;
}

/** The key of a batch's tombstone file. @throws RangeError for a batch below 1. */
export function tombstonesKey(batch: number): string {
  return `${TOMBSTONES_FOLDER}${batchText(batch)}.jsonl.gz`;
}

/** The tombstones of a batch's winners: one per delete. Pure. */
export function tombstonesOf(winners: Iterable<ReducedChange>): Tombstone[] {
  const tombstones: Tombstone[] = [];
  for (const winner of winners)
    if (winner.op === 'delete') tombstones.push({ key: winner.key, order: winner.order });
  return tombstones;
}

const byKeyThenSeq = (a: Tombstone, b: Tombstone): number =>
  a.key < b.key ? -1 : a.key > b.key ? 1 : a.order.seq < b.order.seq ? -1 : a.order.seq > b.order.seq ? 1 : 0;

/** A tombstone's line in a tombstone file (with its newline). Pure. */
export function tombstoneLine(tombstone: Tombstone): string {
  const { source, seq, tsMicros } = tombstone.order;
  return `{"key":${JSON.stringify(tombstone.key)},"seq":"${seq}","source":"${source}","ts":"${tsMicros}"}\n`;
}

/**
 * The bytes of a tombstone file: lines sorted by key then seq, exact repeats once, gzip without a
 * timestamp. Deterministic: equal sets of tombstones give equal bytes. Pure.
 */
export function encodeTombstones(tombstones: Iterable<Tombstone>): Uint8Array {
  const lines: string[] = [];
  let previous = '';
  for (const tombstone of [...tombstones].sort(byKeyThenSeq)) {
    const line = tombstoneLine(tombstone);
    if (line !== previous) lines.push(line);
    previous = line;
  }
  return gzipSync(lines.join(''));
}

/**
 * Writes the tombstone file of `batch` (a plain put: rewriting it with the same deletes is
 * harmless). A batch without deletes writes nothing. Returns the number of tombstones written.
 */
export async function writeTombstones(
  store: ObjectStore,
  batch: number,
  tombstones: Iterable<Tombstone>,
): Promise<number> {
  const list = [...tombstones];
  const key = tombstonesKey(batch);
  if (list.length === 0) return 0;
  await store.put(key, encodeTombstones(list));
  return list.length;
}

const SOURCES: ReadonlySet<string> = new Set(CHANGE_SOURCES);
const MICROS = /^(0|[1-9][0-9]{0,19})$/;

/**
 * A parsed line of a tombstone file.
 * @throws StateFileError naming `file` and `line` when it is not a tombstone.
 */
export function parseTombstone(value: unknown, file: string, line: number): Tombstone {
  const v = value as Record<string, unknown> | null;
  if (
    typeof v !== 'object' ||
    v === null ||
    typeof v['key'] !== 'string' ||
    typeof v['seq'] !== 'string' ||
    !isPaddedSeq(v['seq']) ||
    typeof v['source'] !== 'string' ||
    !SOURCES.has(v['source']) ||
    typeof v['ts'] !== 'string' ||
    !MICROS.test(v['ts'])
  ) {
    throw new StateFileError(
      file,
      `${file} line ${line} is not a tombstone {"key", "seq" (40 digits), "source", "ts" (epoch µs)}: ${JSON.stringify(value)}. Tombstone files are written by ddb-lake apply only; restore the file from a backup. Deleting it would let older records bring deleted items back.`,
    );
  }
  return {
    key: v['key'],
    order: { source: v['source'] as ChangeSource, seq: v['seq'], tsMicros: BigInt(v['ts']) },
  };
}

/** Options of `readTombstones`. */
export interface ReadTombstonesOptions {
  /** Only batches below this one (a rebuilt batch must not see its own tombstones). */
  readonly before?: number;
  /** Files read at once; default 8. */
  readonly concurrency?: number;
}

/** The key of the compacted tombstone file of `batch`. @throws RangeError for a batch below 1. */
export function compactedTombstonesKey(batch: number): string {
  return `${COMPACTED_TOMBSTONES_FOLDER}${batchText(batch)}.jsonl.gz`;
}

function batchOfFile(key: string, folder: string): number | undefined {
  const name = key.slice(folder.length);
  if (!name.endsWith('.jsonl.gz')) return undefined;
  return parseBatchText(name.slice(0, -'.jsonl.gz'.length));
}

/** The files that hold every tombstone of a range of batches: a compacted file and per-batch files after it. */
export interface TombstoneFiles {
  /** The newest compacted file found (it covers batches 1 to `compactedUpTo`), if any. */
  readonly compacted: string | undefined;
  /** 0 without a compacted file. */
  readonly compactedUpTo: number;
  /** Per-batch files of the batches after `compactedUpTo`, ascending by batch. */
  readonly perBatch: readonly string[];
}

/**
 * The tombstone files covering batches 1 to `upTo` (every stored batch when undefined): the newest
 * compacted file of a batch up to `compactedUpTo` (default `upTo`), then the per-batch files after
 * it up to `upTo`. The compacted file is found by its expected name (the last multiple of 16), else
 * by listing the compacted folder (a table older than compaction, a batch that had none); per-batch
 * files are listed from after it, so the listing does not grow with the history.
 */
export async function tombstoneFiles(
  store: ObjectStore,
  upTo: number | undefined,
  compactedUpTo: number | undefined = upTo,
): Promise<TombstoneFiles> {
  let compacted: string | undefined;
  let coveredUpTo = 0;
  const expected =
    compactedUpTo === undefined
      ? 0
      : Math.floor(compactedUpTo / TOMBSTONE_COMPACTION_INTERVAL) * TOMBSTONE_COMPACTION_INTERVAL;
  if (expected >= 1 && (await store.head(compactedTombstonesKey(expected))) !== undefined) {
    compacted = compactedTombstonesKey(expected);
    coveredUpTo = expected;
  } else {
    for await (const object of store.list(COMPACTED_TOMBSTONES_FOLDER)) {
      const batch = batchOfFile(object.key, COMPACTED_TOMBSTONES_FOLDER);
      if (batch === undefined) continue;
      if (compactedUpTo !== undefined && batch > compactedUpTo) break;
      compacted = object.key;
      coveredUpTo = batch;
    }
  }
  const perBatch: string[] = [];
  const listing =
    coveredUpTo === 0
      ? store.list(TOMBSTONES_FOLDER)
      : store.list(TOMBSTONES_FOLDER, { startAfter: tombstonesKey(coveredUpTo) });
  for await (const object of listing) {
    const batch = batchOfFile(object.key, TOMBSTONES_FOLDER);
    if (batch === undefined || batch <= coveredUpTo) continue;
    if (upTo !== undefined && batch > upTo) break;
    perBatch.push(object.key);
  }
  return { compacted, compactedUpTo: coveredUpTo, perBatch };
}

/**
 * The newest tombstone (change-order.ts) of each of `keys`, across the tombstones of every batch
 * (below `options.before` when given): the newest compacted file below `before`
 * (tombstone-compaction.ts) and the per-batch files after it. Keys without a tombstone are absent
 * from the result. Streams each file; memory is one entry per key of `keys` found.
 * @throws StateFileError naming the file and line of a line that is not a tombstone.
 * @throws CorruptGzipError / BadInputError for a damaged file.
 */
export async function readTombstones(
  store: ObjectStore,
  keys: ReadonlySet<string>,
  options: ReadTombstonesOptions = {},
): Promise<Map<string, Tombstone>> {
  const upTo = options.before === undefined ? undefined : options.before - 1;
  const sources = await tombstoneFiles(store, upTo);
  const files =
    sources.compacted === undefined ? [...sources.perBatch] : [sources.compacted, ...sources.perBatch];
  const found = new Map<string, Tombstone>();
  if (keys.size === 0) return found;
  const perFile = await mapLimited(files, options.concurrency ?? 8, async (file) => {
    const hits: Tombstone[] = [];
    for await (const { line, value } of readGzipJsonLines(store, file)) {
      const key = (value as { key?: unknown } | null)?.key;
      if (typeof key === 'string' && !keys.has(key)) continue;
      hits.push(parseTombstone(value, file, line));
    }
    return hits;
  });
  for (const hits of perFile) {
    for (const tombstone of hits) {
      const held = found.get(tombstone.key);
      if (held === undefined || compareChangeOrder(tombstone.order, held.order) > 0)
        found.set(tombstone.key, tombstone);
    }
  }
  return found;
}
