import { constants, gunzipSync } from 'node:zlib';
import { problemOf } from '../formats/bad-line.ts';
import { readChangeFile } from '../formats/change-file-reader.ts';
import type { ChangeRecord } from '../formats/change-record.ts';
import { BadInputError, CorruptGzipError } from '../formats/errors.ts';
import { parseChangeRecord } from '../formats/parse-change-record.ts';
import type { ObjectStore } from '../storage/object-store.ts';

/**
 * Compressed bytes taken by the first read. A change-file line is one stream record (an item is at
 * most 400 KB, usually well under 4 KB), so its first line nearly always inflates from this much.
 */
export const FIRST_RECORD_READ_BYTES = 64 * 1024;

/** Inflating more than this from the first read means a huge first line: read the object instead. */
const MAX_INFLATED_BYTES = 4 * 1024 * 1024;

const NEWLINE = 0x0a;

/**
 * The first record of a change file (DESIGN.md, Formats: Change file), read with as little I/O as
 * possible: one ranged get of the object's first `FIRST_RECORD_READ_BYTES` bytes, inflated with a
 * sync flush (so a cut-off gzip stream yields what it holds), cut at the first newline and
 * validated by `parseChangeRecord`. Only a first line that does not fit in that range (or inflates
 * past 4 MiB) makes it stream the object, stopping after that line.
 *
 * Returns `undefined` for an empty file. Throws `BadInputError` naming the file and line 1 for a
 * first line that is not a change record, `CorruptGzipError` for bytes that are not gzip, and the
 * store's `ObjectNotFoundError` for a missing object.
 */
export async function readFirstChangeRecord(
  store: ObjectStore,
  key: string,
): Promise<ChangeRecord | undefined> {
  const head = Buffer.concat(
    (await (await store.get(key, { start: 0, end: FIRST_RECORD_READ_BYTES })).toArray()) as Buffer[],
  );
  let inflated: Buffer;
  try {
    inflated = gunzipSync(head, { finishFlush: constants.Z_SYNC_FLUSH, maxOutputLength: MAX_INFLATED_BYTES });
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') return streamFirstRecord(store, key);
    throw new CorruptGzipError(key, 0, { cause: error });
  }
  const newline = inflated.indexOf(NEWLINE);
  if (newline < 0) {
    // The range held the whole object: its only line has no terminator, or there is no line at all.
    if (head.length < FIRST_RECORD_READ_BYTES) {
      return inflated.length === 0 ? undefined : parseFirstLine(key, inflated);
    }
    return streamFirstRecord(store, key);
  }
  return parseFirstLine(key, inflated.subarray(0, newline));
}

function parseFirstLine(key: string, bytes: Buffer): ChangeRecord {
  const text = bytes.toString('utf8');
  try {
    return parseChangeRecord(JSON.parse(text));
  } catch (error) {
    const problem =
      error instanceof SyntaxError ? { reason: `not JSON (${error.message})` } : problemOf(error);
    throw new BadInputError({ file: key, line: 1, ...problem, text }, { cause: error });
  }
}

async function streamFirstRecord(store: ObjectStore, key: string): Promise<ChangeRecord | undefined> {
  // Breaking out of the reader destroys the object's stream: nothing past the first line is inflated.
  for await (const { record } of readChangeFile(store, key)) return record;
  return undefined;
}
