import type { AttributeValue, Item } from '../dynamo/attribute-value.ts';

/*
 * Item sizes as DynamoDB bills them ("DynamoDB item sizes and formats", Developer Guide): the sum of
 * the UTF-8 lengths of the attribute names and the sizes of the values. A string counts its UTF-8
 * bytes, a binary its raw bytes, a number about one byte per two significant digits plus one, a
 * Boolean or null one byte, a list or map 3 bytes plus one byte per element plus its elements (and,
 * for a map, the UTF-8 lengths of its keys). Reads are billed per 4 KB, writes per 1 KB.
 */

/** A read unit covers 4 KB of a strongly consistent read; an eventually consistent read costs half. */
export const READ_UNIT_BYTES = 4096;
/** A write unit covers 1 KB of a standard write. */
export const WRITE_UNIT_BYTES = 1024;

/** The size DynamoDB bills for an item, in bytes. Pure; the item is assumed valid. */
export function itemSize(item: Item): number {
  let size = 0;
  for (const name in item) size += Buffer.byteLength(name) + valueSize(item[name] as AttributeValue);
  return size;
}

/** The size DynamoDB bills for one attribute value (without its name), in bytes. */
export function valueSize(value: AttributeValue): number {
  if ('S' in value) return Buffer.byteLength(value.S);
  if ('N' in value) return numberSize(value.N);
  if ('B' in value) return base64Bytes(value.B);
  if ('BOOL' in value || 'NULL' in value) return 1;
  if ('SS' in value) return value.SS.reduce((sum, text) => sum + Buffer.byteLength(text), 0);
  if ('NS' in value) return value.NS.reduce((sum, text) => sum + numberSize(text), 0);
  if ('BS' in value) return value.BS.reduce((sum, text) => sum + base64Bytes(text), 0);
  if ('L' in value) return 3 + value.L.reduce((sum, element) => sum + 1 + valueSize(element), 0);
  let size = 3;
  for (const name in value.M)
    size += 1 + Buffer.byteLength(name) + valueSize(value.M[name] as AttributeValue);
  return size;
}

/**
 * About one byte per two significant digits, plus one (leading and trailing zeros do not count).
 * `text` is DynamoDB number text: an optional sign, digits with an optional point, an optional
 * exponent.
 */
export function numberSize(text: string): number {
  const mantissa = text
    .replace(/^[+-]/, '')
    .replace(/[eE].*$/, '')
    .replace('.', '');
  const significant = mantissa.replace(/^0+/, '').replace(/0+$/, '').length;
  return Math.ceil(Math.max(significant, 1) / 2) + 1;
}

/**
 * Read units a Scan or Query page costs: the page's item sizes added up, rounded up to the next
 * 4 KB, halved for an eventually consistent read. What DynamoDB reports in `ConsumedCapacity` is
 * preferred; this is for an endpoint that does not report it.
 */
export function pageReadUnits(totalBytes: number, consistentRead: boolean): number {
  const units = Math.max(1, Math.ceil(totalBytes / READ_UNIT_BYTES));
  return consistentRead ? units : units / 2;
}

/** Write units one standard write of an item of `bytes` bytes costs (at least one). */
export function writeUnits(bytes: number): number {
  return Math.max(1, Math.ceil(bytes / WRITE_UNIT_BYTES));
}

function base64Bytes(text: string): number {
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  return Math.floor((text.length * 3) / 4) - padding;
}
