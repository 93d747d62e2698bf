import type { ObjectStore } from '../storage/object-store.ts';
import { type BadLineOptions, problemOf, reportBadLine } from './bad-line.ts';
import type { ChangeRecord } from './change-record.ts';
import { readGzipJsonLineBlocks, SKIPPED_LINE } from './gzip-json-lines.ts';
import { parseChangeRecord } from './parse-change-record.ts';

/** One record of a change file with where it came from. */
export interface ChangeFileRecord {
  readonly record: ChangeRecord;
  /** Store-relative key of the change file. */
  readonly file: string;
  /** 1-based line number. */
  readonly line: number;
}

/**
 * Streams the records of one change file in file order (which is stream order within the file's
 * shard), each validated by `parseChangeRecord`. A malformed line goes to `options.onBadLine` or
 * throws `BadInputError` naming the file, line and field or attribute path; a damaged gzip throws
 * `CorruptGzipError`; a missing object throws the store's `ObjectNotFoundError`.
 */
export async function* readChangeFile(
  store: ObjectStore,
  key: string,
  options: BadLineOptions = {},
): AsyncGenerator<ChangeFileRecord, void, undefined> {
  for await (const block of readGzipJsonLineBlocks(store, key, options)) {
    const values = block.values;
    for (let i = 0; i < values.length; i++) {
      const value = values[i];
      if (value === SKIPPED_LINE) continue;
      let record: ChangeRecord;
      try {
        record = parseChangeRecord(value);
      } catch (error) {
        await reportBadLine(
          options,
          { file: key, line: block.firstLine + i, ...problemOf(error), text: block.text(i) },
          error,
        );
        continue;
      }
      yield { record, file: key, line: block.firstLine + i };
    }
  }
}
