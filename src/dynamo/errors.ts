import { DdbLakeError } from '../errors.ts';

/**
 * A DynamoDB JSON value that DynamoDB itself would not accept (or could not have written): an unknown,
 * missing or doubled type tag, a malformed number or base64 text, a set with duplicates, nesting
 * beyond 32 levels, an empty attribute name. `path` names the attribute in the document-path style
 * of DynamoDB (`lines[1].price`, `meta["a.b"][0]`); an empty path means the item itself.
 */
export class InvalidAttributeValueError extends DdbLakeError {
  readonly path: string;
  readonly reason: string;

  constructor(path: string, reason: string, options?: { cause?: unknown }) {
    super(
      'INVALID_ATTRIBUTE_VALUE',
      `Invalid DynamoDB value at ${path === '' ? 'the item root' : path}: ${reason}. ` +
        'The value is not one DynamoDB accepts; fix the source record or quarantine it.',
      options,
    );
    this.path = path;
    this.reason = reason;
  }
}

/**
 * A text that is not a DynamoDB number: bad syntax, more than 38 significant digits, or a magnitude
 * outside 1E-130 … 9.9999999999999999999999999999999999999E+125.
 */
export class InvalidNumberError extends DdbLakeError {
  readonly text: string;
  readonly reason: string;

  constructor(text: string, reason: string) {
    super(
      'INVALID_NUMBER',
      `${JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text)} is not a DynamoDB number: ${reason}.`,
    );
    this.text = text;
    this.reason = reason;
  }
}
