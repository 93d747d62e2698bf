import { appendPath } from '../dynamo/attribute-path.ts';
import type { AttributeValue, Item } from '../dynamo/attribute-value.ts';
import { parseItem } from '../dynamo/parse.ts';
import { problemOf } from './bad-line.ts';
import type { ChangeOp, ChangeRecord } from './change-record.ts';
import { BadInputError } from './errors.ts';

/** The fields of a change-file line, in the order the encoder writes them. */
export const CHANGE_RECORD_FIELDS = [
  'op',
  'keys',
  'new',
  'old',
  'seq',
  'shard',
  'ts',
  'ttl',
  'eventId',
] as const;

const OPS: readonly ChangeOp[] = ['INSERT', 'MODIFY', 'REMOVE'];
const SEQUENCE_NUMBER = /^[0-9]{1,40}$/;
/** Shard ids end up in object keys: no `/`, nothing that needs escaping. */
const SHARD_ID = /^[A-Za-z0-9_.-]{1,128}$/;

/**
 * Validates one parsed change-file line (DESIGN.md, Formats: Change file) and returns it as a
 * `ChangeRecord` with its values normalized by the value model (numbers in canonical form).
 *
 * Strict: exactly the nine fields; `op` one of INSERT, MODIFY, REMOVE; `keys` one or two key
 * attributes of type S, N or B; INSERT has `new` and `old: null`, MODIFY has `new` and `old` an
 * item or null, REMOVE has `new: null`; every image present holds the keys with the same values;
 * `seq` 1 to 40 decimal digits; `shard` a shard id; `ts` a non-negative integer (epoch ms); `ttl`
 * a boolean, true only on REMOVE; `eventId` a non-empty string.
 * Throws `BadInputError` (without file and line) naming the field or attribute path.
 */
export function parseChangeRecord(json: unknown): ChangeRecord {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new BadInputError({ reason: 'a change record must be a JSON object' });
  }
  const record = json as Record<string, unknown>;
  for (const field in record) {
    if (!(CHANGE_RECORD_FIELDS as readonly string[]).includes(field)) {
      throw new BadInputError({ path: field, reason: `unknown field ${JSON.stringify(field)}` });
    }
  }
  const op = record['op'];
  if (typeof op !== 'string' || !(OPS as readonly string[]).includes(op)) {
    throw new BadInputError({ path: 'op', reason: `op must be INSERT, MODIFY or REMOVE, not ${show(op)}` });
  }
  const keys = parseKeys(record['keys'], 'keys');
  const newImage = parseImage(record['new'], 'new');
  const oldImage = parseImage(record['old'], 'old');
  if (op === 'REMOVE') {
    if (newImage !== null)
      throw new BadInputError({ path: 'new', reason: 'a REMOVE record must have new: null' });
  } else if (newImage === null) {
    throw new BadInputError({ path: 'new', reason: `an ${op} record must carry the new image` });
  }
  if (op === 'INSERT' && oldImage !== null) {
    throw new BadInputError({ path: 'old', reason: 'an INSERT record must have old: null' });
  }
  if (newImage !== null) checkHoldsKeys(newImage, keys, 'new');
  if (oldImage !== null) checkHoldsKeys(oldImage, keys, 'old');

  const seq = record['seq'];
  if (typeof seq !== 'string' || !SEQUENCE_NUMBER.test(seq)) {
    throw new BadInputError({
      path: 'seq',
      reason: `seq must be 1 to 40 decimal digits as a string, not ${show(seq)}`,
    });
  }
  const shard = record['shard'];
  if (typeof shard !== 'string' || !SHARD_ID.test(shard)) {
    throw new BadInputError({ path: 'shard', reason: `shard must be a stream shard id, not ${show(shard)}` });
  }
  const ts = record['ts'];
  if (typeof ts !== 'number' || !Number.isSafeInteger(ts) || ts < 0) {
    throw new BadInputError({
      path: 'ts',
      reason: `ts must be a whole number of epoch milliseconds, not ${show(ts)}`,
    });
  }
  const ttl = record['ttl'];
  if (typeof ttl !== 'boolean') {
    throw new BadInputError({ path: 'ttl', reason: `ttl must be true or false, not ${show(ttl)}` });
  }
  if (ttl && op !== 'REMOVE') {
    throw new BadInputError({ path: 'ttl', reason: 'only a REMOVE record can be a TTL deletion' });
  }
  const eventId = record['eventId'];
  if (typeof eventId !== 'string' || eventId === '') {
    throw new BadInputError({
      path: 'eventId',
      reason: `eventId must be a non-empty string, not ${show(eventId)}`,
    });
  }
  return { op: op as ChangeOp, keys, new: newImage, old: oldImage, seq, shard, ts, ttl, eventId };
}

/**
 * Validates the key attributes of a record (`keys` of a change record, `Keys` of an incremental
 * export line): an item of one or two attributes, each S, N or B. Throws `BadInputError`.
 */
export function parseKeys(json: unknown, path: string): Item {
  const keys = parseItemAt(json, path);
  const names = Object.keys(keys);
  if (names.length < 1 || names.length > 2) {
    throw new BadInputError({ path, reason: `a key has one or two attributes, not ${names.length}` });
  }
  for (const name of names) {
    const value = keys[name] as AttributeValue;
    if (!('S' in value || 'N' in value || 'B' in value)) {
      throw new BadInputError({
        path: appendPath(path, name),
        reason: `a key attribute must be S, N or B, not ${Object.keys(value)[0]}`,
      });
    }
  }
  return keys;
}

/**
 * Checks that an image holds every key attribute with the same type and value; a record whose
 * image disagrees with its keys would be applied to the wrong row. Throws `BadInputError`.
 */
export function checkHoldsKeys(image: Item, keys: Item, path: string): void {
  for (const name in keys) {
    const inImage = image[name];
    if (inImage === undefined || !sameKeyValue(inImage, keys[name] as AttributeValue)) {
      throw new BadInputError({
        path: appendPath(path, name),
        reason:
          inImage === undefined
            ? 'the image lacks this key attribute'
            : 'the image and the keys disagree on this key attribute',
      });
    }
  }
}

/** Parses an item, turning the value model's error into `BadInputError` with the same path. */
export function parseItemAt(json: unknown, path: string): Item {
  try {
    return parseItem(json, path);
  } catch (error) {
    throw new BadInputError(problemOf(error), { cause: error });
  }
}

function parseImage(json: unknown, path: string): Item | null {
  if (json === null) return null;
  if (json === undefined)
    throw new BadInputError({ path, reason: `the field ${path} is missing (use null for none)` });
  return parseItemAt(json, path);
}

function sameKeyValue(a: AttributeValue, b: AttributeValue): boolean {
  if ('S' in a) return 'S' in b && a.S === b.S;
  if ('N' in a) return 'N' in b && a.N === b.N;
  if ('B' in a) return 'B' in b && a.B === b.B;
  return false;
}

function show(value: unknown): string {
  if (value === undefined) return 'missing';
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 60)}…` : text;
}
