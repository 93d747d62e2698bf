import { gzipSync } from 'node:zlib';
import { readGzipJsonLines } from '../formats/gzip-json-lines.ts';
import { mapLimited } from '../map-limited.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { batchText, parseBatchText } from './batch-number.ts';
import { CHANGE_SOURCES, type ChangeOrder, type ChangeSource, compareChangeOrder } from './change-order.ts';
import type { ReducedChange } from './change-reduction.ts';
import { StateFileError } from './model-errors.ts';
import { isPaddedSeq } from './sequence-number.ts';

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
 */

export const TOMBSTONES_FOLDER = '_ddb_lake/apply/tombstones/';

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

function tombstoneLine(tombstone: Tombstone): string {
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

function parseTombstone(value: unknown, file: string, line: number): Tombstone {
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

/**
 * The newest tombstone (change-order.ts) of each of `keys`, across the tombstone files of every
 * batch (below `options.before` when given). Keys without a tombstone are absent from the result.
 * Reads every tombstone file, streaming; memory is one entry per key of `keys` found.
 * @throws StateFileError naming the file and line of a line that is not a tombstone.
 * @throws CorruptGzipError / BadInputError for a damaged file.
 */
export async function readTombstones(
  store: ObjectStore,
  keys: ReadonlySet<string>,
  options: ReadTombstonesOptions = {},
): Promise<Map<string, Tombstone>> {
  const files: string[] = [];
  for await (const object of store.list(TOMBSTONES_FOLDER)) {
    const name = object.key.slice(TOMBSTONES_FOLDER.length);
    if (!name.endsWith('.jsonl.gz')) continue;
    const batch = parseBatchText(name.slice(0, -'.jsonl.gz'.length));
    if (batch === undefined) continue;
    if (options.before !== undefined && batch >= options.before) continue;
    files.push(object.key);
  }
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
