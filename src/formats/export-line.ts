import type { Item } from '../dynamo/attribute-value.ts';
import { BadInputError } from './errors.ts';
import { checkHoldsKeys, parseItemAt, parseKeys } from './parse-change-record.ts';

/** One line of an incremental export, in the change form the apply engine consumes. */
export interface IncrementalExportChange {
  readonly keys: Item;
  /** The item after the change; absent for a deletion. */
  readonly newImage?: Item;
  /** The item before the change; absent for an insertion and in `NEW_IMAGE` exports. */
  readonly oldImage?: Item;
  /** `Metadata.WriteTimestampMicros`: epoch microseconds as decimal text (too large for exact JS numbers). */
  readonly writeTimestampMicros: string;
}

const MICROS = /^(0|[1-9][0-9]{0,19})$/;

/**
 * Validates one parsed line of a full export data file, `{"Item": {…DynamoDB JSON…}}`, and returns
 * the item normalized by the value model. Throws `BadInputError` (without file and line) naming
 * the attribute path (`Item.…`).
 */
export function parseExportItemLine(json: unknown): Item {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new BadInputError({ reason: 'an export line must be a JSON object {"Item": …}' });
  }
  let item: unknown;
  let fields = 0;
  for (const field in json) {
    if (field !== 'Item')
      throw new BadInputError({ path: field, reason: `unknown field ${JSON.stringify(field)}` });
    item = (json as { Item: unknown }).Item;
    fields++;
  }
  if (fields === 0) throw new BadInputError({ path: 'Item', reason: 'the line has no Item' });
  return parseItemAt(item, 'Item');
}

/**
 * Validates one parsed line of an incremental export data file —
 * `{"Metadata":{"WriteTimestampMicros":{"N":"…"}},"Keys":{…},"NewImage":{…},"OldImage":{…}}`, either
 * image possibly absent — and returns its change form. Images present must hold the keys. Throws
 * `BadInputError` (without file and line) naming the field or attribute path.
 */
export function parseIncrementalExportLine(json: unknown): IncrementalExportChange {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new BadInputError({ reason: 'an incremental export line must be a JSON object' });
  }
  const line = json as Record<string, unknown>;
  for (const field in line) {
    if (field !== 'Metadata' && field !== 'Keys' && field !== 'NewImage' && field !== 'OldImage') {
      throw new BadInputError({ path: field, reason: `unknown field ${JSON.stringify(field)}` });
    }
  }
  const writeTimestampMicros = parseMetadata(line['Metadata']);
  const keys = parseKeys(line['Keys'], 'Keys');
  const change: { -readonly [K in keyof IncrementalExportChange]: IncrementalExportChange[K] } = {
    keys,
    writeTimestampMicros,
  };
  if (line['NewImage'] !== undefined) {
    change.newImage = parseItemAt(line['NewImage'], 'NewImage');
    checkHoldsKeys(change.newImage, keys, 'NewImage');
  }
  if (line['OldImage'] !== undefined) {
    change.oldImage = parseItemAt(line['OldImage'], 'OldImage');
    checkHoldsKeys(change.oldImage, keys, 'OldImage');
  }
  return change;
}

function parseMetadata(json: unknown): string {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new BadInputError({
      path: 'Metadata',
      reason: 'Metadata must be an object holding WriteTimestampMicros',
    });
  }
  for (const field in json) {
    if (field !== 'WriteTimestampMicros') {
      throw new BadInputError({
        path: `Metadata.${field}`,
        reason: `unknown field ${JSON.stringify(field)}`,
      });
    }
  }
  const micros = (json as { WriteTimestampMicros?: unknown }).WriteTimestampMicros;
  const digits =
    typeof micros === 'object' &&
    micros !== null &&
    !Array.isArray(micros) &&
    Object.keys(micros).length === 1
      ? (micros as { N?: unknown }).N
      : undefined;
  if (typeof digits !== 'string' || !MICROS.test(digits)) {
    throw new BadInputError({
      path: 'Metadata.WriteTimestampMicros',
      reason: `WriteTimestampMicros must be {"N": "<whole microseconds>"}, not ${JSON.stringify(micros) ?? 'missing'}`,
    });
  }
  return digits;
}
