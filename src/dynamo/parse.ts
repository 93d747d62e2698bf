import { joinPath, type PathSegment } from './attribute-path.ts';
import type { AttributeValue, Item } from './attribute-value.ts';
import { checkBase64 } from './base64.ts';
import { InvalidAttributeValueError } from './errors.ts';
import { checkNumber } from './number.ts';

/*
 * Strict DynamoDB JSON → values. This runs once per line of every export and change file, so it
 * validates in place: a value that is already valid and canonical comes back as the very object that
 * was passed in, and only the containers on the way to a value that normalization changes (an N
 * like "1.0", base64 with stray bits) are copied. Paths are only built when something is wrong: a
 * failure deep down carries its segments outwards through the containers it passes.
 */

/**
 * How deep values nest, counted as DynamoDB counts: the item is level 1, a map or list held by a
 * top-level attribute is level 2, and no map or list may sit deeper than level 32 (so 31 maps or
 * lists inside each other under one attribute). Sets and scalars do not add a level.
 */
export const MAX_NESTING_LEVELS = 32;
const TOP_LEVEL = 2;
const SMALL_SET = 16;

class Failure {
  readonly reason: string;
  /** Innermost first. */
  readonly segments: PathSegment[] = [];

  constructor(reason: string) {
    this.reason = reason;
  }
}

function describe(json: unknown): string {
  if (json === null) return 'null';
  if (Array.isArray(json)) return 'an array';
  if (typeof json === 'string') {
    return `string ${JSON.stringify(json.length > 60 ? `${json.slice(0, 60)}…` : json)}`;
  }
  if (typeof json === 'object') return 'an object';
  return `${typeof json} ${String(json)}`;
}

function isObject(json: unknown): json is Record<string, unknown> {
  return typeof json === 'object' && json !== null && !Array.isArray(json);
}

/** Sets `key` as an own property even when it is `__proto__`, which plain assignment would not. */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    target[key] = value;
  }
}

function parseValue(json: unknown, level: number): AttributeValue {
  if (!isObject(json)) {
    throw new Failure(`expected an object with one type tag such as {"S": "…"}, got ${describe(json)}`);
  }
  let tag = '';
  let tags = 0;
  for (const key in json) {
    if (tags === 0) tag = key;
    tags++;
  }
  if (tags !== 1) {
    throw new Failure(
      tags === 0
        ? 'no type tag: expected exactly one of S, N, B, BOOL, NULL, SS, NS, BS, L, M'
        : `more than one type tag (${Object.keys(json).join(', ')}): a value has exactly one`,
    );
  }
  const inner = json[tag];
  switch (tag) {
    case 'S':
      if (typeof inner !== 'string') throw new Failure(`S must hold a string, got ${describe(inner)}`);
      return json as AttributeValue;
    case 'N': {
      if (typeof inner !== 'string') {
        throw new Failure(`N must hold a number as a string, got ${describe(inner)}`);
      }
      const canonical = checkNumber(inner);
      if (typeof canonical !== 'string') throw new Failure(`N ${describe(inner)}: ${canonical.reason}`);
      return canonical === inner ? (json as AttributeValue) : { N: canonical };
    }
    case 'B': {
      if (typeof inner !== 'string') throw new Failure(`B must hold base64 text, got ${describe(inner)}`);
      const canonical = checkBase64(inner);
      if (canonical === null) throw new Failure(`B ${describe(inner)} is not padded standard base64`);
      return canonical === inner ? (json as AttributeValue) : { B: canonical };
    }
    case 'BOOL':
      if (typeof inner !== 'boolean')
        throw new Failure(`BOOL must hold true or false, got ${describe(inner)}`);
      return json as AttributeValue;
    case 'NULL':
      if (inner !== true) throw new Failure(`NULL must hold exactly true, got ${describe(inner)}`);
      return json as AttributeValue;
    case 'SS':
      checkSet('SS', inner, checkStringElement);
      return json as AttributeValue;
    case 'NS': {
      const set = checkSet('NS', inner, checkNumberElement);
      return set === inner ? (json as AttributeValue) : { NS: set };
    }
    case 'BS': {
      const set = checkSet('BS', inner, checkBinaryElement);
      return set === inner ? (json as AttributeValue) : { BS: set };
    }
    case 'L': {
      if (!Array.isArray(inner)) throw new Failure(`L must hold an array, got ${describe(inner)}`);
      if (level > MAX_NESTING_LEVELS) throw nestingFailure();
      const list = parseList(inner, level + 1);
      return list === inner ? (json as AttributeValue) : { L: list };
    }
    case 'M': {
      if (!isObject(inner)) throw new Failure(`M must hold an object, got ${describe(inner)}`);
      if (level > MAX_NESTING_LEVELS) throw nestingFailure();
      const map = parseMap(inner, level + 1);
      return map === inner ? (json as AttributeValue) : { M: map };
    }
    default:
      throw new Failure(
        `unknown type tag ${JSON.stringify(tag)}: expected one of S, N, B, BOOL, NULL, SS, NS, BS, L, M`,
      );
  }
}

function nestingFailure(): Failure {
  return new Failure(`maps and lists nest deeper than DynamoDB's ${MAX_NESTING_LEVELS} levels`);
}

function parseList(list: unknown[], elementLevel: number): AttributeValue[] {
  let copy: AttributeValue[] | undefined;
  let i = 0;
  try {
    for (; i < list.length; i++) {
      const element = list[i];
      const parsed = parseValue(element, elementLevel);
      if (parsed !== element) {
        copy ??= list.slice() as AttributeValue[];
        copy[i] = parsed;
      }
    }
  } catch (error) {
    if (error instanceof Failure) error.segments.push(i);
    throw error;
  }
  return copy ?? (list as AttributeValue[]);
}

function parseMap(map: Record<string, unknown>, valueLevel: number): Item {
  let copy: Record<string, unknown> | undefined;
  let name = '';
  try {
    for (name in map) {
      if (name.length === 0) throw new Failure('empty attribute name: names have at least one character');
      const value = map[name];
      const parsed = parseValue(value, valueLevel);
      if (parsed !== value) {
        copy ??= { ...map };
        setOwn(copy, name, parsed);
      }
    }
  } catch (error) {
    if (error instanceof Failure && name.length > 0) error.segments.push(name);
    throw error;
  }
  return (copy ?? map) as Item;
}

type ElementCheck = (element: unknown, index: number) => string;

function checkStringElement(element: unknown, index: number): string {
  if (typeof element !== 'string')
    throw new Failure(`SS element ${index} is ${describe(element)}, not a string`);
  return element;
}

function checkNumberElement(element: unknown, index: number): string {
  if (typeof element !== 'string') {
    throw new Failure(`NS element ${index} is ${describe(element)}, not a number as a string`);
  }
  const canonical = checkNumber(element);
  if (typeof canonical !== 'string') {
    throw new Failure(`NS element ${index} ${describe(element)}: ${canonical.reason}`);
  }
  return canonical;
}

function checkBinaryElement(element: unknown, index: number): string {
  if (typeof element !== 'string') {
    throw new Failure(`BS element ${index} is ${describe(element)}, not base64 text`);
  }
  const canonical = checkBase64(element);
  if (canonical === null) {
    throw new Failure(`BS element ${index} ${describe(element)} is not padded standard base64`);
  }
  return canonical;
}

/**
 * Checks a set's elements and that it is non-empty and has no duplicates, comparing canonical
 * elements (numbers by value, binary by bytes). Returns the input array when no element changed.
 */
function checkSet(tag: 'SS' | 'NS' | 'BS', inner: unknown, check: ElementCheck): string[] {
  if (!Array.isArray(inner)) throw new Failure(`${tag} must hold an array, got ${describe(inner)}`);
  const length = inner.length;
  if (length === 0) throw new Failure(`${tag} is empty: a set holds at least one element`);
  let copy: string[] | undefined;
  for (let i = 0; i < length; i++) {
    const element = inner[i];
    const canonical = check(element, i);
    if (canonical !== element) {
      copy ??= inner.slice() as string[];
      copy[i] = canonical;
    }
  }
  const elements = copy ?? (inner as string[]);
  if (length <= SMALL_SET) {
    for (let i = 1; i < length; i++) {
      const element = elements[i] as string;
      for (let j = 0; j < i; j++) {
        if (elements[j] === element) throw duplicateFailure(tag, inner, j, i);
      }
    }
  } else {
    const seen = new Map<string, number>();
    for (let i = 0; i < length; i++) {
      const element = elements[i] as string;
      const earlier = seen.get(element);
      if (earlier !== undefined) throw duplicateFailure(tag, inner, earlier, i);
      seen.set(element, i);
    }
  }
  return elements;
}

function duplicateFailure(tag: string, inner: unknown[], first: number, second: number): Failure {
  const same = tag === 'NS' ? ' (equal values)' : tag === 'BS' ? ' (equal bytes)' : '';
  return new Failure(
    `${tag} has duplicates: elements ${first} ${describe(inner[first])} and ${second} ` +
      `${describe(inner[second])}${same}; a set holds distinct elements`,
  );
}

function toError(failure: Failure, path: string): InvalidAttributeValueError {
  return new InvalidAttributeValueError(joinPath(path, failure.segments.reverse()), failure.reason);
}

/**
 * Validates one DynamoDB JSON value and returns it normalized: N as canonical number text (see
 * number.ts), B and BS as canonical base64. Returns `json` itself when nothing needed normalizing,
 * else a copy that shares every unchanged part; the input is never modified. Nesting is counted as
 * for a top-level attribute. Idempotent.
 * @param path the value's attribute path, used in errors (`meta.nested`).
 * @throws InvalidAttributeValueError naming the path of the offending value and the reason.
 */
export function parseAttributeValue(json: unknown, path: string): AttributeValue {
  try {
    return parseValue(json, TOP_LEVEL);
  } catch (error) {
    if (error instanceof Failure) throw toError(error, path);
    throw error;
  }
}

/**
 * Validates a DynamoDB JSON item (attribute name → value) and returns it normalized, with the same
 * sharing and idempotency as `parseAttributeValue`. Attribute names must be non-empty. The item may
 * have no attributes (an empty `Keys` or image is the caller's to judge).
 * @param path prefix for error paths (`NewImage` gives `NewImage.total`); empty by default.
 * @throws InvalidAttributeValueError naming the attribute path and the reason.
 */
export function parseItem(json: unknown, path = ''): Item {
  try {
    if (!isObject(json))
      throw new Failure(`expected an item object (attribute name → value), got ${describe(json)}`);
    return parseMap(json, TOP_LEVEL);
  } catch (error) {
    if (error instanceof Failure) throw toError(error, path);
    throw error;
  }
}
