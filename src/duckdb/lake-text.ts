/*
 * Exact text forms of lake values that JS has no exact type for: decimals (scaled bigints), dates
 * (days since 1970-01-01) and timestamps (microseconds since the epoch, UTC). Integer arithmetic
 * only, so 38-digit decimals and microseconds survive; every function is pure.
 */

const DECIMAL_TEXT = /^([+-])?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;
const MAX_EXPONENT = 400;

/**
 * The unscaled value (value × 10^scale) of decimal text such as `-12.5`, `1E+3` or `0.000`, exactly.
 * Returns a reason (a string) instead when the text is not a number, has more fractional digits
 * than `scale` (other than trailing zeros), or does not fit `precision` digits.
 */
export function parseDecimalText(text: string, precision: number, scale: number): bigint | string {
  const match = DECIMAL_TEXT.exec(text.trim());
  const intPart = match?.[2] ?? '';
  const fracPart = match?.[3] ?? '';
  if (match === null || intPart + fracPart === '') return `"${text}" is not a decimal number`;
  const exponent = match[4] === undefined ? 0 : Number(match[4]);
  let digits = BigInt(intPart + fracPart);
  if (match[1] === '-') digits = -digits;
  const shift = exponent - fracPart.length + scale;
  if (digits === 0n) return 0n;
  if (Math.abs(shift) > MAX_EXPONENT) return `"${text}" does not fit decimal(${precision},${scale})`;
  let unscaled: bigint;
  if (shift >= 0) {
    unscaled = digits * 10n ** BigInt(shift);
  } else {
    const divisor = 10n ** BigInt(-shift);
    if (digits % divisor !== 0n) {
      return `"${text}" has more than ${scale} digits after the decimal point; rounding it would change the value`;
    }
    unscaled = digits / divisor;
  }
  const limit = 10n ** BigInt(precision);
  if (unscaled >= limit || unscaled <= -limit) {
    return `"${text}" has more than ${precision - scale} digits before the decimal point (decimal(${precision},${scale}))`;
  }
  return unscaled;
}

/** The text of an unscaled decimal: `formatDecimal(-1250n, 2)` is `-12.50`; scale digits always shown. */
export function formatDecimal(unscaled: bigint, scale: number): string {
  const negative = unscaled < 0n;
  const digits = (negative ? -unscaled : unscaled).toString();
  if (scale === 0) return negative ? `-${digits}` : digits;
  const padded = digits.padStart(scale + 1, '0');
  const text = `${padded.slice(0, -scale)}.${padded.slice(-scale)}`;
  return negative ? `-${text}` : text;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function civilFromDays(days: number): { year: number; month: number; day: number } {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return { year: yoe + era * 400 + (month <= 2 ? 1 : 0), month, day };
}

function pad(value: number, width: number): string {
  const text = String(Math.abs(value)).padStart(width, '0');
  return value < 0 ? `-${text}` : text;
}

/** `YYYY-MM-DD` of days since 1970-01-01. */
export function formatDate(days: number): string {
  const { year, month, day } = civilFromDays(days);
  return `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}`;
}

function validDays(year: number, month: number, day: number): number | undefined {
  if (month < 1 || month > 12 || day < 1 || day > 31) return undefined;
  const days = daysFromCivil(year, month, day);
  const back = civilFromDays(days);
  return back.month === month && back.day === day ? days : undefined;
}

const DATE_TEXT = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Days since 1970-01-01 of `YYYY-MM-DD`, or undefined for anything else (including 2026-02-30). */
export function parseDateText(text: string): number | undefined {
  const match = DATE_TEXT.exec(text);
  if (match === null) return undefined;
  return validDays(Number(match[1]), Number(match[2]), Number(match[3]));
}

const TIMESTAMP_TEXT =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(Z|[+-]\d{2}(?::?\d{2})?)?$/;

const MICROS_PER_SECOND = 1_000_000n;
const MICROS_PER_DAY = 86_400n * MICROS_PER_SECOND;

/**
 * Microseconds since the epoch of ISO-8601 text: `2026-11-23T00:00:00.123456Z`, a space for the
 * `T`, 0 to 6 fractional digits, and `Z` or an offset (`+02:00`, `+0200`, `+02`, as DuckDB prints). Text without a zone is read as
 * UTC when `zone` is `'optional'` and refused when `'required'`. Undefined when the text is not a
 * valid timestamp.
 */
export function parseTimestampText(text: string, zone: 'required' | 'optional' | 'none'): bigint | undefined {
  const match = TIMESTAMP_TEXT.exec(text);
  if (match === null) return undefined;
  const [, y, mo, d, h, mi, s, frac, offset] = match;
  if (offset === undefined ? zone === 'required' : zone === 'none') return undefined;
  const days = validDays(Number(y), Number(mo), Number(d));
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  if (days === undefined || hour > 23 || minute > 59 || second > 59) return undefined;
  let offsetMinutes = 0;
  if (offset !== undefined && offset !== 'Z') {
    const digits = offset.replace(':', '');
    offsetMinutes =
      (Number(digits.slice(1, 3)) * 60 + Number(digits.slice(3, 5))) * (digits[0] === '-' ? -1 : 1);
  }
  const seconds = BigInt((hour * 60 + minute - offsetMinutes) * 60 + second);
  const micros = BigInt((frac ?? '').padEnd(6, '0'));
  return BigInt(days) * MICROS_PER_DAY + seconds * MICROS_PER_SECOND + micros;
}

function splitMicros(micros: bigint): { days: number; micros: number } {
  let days = micros / MICROS_PER_DAY;
  let rest = micros % MICROS_PER_DAY;
  if (rest < 0n) {
    rest += MICROS_PER_DAY;
    days -= 1n;
  }
  return { days: Number(days), micros: Number(rest) };
}

function timeOfDay(microsOfDay: number, fractionDigits: number): string {
  const totalSeconds = Math.floor(microsOfDay / 1_000_000);
  const hms = `${pad(Math.floor(totalSeconds / 3600), 2)}:${pad(Math.floor(totalSeconds / 60) % 60, 2)}:${pad(totalSeconds % 60, 2)}`;
  const fraction = pad(microsOfDay % 1_000_000, 6).slice(0, fractionDigits);
  return `${hms}.${fraction}`;
}

/**
 * ISO-8601 text of microseconds since the epoch with all six fractional digits:
 * `2026-11-23T00:00:00.123456Z` (`utc`), or without the `Z` for timestamp_ntz.
 */
export function formatTimestampMicros(micros: bigint, utc: boolean): string {
  const split = splitMicros(micros);
  return `${formatDate(split.days)}T${timeOfDay(split.micros, 6)}${utc ? 'Z' : ''}`;
}

/**
 * The statistics form of a timestamp (PROTOCOL.md, "Per-file Statistics": truncated down to
 * milliseconds): `2026-11-23T00:00:00.123Z`, floored also before 1970.
 */
export function formatTimestampMillisUtc(micros: bigint): string {
  const split = splitMicros(micros);
  return `${formatDate(split.days)}T${timeOfDay(split.micros, 3)}Z`;
}
