import type { AttributeValue, Item } from '../dynamo/attribute-value.ts';
import { checkBase64 } from '../dynamo/base64.ts';
import { checkNumber } from '../dynamo/number.ts';
import { compareUtf8 } from '../dynamo/plain-json.ts';
import { KeyAttributeError } from './model-errors.ts';

/*
 * The identity of an item in the lake table (`_ddb_key`, `_ddb_bucket`): the canonical plain JSON of
 * its key attributes only, and a stable hash of that text. Every join of the merge and every
 * tombstone uses the key text, so two records name the same item exactly when their key texts are
 * equal (numbers canonical: `{"N":"1.0"}` and `{"N":"1"}` are one key, as in DynamoDB).
 */

/** The table's key attributes, by name: the partition key and, for a composite key, the sort key. */
export interface TableKeys {
  readonly partition: string;
  readonly sort?: string;
}

/** The largest bucket count a table may have (buckets are Hive partition folders). */
export const MAX_BUCKETS = 4096;

function keyValue(item: Item, attribute: string, role: string, keys: TableKeys): AttributeValue {
  const value = Object.hasOwn(item, attribute) ? item[attribute] : undefined;
  const expected = keys.sort === undefined ? `"${keys.partition}"` : `"${keys.partition}" and "${keys.sort}"`;
  if (value === undefined) {
    throw new KeyAttributeError(
      attribute,
      `The ${role} key attribute "${attribute}" is missing: the table's key is ${expected}. A record without its key cannot be placed in the table; check that the change files and exports belong to this table (or fix ddb_lake.keys / --keys).`,
    );
  }
  if (typeof value !== 'object' || value === null || !('S' in value || 'N' in value || 'B' in value)) {
    const tag = typeof value === 'object' && value !== null ? Object.keys(value).join(',') : typeof value;
    throw new KeyAttributeError(
      attribute,
      `The ${role} key attribute "${attribute}" has the type ${tag}; key attributes are S, N or B. The record does not come from a table keyed by ${expected}.`,
    );
  }
  return value;
}

/** The plain JSON of a key value (S, N or B), validated and canonical, or the reason it is not valid. */
function keyValueText(value: AttributeValue): string | { reason: string } {
  if ('S' in value) {
    return typeof value.S === 'string' ? JSON.stringify(value.S) : { reason: 'S must hold a string' };
  }
  if ('N' in value) {
    const checked = typeof value.N === 'string' ? checkNumber(value.N) : { reason: 'N must hold a string' };
    return typeof checked === 'string' ? checked : { reason: checked.reason };
  }
  const bytes = (value as { readonly B: unknown }).B;
  const checked = typeof bytes === 'string' ? checkBase64(bytes) : null;
  return checked === null ? { reason: 'B must hold padded standard base64 text' } : JSON.stringify(checked);
}

function keyPart(item: Item, attribute: string, role: string, keys: TableKeys): string {
  const value = keyValue(item, attribute, role, keys);
  if (Object.keys(value).length !== 1) {
    throw new KeyAttributeError(
      attribute,
      `The ${role} key attribute "${attribute}" has more than one type tag.`,
    );
  }
  const text = keyValueText(value);
  if (typeof text !== 'string') {
    throw new KeyAttributeError(
      attribute,
      `The ${role} key attribute "${attribute}" is not a valid DynamoDB value: ${text.reason}.`,
    );
  }
  return `${JSON.stringify(attribute)}:${text}`;
}

/**
 * `_ddb_key`: the canonical plain JSON (plain-json.ts) of the item's key attributes only, e.g.
 * `{"pk":"customer#1","sk":"order#0001"}` — exactly `itemToPlainJson` of the key attributes, built
 * without a copy of the item (it runs once per record). Other attributes of `item` are ignored, so
 * a record's `keys`, its new image and its old image give the same text. Pure and deterministic.
 * @throws KeyAttributeError naming the key attribute that is missing or not S, N or B, or whose
 *   value is not valid DynamoDB JSON.
 */
export function keyText(item: Item, keys: TableKeys): string {
  const partition = keyPart(item, keys.partition, 'partition', keys);
  if (keys.sort === undefined) return `{${partition}}`;
  const sort = keyPart(item, keys.sort, 'sort', keys);
  return compareUtf8(keys.partition, keys.sort) < 0 ? `{${partition},${sort}}` : `{${sort},${partition}}`;
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/**
 * FNV-1a, 32 bits, over bytes: the hash `_ddb_bucket` is built on. Pure; an unsigned 32-bit integer.
 */
export function fnv1a32(bytes: Uint8Array): number {
  let hash = FNV_OFFSET;
  for (let i = 0; i < bytes.length; i++) {
    hash ^= bytes[i] as number;
    hash = Math.imul(hash, FNV_PRIME);
  }
  return hash >>> 0;
}

/**
 * Checks a bucket count: an integer from 1 to `MAX_BUCKETS`.
 * @throws RangeError otherwise (a caller's mistake; the layout validates user input first).
 */
export function assertBucketCount(buckets: number): void {
  if (!Number.isInteger(buckets) || buckets < 1 || buckets > MAX_BUCKETS) {
    throw new RangeError(`a bucket count must be an integer from 1 to ${MAX_BUCKETS}, got ${buckets}`);
  }
}

/**
 * `_ddb_bucket`: FNV-1a 32 of the key text's UTF-8 bytes, modulo `buckets` (0 to buckets − 1). Stable
 * forever: the bucket of a key decides which files hold it, so this function never changes for an
 * existing table. Pure.
 * @throws RangeError when `buckets` is not an integer from 1 to MAX_BUCKETS.
 */
export function bucketOf(key: string, buckets: number): number {
  assertBucketCount(buckets);
  return fnv1a32Utf8(key) % buckets;
}

/** FNV-1a 32 of the UTF-8 bytes of `text`, encoded on the fly (a lone surrogate as U+FFFD, as TextEncoder does). */
function fnv1a32Utf8(text: string): number {
  let hash = FNV_OFFSET;
  const step = (byte: number): void => {
    hash = Math.imul(hash ^ byte, FNV_PRIME);
  };
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c < 0x80) {
      hash = Math.imul(hash ^ c, FNV_PRIME);
      continue;
    }
    if (c < 0x800) {
      step(0xc0 | (c >> 6));
      step(0x80 | (c & 0x3f));
      continue;
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const next = i + 1 < text.length ? text.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
        i++;
        step(0xf0 | (c >> 18));
        step(0x80 | ((c >> 12) & 0x3f));
        step(0x80 | ((c >> 6) & 0x3f));
        step(0x80 | (c & 0x3f));
        continue;
      }
      c = 0xfffd;
    }
    step(0xe0 | (c >> 12));
    step(0x80 | ((c >> 6) & 0x3f));
    step(0x80 | (c & 0x3f));
  }
  return hash >>> 0;
}
