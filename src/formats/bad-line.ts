import { InvalidAttributeValueError } from '../dynamo/errors.ts';
import { BadInputError } from './errors.ts';

/**
 * Everything known about a line that could not be read, enough to quarantine it and replay it
 * later: `text` is the line exactly as stored (decoded as UTF-8; only a line that is not valid
 * UTF-8 loses its bad bytes, replaced by U+FFFD), so a repaired copy can be fed back to the same
 * parser (`parseChangeRecord`, `parseExportItemLine`, `parseIncrementalExportLine`).
 */
export interface BadLine {
  /** Store-relative key of the file. */
  readonly file: string;
  /** 1-based line number within the file. */
  readonly line: number;
  /** What is wrong, in a few words. */
  readonly reason: string;
  /** The attribute or field path inside the record, when the problem has one. */
  readonly path?: string;
  /** The raw line, without its line terminator. */
  readonly text: string;
}

/**
 * Receives a bad line instead of the reader throwing `BadInputError`; the reader waits for the
 * returned promise (if any) before reading on, so a quarantine write completes before later lines
 * are consumed. Throwing from the callback stops the reader with that error.
 */
export type OnBadLine = (bad: BadLine) => void | Promise<void>;

/** The options every line reader takes. */
export interface BadLineOptions {
  /** Collect bad lines here and go on; without it the first bad line throws `BadInputError`. */
  readonly onBadLine?: OnBadLine | undefined;
}

/**
 * Hands a bad line to the caller's `onBadLine`, or throws it as `BadInputError` when there is
 * none. Never drops a line silently.
 */
export async function reportBadLine(options: BadLineOptions, bad: BadLine, cause?: unknown): Promise<void> {
  if (options.onBadLine === undefined) throw BadInputError.fromBadLine(bad, cause);
  await options.onBadLine(bad);
}

/**
 * The reason and path of a record that failed validation, from a `BadInputError` thrown by a record
 * parser or an `InvalidAttributeValueError` thrown by the value model; any other error is not bad
 * input and is rethrown.
 */
export function problemOf(error: unknown): { reason: string; path?: string } {
  if (error instanceof BadInputError) {
    return error.path === undefined ? { reason: error.reason } : { reason: error.reason, path: error.path };
  }
  if (error instanceof InvalidAttributeValueError) return { reason: error.reason, path: error.path };
  throw error;
}
