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
  if (records.length === 0) throw new BadInputError({ reason: 'a change file needs at least one record' });
  const normalized: ChangeRecord[] = [];
  let previous: bigint | undefined;
  for (let i = 0; i < records.length; i++) {
    let record: ChangeRecord;
    try {
      record = parseChangeRecord(records[i]);
    } catch (error) {
      const problem = problemOf(error);
      throw new BadInputError(
        { path: problem.path === undefined ? `[${i}]` : `[${i}].${problem.path}`, reason: problem.reason },
        { cause: error },
      );
    }
    const first = normalized[0];
    if (first !== undefined && record.shard !== first.shard) {
      throw new BadInputError({
        path: `[${i}].shard`,
        reason: `a change file holds one shard: ${record.shard} follows ${first.shard}`,
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
    normalized.push(record);
  }
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
  const lines = normalizeChangeBatch(records).map(changeRecordLine);
  const gzipped = gzipSync(`${lines.join('\n')}\n`, {
    level: GZIP_LEVEL,
    strategy: constants.Z_DEFAULT_STRATEGY,
  });
  gzipped[GZIP_OS_BYTE] = GZIP_OS_UNIX;
  return gzipped;
}

/** One change-file line (without its newline) for a valid, normalized record. */
export function changeRecordLine(record: ChangeRecord): string {
  return (
    `{"op":${JSON.stringify(record.op)},"keys":${itemJson(record.keys)},` +
    `"new":${record.new === null ? 'null' : itemJson(record.new)},` +
    `"old":${record.old === null ? 'null' : itemJson(record.old)},` +
    `"seq":${JSON.stringify(record.seq)},"shard":${JSON.stringify(record.shard)},` +
    `"ts":${record.ts},"ttl":${record.ttl},"eventId":${JSON.stringify(record.eventId)}}`
  );
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
