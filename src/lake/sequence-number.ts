import { SequenceNumberError } from './model-errors.ts';

/*
 * Sequence numbers as the lake table stores them in `_ddb_seq` (DESIGN.md, "Lake table"): decimal
 * text left-padded with zeros to 40 digits. DynamoDB Streams sequence numbers have 21 to 40 digits,
 * more than decimal(38,0) or a JS number holds; padded to one width, string order is numeric order,
 * so DuckDB, Spark and JS compare them correctly as plain strings (rule 1: never compare sequence
 * numbers of different lengths as text).
 */

/** The width of a padded sequence number: the longest DynamoDB Streams sequence number. */
export const SEQ_DIGITS = 40;

/** The sequence number of snapshot rows: 40 zeros, below every real change (rule 2). */
export const SNAPSHOT_SEQ: string = '0'.repeat(SEQ_DIGITS);

const DIGITS = /^[0-9]{1,40}$/;

/**
 * The 40-digit form of a sequence number: `"123"` → 37 zeros then `123`. Leading zeros in the input
 * are allowed (a padded value pads to itself). Pure and idempotent; `paddedSeq(a) < paddedSeq(b)`
 * exactly when `BigInt(a) < BigInt(b)`.
 * @throws SequenceNumberError when `seq` is not 1 to 40 ASCII digits.
 */
export function paddedSeq(seq: string): string {
  if (!DIGITS.test(seq)) {
    throw new SequenceNumberError(
      `The sequence number ${JSON.stringify(seq)} is not 1 to ${SEQ_DIGITS} decimal digits; DynamoDB Streams writes 21 to 40 digits. The record cannot be ordered: check the change file it came from.`,
    );
  }
  return seq.length === SEQ_DIGITS ? seq : seq.padStart(SEQ_DIGITS, '0');
}

/** True when `text` is a padded sequence number (exactly 40 ASCII digits). */
export function isPaddedSeq(text: string): boolean {
  return text.length === SEQ_DIGITS && DIGITS.test(text);
}

/**
 * The sequence number without its padding (`"0"` for `SNAPSHOT_SEQ`), as DynamoDB Streams spells it.
 * @throws SequenceNumberError when `padded` is not 1 to 40 digits.
 */
export function unpaddedSeq(padded: string): string {
  paddedSeq(padded);
  const stripped = padded.replace(/^0+/, '');
  return stripped === '' ? '0' : stripped;
}

/**
 * Orders two padded sequence numbers: −1, 0 or 1, the order of their integer values. Both must be
 * padded (use `paddedSeq`); text of other widths is not compared here, so a mistake cannot pass as
 * an order.
 * @throws SequenceNumberError when either is not 40 digits.
 */
export function comparePaddedSeq(a: string, b: string): -1 | 0 | 1 {
  if (a.length !== SEQ_DIGITS || b.length !== SEQ_DIGITS) {
    const bad = a.length !== SEQ_DIGITS ? a : b;
    throw new SequenceNumberError(
      `The sequence number ${JSON.stringify(bad)} is not padded to ${SEQ_DIGITS} digits; pad it with paddedSeq before comparing.`,
    );
  }
  return a === b ? 0 : a < b ? -1 : 1;
}
