import { constants, gzipSync } from 'node:zlib';
import type { AttributeValue, Item } from '../dynamo/attribute-value.ts';
import { compareUtf8 } from '../dynamo/plain-json.ts';
import { problemOf } from './bad-line.ts';
import type { ChangeRecord } from './change-record.ts';
import { BadInputError } from './errors.ts';
import { parseChangeRecord } from './parse-change-record.ts';

/** Fixed, so that the same records always deflate to the same bytes. */
const GZIP_LEVEL = 6;
/** Offset of the OS byte in the gzip header (RFC 1952), pinned to 3 (Unix) on every platform. */
const GZIP_OS_BYTE = 9;
const GZIP_OS_UNIX = 3;

/**
 * Validates and normalizes a batch of change records from one shard, in stream order: every
 * record passes `parseChangeRecord`, all share one shard, and sequence numbers strictly increase
 * (compared as integers). Returns the normalized records. Throws `BadInputError` whose path starts
 * with the record's index (`[3].new.total`).
 */
export function normalizeChangeBatch(records: readonly unknown[]): ChangeRecord[] {
  const normalized = records.map((record, i) => {
    try {
      return parseChangeRecord(record);
    } catch (error) {
      const problem = problemOf(error);
      throw new BadInputError(
        { path: problem.path === undefined ? `[${i}]` : `[${i}].${problem.path}`, reason: problem.reason },
        { cause: error },
      );
    }
  });
  checkBatchRules(normalized);
  return normalized;
}

/**
 * Encodes a batch of change records from one shard as a change file (DESIGN.md, Formats: Change
 * file): gzip JSON lines, one record per line in the given order, fields in a fixed order, map
 * attributes sorted by name, numbers in canonical form. Deterministic: the same records give the
 * same bytes on the same Node.js version and CPU architecture, whatever the key order of the input
 * objects, so a retried batch rewrites an identical object. Throws `BadInputError` as
 * `normalizeChangeBatch` does.
 */
export function encodeChangeFile(records: readonly unknown[]): Buffer {
  return gzipLines(normalizeChangeBatch(records));
}

/**
 * `encodeChangeFile` for records that each came from `parseChangeRecord` (so already valid and
 * normalized): only the batch rules are checked (one shard, sequence numbers strictly increasing),
 * which spares the capture path a second validation of every value. Same bytes as
 * `encodeChangeFile` for the same records. Throws `BadInputError` for a batch rule.
 */
export function encodeParsedChangeRecords(records: readonly ChangeRecord[]): Buffer {
  checkBatchRules(records);
  return gzipLines(records);
}

function checkBatchRules(records: readonly ChangeRecord[]): void {
  if (records.length === 0) throw new BadInputError({ reason: 'a change file needs at least one record' });
  const shard = (records[0] as ChangeRecord).shard;
  let previous: bigint | undefined;
  for (let i = 0; i < records.length; i++) {
    const record = records[i] as ChangeRecord;
    if (record.shard !== shard) {
      throw new BadInputError({
        path: `[${i}].shard`,
        reason: `a change file holds one shard: ${record.shard} follows ${shard}`,
      });
    }
    const seq = BigInt(record.seq);
    if (previous !== undefined && seq <= previous) {
      throw new BadInputError({
        path: `[${i}].seq`,
        reason: `sequence numbers must increase within a shard: ${record.seq} follows ${previous}`,
      });
    }
    previous = seq;
  }
}

function gzipLines(records: readonly ChangeRecord[]): Buffer {
  let text = '';
  for (const record of records) text += `${changeRecordLine(record)}\n`;
  const gzipped = gzipSync(text, { level: GZIP_LEVEL, strategy: constants.Z_DEFAULT_STRATEGY });
  gzipped[GZIP_OS_BYTE] = GZIP_OS_UNIX;
  return gzipped;
}

/**
 * One change-file line (without its newline) for a valid, normalized record.
 *
 * The line is one `JSON.stringify` of the record with its maps re-keyed in UTF-8 byte order: far
 * cheaper than assembling the text piece by piece. JavaScript lists integer-like property names
 * ("7", "42") before all others whatever the insertion order, so an item holding such a name cannot
 * be re-keyed that way and is written by `itemJson` instead, as is one holding `__proto__` (which an
 * ordinary object cannot take as a plain property); both give the same text.
 */
export function changeRecordLine(record: ChangeRecord): string {
  const keys = canonicalItem(record.keys);
  const newImage = record.new === null ? null : canonicalItem(record.new);
  const oldImage = record.old === null ? null : canonicalItem(record.old);
  if (keys === undefined || newImage === undefined || oldImage === undefined)
    return changeRecordLineByParts(record);
  return JSON.stringify({
    op: record.op,
    keys,
    new: newImage,
    old: oldImage,
    seq: record.seq,
    shard: record.shard,
    ts: record.ts,
    ttl: record.ttl,
    eventId: record.eventId,
  });
}

function changeRecordLineByParts(record: ChangeRecord): string {
  return (
    `{"op":${JSON.stringify(record.op)},"keys":${itemJson(record.keys)},` +
    `"new":${record.new === null ? 'null' : itemJson(record.new)},` +
    `"old":${record.old === null ? 'null' : itemJson(record.old)},` +
    `"seq":${JSON.stringify(record.seq)},"shard":${JSON.stringify(record.shard)},` +
    `"ts":${record.ts},"ttl":${record.ttl},"eventId":${JSON.stringify(record.eventId)}}`
  );
}

/** Names JavaScript orders as array indices, ahead of every other property name. */
const ARRAY_INDEX = /^(?:0|[1-9][0-9]{0,9})$/;

function isArrayIndex(name: string): boolean {
  return ARRAY_INDEX.test(name) && Number(name) < 4_294_967_295;
}

/**
 * The item with its attribute names in UTF-8 byte order at every level (the item itself when it
 * already is), or `undefined` when a name is integer-like and property order cannot express that.
 */
function canonicalItem(item: Item): Item | undefined {
  const names = Object.keys(item);
  let sorted = true;
  for (let i = 1; i < names.length; i++) {
    if (compareUtf8(names[i - 1] as string, names[i] as string) > 0) {
      sorted = false;
      break;
    }
  }
  if (!sorted) names.sort(compareUtf8);
  let copy: Record<string, AttributeValue> | undefined = sorted ? undefined : {};
  for (let i = 0; i < names.length; i++) {
    const name = names[i] as string;
    if (name === '__proto__' || isArrayIndex(name)) return undefined;
    const value = item[name] as AttributeValue;
    const canonical = canonicalValue(value);
    if (canonical === undefined) return undefined;
    if (canonical !== value && copy === undefined) {
      copy = {};
      for (let j = 0; j < i; j++) copy[names[j] as string] = item[names[j] as string] as AttributeValue;
    }
    if (copy !== undefined) copy[name] = canonical;
  }
  return copy ?? item;
}

function canonicalValue(value: AttributeValue): AttributeValue | undefined {
  if ('M' in value) {
    const map = canonicalItem(value.M);
    if (map === undefined) return undefined;
    return map === value.M ? value : { M: map };
  }
  if ('L' in value) {
    let list: AttributeValue[] | undefined;
    for (let i = 0; i < value.L.length; i++) {
      const element = value.L[i] as AttributeValue;
      const canonical = canonicalValue(element);
      if (canonical === undefined) return undefined;
      if (canonical !== element) list ??= value.L.slice(0, i);
      list?.push(canonical);
    }
    return list === undefined ? value : { L: list };
  }
  return value;
}

/** DynamoDB JSON of an item with attribute names in UTF-8 byte order, at every nesting level. */
function itemJson(item: Item): string {
  const names = Object.keys(item).sort(compareUtf8);
  let out = '{';
  for (let i = 0; i < names.length; i++) {
    const name = names[i] as string;
    if (i > 0) out += ',';
    out += `${JSON.stringify(name)}:${valueJson(item[name] as AttributeValue)}`;
  }
  return `${out}}`;
}

function valueJson(value: AttributeValue): string {
  if ('S' in value) return `{"S":${JSON.stringify(value.S)}}`;
  if ('N' in value) return `{"N":${JSON.stringify(value.N)}}`;
  if ('B' in value) return `{"B":${JSON.stringify(value.B)}}`;
  if ('BOOL' in value) return value.BOOL ? '{"BOOL":true}' : '{"BOOL":false}';
  if ('NULL' in value) return '{"NULL":true}';
  if ('SS' in value) return `{"SS":${JSON.stringify(value.SS)}}`;
  if ('NS' in value) return `{"NS":${JSON.stringify(value.NS)}}`;
  if ('BS' in value) return `{"BS":${JSON.stringify(value.BS)}}`;
  if ('L' in value) return `{"L":[${value.L.map(valueJson).join(',')}]}`;
  return `{"M":${itemJson(value.M)}}`;
}
