import type { AttributeValue as SdkAttributeValue } from '@aws-sdk/client-dynamodb';
import { joinPath, type PathSegment } from './attribute-path.ts';
import type { AttributeValue, Item } from './attribute-value.ts';
import { base64ToBytes, bytesToBase64 } from './base64.ts';
import { InvalidAttributeValueError } from './errors.ts';
import { parseAttributeValue, parseItem } from './parse.ts';

/*
 * Values in the shape of @aws-sdk/client-dynamodb (`GetItem`, `Scan`, `Query` answers and request
 * parameters): the same tags as DynamoDB JSON, but B is a Uint8Array and BS an array of them. Numbers
 * stay strings on both sides. Members set to `undefined` are absent, as the SDK treats them.
 */

/** An item in the SDK's shape. */
export type SdkItem = Record<string, SdkAttributeValue>;

class Failure {
  readonly reason: string;
  readonly segments: PathSegment[] = [];

  constructor(reason: string) {
    this.reason = reason;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

function bytesText(bytes: unknown, what: string): string {
  if (!(bytes instanceof Uint8Array)) throw new Failure(`${what} must be a Uint8Array, got ${typeof bytes}`);
  return bytesToBase64(bytes);
}

/** SDK shape → DynamoDB JSON shape, still unvalidated apart from the binary members. */
function fromSdkValue(value: unknown): unknown {
  if (!isObject(value)) return value;
  const defined: Record<string, unknown> = {};
  for (const tag in value) {
    const inner = value[tag];
    if (inner === undefined) continue;
    if (tag === 'B') {
      setOwn(defined, tag, bytesText(inner, 'B'));
    } else if (tag === 'BS' && Array.isArray(inner)) {
      setOwn(
        defined,
        tag,
        inner.map((element, index) => bytesText(element, `BS element ${index}`)),
      );
    } else if (tag === 'L' && Array.isArray(inner)) {
      setOwn(defined, tag, fromSdkList(inner));
    } else if (tag === 'M' && isObject(inner)) {
      setOwn(defined, tag, fromSdkMap(inner));
    } else {
      setOwn(defined, tag, inner);
    }
  }
  return defined;
}

function fromSdkList(list: unknown[]): unknown[] {
  let i = 0;
  try {
    const result: unknown[] = [];
    for (; i < list.length; i++) result.push(fromSdkValue(list[i]));
    return result;
  } catch (error) {
    if (error instanceof Failure) error.segments.push(i);
    throw error;
  }
}

function fromSdkMap(map: Record<string, unknown>): Record<string, unknown> {
  let name = '';
  try {
    const result: Record<string, unknown> = {};
    for (name in map) setOwn(result, name, fromSdkValue(map[name]));
    return result;
  } catch (error) {
    if (error instanceof Failure) error.segments.push(name);
    throw error;
  }
}

function rethrow(error: unknown, path: string): never {
  if (error instanceof Failure) {
    throw new InvalidAttributeValueError(joinPath(path, error.segments.reverse()), error.reason);
  }
  throw error;
}

/**
 * Converts an SDK value to a validated, normalized DynamoDB JSON value (numbers canonical, binary as
 * canonical base64). The input is not modified.
 * @param path the value's attribute path, used in errors.
 * @throws InvalidAttributeValueError as `parseAttributeValue` does, or when B is not a Uint8Array.
 */
export function fromSdkAttributeValue(value: SdkAttributeValue, path: string): AttributeValue {
  let converted: unknown;
  try {
    converted = fromSdkValue(value);
  } catch (error) {
    rethrow(error, path);
  }
  return parseAttributeValue(converted, path);
}

/**
 * Converts an SDK item (a `GetItem`/`Scan` answer's `Item`) to a validated, normalized item.
 * @throws InvalidAttributeValueError as `parseItem` does, or when a B is not a Uint8Array.
 */
export function fromSdkItem(item: SdkItem, path = ''): Item {
  let converted: unknown;
  try {
    converted = isObject(item) ? fromSdkMap(item) : item;
  } catch (error) {
    rethrow(error, path);
  }
  return parseItem(converted, path);
}

function toSdkValue(value: AttributeValue): SdkAttributeValue {
  if ('B' in value) return { B: base64ToBytes(value.B) };
  if ('BS' in value) return { BS: value.BS.map(base64ToBytes) };
  if ('SS' in value) return { SS: value.SS.slice() };
  if ('NS' in value) return { NS: value.NS.slice() };
  if ('L' in value) return { L: value.L.map(toSdkValue) };
  if ('M' in value) return { M: toSdkMap(value.M) };
  if ('S' in value) return { S: value.S };
  if ('N' in value) return { N: value.N };
  if ('BOOL' in value) return { BOOL: value.BOOL };
  return { NULL: true };
}

function toSdkMap(map: Item): SdkItem {
  const result: SdkItem = {};
  for (const name in map) setOwn(result, name, toSdkValue(map[name] as AttributeValue));
  return result;
}

/**
 * Converts a value to the SDK's shape, validating and normalizing it first: B becomes a fresh
 * Uint8Array, sets and lists become fresh arrays; nothing is shared with the input.
 * @throws InvalidAttributeValueError when the value is not valid DynamoDB JSON.
 */
export function toSdkAttributeValue(value: AttributeValue, path = ''): SdkAttributeValue {
  return toSdkValue(parseAttributeValue(value, path));
}

/**
 * Converts an item to the SDK's shape (for `PutItem` and the like), as `toSdkAttributeValue` does.
 * @throws InvalidAttributeValueError when the item is not valid DynamoDB JSON.
 */
export function toSdkItem(item: Item, path = ''): SdkItem {
  return toSdkMap(parseItem(item, path));
}
