import { pipeline, Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { readGzipJsonLines } from '../../formats/gzip-json-lines.ts';
import { compareChangeOrder } from '../../lake/change-order.ts';
import { StateFileError } from '../../lake/model-errors.ts';
import type { ObjectStore } from '../../storage/object-store.ts';
import {
  compactedTombstonesKey,
  parseTombstone,
  TOMBSTONE_COMPACTION_INTERVAL,
  type Tombstone,
  tombstoneFiles,
  tombstoneLine,
} from './tombstones.ts';

/*
 * Tombstone compaction (DESIGN.md rule 3): without it, every later batch reads one tombstone file
 * per earlier batch that deleted anything, and the reads grow with the history. Every 16th batch N
 * writes `_ddb_lake/apply/tombstones-compacted/<N>.jsonl.gz`, the newest tombstone of every key
 * deleted in batches 1 to N, in the per-batch line format, so a read takes the newest compacted
 * file below its batch and at most 15 per-batch files after it (tombstones.ts).
 *
 * The file is a merge of the newest compacted file below N (or, without one, every per-batch file)
 * with the per-batch files after it up to N's own, all of them sorted by key then seq. It is
 * written with N's per-batch file, before N's commit; the files it merges are immutable once their
 * batches are committed and N's own is rewritten identically by a rebuild, so a rebuilt batch
 * writes the same bytes: lines in key order, one per key, chunked the same way into a gzip stream
 * without a timestamp. A read for a rebuilt batch N (`before: N`) never uses N's compacted file.
 * The merge streams: memory is one line per input file plus the output chunk.
 */

const CHUNK_CHARS = 64 * 1024;

const byKey = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** True when `batch` writes a compacted tombstone file. Pure. */
export function isCompactionBatch(batch: number): boolean {
  return batch >= 1 && batch % TOMBSTONE_COMPACTION_INTERVAL === 0;
}

async function* tombstonesOfFile(store: ObjectStore, file: string): AsyncGenerator<Tombstone> {
  let previous: string | undefined;
  for await (const { line, value } of readGzipJsonLines(store, file)) {
    const tombstone = parseTombstone(value, file, line);
    if (previous !== undefined && tombstone.key < previous) {
      throw new StateFileError(
        file,
        `${file} line ${line} (key ${JSON.stringify(tombstone.key)}) is out of key order. Tombstone files are written by ddb-lake apply only, sorted by key; restore the file from a backup. Deleting it would let older records bring deleted items back.`,
      );
    }
    previous = tombstone.key;
    yield tombstone;
  }
}

/** The newest tombstone per key across `files` (each sorted by key), in key order. */
async function* mergeNewest(store: ObjectStore, files: readonly string[]): AsyncGenerator<Tombstone> {
  const sources = files.map((file) => tombstonesOfFile(store, file));
  const heads: (Tombstone | undefined)[] = [];
  for (const source of sources) heads.push((await source.next()).value ?? undefined);
  for (;;) {
    let key: string | undefined;
    for (const head of heads)
      if (head !== undefined && (key === undefined || byKey(head.key, key) < 0)) key = head.key;
    if (key === undefined) return;
    let newest: Tombstone | undefined;
    for (let index = 0; index < sources.length; index++) {
      let head = heads[index];
      while (head !== undefined && head.key === key) {
        if (newest === undefined || compareChangeOrder(head.order, newest.order) > 0) newest = head;
        head = (await (sources[index] as AsyncGenerator<Tombstone>).next()).value ?? undefined;
      }
      heads[index] = head;
    }
    yield newest as Tombstone;
  }
}

async function* chunks(tombstones: AsyncIterable<Tombstone>): AsyncGenerator<string> {
  let chunk = '';
  for await (const tombstone of tombstones) {
    chunk += tombstoneLine(tombstone);
    if (chunk.length >= CHUNK_CHARS) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk !== '') yield chunk;
}

/**
 * Writes the compacted tombstone file of `batch` when it is a compaction batch (every 16th) and
 * returns its key, else does nothing and returns undefined. Call it after the batch's own
 * tombstone file is written and before its commit; a plain put: a rebuilt batch writes the same
 * bytes.
 * @throws StateFileError for a tombstone file whose line is not a tombstone or out of order;
 *   CorruptGzipError for a damaged file; the store's errors.
 */
export async function writeCompactedTombstones(
  store: ObjectStore,
  batch: number,
): Promise<string | undefined> {
  if (!isCompactionBatch(batch)) return undefined;
  const sources = await tombstoneFiles(store, batch, batch - 1);
  const files =
    sources.compacted === undefined ? [...sources.perBatch] : [sources.compacted, ...sources.perBatch];
  const key = compactedTombstonesKey(batch);
  const body = pipeline(Readable.from(chunks(mergeNewest(store, files))), createGzip(), () => {});
  await store.put(key, body);
  return key;
}
