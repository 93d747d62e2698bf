import { InvalidNumberError } from './errors.ts';

/*
 * DynamoDB numbers as exact decimal text (DynamoDB developer guide, "Data types", Number).
 *
 * Accepted syntax, as DynamoDB accepts it (checked against DynamoDB Local, whose parser is Java's
 * BigDecimal): an optional `+` or `-`, ASCII digits with at most one `.` and at least one digit on
 * either side of it (`.5`, `5.`, `0001.23` are fine), then optionally `e` or `E`, an optional sign and
 * one or more digits. No spaces, no `NaN`/`Infinity`, no hex, no `_`. An exponent outside the 32-bit
 * range, or one that pushes the scale outside it, is refused as DynamoDB refuses it, even for zero
 * (`0e99999999999`). Unlike Java, only ASCII digits are accepted: DynamoDB never writes others, so
 * text holding them did not come from DynamoDB.
 *
 * Limits: at most 38 significant digits (leading and trailing zeros do not count, so `1` followed by
 * 40 zeros is fine), and a magnitude from 1E-130 to 9.9999999999999999999999999999999999999E+125, or
 * zero. Precision is checked before magnitude, as DynamoDB does.
 *
 * Canonical text: what DynamoDB returns for a stored number — plain notation, never an exponent; no
 * `+`; no leading zeros (`0.5`, not `.5` or `00.5`); no trailing fractional zeros and no lone `.`;
 * every zero is `0` (`-0`, `0.000`, `0e5`). Both DynamoDB and DynamoDB Local answer `1E+125` with 126
 * digits, so the canonical text of a value is the same whether it came from an export, a stream or a
 * read, and equal values have equal text. It is always a valid JSON number literal.
 *
 * Everything here is string and BigInt arithmetic; the value never passes through a JS number. Only
 * exponents and digit counts, which are bounded small integers, are JS numbers.
 */

/** Why a text is not a DynamoDB number. One frozen object per kind, so a check never allocates. */
export interface NumberProblem {
  readonly kind: 'syntax' | 'precision' | 'overflow' | 'underflow';
  readonly reason: string;
}

const SYNTAX: NumberProblem = Object.freeze({
  kind: 'syntax',
  reason: 'not number syntax (expected [+|-]digits[.digits][e[+|-]digits] with ASCII digits and no spaces)',
});
const PRECISION: NumberProblem = Object.freeze({
  kind: 'precision',
  reason: 'more than 38 significant digits',
});
const OVERFLOW: NumberProblem = Object.freeze({
  kind: 'overflow',
  reason: 'magnitude larger than 9.9999999999999999999999999999999999999E+125',
});
const UNDERFLOW: NumberProblem = Object.freeze({
  kind: 'underflow',
  reason: 'magnitude smaller than 1E-130',
});

const MAX_SIGNIFICANT_DIGITS = 38;
const MAX_LEADING_EXPONENT = 125;
const MIN_LEADING_EXPONENT = -130;
const INT32_MAX = 2147483647;
const INT32_MIN = -2147483648;
const INT64_MAX = 9223372036854775807n;
const INT64_MIN = -9223372036854775808n;

// Result of the last successful `scan`. Module scratch instead of a result object keeps the hot path
// (one call per N in every line of an export) free of allocation; nothing here is re-entrant.
let scanNegative = false;
let scanZero = false;
let scanCanonical = false;
let scanFirst = 0; // index in the text of the first non-zero digit
let scanLast = 0; // index in the text of the last non-zero digit
let scanDot = -1; // index of '.', or -1
let scanLeadingExponent = 0; // power of ten of the first significant digit
let scanTrailingExponent = 0; // power of ten of the last significant digit
// The text of the last successful scan, whose results the variables above hold: a number is often
// scanned several times in a row (validated, fitted to its column, normalized), and the repeats
// cost one string comparison.
let scanned: string | undefined;

function scan(text: string): NumberProblem | null {
  if (text === scanned) return null;
  scanned = undefined;
  const length = text.length;
  let i = 0;
  let c = length > 0 ? text.charCodeAt(0) : -1;
  let negative = false;
  let plus = false;
  if (c === 45) {
    negative = true;
    i = 1;
  } else if (c === 43) {
    plus = true;
    i = 1;
  }
  const mantissaStart = i;
  let dot = -1;
  let first = -1;
  let last = -1;
  let digitCount = 0;
  for (; i < length; i++) {
    c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      digitCount++;
      if (c !== 48) {
        if (first < 0) first = i;
        last = i;
      }
    } else if (c === 46 && dot < 0) {
      dot = i;
    } else {
      break;
    }
  }
  if (digitCount === 0) return SYNTAX;
  const mantissaEnd = i;
  let exponent = 0;
  const hasExponent = i < length;
  if (hasExponent) {
    if (c !== 101 && c !== 69) return SYNTAX;
    i++;
    let exponentNegative = false;
    c = i < length ? text.charCodeAt(i) : -1;
    if (c === 45 || c === 43) {
      exponentNegative = c === 45;
      i++;
    }
    if (i >= length) return SYNTAX;
    let value = 0;
    for (; i < length; i++) {
      c = text.charCodeAt(i);
      if (c < 48 || c > 57) return SYNTAX;
      // Stop growing once past the 32-bit range: the value is refused anyway, and this keeps it exact.
      if (value < 1e10) value = value * 10 + (c - 48);
    }
    exponent = exponentNegative ? -value : value;
    if (exponent > INT32_MAX || exponent < INT32_MIN) return SYNTAX;
  }
  const fractionDigits = dot < 0 ? 0 : mantissaEnd - dot - 1;
  const javaScale = fractionDigits - exponent;
  if (javaScale > INT32_MAX || javaScale < INT32_MIN) return SYNTAX;

  scanNegative = negative;
  scanDot = dot;
  if (first < 0) {
    scanZero = true;
    scanNegative = false;
    scanCanonical = length === 1;
    scanLeadingExponent = 0;
    scanTrailingExponent = 0;
    scanned = text;
    return null;
  }
  scanZero = false;
  const pointAt = dot < 0 ? mantissaEnd : dot;
  // Power of ten of the digit at index k: digits left of the point count down to 0, right of it from -1.
  const leading = (first < pointAt ? pointAt - 1 - first : pointAt - first) + exponent;
  const trailing = (last < pointAt ? pointAt - 1 - last : pointAt - last) + exponent;
  if (leading - trailing + 1 > MAX_SIGNIFICANT_DIGITS) return PRECISION;
  if (leading > MAX_LEADING_EXPONENT) return OVERFLOW;
  if (leading < MIN_LEADING_EXPONENT) return UNDERFLOW;
  scanFirst = first;
  scanLast = last;
  scanLeadingExponent = leading;
  scanTrailingExponent = trailing;
  const integerLength = pointAt - mantissaStart;
  scanCanonical =
    !plus &&
    !hasExponent &&
    integerLength >= 1 &&
    (integerLength === 1 || text.charCodeAt(mantissaStart) !== 48) &&
    (dot < 0 || (fractionDigits >= 1 && text.charCodeAt(mantissaEnd - 1) !== 48));
  scanned = text;
  return null;
}

function scanOrThrow(text: string): void {
  const problem = scan(text);
  if (problem !== null) throw new InvalidNumberError(text, problem.reason);
}

/** The significant digits of the last scan, without the point. */
function scannedDigits(text: string): string {
  if (scanZero) return '0';
  if (scanDot > scanFirst && scanDot < scanLast) {
    return text.slice(scanFirst, scanDot) + text.slice(scanDot + 1, scanLast + 1);
  }
  return text.slice(scanFirst, scanLast + 1);
}

function plainText(negative: boolean, digits: string, exponent: number): string {
  let body: string;
  if (exponent >= 0) {
    body = exponent === 0 ? digits : digits + '0'.repeat(exponent);
  } else {
    const point = digits.length + exponent;
    body =
      point > 0 ? `${digits.slice(0, point)}.${digits.slice(point)}` : `0.${'0'.repeat(-point)}${digits}`;
  }
  return negative ? `-${body}` : body;
}

/**
 * Validates `text` as a DynamoDB number and returns its canonical text — the very same string when
 * it is already canonical, so the common case allocates nothing — or the problem that makes it
 * invalid. Never throws. Idempotent: `checkNumber(checkNumber(t))` is `checkNumber(t)`.
 */
export function checkNumber(text: string): string | NumberProblem {
  const problem = scan(text);
  if (problem !== null) return problem;
  if (scanCanonical) return text;
  if (scanZero) return '0';
  return plainText(scanNegative, scannedDigits(text), scanTrailingExponent);
}

/**
 * The canonical text of a DynamoDB number (see the top of this file). Idempotent.
 * @throws InvalidNumberError when `text` is not a number DynamoDB accepts.
 */
export function normalizeNumber(text: string): string {
  const result = checkNumber(text);
  if (typeof result !== 'string') throw new InvalidNumberError(text, result.reason);
  return result;
}

/** True when DynamoDB accepts `text` as a number (syntax, 38 digits, magnitude). */
export function isValidNumber(text: string): boolean {
  return scan(text) === null;
}

/** True when `text` is a valid number already in canonical text. */
export function isCanonicalNumber(text: string): boolean {
  return scan(text) === null && scanCanonical;
}

/**
 * A number as sign, significant digits and exponent: value = (−1 if negative) × digits × 10^exponent.
 * `digits` has no leading or trailing zero (1 to 38 of them); zero is `{negative: false, digits: '0',
 * exponent: 0}`. Equal values have equal parts.
 */
export interface NumberParts {
  readonly negative: boolean;
  readonly digits: string;
  readonly exponent: number;
}

/**
 * Splits a number into sign, significant digits and exponent (`"-12.50"` → `{negative: true,
 * digits: '125', exponent: -1}`). Accepts any text DynamoDB accepts.
 * @throws InvalidNumberError when `text` is not a DynamoDB number.
 */
export function decomposeNumber(text: string): NumberParts {
  scanOrThrow(text);
  return { negative: scanNegative, digits: scannedDigits(text), exponent: scanTrailingExponent };
}

/**
 * The canonical text of the number `parts` describes; the inverse of `decomposeNumber`. Leading and
 * trailing zeros in `digits` are allowed and folded into the exponent.
 * @throws InvalidNumberError when the digits are not ASCII digits or the value is outside DynamoDB's limits.
 */
export function composeNumber(parts: NumberParts): string {
  const digits = parts.digits;
  for (let i = 0; i < digits.length; i++) {
    const c = digits.charCodeAt(i);
    if (c < 48 || c > 57) throw new InvalidNumberError(digits, 'digits must be ASCII digits only');
  }
  if (!Number.isSafeInteger(parts.exponent)) {
    throw new InvalidNumberError(digits, `exponent ${parts.exponent} is not a safe integer`);
  }
  return normalizeNumber(`${parts.negative ? '-' : ''}${parts.digits}e${parts.exponent}`);
}

/** What a number needs from a SQL decimal type, and whether it fits the 64-bit integer type. */
export interface NumberShape {
  /** Significant digits, 1 to 38 (zero has one). */
  readonly significantDigits: number;
  /** Digits after the point in plain notation: 0 for integers, 130 for 1E-130. */
  readonly scale: number;
  /** Digits before the point in plain notation, 0 when the magnitude is below 1: 126 for 1E+125. */
  readonly integerDigits: number;
  /** Total digits of the smallest decimal(p, s) that holds it exactly: integerDigits + scale, at least 1. */
  readonly precision: number;
  readonly isInteger: boolean;
  /** Integer within −2^63 … 2^63−1 (a SQL `bigint`). */
  readonly fitsInt64: boolean;
}

/**
 * Precision, scale, integer-ness and int64 fit of a number; a value fits decimal(p, s) exactly when
 * `scale <= s` and `integerDigits <= p - s`.
 * @throws InvalidNumberError when `text` is not a DynamoDB number.
 */
export function numberShape(text: string): NumberShape {
  scanOrThrow(text);
  if (scanZero) {
    return {
      significantDigits: 1,
      scale: 0,
      integerDigits: 0,
      precision: 1,
      isInteger: true,
      fitsInt64: true,
    };
  }
  const scale = scanTrailingExponent < 0 ? -scanTrailingExponent : 0;
  const integerDigits = scanLeadingExponent >= 0 ? scanLeadingExponent + 1 : 0;
  const isInteger = scanTrailingExponent >= 0;
  let fitsInt64 = isInteger && integerDigits < 19;
  if (isInteger && integerDigits === 19) {
    const value = BigInt(plainText(scanNegative, scannedDigits(text), scanTrailingExponent));
    fitsInt64 = value >= INT64_MIN && value <= INT64_MAX;
  }
  return {
    significantDigits: scanLeadingExponent - scanTrailingExponent + 1,
    scale,
    integerDigits,
    precision: Math.max(1, integerDigits + scale),
    isInteger,
    fitsInt64,
  };
}

/**
 * Orders two numbers by value: −1, 0 or 1. Text differences that DynamoDB normalizes away do not
 * matter (`"1"`, `"1.0"`, `"+1e0"` compare equal; `"-0"` equals `"0"`). A total order, consistent
 * with equality of canonical text.
 * @throws InvalidNumberError when either text is not a DynamoDB number.
 */
export function compareNumbers(a: string, b: string): -1 | 0 | 1 {
  return compareParts(decomposeNumber(a), decomposeNumber(b));
}

/**
 * `texts` in ascending order of value (a new array; the order `compareNumbers` gives). Each number
 * is decomposed once, not once per comparison: sets of numbers are sorted for every item written.
 * @throws InvalidNumberError when a text is not a DynamoDB number.
 */
export function sortNumbers(texts: readonly string[]): string[] {
  const keyed = texts.map((text) => ({ text, parts: decomposeNumber(text) }));
  keyed.sort((x, y) => compareParts(x.parts, y.parts));
  return keyed.map((entry) => entry.text);
}

function compareParts(left: NumberParts, right: NumberParts): -1 | 0 | 1 {
  const leftSign = left.digits === '0' ? 0 : left.negative ? -1 : 1;
  const rightSign = right.digits === '0' ? 0 : right.negative ? -1 : 1;
  if (leftSign !== rightSign) return leftSign < rightSign ? -1 : 1;
  if (leftSign === 0) return 0;
  const leftLeading = left.exponent + left.digits.length;
  const rightLeading = right.exponent + right.digits.length;
  let magnitude: -1 | 0 | 1;
  if (leftLeading !== rightLeading) {
    magnitude = leftLeading < rightLeading ? -1 : 1;
  } else {
    // Same leading power of ten and no trailing zeros: digit strings compare as the values do,
    // a shorter prefix being the smaller.
    magnitude = left.digits === right.digits ? 0 : left.digits < right.digits ? -1 : 1;
  }
  if (magnitude === 0) return 0;
  return leftSign < 0 ? (-magnitude as -1 | 1) : magnitude;
}

/**
 * The exact value of an integral number as a BigInt.
 * @throws InvalidNumberError when `text` is not a DynamoDB number or has a fractional part.
 */
export function numberToBigInt(text: string): bigint {
  return numberToUnscaled(text, 0);
}

/**
 * The number times 10^scale as an exact BigInt — the unscaled value of a SQL decimal(p, scale).
 * @throws InvalidNumberError when `text` is not a DynamoDB number, or has more fractional digits than
 * `scale` (it would have to be rounded).
 */
export function numberToUnscaled(text: string, scale: number): bigint {
  const parts = decomposeNumber(text);
  if (!Number.isSafeInteger(scale) || scale < 0) {
    throw new InvalidNumberError(text, `scale ${scale} is not a non-negative integer`);
  }
  const shift = parts.exponent + scale;
  if (shift < 0) {
    throw new InvalidNumberError(text, `it has more than ${scale} fractional digits and would be rounded`);
  }
  const unscaled = BigInt(parts.digits) * 10n ** BigInt(shift);
  return parts.negative ? -unscaled : unscaled;
}
