import { isUtf8 } from 'node:buffer';
import type { Readable, TransformOptions } from 'node:stream';
import { pipeline } from 'node:stream';
import { createGunzip, type ZlibOptions } from 'node:zlib';
import type { ObjectStore } from '../storage/object-store.ts';
import { type BadLineOptions, reportBadLine } from './bad-line.ts';
import { CorruptGzipError } from './errors.ts';

/** Marks, in `JsonLineBlock.values`, a line that was bad and has already gone to `onBadLine`. */
export const SKIPPED_LINE: unique symbol = Symbol('skipped line');

/**
 * Consecutive lines of one file, parsed. `values[i]` is line `firstLine + i`, or `SKIPPED_LINE`
 * when that line was bad and was handed to `onBadLine`.
 */
export interface JsonLineBlock {
  readonly file: string;
  readonly firstLine: number;
  readonly values: readonly unknown[];
  /** The raw text of `values[index]`'s line (computed on demand: the fast path never slices it). */
  text(index: number): string;
}

/** One parsed line of a gzip JSON-lines file. */
export interface JsonLine {
  /** 1-based line number. */
  readonly line: number;
  readonly value: unknown;
  /** The raw line, without its terminator. */
  readonly text: string;
}

export interface GzipJsonLinesOptions extends BadLineOptions {
  /** Sees every compressed byte of the object, in order (for a checksum computed while streaming). */
  readonly onCompressedChunk?: ((chunk: Buffer) => void) | undefined;
}

const NEWLINE = 0x0a;
/** Large gunzip output chunks keep per-chunk work (decode, split, yield) rare. */
const GUNZIP_CHUNK_BYTES = 256 * 1024;
/**
 * Zlib streams pass stream options through: the readable buffer decides how far decompression,
 * done off the main thread, may run ahead of parsing.
 */
const GUNZIP_OPTIONS: ZlibOptions & TransformOptions = {
  chunkSize: GUNZIP_CHUNK_BYTES,
  readableHighWaterMark: 4 * GUNZIP_CHUNK_BYTES,
};

/**
 * Streams a gzip JSON-lines object from a store as blocks of parsed lines, in file order, holding
 * at most a few hundred kilobytes of it in memory (plus one line, however long).
 *
 * Lines are split on `\n` (a `\r` before it is JSON whitespace); one empty last line (a file that
 * ends with a newline) is not a line. A line that is not valid UTF-8, is blank, or is not exactly
 * one JSON value goes to `options.onBadLine`, or throws `BadInputError` naming the file and line.
 * A truncated or corrupt gzip stream throws `CorruptGzipError` naming the file and the number of
 * lines read before the damage. Errors of the store (missing object, network) pass through.
 * Stopping the iteration early releases the object's stream.
 */
export async function* readGzipJsonLineBlocks(
  store: ObjectStore,
  key: string,
  options: GzipJsonLinesOptions = {},
): AsyncGenerator<JsonLineBlock, void, undefined> {
  const source = await store.get(key);
  if (options.onCompressedChunk !== undefined) source.on('data', options.onCompressedChunk);
  const gunzip = createGunzip(GUNZIP_OPTIONS);
  const decompressed: Readable = pipeline(source, gunzip, () => {});

  let nextLine = 1;
  let carry: Buffer[] = [];
  try {
    for await (const chunk of decompressed as AsyncIterable<Buffer>) {
      const last = chunk.lastIndexOf(NEWLINE);
      if (last < 0) {
        carry.push(chunk);
        continue;
      }
      const bytes =
        carry.length === 0 ? chunk.subarray(0, last) : Buffer.concat([...carry, chunk.subarray(0, last)]);
      carry = last + 1 < chunk.length ? [chunk.subarray(last + 1)] : [];
      const block = await parseBlock(key, nextLine, bytes, options);
      nextLine += block.values.length;
      yield block;
    }
  } catch (error) {
    if (isZlibError(error)) throw new CorruptGzipError(key, nextLine - 1, { cause: error });
    throw error;
  } finally {
    if (!decompressed.destroyed) decompressed.destroy();
  }
  if (carry.length > 0) {
    yield await parseBlock(key, nextLine, Buffer.concat(carry), options);
  }
}

/**
 * Streams a gzip JSON-lines object line by line: `{ line, value, text }` in file order, with the
 * same guarantees and errors as `readGzipJsonLineBlocks`. Bad lines handed to `onBadLine` are not
 * yielded.
 */
export async function* readGzipJsonLines(
  store: ObjectStore,
  key: string,
  options: GzipJsonLinesOptions = {},
): AsyncGenerator<JsonLine, void, undefined> {
  for await (const block of readGzipJsonLineBlocks(store, key, options)) {
    const values = block.values;
    for (let i = 0; i < values.length; i++) {
      const value = values[i];
      if (value !== SKIPPED_LINE) yield { line: block.firstLine + i, value, text: block.text(i) };
    }
  }
}

/** Parses whole lines (`bytes` holds no terminator after its last line). */
async function parseBlock(
  file: string,
  firstLine: number,
  bytes: Buffer,
  options: BadLineOptions,
): Promise<JsonLineBlock> {
  if (!isUtf8(bytes)) return parseBlockWithBadUtf8(file, firstLine, bytes, options);
  const text = bytes.toString('utf8');
  const values: unknown[] = [];
  let start = 0;
  for (;;) {
    const end = text.indexOf('\n', start);
    const lineText = end < 0 ? text.slice(start) : text.slice(start, end);
    values.push(parseLine(lineText));
    if (end < 0) break;
    start = end + 1;
  }
  const block = new TextBlock(file, firstLine, values, text);
  await reportFailures(block, values, options);
  return block;
}

/** The slow path for a block with invalid UTF-8: find the guilty lines by their bytes. */
async function parseBlockWithBadUtf8(
  file: string,
  firstLine: number,
  bytes: Buffer,
  options: BadLineOptions,
): Promise<JsonLineBlock> {
  const values: unknown[] = [];
  const texts: string[] = [];
  let start = 0;
  for (;;) {
    const end = bytes.indexOf(NEWLINE, start);
    const lineBytes = bytes.subarray(start, end < 0 ? bytes.length : end);
    const lineText = lineBytes.toString('utf8');
    texts.push(lineText);
    values.push(isUtf8(lineBytes) ? parseLine(lineText) : new LineFailure('the line is not valid UTF-8'));
    if (end < 0) break;
    start = end + 1;
  }
  const block: JsonLineBlock = { file, firstLine, values, text: (index) => texts[index] ?? '' };
  await reportFailures(block, values, options);
  return block;
}

async function reportFailures(
  block: JsonLineBlock,
  values: unknown[],
  options: BadLineOptions,
): Promise<void> {
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (value instanceof LineFailure) {
      await reportBadLine(
        options,
        { file: block.file, line: block.firstLine + i, reason: value.reason, text: block.text(i) },
        value.cause,
      );
      values[i] = SKIPPED_LINE;
    }
  }
}

/** A line that failed to parse, kept in place until the whole block has been split. */
class LineFailure {
  readonly reason: string;
  readonly cause: unknown;
  constructor(reason: string, cause?: unknown) {
    this.reason = reason;
    this.cause = cause;
  }
}

function parseLine(lineText: string): unknown {
  try {
    return JSON.parse(lineText);
  } catch (error) {
    if (lineText.trim() === '') return new LineFailure('blank line');
    return new LineFailure(`not valid JSON (${(error as Error).message})`, error);
  }
}

/** A block decoded in one piece; line offsets are computed only if some line's text is asked for. */
class TextBlock implements JsonLineBlock {
  readonly file: string;
  readonly firstLine: number;
  readonly values: readonly unknown[];
  readonly #text: string;
  #starts: number[] | undefined;

  constructor(file: string, firstLine: number, values: readonly unknown[], text: string) {
    this.file = file;
    this.firstLine = firstLine;
    this.values = values;
    this.#text = text;
  }

  text(index: number): string {
    if (this.#starts === undefined) {
      const starts = [0];
      for (let at = this.#text.indexOf('\n'); at >= 0; at = this.#text.indexOf('\n', at + 1))
        starts.push(at + 1);
      this.#starts = starts;
    }
    const start = this.#starts[index];
    if (start === undefined) return '';
    const next = this.#starts[index + 1];
    return next === undefined ? this.#text.slice(start) : this.#text.slice(start, next - 1);
  }
}

function isZlibError(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && code.startsWith('Z_');
}
