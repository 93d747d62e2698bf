import { DdbLakeError } from '../errors.ts';
import type { BadLine } from './bad-line.ts';

/**
 * A line of a change file or export data file that cannot be read: bad JSON, invalid UTF-8, an
 * unknown type tag, an invalid number or base64, or a record of the wrong shape. Thrown by every
 * reader unless it was given `onBadLine`, in which case the same facts go to the callback instead.
 * Also thrown (without `file` and `line`) by the record parsers and encoders when called directly.
 */
export class BadInputError extends DdbLakeError {
  /** Store-relative key of the file, when the input came from a file. */
  readonly file: string | undefined;
  /** 1-based line number, when the input came from a file. */
  readonly line: number | undefined;
  /** The attribute or field path inside the record (`Item.lines[1].M.price.N`), when known. */
  readonly path: string | undefined;
  /** What is wrong, in a few words. */
  readonly reason: string;
  /** The raw text of the line, when the input came from a file. */
  readonly text: string | undefined;

  constructor(
    facts: { file?: string; line?: number; path?: string; reason: string; text?: string },
    options?: { cause?: unknown },
  ) {
    super('BAD_INPUT', badInputMessage(facts), options);
    this.file = facts.file;
    this.line = facts.line;
    this.path = facts.path;
    this.reason = facts.reason;
    this.text = facts.text;
  }

  /** The error for a bad line read from a file: the same facts an `onBadLine` callback receives. */
  static fromBadLine(bad: BadLine, cause?: unknown): BadInputError {
    return new BadInputError(bad, cause === undefined ? undefined : { cause });
  }
}

function badInputMessage(facts: { file?: string; line?: number; path?: string; reason: string }): string {
  const where = [
    facts.file === undefined ? undefined : `in ${facts.file}`,
    facts.line === undefined ? undefined : `line ${facts.line}`,
    facts.path === undefined || facts.path === '' ? undefined : `at ${facts.path}`,
  ]
    .filter((part) => part !== undefined)
    .join(', ');
  const next =
    facts.file === undefined
      ? 'Correct the record.'
      : 'Nothing after it was read. Repair or remove that line, or rerun with bad lines sent to quarantine.';
  return `Bad input${where === '' ? '' : ` ${where}`}: ${facts.reason}. ${next}`;
}

/**
 * A gzip stream that ends early (truncated upload or copy) or does not decompress (corrupt bytes).
 * `linesRead` says how many complete lines came out before the damage: whatever a consumer did with
 * them must not be committed, since the rest of the file is unknown.
 */
export class CorruptGzipError extends DdbLakeError {
  readonly file: string;
  readonly linesRead: number;

  constructor(file: string, linesRead: number, options?: { cause?: unknown }) {
    const detail = options?.cause instanceof Error ? ` (${options.cause.message})` : '';
    super(
      'CORRUPT_GZIP',
      `The gzip file ${file} is truncated or corrupt${detail}; it broke after line ${linesRead}. ` +
        'Do not use what was read from it: copy or re-create the file and rerun.',
      options,
    );
    this.file = file;
    this.linesRead = linesRead;
  }
}

/**
 * Bytes that do not match the checksum recorded for them: an export data file against its
 * `md5Checksum` in manifest-files.json, or a manifest against its `.md5` file. For data files this
 * is found at the end of the file, after its lines were yielded: a consumer must not commit
 * anything read in a run that ends with this error.
 */
export class ChecksumMismatchError extends DdbLakeError {
  readonly file: string;
  readonly expected: string;
  readonly actual: string;

  constructor(file: string, expected: string, actual: string, options?: { cause?: unknown }) {
    super(
      'CHECKSUM_MISMATCH',
      `The MD5 of ${file} is ${actual} but the export recorded ${expected}: the file was changed or ` +
        'damaged after the export wrote it. Discard what was read in this run and copy the export again.',
      options,
    );
    this.file = file;
    this.expected = expected;
    this.actual = actual;
  }
}

/**
 * An export data file with a different number of lines than its `itemCount` in manifest-files.json.
 * Found at the end of the file, like a checksum mismatch, with the same consequence.
 */
export class ItemCountMismatchError extends DdbLakeError {
  readonly file: string;
  readonly expected: number;
  readonly actual: number;

  constructor(file: string, expected: number, actual: number) {
    super(
      'ITEM_COUNT_MISMATCH',
      `${file} holds ${actual} lines but manifest-files.json says ${expected}: the export is incomplete ` +
        'or was altered. Discard what was read in this run and copy or re-run the export.',
    );
    this.file = file;
    this.expected = expected;
    this.actual = actual;
  }
}

/**
 * An export whose manifests cannot be used: manifest-summary.json missing (the export is not
 * complete), a manifest that is not what DynamoDB writes, item counts that do not add up, or a data
 * file key outside the export's prefix. The message names the manifest and says what to do.
 */
export class BadManifestError extends DdbLakeError {
  readonly file: string;

  constructor(file: string, problem: string, options?: { cause?: unknown }) {
    super('BAD_MANIFEST', `${file}: ${problem}`, options);
    this.file = file;
  }
}
