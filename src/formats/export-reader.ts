import { createHash } from 'node:crypto';
import type { Item } from '../dynamo/attribute-value.ts';
import { DdbLakeError } from '../errors.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { type BadLineOptions, problemOf, reportBadLine } from './bad-line.ts';
import { ChecksumMismatchError, CorruptGzipError, ItemCountMismatchError } from './errors.ts';
import type { ExportDataFile, OpenedExport } from './export-layout.ts';
import {
  type IncrementalExportChange,
  parseExportItemLine,
  parseIncrementalExportLine,
} from './export-line.ts';
import { type JsonLineBlock, readGzipJsonLineBlocks, SKIPPED_LINE } from './gzip-json-lines.ts';

/** One item of a full export (or a Scan export) with where it came from. */
export interface ExportItem {
  readonly item: Item;
  /** Store-relative key of the data file. */
  readonly file: string;
  /** 1-based line number. */
  readonly line: number;
}

/** One line of an incremental export in change form, with where it came from. */
export interface ExportChange extends IncrementalExportChange {
  readonly file: string;
  readonly line: number;
}

/**
 * Streams every item of a full export, data file by data file in manifest order, line by line.
 * Each data file's MD5 (computed over the gzip bytes while streaming) and line count are checked
 * against manifest-files.json when the file has been read to its end: a mismatch throws
 * `ChecksumMismatchError` or `ItemCountMismatchError` naming the file AFTER that file's items were
 * yielded, so a consumer must not commit anything read in a run that ends with an error.
 * Bad lines go to `onBadLine` (they still count toward `itemCount`) or throw `BadInputError`;
 * a damaged gzip throws `CorruptGzipError`, or `ChecksumMismatchError` when the file also differs
 * from its recorded MD5. Throws `DdbLakeError` `WRONG_EXPORT_TYPE` for an incremental export.
 */
export async function* readExportItems(
  store: ObjectStore,
  opened: OpenedExport,
  options: BadLineOptions = {},
): AsyncGenerator<ExportItem, void, undefined> {
  requireType(opened, 'FULL_EXPORT');
  for (const file of opened.files) {
    for await (const block of readVerifiedBlocks(store, file, options)) {
      for (const item of await itemsOf(block, options)) yield item;
    }
  }
}

/**
 * Streams every line of an incremental export in change form, data file by data file in manifest
 * order, with the same checks, errors and caveat as `readExportItems`. Lines are not ordered by
 * time: order by `writeTimestampMicros` per key if the order matters. Throws `DdbLakeError`
 * `WRONG_EXPORT_TYPE` for a full export.
 */
export async function* readExportChanges(
  store: ObjectStore,
  opened: OpenedExport,
  options: BadLineOptions = {},
): AsyncGenerator<ExportChange, void, undefined> {
  requireType(opened, 'INCREMENTAL_EXPORT');
  for (const file of opened.files) {
    for await (const block of readVerifiedBlocks(store, file, options)) {
      for (const change of await changesOf(block, options)) yield change;
    }
  }
}

/** The items of one full-export data file, checked as `readExportItems` describes (for parallel readers). */
export async function* readDataFileItems(
  store: ObjectStore,
  file: ExportDataFile,
  options: BadLineOptions = {},
): AsyncGenerator<ExportItem, void, undefined> {
  for await (const block of readVerifiedBlocks(store, file, options)) {
    for (const item of await itemsOf(block, options)) yield item;
  }
}

/** The changes of one incremental-export data file, checked as `readExportItems` describes. */
export async function* readDataFileChanges(
  store: ObjectStore,
  file: ExportDataFile,
  options: BadLineOptions = {},
): AsyncGenerator<ExportChange, void, undefined> {
  for await (const block of readVerifiedBlocks(store, file, options)) {
    for (const change of await changesOf(block, options)) yield change;
  }
}

/*
 * A block is validated whole into an array, so that each item passes through one generator on its
 * way to the consumer rather than one per layer.
 */

async function itemsOf(block: JsonLineBlock, options: BadLineOptions): Promise<ExportItem[]> {
  const items: ExportItem[] = [];
  const values = block.values;
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (value === SKIPPED_LINE) continue;
    try {
      items.push({ item: parseExportItemLine(value), file: block.file, line: block.firstLine + i });
    } catch (error) {
      const bad = { file: block.file, line: block.firstLine + i, ...problemOf(error), text: block.text(i) };
      await reportBadLine(options, bad, error);
    }
  }
  return items;
}

async function changesOf(block: JsonLineBlock, options: BadLineOptions): Promise<ExportChange[]> {
  const changes: ExportChange[] = [];
  const values = block.values;
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (value === SKIPPED_LINE) continue;
    try {
      changes.push({ ...parseIncrementalExportLine(value), file: block.file, line: block.firstLine + i });
    } catch (error) {
      const bad = { file: block.file, line: block.firstLine + i, ...problemOf(error), text: block.text(i) };
      await reportBadLine(options, bad, error);
    }
  }
  return changes;
}

/** The line blocks of a data file, then the MD5 and line-count checks once its end is reached. */
async function* readVerifiedBlocks(
  store: ObjectStore,
  file: ExportDataFile,
  options: BadLineOptions,
): AsyncGenerator<JsonLineBlock, void, undefined> {
  const md5 = createHash('md5');
  let lines = 0;
  try {
    for await (const block of readGzipJsonLineBlocks(store, file.key, {
      onBadLine: options.onBadLine,
      onCompressedChunk: (chunk) => md5.update(chunk),
    })) {
      lines += block.values.length;
      yield block;
    }
  } catch (error) {
    if (error instanceof CorruptGzipError) await rethrowAsMismatchIfAltered(store, file, error);
    throw error;
  }
  const actual = md5.digest('base64');
  if (actual !== file.md5Checksum) throw new ChecksumMismatchError(file.key, file.md5Checksum, actual);
  if (lines !== file.itemCount) throw new ItemCountMismatchError(file.key, file.itemCount, lines);
}

/**
 * A gzip that fails to decompress is most often a file altered after the export: say so when its
 * MD5 differs from the recorded one (the reader stopped early, so read it again whole to know).
 */
async function rethrowAsMismatchIfAltered(
  store: ObjectStore,
  file: ExportDataFile,
  corrupt: CorruptGzipError,
) {
  const md5 = createHash('md5');
  for await (const chunk of await store.get(file.key)) md5.update(chunk as Buffer);
  const actual = md5.digest('base64');
  if (actual !== file.md5Checksum) {
    throw new ChecksumMismatchError(file.key, file.md5Checksum, actual, { cause: corrupt });
  }
}

function requireType(opened: OpenedExport, expected: OpenedExport['summary']['exportType']): void {
  if (opened.summary.outputFormat !== 'DYNAMODB_JSON') {
    throw new DdbLakeError(
      'UNSUPPORTED_EXPORT_FORMAT',
      `The export ${opened.dir} is in ${opened.summary.outputFormat} format; only DYNAMODB_JSON can be read. Export again with --export-format DYNAMODB_JSON.`,
    );
  }
  if (opened.summary.exportType !== expected) {
    const reader = expected === 'FULL_EXPORT' ? 'readExportChanges' : 'readExportItems';
    throw new DdbLakeError(
      'WRONG_EXPORT_TYPE',
      `The export ${opened.dir} is a ${opened.summary.exportType}, not a ${expected}: read it with ${reader}.`,
    );
  }
}
