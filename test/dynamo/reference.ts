/*
 * An independent reference for the value model, used by the property tests: numbers as BigInts
 * scaled by 10^SCALE (every DynamoDB number is an integer there), plain JSON built from a model tree
 * with Buffer byte comparisons. Deliberately written differently from src/dynamo so the two can
 * disagree.
 */
import type { AttributeValue as SdkAttributeValue } from '@aws-sdk/client-dynamodb';
import utilDynamodb from '@aws-sdk/util-dynamodb';

// A CommonJS package whose named exports Node cannot detect: take them from the default export.
const NumberValue = utilDynamodb.NumberValueImpl;

/** Every DynamoDB number times 10^SCALE is an integer: the smallest unit is 1E-167 (38 digits at 1E-130). */
export const SCALE = 200;
const UNIT = 10n ** BigInt(SCALE);

/** A number as the generator knows it, with the text it was written as. */
export interface NumberModel {
  readonly text: string;
  /** The exact value times 10^SCALE. */
  readonly scaled: bigint;
}

/** Plain decimal text of a scaled value: no exponent, no trailing fractional zeros, zero as `0`. */
export function canonicalFromScaled(scaled: bigint): string {
  const negative = scaled < 0n;
  const magnitude = negative ? -scaled : scaled;
  const whole = (magnitude / UNIT).toString();
  const fraction = (magnitude % UNIT).toString().padStart(SCALE, '0').replace(/0+$/, '');
  const body = fraction === '' ? whole : `${whole}.${fraction}`;
  return negative && body !== '0' ? `-${body}` : body;
}

const NUMBER_SYNTAX = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

/** Scaled value of number text by regular expression and BigInt, or null when it does not match. */
export function scaledFromText(text: string): bigint | null {
  const match = NUMBER_SYNTAX.exec(text);
  if (match === null) return null;
  const [, sign, whole = '', fraction = '', exponent = '0'] = match;
  if (whole === '' && fraction === '') return null;
  const shift = SCALE + Number(exponent) - fraction.length;
  const mantissa = BigInt(`${whole}${fraction}` || '0');
  const magnitude = shift >= 0 ? mantissa * 10n ** BigInt(shift) : mantissa / 10n ** BigInt(-shift);
  return sign === '-' ? -magnitude : magnitude;
}

export type Model =
  | { readonly t: 'S'; readonly s: string }
  | { readonly t: 'N'; readonly n: NumberModel }
  | { readonly t: 'B'; readonly b: Uint8Array }
  | { readonly t: 'BOOL'; readonly bool: boolean }
  | { readonly t: 'NULL' }
  | { readonly t: 'SS'; readonly ss: readonly string[] }
  | { readonly t: 'NS'; readonly ns: readonly NumberModel[] }
  | { readonly t: 'BS'; readonly bs: readonly Uint8Array[] }
  | { readonly t: 'L'; readonly l: readonly Model[] }
  | { readonly t: 'M'; readonly m: readonly (readonly [string, Model])[] };

const base64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');
const utf8Order = (a: string, b: string): number =>
  Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

/** The model as DynamoDB JSON, numbers written as generated (not canonical). */
export function toDynamoJson(model: Model): unknown {
  switch (model.t) {
    case 'S':
      return { S: model.s };
    case 'N':
      return { N: model.n.text };
    case 'B':
      return { B: base64(model.b) };
    case 'BOOL':
      return { BOOL: model.bool };
    case 'NULL':
      return { NULL: true };
    case 'SS':
      return { SS: [...model.ss] };
    case 'NS':
      return { NS: model.ns.map((n) => n.text) };
    case 'BS':
      return { BS: model.bs.map(base64) };
    case 'L':
      return { L: model.l.map(toDynamoJson) };
    case 'M':
      return { M: mapToDynamoJson(model.m) };
  }
}

export function mapToDynamoJson(entries: readonly (readonly [string, Model])[]): Record<string, unknown> {
  const map: Record<string, unknown> = {};
  for (const [name, value] of entries) {
    Object.defineProperty(map, name, {
      value: toDynamoJson(value),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return map;
}

/** The model in the SDK's shape, built directly (B as bytes). */
export function toSdk(model: Model): SdkAttributeValue {
  switch (model.t) {
    case 'B':
      return { B: Uint8Array.from(model.b) };
    case 'BS':
      return { BS: model.bs.map((b) => Uint8Array.from(b)) };
    case 'L':
      return { L: model.l.map(toSdk) };
    case 'M': {
      const map: Record<string, SdkAttributeValue> = {};
      for (const [name, value] of model.m) {
        Object.defineProperty(map, name, {
          value: toSdk(value),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return { M: map };
    }
    default:
      return toDynamoJson(model) as SdkAttributeValue;
  }
}

/** Expected canonical plain JSON of a model, from the reference rules. */
export function expectedPlain(model: Model): string {
  switch (model.t) {
    case 'S':
      return JSON.stringify(model.s);
    case 'N':
      return canonicalFromScaled(model.n.scaled);
    case 'B':
      return JSON.stringify(base64(model.b));
    case 'BOOL':
      return String(model.bool);
    case 'NULL':
      return 'null';
    case 'SS':
      return `[${[...model.ss]
        .sort(utf8Order)
        .map((s) => JSON.stringify(s))
        .join(',')}]`;
    case 'NS':
      return `[${[...model.ns]
        .sort((a, b) => (a.scaled < b.scaled ? -1 : a.scaled > b.scaled ? 1 : 0))
        .map((n) => canonicalFromScaled(n.scaled))
        .join(',')}]`;
    case 'BS':
      return `[${[...model.bs]
        .sort(Buffer.compare)
        .map((b) => JSON.stringify(base64(b)))
        .join(',')}]`;
    case 'L':
      return `[${model.l.map(expectedPlain).join(',')}]`;
    case 'M':
      return expectedMapPlain(model.m);
  }
}

export function expectedMapPlain(entries: readonly (readonly [string, Model])[]): string {
  const sorted = [...entries].sort(([a], [b]) => utf8Order(a, b));
  return `{${sorted.map(([name, value]) => `${JSON.stringify(name)}:${expectedPlain(value)}`).join(',')}}`;
}

/**
 * Plain JSON of what `unmarshall(…, { wrapNumbers: true })` returns, by the same rules: NumberValue
 * → canonical number (via the reference), Set → sorted array, Uint8Array → base64.
 */
export function nativeToPlain(native: unknown): string {
  if (native === null) return 'null';
  if (native instanceof NumberValue) {
    const scaled = scaledFromText(native.value);
    if (scaled === null) throw new Error(`unmarshall produced a non-number ${native.value}`);
    return canonicalFromScaled(scaled);
  }
  if (native instanceof Uint8Array) return JSON.stringify(base64(native));
  if (typeof native === 'string' || typeof native === 'boolean') return JSON.stringify(native);
  if (native instanceof Set) {
    const elements = [...native];
    const first = elements[0];
    if (first instanceof NumberValue) {
      const scaled = elements.map(
        (e) => scaledFromText((e as InstanceType<typeof NumberValue>).value) as bigint,
      );
      scaled.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      return `[${scaled.map(canonicalFromScaled).join(',')}]`;
    }
    if (first instanceof Uint8Array) {
      const sorted = (elements as Uint8Array[]).map((b) => Buffer.from(b)).sort(Buffer.compare);
      return `[${sorted.map((b) => JSON.stringify(b.toString('base64'))).join(',')}]`;
    }
    return `[${(elements as string[])
      .sort(utf8Order)
      .map((s) => JSON.stringify(s))
      .join(',')}]`;
  }
  if (Array.isArray(native)) return `[${native.map(nativeToPlain).join(',')}]`;
  if (typeof native === 'object') {
    const entries = Object.entries(native as Record<string, unknown>).sort(([a], [b]) => utf8Order(a, b));
    return `{${entries.map(([name, value]) => `${JSON.stringify(name)}:${nativeToPlain(value)}`).join(',')}}`;
  }
  throw new Error(`unexpected native value ${String(native)}`);
}
