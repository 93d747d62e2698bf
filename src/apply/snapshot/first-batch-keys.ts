import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { describeBackfillTable } from '../../backfill/backfill-table.ts';
import { readChangeFile } from '../../formats/change-file-reader.ts';
import { readDataFileItems, readExportChanges } from '../../formats/export-reader.ts';
import { keyText, type TableKeys } from '../../lake/key-identity.ts';
import { KeyAttributeError } from '../../lake/model-errors.ts';
import { mapLimited } from '../../map-limited.ts';
import type { ObjectStore } from '../../storage/object-store.ts';
import { ApplyErrorCode, ApplyRunError } from '../apply-errors.ts';
import type { BatchChangeInputs } from '../inputs/batch-inputs.ts';
import { type FoundSnapshot, openIncrementalExport } from '../inputs/input-discovery.ts';

/*
 * The table's key attributes, decided once, before batch 1 fixes them in its record and the table
 * (DESIGN.md rule 4): a wrong key turns every record into a bad line, or creates a table whose key
 * cannot hold the items. So the keys are checked against every source that knows them before
 * anything is written:
 *   - DescribeTable, when the caller gives a DynamoDB client (`apply --describe-table`): the key
 *     schema itself, roles included; --keys must equal it, and it is the default;
 *   - the change records: a stream record's `keys` holds exactly the table's key attributes, so the
 *     first readable record of up to 32 change files (spread over the batch) and of each incremental
 *     export must all name the same attributes, and those are the keys (the first one named taken as
 *     the partition key when nothing else says);
 *   - the snapshot: its first 1,000 items must each hold the key attributes as S, N or B, and no
 *     two of them the same key (fewer attributes than the table's key make items collide).
 * A file that cannot be read is left out of the sample: reading the batch reports it, with its line.
 */

/** Change files sampled for their first record's key attributes. */
const SAMPLED_FILES = 32;
/** Snapshot items checked for holding a whole, distinct key. */
const SAMPLED_ITEMS = 1_000;

/** What decides the first batch's keys. */
export interface FirstBatchKeysInput {
  readonly landing: ObjectStore;
  /** The DynamoDB table name or ARN (for DescribeTable and messages). */
  readonly table: string;
  readonly inputs: BatchChangeInputs;
  readonly snapshot: FoundSnapshot;
  /** `--keys`, when given. */
  readonly given?: TableKeys;
  /** When given, the key schema is read with DescribeTable. */
  readonly dynamodb?: DynamoDBClient;
}

/** The key attributes and roles as a person reads them: `pk` or `pk, sk` (partition, sort). */
export function keysText(keys: TableKeys): string {
  return keys.sort === undefined
    ? `"${keys.partition}" (partition key only)`
    : `"${keys.partition}" (partition) and "${keys.sort}" (sort)`;
}

function sameNames(keys: TableKeys, names: readonly string[]): boolean {
  const wanted = keys.sort === undefined ? [keys.partition] : [keys.partition, keys.sort];
  return names.length === wanted.length && wanted.every((name) => names.includes(name));
}

function mismatch(message: string): ApplyRunError {
  return new ApplyRunError(ApplyErrorCode.keysMismatch, message);
}

/** A record's key attribute names and where it was read. */
interface KeySample {
  readonly names: readonly string[];
  readonly where: string;
}

function evenlySpread<T>(list: readonly T[], count: number): T[] {
  if (list.length <= count) return [...list];
  return Array.from({ length: count }, (_, i) => list[Math.floor((i * list.length) / count)] as T);
}

/** The key attribute names of the first readable record of sampled change files and incremental exports. */
async function sampleRecordKeys(landing: ObjectStore, inputs: BatchChangeInputs): Promise<KeySample[]> {
  const fromFiles = await mapLimited(evenlySpread(inputs.changeFiles, SAMPLED_FILES), 8, async (file) => {
    try {
      for await (const { record, line } of readChangeFile(landing, file, { onBadLine: () => {} })) {
        return [{ names: Object.keys(record.keys), where: `${file} line ${line}` }];
      }
    } catch {
      // Unreadable here, reported with its line when the batch reads it.
    }
    return [];
  });
  const samples = fromFiles.flat();
  for (const exportId of inputs.incrementalExports) {
    try {
      const opened = await openIncrementalExport(landing, exportId);
      for await (const change of readExportChanges(landing, opened, { onBadLine: () => {} })) {
        samples.push({ names: Object.keys(change.keys), where: `${change.file} line ${change.line}` });
        break;
      }
    } catch {
      // As above.
    }
  }
  return samples;
}

/** Refuses keys that the snapshot's first items cannot all be identified by. */
async function checkSnapshotItems(
  landing: ObjectStore,
  snapshot: FoundSnapshot,
  keys: TableKeys,
  source: string,
): Promise<void> {
  const seen = new Map<string, string>();
  let checked = 0;
  for (const file of snapshot.opened.files) {
    try {
      for await (const { item, file: key, line } of readDataFileItems(landing, file, {
        onBadLine: () => {},
      })) {
        const where = `${key} line ${line}`;
        let text: string;
        try {
          text = keyText(item, keys);
        } catch (error) {
          if (!(error instanceof KeyAttributeError)) throw error;
          throw mismatch(
            `The snapshot ${snapshot.exportId} does not fit the key ${keysText(keys)} (${source}): its item at ${where} has no usable "${error.attribute}" (${error.message}). Every item of a DynamoDB table holds its key attributes, so the key is wrong. Nothing was written.`,
          );
        }
        const earlier = seen.get(text);
        if (earlier !== undefined) {
          throw mismatch(
            `The snapshot ${snapshot.exportId} does not fit the key ${keysText(keys)} (${source}): its items at ${earlier} and ${where} both have the key ${text}, and a key names one item, so the table's key has more attributes. Nothing was written.`,
          );
        }
        seen.set(text, where);
        if (++checked >= SAMPLED_ITEMS) return;
      }
    } catch (error) {
      if (error instanceof ApplyRunError) throw error;
      // An unreadable data file is reported, with its line, when the batch loads the snapshot.
    }
  }
}

/**
 * The key attributes batch 1 fixes: checked against DescribeTable (with `dynamodb`), against the
 * key attributes of sampled change records and incremental-export lines, and against the first
 * items of the snapshot (see the top of this file); `given` (`--keys`) first, else DescribeTable's,
 * else the change records'. Reads only; nothing is written.
 * @throws ApplyRunError `APPLY_KEYS_MISMATCH` naming the sources that disagree and where (file and
 *   line); `APPLY_INVALID_OPTION` when nothing tells the keys (pass --keys); DescribeTable's errors.
 */
export async function firstBatchKeys(input: FirstBatchKeysInput): Promise<TableKeys> {
  const { landing, table, given } = input;
  let keys = given;
  let source = given === undefined ? '' : '--keys';
  if (input.dynamodb !== undefined) {
    const described = await describeBackfillTable(input.dynamodb, table);
    const schema: TableKeys =
      described.sortKey === null
        ? { partition: described.partitionKey }
        : { partition: described.partitionKey, sort: described.sortKey };
    if (given !== undefined && (given.partition !== schema.partition || given.sort !== schema.sort)) {
      throw mismatch(
        `--keys names the key ${keysText(given)}, but DynamoDB describes the table ${table} with the key ${keysText(schema)}. Nothing was written. Pass --keys ${schema.sort === undefined ? schema.partition : `${schema.partition},${schema.sort}`}, or leave --keys out: apply then takes DescribeTable's key.`,
      );
    }
    keys ??= schema;
    source = given === undefined ? 'from DescribeTable' : '--keys, as DescribeTable says';
  }
  const samples = await sampleRecordKeys(landing, input.inputs);
  const first = samples[0];
  if (keys === undefined && first !== undefined) {
    const [partition, sort] = first.names as [string, string | undefined];
    if (first.names.length === 1 || first.names.length === 2) {
      keys = sort === undefined ? { partition } : { partition, sort };
      source = `from the change record at ${first.where}`;
    }
  }
  if (keys === undefined) {
    throw new ApplyRunError(
      ApplyErrorCode.invalidOption,
      first === undefined
        ? "The table's key attributes are not known: no change file or incremental export of the batch holds a readable record to take them from. Pass them with --keys pk,sk (the partition key, then the sort key if the table has one), or let apply read them with --describe-table."
        : `The table's key attributes are not known: the change record at ${first.where} names ${first.names.length} key attributes (${first.names.join(', ')}), and a DynamoDB key has one or two. Pass them with --keys pk,sk, or let apply read them with --describe-table.`,
    );
  }
  const chosen = keys;
  const odd = samples.filter((sample) => !sameNames(chosen, sample.names));
  if (odd.length > 0) {
    const shown = odd
      .slice(0, 3)
      .map((sample) => `${sample.where} holds ${sample.names.map((n) => `"${n}"`).join(', ')}`)
      .join('; ');
    throw mismatch(
      `The change records do not fit the key ${keysText(chosen)} (${source}): a stream record's keys are exactly the table's key attributes, but ${shown}${odd.length > 3 ? `; and ${odd.length - 3} more of the ${samples.length} sampled` : ''}. Nothing was written. ${given === undefined ? 'Pass the right key with --keys, or move change files of another table out of the landing area.' : 'Check --keys (or leave it out: apply then takes the change records’ key), or move change files of another table out of the landing area.'}`,
    );
  }
  await checkSnapshotItems(landing, input.snapshot, chosen, source);
  return chosen;
}
